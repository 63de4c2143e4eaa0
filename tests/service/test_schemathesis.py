"""Property-based fuzzing of every operation in /openapi.json with an admin token, a viewer
token and no token at all: no 5xx.

In-process (ASGI) on SQLite and PostgreSQL, a bounded number of examples per operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import auth, make_settings
from creditgate.service.app import create_app

EXAMPLES = {"admin": 25, "viewer": 10, None: 10}


@pytest.mark.parametrize("role", ["admin", "viewer", None])
def test_no_server_errors(db_url: str, role: str | None) -> None:
    app = create_app(make_settings(db_url))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=auth("viewer"))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    headers = auth(role) if role is not None else {}

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES[role],
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        fuzz()
