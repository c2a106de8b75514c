"""What a new coordinator ran into, each checked in the browser it was found in: the members form's refusals
and confirmations, the tables at 360 px, confirmations of destructive actions (with and without
JavaScript), the dashboard's charts and feed health, and the audit log's collection column."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from hub.db import begin_write, make_engine, make_sessionmaker
from hub.sync.models import Feed, FeedRun
from hub.trust.models import Membership, Organisation, TrustGroup
from tests.browser.conftest import AXE, shows, sign_in, visible

NARROW = {"width": 360, "height": 780}


def _axe(page: Any) -> list[Any]:
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="module")
def feeds_ran(hub: Any) -> Any:
    """A push feed whose peer refused half of what it was given, and a pull feed whose connector rejected
    records, each with a recorded run (as the sync worker records them); cert-a reads africa at RED, so
    it sees the runs' counts."""
    eng = make_engine(hub.server.db_url)
    now = time.time_ns() // 1000
    try:
        with make_sessionmaker(eng)() as session, session.begin():
            begin_write(session)
            africa = session.query(TrustGroup).filter_by(slug="africa").one()
            a = session.query(Organisation).filter_by(slug="cert-a").one()
            session.query(Membership).filter_by(group_id=africa.id, organisation_id=a.id).one().clearance = 4
            common = {
                "group_slug": "africa", "collection": "indicators", "tlp": "green", "tlp_version": 2,
                "options": {}, "interval_s": 3600, "enabled": True, "failures": 0,
                "next_run_at_us": 4_102_444_800_000_000,
            }  # fmt: skip
            push = Feed(name="to-partner-hub", direction="push", format="taxii", url="https://peer.example/taxii2/",
                        **common)  # fmt: skip
            pull = Feed(name="spamhaus-drop", direction="pull", format="text_blocklist", publish_as="cert-a",
                        url="https://feed.example/drop.txt", **common)  # fmt: skip
            session.add_all([push, pull])
            session.flush()
            zero = dict.fromkeys(
                ("created", "new_versions", "unchanged", "rejected", "skipped", "refused", "sent"), 0
            )
            session.add_all(
                [
                    FeedRun(
                        feed_id=push.id,
                        worker_id="w1",
                        started_us=now - 10_000_000,
                        finished_us=now,
                        status="ok",
                        **(zero | {"read": 40, "sent": 20, "refused": 20}),
                    ),
                    FeedRun(
                        feed_id=pull.id,
                        worker_id="w1",
                        started_us=now - 10_000_000,
                        finished_us=now,
                        status="ok",
                        **(zero | {"read": 12, "created": 9, "rejected": 3}),
                    ),
                ]
            )
    finally:
        eng.dispose()
    return hub


@pytest.fixture
def narrow(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=NARROW, bypass_csp=True)  # axe is injected as an inline script
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def desk(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def no_script(browser: Any) -> Iterator[Any]:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


# ---------------------------------------------------------------- the members form


def test_a_refused_change_shows_why_and_the_stored_value_again(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/lab/members")
    select = page.get_by_label("Clearance of partner")
    assert select.input_value() == "amber"
    # a page older than the group's last change of max_tlp still offers RED: the hub refuses it
    select.evaluate("el => { el.add(new Option('TLP:RED', 'red')); el.value = 'red'; }")
    page.get_by_role("button", name="Save partner").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "above the group's max_tlp" in alert.inner_text()
    assert page.get_by_label("Clearance of partner").input_value() == "amber"  # the stored value again
    assert page.get_by_role("status").count() == 0  # no confirmation of a change that was not made


def test_a_saved_change_is_confirmed_in_place(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/lab/members")
    page.get_by_label("Role of partner").select_option("contributor")
    page.get_by_role("button", name="Save partner").click()
    status = page.get_by_role("status")
    status.wait_for()
    assert status.inner_text() == "The member was changed."
    assert page.get_by_label("Role of partner").input_value() == "contributor"
    assert page.url.endswith("/console/groups/lab/members")  # swapped in place by htmx


def test_levels_above_max_tlp_are_not_offered(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/lab/members")  # lab's max_tlp is AMBER+STRICT
    offered = (
        page.get_by_label("Clearance of partner").locator("option").evaluate_all("os => os.map(o => o.value)")
    )
    assert offered == ["clear", "green", "amber", "amber+strict"]
    add = page.locator("#clearance option").evaluate_all("os => os.map(o => o.value)")
    assert "red" not in add
    page.goto(f"{hub.base}/console/groups/lab/invitations")
    assert "red" not in page.locator("#clearance option").evaluate_all("os => os.map(o => o.value)")


def test_your_own_row_offers_no_save_or_remove(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/members")
    own = page.locator("#member-cert-a")
    assert own.get_by_role("button").count() == 0
    assert own.get_by_role("combobox").count() == 0
    assert "cannot change its own organisation's membership" in own.inner_text()
    assert page.locator("#member-cert-b").get_by_role("button", name="Save cert-b").is_visible()


# ---------------------------------------------------------------- 360 px and confirmations


def _fits(page: Any, locator: Any) -> None:
    """Visible, inside the 360 px viewport, and not inside an element that scrolls sideways."""
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"], box
    hidden = locator.evaluate(
        """el => { for (let p = el.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p);
            const clips = ['auto', 'scroll', 'hidden'].includes(s.overflowX);
            if (clips && p.scrollWidth > p.clientWidth) return true;
        } return false; }"""
    )
    assert not hidden


def test_members_invitations_and_keys_show_state_and_actions_at_360_px(narrow: Any, hub: Any) -> None:
    sign_in(narrow, hub, "cert-a")
    narrow.goto(f"{hub.base}/console/groups/africa/members")
    _fits(narrow, narrow.get_by_role("button", name="Remove cert-b"))
    _fits(narrow, narrow.get_by_role("button", name="Save cert-b"))
    narrow.goto(f"{hub.base}/console/groups/africa/invitations")
    narrow.get_by_label("Organisation slug").fill("cert-narrow-row")
    narrow.get_by_label("Name", exact=False).first.fill("CERT Narrow Row")
    narrow.get_by_role("button", name="Invite").click()
    narrow.goto(f"{hub.base}/console/groups/africa/invitations")
    _fits(narrow, narrow.get_by_role("button", name="Withdraw invitation").first)
    _fits(narrow, narrow.locator("td[data-label=State]").first)
    narrow.goto(f"{hub.base}/console/keys")
    _fits(narrow, narrow.get_by_role("button", name="Revoke key").first)
    _fits(narrow, narrow.locator("td[data-label=State]").first)
    assert narrow.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert _axe(narrow) == []


def test_removing_a_member_asks_first_without_javascript(no_script: Any, hub: Any) -> None:
    page = no_script
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/members")
    page.get_by_label("Organisation its slug").fill("partner")
    page.get_by_role("button", name="Add member").click()
    shows(page, "The member was added.")
    page.get_by_role("button", name="Remove partner").click()
    visible(page.get_by_role("heading", name="Remove partner?"))
    page.get_by_role("link", name="Cancel").click()
    visible(page.locator("#member-partner"))  # cancelled: still a member
    page.get_by_role("button", name="Remove partner").click()
    page.get_by_role("button", name="Remove partner").click()  # the confirmation page's button
    shows(page, "The member was removed.")
    assert page.locator("#member-partner").count() == 0


def test_revoking_a_key_and_withdrawing_an_invitation_ask_first(desk: Any, hub: Any) -> None:
    page = desk
    sign_in(page, hub, "cert-b")
    page.goto(f"{hub.base}/console/keys")
    page.get_by_label("Label").fill("to revoke")
    page.get_by_role("button", name="Issue key").click()
    key_id = page.locator("#secret").inner_text().split("_")[1]
    page.goto(f"{hub.base}/console/keys")
    page.get_by_role("button", name=f"Revoke key {key_id}").click()
    visible(page.get_by_role("heading", name=f"Revoke key {key_id}?"))
    assert _axe(page) == []
    page.goto(f"{hub.base}/console/keys")
    assert page.locator(f"#key-{key_id} td.state-active").is_visible()  # asking revoked nothing
    page.get_by_role("button", name=f"Revoke key {key_id}").click()
    page.get_by_role("button", name=f"Revoke key {key_id}").click()
    shows(page, "The key was revoked")
    assert page.locator(f"#key-{key_id} td.state-revoked").is_visible()

    page.get_by_role("button", name="Sign out", exact=True).click()
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/invitations")
    page.get_by_label("Organisation slug").fill("cert-withdrawn")
    page.get_by_label("Name", exact=False).first.fill("CERT Withdrawn")
    page.get_by_role("button", name="Invite").click()
    token_id = page.locator("table code").first.inner_text()
    page.get_by_role("button", name=f"Withdraw invitation {token_id}").click()
    visible(page.get_by_role("heading", name=f"Withdraw invitation {token_id}?"))
    page.get_by_role("button", name="Withdraw invitation").click()
    shows(page, "The invitation was withdrawn.")


def test_a_forged_confirmation_is_refused(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/members")
    page.get_by_role("button", name="Remove cert-g").click()
    page.locator("main form input[name=csrf]").evaluate("el => el.value = 'forged'")
    page.get_by_role("button", name="Remove cert-g").click()
    visible(page.get_by_role("heading", name="Forbidden"))
    page.goto(f"{hub.base}/console/groups/africa/members")
    assert page.locator("#member-cert-g").is_visible()


# ---------------------------------------------------------------- the dashboard, feeds and audit log


def test_the_per_day_chart_of_a_young_hub_is_no_black_box(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/")
    chart = page.locator("#h-day ~ svg.chart")
    box = chart.bounding_box()
    assert box is not None
    black = chart.locator("rect[fill='#000000']").evaluate_all(
        "rs => rs.map(r => { const b = r.getBoundingClientRect(); return b.width * b.height; })"
    )
    # every object of this hub was added today: one column, wide enough to see, on no black panel
    assert max(black) < 0.15 * box["width"] * box["height"]
    today = chart.locator("g[class^=tlp-] > rect[fill='#000000']").first.bounding_box()
    assert today is not None and today["width"] >= box["width"] / 12
    assert "7 days" in (chart.text_content() or "")


def test_by_tlp_shows_each_number_once(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/")
    section = page.locator("section[aria-labelledby=h-tlp]")
    assert section.locator("table").count() == 0
    label = section.locator("svg").get_attribute("aria-label") or ""
    numbers = section.locator("svg > text").evaluate_all("ts => ts.map(t => t.textContent)")
    counts = numbers[1::2]
    assert counts and all(f"{name} {n}" in label for name, n in zip(numbers[0::2], counts, strict=True))
    # the section says each level and count once: its heading, then the chart's labels
    assert section.evaluate("s => s.innerText").split() == ["By", "TLP", *numbers]


def test_feed_health_reads_refusals_direction_and_sent(desk: Any, feeds_ran: Any) -> None:
    page = desk
    sign_in(page, feeds_ran, "cert-a")
    page.goto(f"{feeds_ran.base}/console/groups/africa/")
    push = page.locator("#health-to-partner-hub")
    assert "refused by peer" in push.inner_text() and "healthy" not in push.inner_text()
    assert "sent 20 of 40" in push.inner_text() and "20 by the peer" in push.inner_text()
    pull = page.locator("#health-spamhaus-drop")
    assert "healthy" in pull.inner_text() and "3 rejected by the connector" in pull.inner_text()
    page.goto(f"{feeds_ran.base}/console/groups/africa/feeds")
    card = page.locator("#feed-to-partner-hub")
    assert "sends indicators to its peer" in card.inner_text() and "into" not in card.inner_text()
    assert card.get_by_role("columnheader", name="Sent").is_visible()
    assert card.get_by_role("columnheader", name="Refused by the peer").is_visible()
    drop = page.locator("#feed-spamhaus-drop")
    assert drop.get_by_role("columnheader", name="Rejected by the connector").is_visible()
    assert drop.get_by_role("columnheader", name="Refused by policy").is_visible()
    cells = drop.locator("tbody tr").first.locator("td").all_inner_texts()
    assert cells[2:6] == ["12", "9", "3", "0"]
    assert _axe(page) == []


def test_the_audit_log_names_the_collection(page: Any, hub: Any) -> None:
    sign_in(page, hub, "cert-a")
    page.goto(f"{hub.base}/console/groups/africa/audit?action=push")
    assert page.get_by_role("columnheader", name="Collection").is_visible()
    rows = page.locator("#events tbody tr").all()
    assert rows and all(r.locator("td").nth(2).inner_text() == "indicators" for r in rows)
    page.get_by_label("Since").fill("yesterday")
    page.get_by_role("button", name="Filter").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "since is a date" in alert.inner_text()
    assert page.get_by_label("Since").input_value() == "yesterday"
