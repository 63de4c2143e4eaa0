"""``creditgate token user USER_ID [--ttl]``: print a signed user token;
``creditgate token revoke TOKEN_ID [--db]``: refuse it from now on."""

from __future__ import annotations

from typing import Annotated

import typer

from creditgate.cli.common import err, fail, out
from creditgate.identifiers import user_id_problem
from creditgate.service.security import AuthError, issue_user_token, token_id_of
from creditgate.service.settings import Settings
from creditgate.store.db import make_engine, migrate
from creditgate.store.revocation import TOKEN_ID, RevocationList

app = typer.Typer(help="Issue and revoke tokens.", no_args_is_help=True)


@app.command("user")
def user_token(
    user_id: Annotated[str, typer.Argument(help="The user the token speaks for.")],
    ttl: Annotated[int, typer.Option(help="Seconds until it expires.", min=1)] = 3600,
) -> None:
    """A token for one user (HMAC-SHA256 with the first key of CREDITGATE_SECRET): reads only
    that user. Its id (the third dot-separated field) is printed on stderr for revocation."""
    if problem := user_id_problem(user_id):
        fail(problem)
    settings = Settings()
    if not settings.secret:
        fail("CREDITGATE_SECRET is not set")
    if ttl > settings.max_token_ttl_s:
        fail(f"--ttl {ttl} exceeds CREDITGATE_MAX_TOKEN_TTL_S ({settings.max_token_ttl_s} s)")
    token = issue_user_token(settings.secret_bytes, user_id, ttl)
    out.print(token, markup=False, soft_wrap=True)
    err.print(f"token id {token_id_of(token)}", markup=False)


@app.command("revoke")
def revoke_token(
    token: Annotated[str, typer.Argument(help="A token id (16 hex digits) or a whole token.")],
    db: Annotated[str | None, typer.Option("--db", help="Database URL.")] = None,
    by: Annotated[str, typer.Option(help="Who revokes (recorded).")] = "cli",
) -> None:
    """Refuse a user token from now on (running servers pick it up within a state refresh)."""
    if TOKEN_ID.fullmatch(token) is None:
        try:
            token = token_id_of(token)
        except AuthError:
            fail("expected a token id (16 hex digits) or a user token")
    engine = make_engine(db or Settings().db_url)
    try:
        migrate(engine)
        created = RevocationList(engine).revoke(token, by)
    except ValueError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"revoked {token}" if created else f"{token} was already revoked", markup=False)
