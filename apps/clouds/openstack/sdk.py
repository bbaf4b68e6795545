"""The thin wrapper over openstacksdk and keystoneauth: the only module that
imports them. It builds (and caches) one authenticated connection per project
and credentials, and translates every SDK or HTTP exception into
apps.clouds.errors in one place (`translate_errors`)."""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import openstack
import openstack.config
from keystoneauth1 import adapter as ksa_adapter
from keystoneauth1 import exceptions as ksa
from openstack import exceptions as sdk
from openstack import warnings as sdk_warnings

from .. import errors

#: Deprecation warnings openstacksdk 4.x raises from inside itself, whatever its caller does: no
#: call of ours reaches or avoids them (they are the SDK's own unfinished removals), and one of
#: them comes once for every object the SDK builds (20,507 in one run of
#: tests/perf/bench_openstack.py). Ignored by message, so any other SDK deprecation still shows;
#: pyproject.toml's pytest filterwarnings lists the same (pytest resets these filters per test).
SDK_INTERNAL_DEPRECATIONS = {
    # Resource.__init__ -> _collect_attrs -> its own deprecated _compute_attributes, per object.
    "The _compute_attributes method is deprecated": sdk_warnings.RemovedInSDK50Warning,
    # Proxy's own request bookkeeping calls its _extract_name with the deprecated service_type.
    "The 'service_type' parameter is unnecesary": sdk_warnings.RemovedInSDK50Warning,
    # Every CloudRegion: the config loader always hands it a (truthy) InfluxDB section, empty or not.
    "Support for InfluxDB requires the influxdb library": sdk_warnings.RemovedInSDK60Warning,
}
for _message, _category in SDK_INTERNAL_DEPRECATIONS.items():
    warnings.filterwarnings("ignore", message=_message, category=_category)

P = ParamSpec("P")
R = TypeVar("R")

Connection = openstack.connection.Connection
ksa_errors = ksa  # for the driver's few precise catches
#: Whatever an SDK or keystoneauth call may raise (for best-effort cleanups that must not fail).
CLIENT_ERRORS = (sdk.SDKException, ksa.ClientException)
Adapter = ksa_adapter.Adapter
_QUOTA_WORDS = ("quota", "overlimit", "over limit", "exceeded")
_CACHE_SIZE = 64
_cache: OrderedDict[str, Connection] = OrderedDict()
_lock = threading.Lock()


def connect(
    *, auth_url: str, project_id: str, credentials: Mapping[str, Any], options: Mapping[str, Any]
) -> Connection:
    """An authenticated connection for one project, reused while the settings are the same.

    `credentials` holds either an application credential (`application_credential_id`
    or `_name`, `application_credential_secret`), which is bound to its project,
    or a user's `username`/`password` (+ `user_domain_name`), scoped to `project_id`,
    or, for per-user federation, a user's OIDC `access_token` with the cloud's
    `identity_provider` and `protocol`: keystoneauth's `v3oidcaccesstoken`
    exchanges it at Keystone's OS-FEDERATION endpoint for a token scoped to
    `project_id`.
    `options`: `region_name`, `interface`, `verify` (bool), `cacert` (a path),
    `api_timeout` (seconds to wait for an answer; default 60), `compute_microversion`
    (pin Nova's API microversion, e.g. "2.61"; openstacksdk's newest by default).
    Reads no clouds.yaml and no OS_* environment: only what Atrium was given.
    """
    auth = {"auth_url": auth_url, **{k: v for k, v in credentials.items() if v not in (None, "")}}
    if "application_credential_id" in auth or "application_credential_name" in auth:
        auth_type = "v3applicationcredential"
    elif "access_token" in auth:
        auth_type = "v3oidcaccesstoken"
        if project_id:
            auth.setdefault("project_id", project_id)
    else:
        auth_type = "password"
        if project_id:
            auth.setdefault("project_id", project_id)
        auth.setdefault("user_domain_name", "Default")
    settings = {
        "auth_type": auth_type,
        "auth": auth,
        "region_name": options.get("region_name") or None,
        "interface": options.get("interface", "public"),
        "verify": options.get("verify", True),
        "cacert": options.get("cacert") or None,
        "api_timeout": options.get("api_timeout", 60),
    }
    if options.get("compute_microversion"):
        # Pin Nova's microversion: openstacksdk asks for its newest, and server listings
        # were measured ~40% slower at 2.96+ than at 2.61 (shared/PEERS.md).
        settings["compute_default_microversion"] = str(options["compute_microversion"])
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        region = openstack.config.get_cloud_region(load_yaml_config=False, load_envvars=False, **settings)
        connection = openstack.connection.Connection(config=region, app_name="atrium")
    except Exception as exc:
        raise translate(exc) from exc
    with _lock:
        _cache[key] = connection
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return connection


def authenticate(connection: Connection) -> None:
    """Get the connection's Keystone token now (once; the session keeps it), so a
    refusal shows up at once and as Atrium's error."""
    try:
        connection.session.get_token()
    except Exception as exc:
        raise translate(exc) from exc


def details(exc: BaseException | None) -> str:
    """What the cloud said about an SDK or keystoneauth error (for messages)."""
    return _details(exc) if isinstance(exc, Exception) else ""


def adapter(connection: Connection, *, service_type: str) -> Adapter:
    """A keystoneauth adapter for a service the SDK does not cover (Blazar)."""
    config = connection.config
    return ksa_adapter.Adapter(
        session=connection.session,
        service_type=service_type,
        interface=config.get_interface(),
        region_name=config.get_region_name(),
    )


def _body_message(exc: Exception) -> str | None:
    """The human message in an error body keystoneauth could not read (Blazar's
    `error_message`, Magnum's `{"errors": [{"detail"}]}`, Nova's
    `{"badRequest": {"message"}}` and the like)."""
    response = getattr(exc, "response", None)
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error_message"), str):
        return str(body["error_message"])
    if isinstance(body.get("errors"), list):
        # The API working group's format (Magnum, Placement): {"errors": [{"title", "detail"}]}.
        said = " ".join(str(e.get("detail") or e.get("title") or "") for e in body["errors"] if isinstance(e, dict))
        if said.strip():
            return " ".join(said.split())
    for value in body.values():
        if isinstance(value, dict) and isinstance(value.get("message"), str):
            return str(value["message"])
    return None


def _details(exc: Exception) -> str:
    text = _body_message(exc) or getattr(exc, "details", None) or getattr(exc, "message", None) or str(exc)
    if isinstance(text, str) and text.startswith("{"):
        try:  # Some services put JSON in the message: take the human part.
            body = json.loads(text)
            inner = next(iter(body.values())) if isinstance(body, dict) and body else body
            text = str(inner.get("message") or inner.get("detail") or text) if isinstance(inner, dict) else text
        except (ValueError, StopIteration):
            pass
    return " ".join(str(text).split())[:500]


def _status(exc: Exception) -> int | None:
    for attribute in ("status_code", "http_status"):
        value = getattr(exc, attribute, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def translate(exc: Exception) -> errors.CloudError:
    """The one place SDK, keystoneauth and HTTP errors become Atrium's cloud errors."""
    if isinstance(exc, errors.CloudError):
        return exc
    details = _details(exc)
    about = f": {details}" if details else "."
    if isinstance(exc, ksa.ConnectTimeout | sdk.ResourceTimeout):
        return errors.Timeout(f"The cloud took too long to answer{about}")
    if isinstance(exc, ksa.ConnectFailure | ksa.SSLError | ksa.RetriableConnectionFailure | ksa.DiscoveryFailure):
        return errors.Communication(f"The cloud could not be reached{about}")
    if isinstance(exc, ksa.EndpointNotFound | ksa.CatalogException):
        return errors.Unsupported(f"The cloud does not offer that service{about}")
    if isinstance(exc, ksa.Unauthorized | ksa.AuthorizationFailure | ksa.MissingRequiredOptions):
        return errors.Authentication(
            f"The cloud did not accept the project's credentials{about} Ask an operator to renew them."
        )
    status = _status(exc)
    if status in (400, 401, 404) and "/auth/tokens" in str(getattr(exc, "url", "") or ""):
        # Keystone answers 404 for an application credential it does not know: that is
        # a credential problem, not a missing resource.
        return errors.Authentication(
            f"The cloud did not accept the project's credentials{about} Ask an operator to renew them."
        )
    quota = any(word in details.lower() for word in _QUOTA_WORDS)
    if status in (409, 500) and "not enough" in details.lower():
        # Blazar answers 500 when the capacity for a lease is not there.
        return errors.InvalidOperation(f"Not enough free capacity for that{about}")
    if status in (403, 409, 413) and quota:
        return errors.QuotaExceeded(f"Over quota{about}")
    if status == 400:
        return errors.BadInput(f"The cloud refused the request{about}")
    if status == 401:
        return errors.Authentication(f"The cloud did not accept the project's credentials{about}")
    if status == 403:
        return errors.PermissionDenied(f"The cloud does not allow this{about}")
    if status == 404 or isinstance(exc, sdk.NotFoundException):
        return errors.NotFound(f"Not found on the cloud{about}")
    if status == 409:
        return errors.InvalidOperation(f"Not possible right now{about}")
    if status == 504:
        return errors.Timeout(f"The cloud took too long to answer{about}")
    if status in (502, 503):
        return errors.Communication(f"The cloud is unavailable{about}")
    return errors.CloudError(f"The cloud failed{about}")


def translate_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate every driver method: no SDK exception leaves the driver."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except errors.CloudError:
            raise
        except CLIENT_ERRORS as exc:
            raise translate(exc) from exc

    return wrapper


def clouds_yaml_entry(path: str, cloud: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(auth URL, options, credentials) of one entry of a clouds.yaml, read by
    openstacksdk's own loader (so secure.yaml, profiles and defaults apply),
    in the shape `Cloud.endpoint`, `Cloud.options` and the credentials fields
    take. BadInput when the file or the entry cannot be read."""
    try:
        config = openstack.config.OpenStackConfig(config_files=[path], load_envvars=False).get_one(cloud=cloud)
    except Exception as exc:  # noqa: BLE001 - the loader raises many kinds; all mean "cannot use this"
        raise errors.BadInput(f"Cannot read cloud {cloud!r} from {path}: {exc}") from None
    auth = {key: value for key, value in dict(config.config.get("auth") or {}).items() if value not in (None, "")}
    auth_url = str(auth.pop("auth_url", "") or "")
    if not auth_url:
        raise errors.BadInput(f"Cloud {cloud!r} in {path} has no auth_url.")
    options: dict[str, Any] = {"interface": config.config.get("interface") or "public"}
    if config.get_region_name():
        options["region_name"] = config.get_region_name()
    verify = config.config.get("verify", True)
    if verify is False:
        options["verify"] = False
    if config.config.get("cacert"):
        options["cacert"] = str(config.config["cacert"])
    return auth_url, options, {str(k): str(v) for k, v in auth.items()}
