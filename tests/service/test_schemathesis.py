"""Property-based fuzzing of every operation in /openapi.json with an admin token: no 5xx.

In-process (ASGI), SQLite, a bounded number of examples per operation to keep CI quick.
"""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from conftest import auth, make_settings
from creditgate.service.app import create_app

_DB = tempfile.mkdtemp(prefix="creditgate-fuzz-")
APP = create_app(make_settings(f"sqlite:///{_DB}/fuzz.db"))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=auth("admin"), checks=[not_a_server_error])
