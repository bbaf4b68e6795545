"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.fuzz.hooks): the isolation check.

With ATRIUM_FUZZ_OUTSIDER set, the run is a member of another tenancy whose path
parameters name the Physics tenancy's objects: every answer to an operation on
an object (a path with parameters) must be 404 (405 for a method the path does
not have). Anything else would tell them the object exists, or do something to it.
"""

import os
from typing import Any

import schemathesis


@schemathesis.check
def outsider_sees_only_404(ctx: Any, response: Any, case: Any) -> bool | None:
    if not os.environ.get("ATRIUM_FUZZ_OUTSIDER") or not case.path_parameters:
        return None
    if response.status_code not in (404, 405):
        raise AssertionError(
            f"A member of another tenancy got {response.status_code} for {case.method} {case.formatted_path}"
        )
    return True
