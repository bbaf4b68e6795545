"""The OpenStack driver's one translation of SDK and HTTP failures, and what a
driver does when the cloud is not there. Real sockets on loopback stand in for
a broken cloud: a closed port (refused) and a server that never answers."""

import socket
import threading

import pytest
import requests
from keystoneauth1 import exceptions as ksa
from openstack import exceptions as sdk_exceptions

from apps.clouds import errors
from apps.clouds.openstack.sdk import translate
from apps.clouds.registry import driver_for_tenancy
from apps.tenancies.models import Cloud
from tests.factories import CloudFactory, TenancyFactory


def _http(status: int, message: str) -> Exception:
    response = requests.Response()  # the status as the SDK takes it (its http_status= is deprecated)
    response.status_code = status
    return sdk_exceptions.HttpException(message=message, details=message, response=response)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (_http(400, "Invalid key_name provided."), errors.BadInput),
        (_http(404, "Flavor x could not be found."), errors.NotFound),
        (sdk_exceptions.NotFoundException(message="No Server found for x"), errors.NotFound),
        (
            _http(403, "Quota exceeded for instances: Requested 1, but already used 10 of 10 instances"),
            errors.QuotaExceeded,
        ),
        (_http(409, "Quota exceeded for resources: ['floatingip']."), errors.QuotaExceeded),
        (_http(409, "Cannot 'stop' instance while it is in vm_state stopped"), errors.InvalidOperation),
        (_http(403, "Policy doesn't allow os_compute_api:os-hypervisors to be performed."), errors.PermissionDenied),
        (_http(401, "The request you have made requires authentication."), errors.Authentication),
        (_http(503, "Service Unavailable"), errors.Communication),
        (_http(504, "Gateway Timeout"), errors.Timeout),
        (_http(500, "Not enough hosts available"), errors.InvalidOperation),
        (_http(500, "Something broke"), errors.CloudError),
        (ksa.ConnectFailure("refused"), errors.Communication),
        (ksa.ConnectTimeout("slow"), errors.Timeout),
        (ksa.Unauthorized("bad credential"), errors.Authentication),
        (ksa.EndpointNotFound("no reservation endpoint"), errors.Unsupported),
        (
            ksa.http.NotFound(
                "Could not find Application Credential: 7e5a.", url="http://127.0.0.1:5000/v3/auth/tokens"
            ),
            errors.Authentication,
        ),
    ],
)
def test_sdk_errors_become_cloud_errors(exc, expected):
    translated = translate(exc)
    assert type(translated) is expected
    assert translated.message  # says what happened, in words


def _openstack_tenancy(endpoint: str, **options):
    cloud = CloudFactory(
        name="Unreachable OpenStack",
        driver=Cloud.Driver.OPENSTACK,
        endpoint=endpoint,
        options=options,
        credentials={"username": "demo", "password": "demo"},
    )
    return TenancyFactory(cloud=cloud, project_id="demo-project")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.django_db
def test_a_cloud_that_refuses_connections_is_a_retryable_communication_error():
    driver = driver_for_tenancy(_openstack_tenancy(f"http://127.0.0.1:{_free_port()}/v3"))
    with pytest.raises(errors.Communication) as caught:
        driver.images()
    assert caught.value.retryable
    assert caught.value.status_code == 502


@pytest.mark.django_db
def test_a_cloud_that_never_answers_is_a_retryable_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:  # accept and hold connections, never answer
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        driver = driver_for_tenancy(_openstack_tenancy(f"http://127.0.0.1:{port}/v3", api_timeout=1))
        with pytest.raises(errors.Timeout) as caught:
            driver.sizes()
        assert caught.value.retryable
        assert caught.value.status_code == 504
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


NET = "5f1c2a4e-0000-4000-8000-00000000000a"
GROUP = "9b7d1e3c-0000-4000-8000-00000000000b"


@pytest.mark.parametrize(
    ("exc", "fields"),
    [
        (_http(400, "Can not find requested image"), {"image_id"}),  # what Nova says (the rig)
        (_http(400, "Image 00000000-0000-0000-0000-000000000000 could not be found."), {"image_id"}),
        (_http(400, "Invalid imageRef provided."), {"image_id"}),
        (_http(400, f"Network {NET} could not be found."), {"network_id"}),  # NetworkNotFound
        (_http(400, f"Unable to find security_group with name or id '{GROUP}'"), {"firewall_id"}),  # Neutron's
        (_http(400, f"Security group {GROUP} not found."), {"firewall_id"}),  # SecurityGroupNotFound
        (_http(400, "Network 11111111-0000-4000-8000-000000000000 could not be found."), set()),  # not the one sent
        (_http(400, f"Network {NET} requires a subnet in order to boot instances on."), set()),
        (_http(400, "Invalid key_name provided."), set()),
        (_http(404, "Flavor x could not be found."), set()),
        (ValueError(f"Network {NET} could not be found."), set()),  # not the cloud's answer
    ],
)
def test_nova_refusing_the_image_network_or_security_group_is_told_apart(exc, fields):
    """The OpenStack machine_create answers Nova's refusal of the image, of the network or of the
    security group it was given as BadInput naming `image_id`, `network_id` or `firewall_id`, as
    every driver does (the contract suite checks it end to end; the create job finds the network
    and shared firewall again on `network_id`/`firewall_id`)."""
    from apps.clouds.openstack.compute import _unknown_inputs

    assert set(_unknown_inputs(exc, image_id="img", network_id=NET, group_id=GROUP)) == fields
