"""The browser-test harness itself: Debian's Chromium under Playwright reaches the service on
its loopback port, renders Chinese text with the Noto CJK fonts (real glyphs, not boxes), and
the seeded users and tokens answer as the batch decided."""

from __future__ import annotations

from pathlib import Path

TEXT = "微信借钱我怎么没有"
CJK_PAGE = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f'<body style="margin:16px;font:32px sans-serif"><p id="t">{TEXT}</p></body></html>'
)


def test_chromium_loads_the_service(served, page) -> None:
    response = page.goto(served.url("/healthz"))
    assert response is not None and response.status == 200
    health = response.json()
    snapshot = served.services.state.snapshot
    assert health["status"] == "ok" and snapshot is not None
    assert health["snapshot_id"] == snapshot.snapshot_id
    assert page.evaluate("navigator.language") == "zh-CN"
    assert page.viewport_size == {"width": 390, "height": 844}


def test_chinese_text_renders_in_noto_cjk(page, tmp_path: Path, save_screenshot) -> None:
    """The platform font Chromium used for every character is Noto Sans CJK (asked through
    the DevTools protocol), and the characters are drawn as different glyphs."""
    page.set_content(CJK_PAGE)
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "#t"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    used = {f["familyName"]: f["glyphCount"] for f in fonts}
    assert sum(c for name, c in used.items() if name.startswith("Noto Sans CJK")) == len(TEXT), used
    shot = save_screenshot(page, "cjk", directory=tmp_path)
    assert shot.stat().st_size > 1000


def test_seeded_users_and_tokens(served, page) -> None:
    users = served.users
    for user_id, visible in ((users.invited, True), (users.by_outcome["not_invited"], False)):
        headers = {"Authorization": f"Bearer {served.user_token(user_id)}"}
        r = page.request.get(served.url(f"/v1/users/{user_id}/entry"), headers=headers)
        assert r.status == 200 and r.json()["entry_visible"] is visible
    other = served.user_token(users.invited)
    r = page.request.get(
        served.url(f"/v1/users/{users.quarantined}/entry"),
        headers={"Authorization": f"Bearer {other}"},
    )
    assert r.status == 403  # a user token reads only its own user
    r = page.request.get(served.url("/v1/admin/reviews"), headers=served.staff_headers("viewer"))
    assert r.status == 200


def test_start_server_with_extra_settings(start_server, served) -> None:
    second = start_server(public_docs=True)
    assert second.base_url != served.base_url and second.settings.public_docs
    assert second.users.invited == served.users.invited  # the same seeded snapshot
    assert second.services.state.snapshot is not None
