"""The dashboard's per-day chart: SVG stacked by TLP, a table beside it, counting what the reader may read."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from babel.dates import format_date

from tests.admin.conftest import push_red_and_green, set_clearance

# the objects are added today, and the test names today's date: not across midnight
pytestmark = pytest.mark.usefixtures("clear_of_midnight")


def test_per_day_chart_is_stacked_by_tlp_with_a_table(client, sm, people, as_person):
    push_red_and_green(client, sm, people)
    today = datetime.now(UTC).date().isoformat()
    page = as_person("cert-a").get("/console/groups/africa/")
    assert page.status_code == 200
    html = page.text
    svg = html.split('<section aria-labelledby="h-day">')[1].split("</section>")[0]
    assert 'role="img"' in svg and "objects added per day by TLP" in svg
    assert f"<title>{today} TLP:GREEN: 4</title>" in svg
    assert "TLP:RED" not in svg  # cert-a reads up to AMBER+STRICT: cert-b's RED objects are not counted
    assert 'fill="#33ff00"' in svg and 'fill="#000000"' in svg  # TLP 2.0 colours, on black
    assert '<ul class="legend">' in svg and "TLP:GREEN</li>" in svg
    shown = format_date(datetime.now(UTC).date(), "medium", locale="en")
    row = re.search(rf'<tr><th scope="row">{shown}</th>(.*?)</tr>', svg)
    assert row and row.group(1) == "<td>4</td><td>4</td><td>indicator 4</td>"
    assert "<script" not in svg


def test_red_reader_sees_red_stacked(client, sm, people, as_person):
    push_red_and_green(client, sm, people)
    set_clearance(sm, "cert-a", "red")
    today = datetime.now(UTC).date().isoformat()
    svg = as_person("cert-a").get("/console/groups/africa/").text.split('aria-labelledby="h-day">')[1]
    svg = svg.split("</section>")[0]
    assert f"<title>{today} TLP:GREEN: 4</title>" in svg and f"<title>{today} TLP:RED: 3</title>" in svg
    # RED sits above GREEN in the column: drawn later, at a smaller y
    green_y = float(re.search(r'class="tlp-green"><rect x="[^"]+" y="([^"]+)"', svg).group(1))
    red_y = float(re.search(r'class="tlp-red"><rect x="[^"]+" y="([^"]+)"', svg).group(1))
    assert red_y < green_y
    shown = format_date(datetime.now(UTC).date(), "medium", locale="en")
    assert re.search(rf'<tr><th scope="row">{shown}</th><td>4</td><td>3</td><td>7</td>', svg)
