"""The interface's promises: errors render through the one API handler,
the registry picks the driver by the cloud's configuration, and the demo
loads a usable local cloud."""

import dataclasses
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from apps.accounts.models import User
from apps.clouds import errors
from apps.clouds.base import FAMILIES, Capabilities, CloudDriver
from apps.clouds.local.driver import LOCAL_CAPABILITIES, LocalDriver
from apps.clouds.registry import driver_for_tenancy
from apps.clouds.target import Target
from apps.core import errors as core
from apps.core.api import exception_handler
from apps.tenancies.models import Cloud, Tenancy
from tests.factories import TenancyFactory


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.BadInput, 400, "bad_input"),
        (errors.NotFound, 404, "not_found"),
        (errors.QuotaExceeded, 409, "quota_exceeded"),
        (errors.InvalidOperation, 409, "invalid_operation"),
        (errors.Unsupported, 400, "unsupported"),
        (errors.PermissionDenied, 403, "cloud_permission_denied"),
        (errors.Authentication, 502, "cloud_authentication"),
        (errors.Communication, 502, "cloud_unreachable"),
        (errors.Timeout, 504, "cloud_timeout"),
    ],
)
def test_cloud_errors_render_in_the_one_api_error_shape(error, status, code):
    response = exception_handler(error(), {})
    assert response is not None
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"]  # a default a person can read


def test_only_transient_errors_are_retryable():
    retryable = {cls.__name__ for cls in (errors.CloudError, *errors.CloudError.__subclasses__()) if cls.retryable}
    assert retryable == {"Communication", "Timeout"}


def test_cloud_errors_are_caught_as_the_core_ones():
    assert issubclass(errors.NotFound, core.NotFound)
    assert issubclass(errors.QuotaExceeded, core.Conflict)
    assert issubclass(errors.InvalidOperation, core.Conflict)
    assert issubclass(errors.CloudError, core.ApplicationError)


@pytest.mark.django_db
def test_registry_picks_the_driver_from_the_cloud():
    tenancy = TenancyFactory()
    driver = driver_for_tenancy(tenancy)
    assert isinstance(driver, LocalDriver)
    assert driver.project_id == tenancy.project_id
    Cloud.objects.filter(pk=tenancy.cloud_id).update(driver="vmware")
    with pytest.raises(errors.Unsupported, match="unknown driver 'vmware'"):
        driver_for_tenancy(Tenancy.objects.get(pk=tenancy.pk))


@pytest.mark.django_db
def test_optional_operations_are_unsupported_by_default():
    class Minimal(CloudDriver):
        name = "minimal"

    for method in ("images", "capabilities"):
        assert getattr(Minimal, method).__isabstractmethod__
    # A driver that implements only the required operations still answers the optional ones clearly.
    abstract = {name for name in dir(CloudDriver) if getattr(getattr(CloudDriver, name), "__isabstractmethod__", False)}
    concrete = type("Concrete", (Minimal,), {name: lambda self, **kw: None for name in abstract})
    driver = concrete(target=Target(cloud_id=0, cloud_name="Other", driver="minimal"))
    with pytest.raises(errors.Unsupported, match="does not offer Kubernetes clusters"):
        driver.clusters()
    with pytest.raises(errors.Unsupported, match="does not offer a web console"):
        driver.machine_console(machine_id="x")
    assert Capabilities() == Capabilities(external_ips=False, leases=False)


@pytest.mark.django_db
def test_every_optional_operation_answers_unsupported_until_a_driver_implements_it():
    abstract = {name for name in dir(CloudDriver) if getattr(getattr(CloudDriver, name), "__isabstractmethod__", False)}
    concrete = type("Concrete", (CloudDriver,), {"name": "minimal", **{n: lambda self, **kw: None for n in abstract}})
    driver = concrete(target=Target(cloud_id=0, cloud_name="Other", driver="minimal"))
    table = {name: what for family in FAMILIES for name, what in family.optional_operations.items()}
    assert {"volume_get", "lease_create", "_cluster_create", "keypairs", "external_ip_release"} <= set(table)
    for name, what in table.items():
        with pytest.raises(errors.Unsupported, match=f"Other does not offer {what}"):
            getattr(driver, name)()
    # The local cloud implements every optional operation but the web console (its capabilities say so).
    assert {name for name in table if getattr(LocalDriver, name) is getattr(CloudDriver, name)} == {"machine_console"}
    offered = dataclasses.asdict(LOCAL_CAPABILITIES)
    assert offered.pop("console") is None
    assert all(offered.values()), offered
    with pytest.raises(errors.Unsupported, match="does not offer Kubernetes clusters"):
        driver.cluster_create(name="k", template_id="t", worker_count=1)
    with pytest.raises(errors.Unsupported, match="does not offer machine firewalls"):
        driver.machine_firewall_rule_add(machine_id="m", protocol="tcp", port_min=22)


def test_every_capability_flag_belongs_to_one_family():
    flags = [flag for family in FAMILIES for flag in family.capability_flags]
    assert sorted(flags) == sorted(field.name for field in dataclasses.fields(Capabilities))
    assert set(CloudDriver.__mro__) >= set(FAMILIES)


def test_drivers_are_composed_of_their_families_and_import_no_other_app():
    from apps.clouds.openstack.driver import OpenStackDriver

    for driver_class in (LocalDriver, OpenStackDriver):
        assert all(issubclass(driver_class, family) for family in FAMILIES)
        assert not driver_class.__abstractmethods__
    root = Path(__file__).resolve().parents[3] / "apps" / "clouds"
    for module in [*root.glob("local/*.py"), *root.glob("openstack/*.py")]:
        text = module.read_text()
        for app in ("accounts", "tenancies", "machines", "jobs"):
            assert f"from apps.{app}" not in text, (module.name, app)
            assert f"import apps.{app}" not in text, (module.name, app)


@pytest.mark.django_db
def test_demo_loads_a_usable_local_cloud():
    call_command("load_demo")
    call_command("load_demo")  # idempotent
    tenancy = Tenancy.objects.get(project_id="physics")
    driver = driver_for_tenancy(tenancy)
    assert {"Ubuntu 24.04 LTS", "Rocky Linux 9"} <= {image.name for image in driver.images()}
    assert next(size.name for size in driver.sizes()) == "small"
    assert any(size.gpus for size in driver.sizes())
    assert any(host.reservable for host in driver.hosts())
    assert {q.resource: q.limit for q in driver.quotas()}["cpus"] == 32


@pytest.mark.django_db
def test_operators_see_the_local_cloud_and_its_faults_in_the_admin():
    call_command("load_demo")
    staff = Client()
    staff.force_login(User.objects.get(username="operator"))
    for page in ("localhost", "localimage", "localsize", "localquota", "localmachine", "localfault"):
        assert staff.get(f"/admin/clouds/{page}/").status_code == 200
    response = staff.post(
        "/admin/clouds/localfault/add/",
        {"cloud": Cloud.objects.get(name="Local cloud").pk, "operation": "machine_explode", "kind": "timeout"},
    )
    assert "There is no driver operation" in response.content.decode()
