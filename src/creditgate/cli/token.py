"""``creditgate token user USER_ID [--ttl]``: print a signed user token."""

from __future__ import annotations

from typing import Annotated

import typer

from creditgate.cli.common import fail, out
from creditgate.identifiers import user_id_problem
from creditgate.service.security import issue_user_token
from creditgate.service.settings import Settings

app = typer.Typer(help="Issue tokens.", no_args_is_help=True)


@app.command("user")
def user_token(
    user_id: Annotated[str, typer.Argument(help="The user the token speaks for.")],
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.", min=1)] = 3600,
) -> None:
    """A token for one user (HMAC-SHA256 with CREDITGATE_SECRET): reads only that user."""
    if problem := user_id_problem(user_id):
        fail(problem)
    settings = Settings()
    if not settings.secret:
        fail("CREDITGATE_SECRET is not set")
    out.print(issue_user_token(settings.secret_bytes, user_id, ttl), markup=False)
