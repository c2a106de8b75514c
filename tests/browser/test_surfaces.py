"""Surfaces a browser reaches outside the console's own pages: the admin API docs, the redeemed page."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import visible


def test_admin_docs_render_swagger_ui_with_no_csp_violation_and_no_other_origin(page: Any, hub: Any) -> None:
    problems: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(hub.base) else None)
    page.goto(f"{hub.base}/admin/v1/docs", wait_until="networkidle")
    page.locator(".swagger-ui .info .title").wait_for(timeout=10_000)
    assert "The hub: admin API" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 10  # the operations of the schema are listed
    assert foreign == []
    assert [p for p in problems if "Content Security Policy" in p] == [], problems


def test_redeemed_page_at_360_px_shows_the_key_in_a_box_without_sideways_scroll(
    browser: Any, hub: Any
) -> None:
    import httpx

    made = httpx.post(
        f"{hub.base}/admin/v1/groups/africa/invitations",
        json={"organisation": "cert-narrow", "name": "CERT Narrow", "role": "reader", "clearance": "green"},
        headers={"Authorization": f"Bearer {hub.keys['cert-a']}"},
    )
    assert made.status_code == 201, made.text
    context = browser.new_context(viewport={"width": 360, "height": 780})
    guest = context.new_page()
    try:
        guest.goto(f"{hub.base}/console/redeem")
        guest.get_by_label("Invitation token").fill(made.json()["token"])
        guest.get_by_label("Your account name").fill("lead")
        guest.locator("#password").fill("a long new password")
        guest.get_by_label("Password again").fill("a long new password")
        guest.get_by_role("button", name="Redeem").click()
        visible(guest.get_by_role("heading", name="Welcome to africa"))
        key = guest.locator("#secret").inner_text()
        assert key.startswith("hub_")
        text = guest.locator("body").inner_text()
        assert "Redemption(" not in text and text.count(key) == 1
        assert guest.get_by_role("status").count() == 0
        wide = guest.evaluate("document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth")
        assert wide <= 0, f"the redeemed page scrolls sideways by {wide}px at 360px"
        box = guest.locator("#secret").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360
        assert all(key.split("_", 2)[2] not in c["value"] for c in context.cookies())
    finally:
        context.close()
