"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): the isolation check.

ATRIUM_FUZZ_OUTSIDER holds, as JSON, what belongs to Physics: its tenancy id,
its jobs, and its member's SSH keys and tokens. The run then signs in as a
member of another tenancy, and every answer to an operation on one of those
(its path names it) must be 404, or 405 for a method the path does not have.
Anything else would tell them the object exists, or do something to it.
OPTIONS is left out: it describes the endpoint, the same for every id.
"""

import json
import os
from typing import Any

import schemathesis


def _physics_object(path: str, params: dict[str, Any]) -> bool:
    physics = json.loads(os.environ["ATRIUM_FUZZ_OUTSIDER"])
    values = {name: str(value) for name, value in params.items()}
    if "tenancy_id" in values:
        return values["tenancy_id"] == str(physics["tenancy"])
    owned = {
        "/api/v1/tenancies/{id}/": [physics["tenancy"]],
        "/api/v1/jobs/{id}/": physics["jobs"],
        "/api/v1/jobs/{id}/cancel/": physics["jobs"],
        "/api/v1/ssh-keys/{id}/": physics["ssh_keys"],
        "/api/v1/tokens/{token_key}/": physics["tokens"],
    }.get(path, [])
    return any(str(value) in {str(o) for o in owned} for value in values.values())


@schemathesis.check
def outsider_sees_only_404(ctx: Any, response: Any, case: Any) -> bool | None:
    if not os.environ.get("ATRIUM_FUZZ_OUTSIDER") or case.method.upper() == "OPTIONS":
        return None
    if not case.path_parameters or not _physics_object(case.path, case.path_parameters):
        return None
    if response.status_code not in (404, 405):
        raise AssertionError(
            f"A member of another tenancy got {response.status_code} for {case.method} {case.formatted_path}"
        )
    return True
