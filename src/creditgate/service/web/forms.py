"""Form bodies (``application/x-www-form-urlencoded``) without a multipart dependency: the
guard middleware has already bounded the body's size."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

MAX_FIELDS = 64


class FormError(Exception):
    """Not a form this page sends."""


async def read_form(request: Request) -> dict[str, str]:
    """Field -> first value (a field sent twice keeps its first value)."""
    try:
        text = (await request.body()).decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormError("unreadable form") from None
    return {k: v[0] for k, v in parsed.items()}
