"""Property-based fuzzing of every operation in /openapi.json with an admin token: no 5xx.

In-process (ASGI) on SQLite and PostgreSQL, a bounded number of examples per operation.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import auth, make_settings
from creditgate.service.app import create_app

EXAMPLES = 25


def test_no_server_errors(db_url: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(make_settings(db_url)))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=auth("admin"), checks=[not_a_server_error])

        fuzz()
