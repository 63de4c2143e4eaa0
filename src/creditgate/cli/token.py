"""``creditgate token user USER_ID [--ttl]``: print a signed user token, or with ``--url BASE``
a one-time sign-in link to the self-check page; ``creditgate token revoke TOKEN_ID [--db]``:
refuse a token or a link from now on."""

from __future__ import annotations

from typing import Annotated

import typer

from creditgate.cli.common import err, fail, out
from creditgate.identifiers import user_id_problem
from creditgate.service.security import AuthError, issue_user_token, token_id_of
from creditgate.service.settings import Settings
from creditgate.service.web.links import LINK_KIND, LinkError, issue_link, link_id_of, link_url
from creditgate.store.db import make_engine, migrate
from creditgate.store.revocation import TOKEN_ID, RevocationList

app = typer.Typer(help="Issue and revoke tokens.", no_args_is_help=True)


@app.command("user")
def user_token(
    user_id: Annotated[str, typer.Argument(help="The user the token speaks for.")],
    ttl: Annotated[
        int | None,
        typer.Option(
            help="Seconds until it expires (default 3600; a link: CREDITGATE_LINK_TTL_S).", min=1
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Print a one-time self-check link BASE/?t=... instead of a token."),
    ] = None,
) -> None:
    """A token for one user (HMAC-SHA256 with the first key of CREDITGATE_SECRET): reads only
    that user. Its id (the third dot-separated field) is printed on stderr for revocation.
    With ``--url`` a sign-in link to the self-check page: used once, short-lived, not an API
    token."""
    if problem := user_id_problem(user_id):
        fail(problem)
    settings = Settings()
    if not settings.secret:
        fail("CREDITGATE_SECRET is not set")
    lifetime = ttl or (settings.link_ttl_s if url is not None else 3600)
    if lifetime > settings.max_token_ttl_s:
        fail(f"--ttl {lifetime} exceeds CREDITGATE_MAX_TOKEN_TTL_S ({settings.max_token_ttl_s} s)")
    if url is not None:
        if not url.startswith(("http://", "https://")):
            fail("--url must start with http:// or https://")
        link = issue_link(settings.secret_bytes, user_id, lifetime)
        out.print(link_url(url, link), markup=False, soft_wrap=True)
        err.print(f"link id {link_id_of(link)}", markup=False)
        return
    token = issue_user_token(settings.secret_bytes, user_id, lifetime)
    out.print(token, markup=False, soft_wrap=True)
    err.print(f"token id {token_id_of(token)}", markup=False)


@app.command("revoke")
def revoke_token(
    token: Annotated[
        str, typer.Argument(help="A token or link id (16 hex digits), a whole token or link.")
    ],
    db: Annotated[str | None, typer.Option("--db", help="Database URL.")] = None,
    by: Annotated[str, typer.Option(help="Who revokes (recorded).")] = "cli",
) -> None:
    """Refuse a user token or a sign-in link (and the page sessions it opened) from now on;
    running servers pick it up within a state refresh."""
    if TOKEN_ID.fullmatch(token) is None:
        try:
            token = link_id_of(token) if token.startswith(LINK_KIND + ".") else token_id_of(token)
        except (AuthError, LinkError):
            fail("expected a token id (16 hex digits), a user token or a link")
    engine = make_engine(db or Settings().db_url)
    try:
        migrate(engine)
        created = RevocationList(engine).revoke(token, by)
    except ValueError as exc:
        fail(str(exc))
    finally:
        engine.dispose()
    out.print(f"revoked {token}" if created else f"{token} was already revoked", markup=False)
