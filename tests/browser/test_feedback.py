"""The object page's feedback card in Chromium: readers report, the publisher sees who and decides."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import orjson

from tests.browser.conftest import sign_in, visible
from tests.factories import TAXII, indicator


def _blocklist(hub: Any, org: str) -> list[str]:
    r = httpx.get(f"{hub.base}/console/downloads/africa/blocklist.txt?kind=ip",
                  headers={"Authorization": f"Bearer {hub.keys[org]}"})  # fmt: skip
    assert r.status_code == 200
    return r.text.split()


def test_readers_report_and_the_publisher_restores(browser: Any, hub: Any) -> None:
    ind = indicator(251, tlp="green", pattern="[ipv4-addr:value = '203.0.113.251']")
    r = httpx.post(hub.base + hub.objects_url(), content=orjson.dumps({"objects": [ind]}),
                   headers={**hub.auth("cert-b"), "Content-Type": TAXII})  # fmt: skip
    assert r.status_code == 202
    url = f"{hub.base}/console/objects/{quote(ind['id'], safe='')}"

    def as_org(org: str) -> Any:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        sign_in(page, hub, org)
        page.goto(url)
        return context, page

    ctx, page = as_org("vendor")  # a reader cleared GREEN
    page.fill("input[name=count]", "3")
    page.click("#report-sighting")
    assert "Your sighting was sent to the publisher." in page.inner_text("main")
    page.fill("input[name=text]", "our mail relay")
    page.click("#report-false-positive")
    assert "seen by 1 organisation, reported false positive by 1" in page.inner_text("#feedback-summary")
    ctx.close()
    assert "203.0.113.251" in _blocklist(hub, "cert-g")
    ctx, page = as_org("cert-c")
    page.click("#report-false-positive")
    visible(page.locator("#held"))
    ctx.close()
    assert "203.0.113.251" not in _blocklist(hub, "cert-g")
    ctx, page = as_org("cert-g")  # another member: the counts, nobody named, no decision to make
    card = page.locator("section[aria-label=Feedback]").inner_text()
    assert "seen by 1 organisation, reported false positive by 2" in card
    assert "vendor" not in card.lower() and "cert-c" not in card and page.locator("#confirm").count() == 0
    ctx.close()
    ctx, page = as_org("cert-b")  # the publisher: who reported, and the one-step decision
    card = page.locator("section[aria-label=Feedback]").inner_text()
    assert "vendor" in card and "cert-c" in card
    page.click("#confirm")
    assert "You confirmed the object" in page.inner_text("main")
    assert page.locator("#held").count() == 0
    ctx.close()
    assert "203.0.113.251" in _blocklist(hub, "cert-g")
