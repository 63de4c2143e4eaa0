"""Templates (Jinja2, autoescaped) and the headers every page carries.

The Content-Security-Policy admits only what the app serves itself and no script at all;
``Cache-Control: no-store`` is added to every framework answer by the app (``no_store``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from creditgate.service.web.i18n import LANGS, Texts

CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    auto_reload=False,
    trim_blocks=True,
    lstrip_blocks=True,
)


def fragment(template: str, lang: str, **context: Any) -> Markup:
    """Part of a page rendered on its own (autoescaped, in ``lang``), to be kept and placed
    into pages: what does not change between requests is rendered once."""
    return Markup(_env.get_template(template).render(t=Texts(lang), lang=lang, **context))


def page(
    template: str, lang: str, status: int = 200, here: str = "/", **context: Any
) -> HTMLResponse:
    """``template`` rendered in ``lang`` with the page's security headers; ``here`` is the
    address the language switch returns to."""
    other = next(x for x in LANGS if x != lang)
    html = _env.get_template(template).render(
        t=Texts(lang), lang=lang, other=other, other_t=Texts(other), here=here, **context
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
