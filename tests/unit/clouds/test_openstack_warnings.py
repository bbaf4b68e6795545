"""The deprecations openstacksdk warns from inside itself (one for every object it builds, one for every
cloud region) do not reach a run's output (apps/clouds/openstack/sdk.py); its other warnings do."""

import subprocess
import sys

from tests.servers import ROOT

BUILD_A_SERVER = """
import apps.clouds.openstack.sdk
import openstack.config
from openstack.compute.v2.server import Server
openstack.config.OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
    auth_url="http://127.0.0.1:1/v3", username="u", password="p", project_id="x"
)
Server.existing(id="s", name="m", flavor={"original_name": "small"})
"""


def run(code: str) -> str:
    done = subprocess.run([sys.executable, "-W", "default", "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_building_sdk_objects_prints_no_warning_with_warnings_shown():
    assert run(BUILD_A_SERVER) == ""


def test_the_sdks_other_deprecations_still_show():
    other = "import warnings, openstack.warnings as w\nwarnings.warn('other', w.RemovedInSDK50Warning)"
    shown = run(BUILD_A_SERVER + other)
    assert "RemovedInSDK50Warning: other" in shown


def test_a_test_run_does_not_collect_it_either():
    """pytest resets the warning filters for each test; pyproject.toml's filterwarnings says it again."""
    import warnings

    from openstack.compute.v2.server import Server

    with warnings.catch_warnings(record=True) as seen:
        Server.existing(id="s", name="m")
    assert [str(warning.message) for warning in seen] == []
