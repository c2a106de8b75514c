"""Surfaces a browser reaches outside the console's own pages: the admin API docs, the redeemed page."""

from __future__ import annotations

from typing import Any


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
