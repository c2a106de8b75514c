"""The console's audit page shows no count of another member's event above the reader's clearance."""

from __future__ import annotations

import re

from tests.admin.conftest import push_red_and_green, set_clearance

ROW = re.compile(
    r"<tr><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td><td>[^<]*</td><td>(.*?)</td><td>(.*?)</td></tr>"
)


def _rows(html: str) -> dict[tuple[str, str], tuple[str, str]]:
    return {(action, by): (count, detail) for action, by, count, detail in ROW.findall(html)}


def test_audit_page_withholds_another_members_counts_from_an_amber_coordinator(client, sm, people, as_person):
    push_red_and_green(client, sm, people)
    page = as_person("cert-a").get("/console/groups/africa/audit")
    assert page.status_code == 200
    rows = _rows(page.text)
    assert rows[("push", "cert-b")] == ('<abbr title="withheld">—</abbr>', "—")
    assert rows[("pull-objects", "cert-c")][0] == '<abbr title="withheld">—</abbr>'
    assert rows[("push", "cert-a")] == ("2", "0 already stored, 0 refused")
    assert 'id="withheld"' in page.text and "above your clearance" in page.text


def test_audit_page_shows_every_count_to_a_red_coordinator(client, sm, people, as_person):
    push_red_and_green(client, sm, people)
    set_clearance(sm, "cert-a", "red")
    page = as_person("cert-a").get("/console/groups/africa/audit")
    rows = _rows(page.text)
    assert rows[("push", "cert-b")] == ("5", "0 already stored, 0 refused")
    assert rows[("pull-objects", "cert-c")][0] == "4"
    assert "—" not in page.text.split("<tbody>")[1].split("</tbody>")[0]
    assert 'id="withheld"' not in page.text
