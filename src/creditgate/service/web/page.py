"""The answer page: an ``Answer`` and the user's own requests, rendered."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.responses import HTMLResponse

from creditgate.explain.alternatives import LENDER_KIND
from creditgate.profile import ProfileError
from creditgate.service import referrals
from creditgate.service.answers import Answer, what_if
from creditgate.service.deps import Services
from creditgate.service.web import view
from creditgate.service.web.cookies import ERROR_FLASHES
from creditgate.service.web.i18n import Texts
from creditgate.service.web.render import page


def _flash(lang: str, flash: tuple[str, str | None] | None) -> dict[str, Any] | None:
    if flash is None:
        return None
    key, field = flash
    texts = Texts(lang)
    if key == "whatif_bad_field":
        text = texts(key, field=texts.label(field)) if field else texts("whatif_bad_value")
    else:
        text = texts(key)
    return {"key": key, "error": key in ERROR_FLASHES, "text": text}


def _tried(
    services: Services, found: Answer, fields: list[str], tried: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The values to prefill and the outcome of the last try (None when there is none or it
    no longer applies)."""
    changes = {k: v for k, v in (tried or {}).items() if k in fields}
    if not changes:
        return {}, None
    try:
        decided = what_if(services, found, changes)
    except (ProfileError, LookupError):
        return {}, None
    outcome = {"visible": bool(decided.get("entry_visible")), "reasons": view.reasons(decided)[0]}
    return changes, outcome


RESOLVED = ("upheld", "overturned", "approve", "decline")  # each has a message


def _lenders(services: Services, found: Answer, state: str) -> list[dict[str, Any]]:
    """The licensed lenders the refusal names, each with the user's active consents to share
    fields with it and whether they cover every field it asks for (read only when some are
    named: an ordinary page costs no query more)."""
    named = referrals.named_lenders(found) if state == "hidden" else []
    if not named:
        return []
    mine = referrals.store(services).consents(found.user_id)
    out = []
    for lender in named:
        active = [c for c in mine if c.active and c.lender_id == lender["id"]]
        covered = {f for c in active for f in c.fields}
        out.append(
            {
                **lender,
                "apr_min_pct": f"{Decimal(lender['apr_min']) * 100:.2f}%",
                "apr_max_pct": f"{Decimal(lender['apr_max']) * 100:.2f}%",
                "consents": [
                    {"consent_id": c.consent_id, "granted_at": c.granted_at[:16].replace("T", " ")}
                    for c in active
                ],
                "covered": set(lender["fields"]) <= covered,
            }
        )
    return out


def _requests(services: Services, user_id: str) -> list[dict[str, Any]]:
    return [
        {
            "status": r["status"],
            "resolution": r["resolution"] if r["resolution"] in RESOLVED else None,
            "created_at": str(r["created_at"]),
            "field": view.disputed_field(str(r["reason"] or "")),
        }
        for r in services.catalog.user_reviews(user_id)
    ]


def answer_page(
    services: Services,
    found: Answer,
    lang: str,
    csrf: str,
    flash: tuple[str, str | None] | None,
    tried: dict[str, Any] | None,
) -> HTMLResponse:
    state = view.state(found)
    decision = found.decision or {}
    principal, others = view.reasons(decision)
    todo, fixed = view.steps(decision)
    offers = view.offers(decision, state)
    blocker = view.shared_blocker(decision) if state == "hidden" else None
    fields = view.triable(found) if state != "withdrawn" else []
    changes, outcome = _tried(services, found, fields, tried)
    values = {**(found.profile or {}), **changes}
    return page(
        "page.html",
        lang,
        state=state,
        outcome=decision.get("outcome"),
        notices=list(decision.get("notices") or []),
        principal=principal,
        others=others,
        todo=todo,
        fixed=fixed,
        alternatives=[a for a in decision.get("alternatives") or [] if a.get("kind") != LENDER_KIND]
        if state == "hidden"
        else [],
        lenders=_lenders(services, found, state),
        offers=[o for o in offers if o["todo"] or o["fixed"] or state == "visible"],
        # products the decision's steps open, named once: never after a step the user cannot
        # take (a closed region) or a blocker no step clears
        offers_same=[o for o in offers if not (o["todo"] or o["fixed"]) and state == "hidden"]
        if blocker is None and not fixed
        else [],
        offers_blocked=blocker,
        as_of=found.as_of.isoformat() if found.as_of else None,
        snapshot_as_of=found.snapshot_as_of if found.source == "snapshot" else None,
        policy_version=found.policy_version,
        whatif_fields=[view.form_field(f, values.get(f)) for f in fields],
        whatif=outcome,
        whatif_error=flash[1] if flash and flash[0] == "whatif_bad_field" else None,
        can_review=state in ("visible", "servicing", "hidden") and found.decision is not None,
        requests=_requests(services, found.user_id),
        decision_id=found.decision_id,
        inputs=view.inputs(found) if state != "withdrawn" else [],
        csrf=csrf,
        flash=_flash(lang, flash),
    )
