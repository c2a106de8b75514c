"""Charts of the dashboard as inline SVG rendered on the server: no script, readable without JavaScript.

Each chart is drawn from counts the caller may see (hub.trust.reports.group_stats) and carries a text
alternative; the page shows the same numbers in a table beside it.
"""

from __future__ import annotations

from datetime import date, timedelta

from markupsafe import Markup, escape

from hub.console import i18n

TLP_COLOURS = {
    "clear": "#ffffff",
    "green": "#33ff00",
    "amber": "#ffc000",
    "amber+strict": "#ffc000",
    "red": "#ff2b2b",
}
BAR = "#2b5b84"
# FIRST TLP 2.0 shows its colours on black (the contrast it specifies is against #000): each bar, or each
# part of a stacked column, is drawn black with its colour inset, like the TLP badges of the pages, so a
# young hub's chart is not a large black panel; TLP:AMBER+STRICT, which shares AMBER's colour, is hatched
TLP_PANEL = "#000000"
STRICT_HATCH = "tlp-strict-hatch"
# the per-day chart spans at least this many days, fewer than `days` while the first data is recent
MIN_SPAN = 7


def _hatch(pattern_id: str) -> str:
    return (
        f'<defs><pattern id="{pattern_id}" width="4" height="4" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="4" height="4" fill="{TLP_COLOURS["amber"]}"/>'
        f'<rect width="1.5" height="4" fill="{TLP_PANEL}"/></pattern></defs>'
    )


def _framed(x: float, y: float, w: float, h: float, fill: str, title: str, cls: str = "") -> str:
    """A bar in a TLP colour inset in black (one unit of black around it, more than that kept black)."""
    inner = ""
    if w > 2.5 and h > 2.5:
        inner = f'<rect x="{round(x + 1, 1)}" y="{round(y + 1, 1)}" width="{round(w - 2, 1)}" ' \
            f'height="{round(h - 2, 1)}" fill="{fill}"/>'  # fmt: skip
    klass = f' class="{escape(cls)}"' if cls else ""
    return (
        f'<g{klass}><rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{TLP_PANEL}"/>{inner}'
        f"<title>{escape(title)}</title></g>"
    )


def bars(counts: dict[str, int], *, label: str, tlp: bool = False) -> Markup:
    """A horizontal bar chart of named counts; its text alternative carries every name and count, so no
    table needs to repeat them. With `tlp`, the names are TLP levels, drawn in their colours."""
    if not counts:
        return Markup()
    width, row, name_w = 320, 22, 126 if tlp else 110
    top = max(counts.values()) or 1
    height = row * len(counts) + 4
    names = {n: f"TLP:{n.upper()}" if tlp else n for n in counts}
    said = ", ".join(f"{names[n]} {c}" for n, c in counts.items())
    hatch = f"{STRICT_HATCH}-bars"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}: {escape(said)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if tlp and "amber+strict" in counts:
        parts.append(_hatch(hatch))
    for i, (name, n) in enumerate(counts.items()):
        y = i * row + 2
        w = max(3, round((width - name_w - 50) * n / top))
        parts.append(f'<text x="0" y="{y + 15}" font-size="12" fill="#222">{escape(names[name][:18])}</text>')
        if tlp:
            fill = f"url(#{hatch})" if name == "amber+strict" else TLP_COLOURS.get(name, BAR)
            parts.append(_framed(name_w, y + 2, w, 17, fill, f"{names[name]}: {n}"))
        else:
            parts.append(
                f'<rect x="{name_w}" y="{y + 3}" width="{w}" height="15" fill="{BAR}" stroke="#222" '
                f'stroke-width="0.5"><title>{escape(name)}: {n}</title></rect>'
            )
        parts.append(f'<text x="{name_w + w + 4}" y="{y + 15}" font-size="12" fill="#222">{n}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def nice_top(n: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50... at least n: the chart's scale ends on a round number."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= n:
                return step * m
        step *= 10


def stacked_per_day(
    counts: dict[str, dict[str, int]], *, order: list[str], days: int, today: date, label: str
) -> Markup:
    """A column chart per day, each column stacked by TLP (`order` bottom up); empty when nothing was added.

    It spans the last `days` days, or fewer (at least MIN_SPAN) while the first day with data is recent,
    so a young hub's few columns are wide; the scale ends on a round number with a grid line at its top
    and its middle. Each part of a column carries its day, level and count as a tooltip.
    """
    with_data = sorted(d for d, row in counts.items() if any(row.values()))
    first = (today - timedelta(days=days - 1)).isoformat()
    with_data = [d for d in with_data if d >= first]
    if not with_data:
        return Markup()
    since = date.fromisoformat(with_data[0])
    span = min(days, max(MIN_SPAN, (today - since).days + 1))
    width, height, top_pad, base, left = 320, 132, 16, 110, 26  # `left`: room for the scale's numbers
    series = [(today - timedelta(days=span - 1 - i)).isoformat() for i in range(span)]
    top = nice_top(max(sum(counts.get(d, {}).values()) for d in series))
    step = (width - left) / span
    scale = (base - top_pad) / top
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        _hatch(STRICT_HATCH),
    ]
    for value in (top, top // 2) if top > 1 else (top,):
        y = round(base - value * scale, 1)
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{y}" y2="{y}" stroke="#c8c8c8" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{left - 3}" y="{y + 3.5}" font-size="10" fill="#444" text-anchor="end">{value}</text>'
        )
    parts.append(f'<line x1="{left}" x2="{width}" y1="{base}" y2="{base}" stroke="#222" stroke-width="1"/>')
    bar_w = round(min(step - 2, 40), 1)
    for i, d in enumerate(series):
        x = round(left + i * step + (step - bar_w) / 2, 1)
        y = float(base)
        for level in order:
            n = counts.get(d, {}).get(level, 0)
            if not n:
                continue
            h = max(3.0, round(n * scale, 1))
            y = round(y - h, 1)
            fill = f"url(#{STRICT_HATCH})" if level == "amber+strict" else TLP_COLOURS.get(level, BAR)
            parts.append(
                _framed(
                    x, y, bar_w, h, fill, f"{d} TLP:{level.upper()}: {n}", f"tlp-{level.replace('+', '-')}"
                )
            )
    parts.append(f'<text x="{left}" y="{height - 6}" font-size="11" fill="#222">{series[0]}</text>')
    parts.append(
        f'<text x="{width}" y="{height - 6}" font-size="11" fill="#222" text-anchor="end">{series[-1]}</text>'
    )
    caption = escape(i18n.gettext("objects added a day, last %(days)s days") % {"days": span})
    parts.append(f'<text x="0" y="10" font-size="11" fill="#222">{caption}</text>')
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
