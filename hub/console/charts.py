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
# FIRST TLP 2.0 shows its colours on black (the contrast it specifies is against #000); the stacked chart
# therefore draws its bars on a black panel, and TLP:AMBER+STRICT, which shares AMBER's colour, hatched
TLP_PANEL = "#000000"
STRICT_HATCH = "tlp-strict-hatch"


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


def stacked_per_day(
    counts: dict[str, dict[str, int]], *, order: list[str], days: int, today: date, label: str
) -> Markup:
    """A column chart per day over the last `days` days, each column stacked by TLP (`order` bottom up).

    Bars sit on a black panel, as TLP 2.0 prescribes for its colours; a one-unit black gap separates
    the parts of a column, and each part carries its day, level and count as a tooltip.
    """
    width, height, top_pad, base = 320, 136, 16, 112
    series = [(today - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
    top = max([sum(counts.get(d, {}).values()) for d in series] + [1])
    step = width / days
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<defs><pattern id="{STRICT_HATCH}" width="4" height="4" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="4" height="4" fill="{TLP_COLOURS["amber"]}"/>'
        f'<rect width="1.5" height="4" fill="{TLP_PANEL}"/></pattern></defs>',
        f'<rect x="0" y="{top_pad}" width="{width}" height="{base - top_pad + 1}" fill="{TLP_PANEL}"/>',
    ]
    for i, d in enumerate(series):
        x = round(i * step + 0.5, 1)
        y = float(base)
        for level in order:
            n = counts.get(d, {}).get(level, 0)
            if not n:
                continue
            h = max(1.0, round((base - top_pad - 4) * n / top, 1))
            y = round(y - h, 1)
            fill = f"url(#{STRICT_HATCH})" if level == "amber+strict" else TLP_COLOURS.get(level, BAR)
            parts.append(
                f'<rect class="tlp-{escape(level.replace("+", "-"))}" x="{x}" y="{y}" '
                f'width="{max(1.0, round(step - 1.5, 1))}" height="{max(0.5, h - 1)}" fill="{fill}">'
                f"<title>{d} TLP:{escape(level.upper())}: {n}</title></rect>"
            )
    parts.append(f'<text x="0" y="{height - 6}" font-size="11" fill="#222">{series[0]}</text>')
    parts.append(
        f'<text x="{width}" y="{height - 6}" font-size="11" fill="#222" text-anchor="end">{series[-1]}</text>'
    )
    parts.append(f'<text x="0" y="11" font-size="11" fill="#222">max {top} a day</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def tlp_legend(order: list[str]) -> Markup:
    """The key of the stacked chart: a swatch (on black, hatched for AMBER+STRICT) and the level's name."""
    items = []
    for level in order:
        fill = f"url(#{STRICT_HATCH})" if level == "amber+strict" else TLP_COLOURS.get(level, BAR)
        items.append(
            f'<li><svg width="22" height="14" viewBox="0 0 22 14" aria-hidden="true" focusable="false">'
            f'<rect width="22" height="14" fill="{TLP_PANEL}"/><rect x="3" y="3" width="16" height="8" '
            f'fill="{fill}"/></svg> TLP:{escape(level.upper())}</li>'
        )
    return Markup(f'<ul class="legend">{"".join(items)}</ul>')  # noqa: S704 - names are escaped above
