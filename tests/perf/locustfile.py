"""The users of the load run (tests/perf/bench_load.py starts locust with this
file against a real portal on loopback; not run by pytest).

Each user is the same member of one tenancy who, as fast as the server
answers, reads the machine and job lists (pages with a session the run signed
in once, API with a token)
and now and then asks for a new machine (the create path: checks, quota, a
row and a queued job). Every answer but the expected status is an error.
The run stops itself after ATRIUM_LOAD_REQUESTS requests (locust's
--run-time bounds its time).
"""

import itertools
import os
import uuid
from typing import Any

from locust import HttpUser, constant, events, task
from locust.env import Environment

TENANCY = os.environ["ATRIUM_LOAD_TENANCY"]
TOKEN = os.environ["ATRIUM_LOAD_TOKEN"]
SESSION = os.environ["ATRIUM_LOAD_SESSION"]
IMAGE = os.environ["ATRIUM_LOAD_IMAGE"]
SIZE = os.environ["ATRIUM_LOAD_SIZE"]
LIMIT = int(os.environ.get("ATRIUM_LOAD_REQUESTS", "2000"))

_environment: list[Environment] = []
_requests = itertools.count(1)


@events.init.add_listener
def _keep(environment: Environment, **_: Any) -> None:
    _environment.append(environment)


@events.request.add_listener
def _bound(**_: Any) -> None:
    runner = _environment[0].runner if _environment else None
    if next(_requests) == LIMIT and runner is not None:
        runner.quit()


class Member(HttpUser):
    wait_time = constant(0)  # a load run, not a model of people's pauses

    def on_start(self) -> None:
        self.pages = {"Cookie": f"sessionid={SESSION}"}
        self.api = {"Authorization": f"Token {TOKEN}"}

    def expect(self, method: str, path: str, name: str, status: int, **kwargs: Any) -> None:
        with self.client.request(
            method, path, name=name, allow_redirects=False, catch_response=True, **kwargs
        ) as response:
            if response.status_code != status:
                response.failure(f"{response.status_code} (expected {status}): {response.text[:200]}")

    @task(3)
    def machines_page(self) -> None:
        self.expect("GET", f"/tenancies/{TENANCY}/machines/", "page: machines", 200, headers=self.pages)

    @task(3)
    def jobs_page(self) -> None:
        self.expect("GET", f"/tenancies/{TENANCY}/jobs/", "page: jobs", 200, headers=self.pages)

    @task(3)
    def machines_api(self) -> None:
        self.expect("GET", f"/api/v1/tenancies/{TENANCY}/machines/", "API: machines", 200, headers=self.api)

    @task(3)
    def jobs_api(self) -> None:
        self.expect("GET", f"/api/v1/tenancies/{TENANCY}/jobs/", "API: jobs", 200, headers=self.api)

    @task(1)
    def create_machine(self) -> None:
        body = {"name": f"load-{uuid.uuid4().hex[:12]}", "image_id": IMAGE, "size_id": SIZE}
        self.expect(
            "POST", f"/api/v1/tenancies/{TENANCY}/machines/", "API: create machine", 202, json=body, headers=self.api
        )
