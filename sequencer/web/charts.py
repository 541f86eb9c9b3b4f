"""Server-rendered SVG charts: funnel, bars and histogram, with no JavaScript and no library.

Charts are drawn with SVG presentation attributes only (never ``style=``), so the
dashboard's Content-Security-Policy can forbid inline styles as well as scripts.
Every label is escaped (sequence and rep names come from files and the database);
each chart carries a <title> and the figures as text, so it reads without colour.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#3b6ea5"
GOOD = "#3f8f5a"
WARN = "#c58a1b"
BAD = "#b84a4a"
MUTED = "#8a8f98"


def _label_width(labels: Sequence[str], *, least: int = 80, most: int = 360) -> int:
    """Room for the longest label at 13 px (about 7.2 px a character), within bounds."""
    return max(least, min(most, int(max((len(x) for x in labels), default=0) * 7.2) + 12))


def _open(width: int, height: int, title: str) -> str:
    # width/height in user units: the chart is drawn at its natural size and only shrinks
    # (CSS max-width: 100%) on a narrow screen, so text never grows past the page's own.
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def hbars(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    colors: Sequence[str] | None = None,
    width: int = 560,
    unit: str = "",
) -> Markup:
    """Horizontal bars, one per row, longest = full width; the value is written at the end."""
    bar_h, gap, value_w = 22, 6, 90
    label_w = _label_width([label for label, _ in rows])
    width = max(width, label_w + value_w + 200)
    height = max(len(rows), 1) * (bar_h + gap) + gap
    top = max((v for _, v in rows), default=0) or 1
    span = width - label_w - value_w
    parts = [_open(width, height, title)]
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(span * value / top, 1 if value else 0)
        color = colors[i % len(colors)] if colors else BAR
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" '
            f'font-size="13" fill="#222">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{color}">'
            f"<title>{escape(label)}: {_num(value)}{escape(unit)}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="13" '
            f'fill="#222">{escape(unit)}{_num(value)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel(stages: Sequence[tuple[str, int]], *, title: str, width: int = 560) -> Markup:
    """Enrolled -> touch 1..n -> outcomes: bars centred like a funnel, with % of the first stage."""
    bar_h, gap = 24, 5
    label_w = _label_width([label for label, _ in stages])
    height = max(len(stages), 1) * (bar_h + gap) + gap
    first = stages[0][1] if stages and stages[0][1] else 1
    span = width - label_w - 10
    parts = [_open(width, height, title)]
    for i, (label, value) in enumerate(stages):
        y = gap + i * (bar_h + gap)
        w = max(span * value / first, 1 if value else 0) if first else 0
        x = label_w + (span - w) / 2
        pct = f" ({100 * value / first:.0f}%)" if i and stages[0][1] else ""
        color = BAR
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" font-size="13" '
            f'fill="#222">{escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{color}"/>'
            f'<text x="{label_w + span / 2:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="middle" '
            f'font-size="12" fill="#111">{_num(value)}{pct}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def histogram(
    buckets: Sequence[tuple[str, int]], *, title: str, color: str = BAR, width: int = 560
) -> Markup:
    """Vertical bars over labelled buckets (aging: days since the last touch)."""
    height, base, top_pad = 200, 170, 20
    n = max(len(buckets), 1)
    slot = (width - 20) / n
    top = max((v for _, v in buckets), default=0) or 1
    parts = [
        _open(width, height, title),
        f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>',
    ]
    for i, (label, value) in enumerate(buckets):
        h = (base - top_pad) * value / top
        x = 10 + i * slot + slot * 0.15
        w = slot * 0.7
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" rx="2" '
            f'fill="{color}"><title>{escape(label)}: {_num(value)}</title></rect>'
            f'<text x="{x + w / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="12" '
            f'fill="#222">{_num(value)}</text>'
            f'<text x="{x + w / 2:.1f}" y="{base + 16}" text-anchor="middle" font-size="12" '
            f'fill="#444">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["BAD", "BAR", "GOOD", "MUTED", "WARN", "funnel", "hbars", "histogram"]
