"""Charts of the dashboard as inline SVG rendered on the server: no script, readable without JavaScript.

Each chart is drawn from counts the caller may see (hub.trust.reports.group_stats) and carries a text
alternative; the page shows the same numbers in a table beside it.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape

TLP_COLOURS = {
    "clear": "#ffffff",
    "green": "#33ff00",
    "amber": "#ffc000",
    "amber+strict": "#ffc000",
    "red": "#ff2b2b",
}
BAR = "#2b5b84"


def bars(counts: dict[str, int], *, label: str, colours: dict[str, str] | None = None) -> Markup:
    """A horizontal bar chart of named counts."""
    if not counts:
        return Markup()
    width, row, name_w = 320, 22, 110
    top = max(counts.values()) or 1
    height = row * len(counts) + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, n) in enumerate(counts.items()):
        y = i * row + 2
        w = max(1, round((width - name_w - 50) * n / top))
        fill = (colours or {}).get(name, BAR)
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#222">{escape(name[:18])}</text>'
            f'<rect x="{name_w}" y="{y + 3}" width="{w}" height="15" fill="{fill}" stroke="#222" '
            f'stroke-width="0.5"><title>{escape(name)}: {n}</title></rect>'
            f'<text x="{name_w + w + 4}" y="{y + 15}" font-size="12" fill="#222">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def per_day(counts: dict[str, int], *, days: int, today: date, label: str) -> Markup:
    """A column chart of counts per day over the last `days` days (missing days are zero)."""
    width, height, base = 320, 120, 100
    series = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    top = max([counts.get(d, 0) for d in series] + [1])
    step = width / days
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" stroke="#222" stroke-width="0.5"/>',
    ]
    for i, d in enumerate(series):
        n = counts.get(d, 0)
        h = round((base - 4) * n / top)
        x = round(i * step, 1)
        parts.append(
            f'<rect x="{x}" y="{base - h}" width="{max(1.0, round(step - 1, 1))}" height="{h}" '
            f'fill="{BAR}"><title>{d}: {n}</title></rect>'
        )
    parts.append(f'<text x="0" y="{height - 4}" font-size="11" fill="#222">{series[0]}</text>')
    parts.append(
        f'<text x="{width}" y="{height - 4}" font-size="11" fill="#222" text-anchor="end">{series[-1]}</text>'
    )
    parts.append(f'<text x="0" y="12" font-size="11" fill="#222">max {top} a day</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
