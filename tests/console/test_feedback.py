"""The object page's feedback buttons: report, what each member sees, the publisher's decision."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from tests.console.conftest import csrf_of
from tests.feedback.test_reports import ip_indicator
from tests.taxii_helpers import store as post


def _page(client: Any, object_id: str) -> Any:
    return client.get(f"/console/objects/{quote(object_id, safe='')}")


def _press(client: Any, object_id: str, path: str, **data: str) -> Any:
    page = _page(client, object_id)
    assert page.status_code == 200, page.text
    return client.post(
        f"/console/objects/{quote(object_id, safe='')}/{path}",
        data={"csrf": csrf_of(page.text), **data},
        follow_redirects=True,
    )


def test_members_report_from_the_object_page(client: Any, people: Any, as_person: Any) -> None:
    ind = ip_indicator(21, tlp="green")
    post(client, people, [ind], org="cert-b")
    as_person("vendor")
    r = _press(client, ind["id"], "feedback", kind="sighting", count="5")
    assert r.status_code == 200 and "Your sighting was sent to the publisher." in r.text
    assert "seen by 1 organisation" in r.text
    r = _press(client, ind["id"], "feedback", kind="false-positive", text="our mail relay")
    assert "reported false positive by 1" in r.text
    as_person("cert-c")
    r = _press(client, ind["id"], "feedback", kind="false-positive")
    assert "False-positive reports hold this object out of device lists" in r.text
    # another member: counts only, no reporter, no buttons of the publisher
    as_person("cert-g")
    page = _page(client, ind["id"]).text
    assert "seen by 1 organisation, reported false positive by 2" in page
    assert "vendor" not in page.split('aria-label="Feedback"')[1].split("</section>")[0]
    assert 'id="confirm"' not in page
    # the publisher: every report with its reporter, and the decision
    as_person("cert-b")
    page = _page(client, ind["id"]).text
    section = page.split('aria-label="Feedback"')[1].split("</section>")[0]
    assert "vendor" in section and "cert-c" in section and 'id="confirm"' in section
    r = _press(client, ind["id"], "decision", action="confirm")
    assert "You confirmed the object" in r.text and 'id="held"' not in r.text


def test_a_hidden_object_has_no_buttons_to_press(client: Any, people: Any, as_person: Any) -> None:
    amber = ip_indicator(22, tlp="amber")
    post(client, people, [amber], org="cert-b")
    as_person("vendor")
    home = client.get("/console/")
    token = csrf_of(home.text)
    hidden = client.post(
        f"/console/objects/{quote(amber['id'], safe='')}/feedback", data={"csrf": token, "kind": "sighting"}
    )
    absent_id = "indicator--00000000-0000-4000-8000-000000000022"
    absent = client.post(
        f"/console/objects/{quote(absent_id, safe='')}/feedback", data={"csrf": token, "kind": "sighting"}
    )
    assert hidden.status_code == absent.status_code == 404
    assert hidden.text.replace(amber["id"], "X") == absent.text.replace(absent_id, "X")
