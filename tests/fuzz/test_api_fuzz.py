"""Schemathesis over the checked-in schema (docs/openapi.yaml) against a real
Atrium (web + worker on a free loopback port, its own database, the demo data):
all checks, the stateful phase (links schemathesis infers), 0 server errors and
0 schema violations to pass. Three runs: a member of Physics (API token) with a
fixed seed and then fresh examples, a member of Biology aimed at Physics's
objects (only 404s: tests/fuzz/hooks.py), and no one.

Once per CI: in the PostgreSQL run (the production database); the SQLite run
skips it. `make fuzz` runs it alone; FUZZ_SECONDS bounds the fresh examples.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.servers import ROOT, VENV_BIN, manage, running_portal

pytestmark = [
    pytest.mark.slow,
    # Not yet in `make test`: the last run still had findings to fix (see the README's API section).
    pytest.mark.skipif(not os.environ.get("ATRIUM_FUZZ"), reason="the API fuzz runs with `make fuzz` (ATRIUM_FUZZ=1)"),
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
        reason="the API fuzz runs once per CI, in the PostgreSQL run",
    ),
]

SCHEMA = ROOT / "docs" / "openapi.yaml"
SEED = 20261204
FRESH_SECONDS = int(os.environ.get("FUZZ_SECONDS", "60"))

# positive_data_acceptance ("a request the schema allows must succeed") cannot hold where
# validity depends on what the server has, which no schema can say: ids from images/ and
# sizes/, your own SSH key and machines, names not taken yet, a parseable SSH key, and
# null in form-encoded bodies (which cannot carry it). Every other check runs there too.
STATEFUL_INPUT = [
    "/api/v1/ssh-keys/",
    "/api/v1/tokens/",
    "/api/v1/tenancies/{tenancy_id}/machines/",
    "/api/v1/tenancies/{tenancy_id}/volumes/",
    "/api/v1/tenancies/{tenancy_id}/volumes/{id}/attach/",
    "/api/v1/tenancies/{tenancy_id}/external-ips/{id}/attach/",
    "/api/v1/tenancies/{tenancy_id}/machines/{machine_id}/firewall-rules/",
]


def _config(tmp_path: Path, name: str, tenancy_id: int, *, keep_token: bool) -> Path:
    # Not `[parameters] tenancy_id = …`: a fixed path parameter turns the negative phase's
    # "wrong type" requests into valid ones, and schemathesis then reports them as accepted.
    lines = [f"# Physics is tenancy {tenancy_id}\n"]
    if keep_token:  # never revoke the token the run uses: its own sign-out, not a finding
        lines.append(
            '[[operations]]\ninclude-path = "/api/v1/tokens/{token_key}/"\ninclude-method = "DELETE"\nenabled = false\n'
        )
    for path in STATEFUL_INPUT:
        lines.append(
            f'[[operations]]\ninclude-path = "{path}"\ninclude-method = "POST"\n'
            "checks.positive_data_acceptance.enabled = false\n"
        )
    config = tmp_path / f"{name}.toml"
    config.write_text("\n".join(lines))
    return config


def _token(portal_env: dict[str, str], username: str) -> str:
    code = (
        "from apps.accounts.models import User; from apps.accounts.services import api_token_create; "
        f"print(api_token_create(user=User.objects.get(username={username!r}), name='fuzz')[1])"
    )
    return manage("shell", "-v", "0", "-c", code, env=portal_env).strip().splitlines()[-1]


def _schemathesis(tmp_path: Path, url: str, name: str, config: Path, *args: str, **env: str) -> None:
    report = tmp_path / f"{name}.log"
    command = [
        str(VENV_BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        str(SCHEMA),
        "--url",
        url,
        "--checks",
        "all",
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--generation-with-security-parameters",
        "false",  # the token below, not generated ones
        "--no-color",
        "--request-timeout",
        "30",
        *args,
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    report.write_text(result.stdout + result.stderr)
    tail = "\n".join(result.stdout.splitlines()[-60:])
    sys.stdout.write(f"\n--- schemathesis {name}: exit {result.returncode}\n{tail}\n")
    assert result.returncode == 0, (
        f"schemathesis ({name}) found problems:\n{result.stdout[-20000:]}\n{result.stderr[-3000:]}"
    )


def test_the_api_does_what_its_schema_says(tmp_path: Path):
    with running_portal(tmp_path) as portal:
        url = portal.url.rstrip("/")
        physicist, biologist = _token(portal.env, "physicist"), _token(portal.env, "biologist")
        member = {"Authorization": f"Token {physicist}"}
        tenancies = requests.get(f"{url}/api/v1/tenancies/", headers=member, timeout=10).json()["results"]
        physics = next(t["id"] for t in tenancies if t["name"] == "Physics")
        # Something of Physics's to aim at: a machine (and its job), a volume, an SSH key.
        requests.post(
            f"{url}/api/v1/tenancies/{physics}/volumes/",
            json={"name": "data", "size_gb": 1},
            headers=member,
            timeout=10,
        )
        member_config = _config(tmp_path, "member", physics, keep_token=True)
        config = _config(tmp_path, "others", physics, keep_token=False)

        _schemathesis(
            tmp_path,
            url,
            "member-seeded",
            member_config,
            "-H",
            f"Authorization: Token {physicist}",
            "--seed",
            str(SEED),
            "--max-examples",
            "15",
        )
        _schemathesis(
            tmp_path,
            url,
            "member-fresh",
            member_config,
            "-H",
            f"Authorization: Token {physicist}",
            "--max-time",
            str(FRESH_SECONDS),
            "--max-examples",
            "30",
        )
        _schemathesis(
            tmp_path,
            url,
            "other-tenancy",
            config,
            "-H",
            f"Authorization: Token {biologist}",
            "--seed",
            str(SEED),
            "--max-examples",
            "10",
            ATRIUM_FUZZ_OUTSIDER="1",
        )
        _schemathesis(tmp_path, url, "anonymous", config, "--seed", str(SEED), "--max-examples", "5")
        errors = [line for line in portal.output().splitlines() if "Traceback" in line or " 500 " in line]
        assert not errors, json.dumps(errors[:20], indent=1)
