"""The report as one self-contained HTML page, and the digest's HTML and text bodies.

Charts are inline SVG drawn here, server-side: no JavaScript, no fonts, no
network fetch, so the file opens the same from an email attachment, a shared
drive or a phone. Templates are autoescaped; the SVG is built from escaped
labels and numbers only. The web dashboard reuses ``report_context`` and the
chart functions, so a chart looks the same in every place.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from sequencer.reporting.model import Figures, Report, format_money

BAR = "#2563eb"
REPLY = "#16a34a"
WARN = "#dc2626"
MUTED = "#64748b"


@lru_cache(maxsize=4)
def environment(currency: str = "") -> Environment:
    """``currency`` (``reporting.currency``) follows every amount the digest shows."""
    env = Environment(
        loader=PackageLoader("sequencer.reporting", "templates"),
        autoescape=select_autoescape(["html", "htm", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["money"] = (lambda v: money(v) if v is None else f"{money(v)} {currency}") if currency else money
    env.filters["hours"] = hours
    env.filters["many"] = many
    return env


def many(count: int, one: str, several: str | None = None) -> str:
    """``1 reply``, ``2 replies``: English counts read right (``several`` defaults to ``one`` + s)."""
    shown = f"{count:g}" if isinstance(count, float) else str(count)
    return f"{shown} {one if count == 1 else (several or one + 's')}"


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def money(value: float | None) -> str:
    """The one money format (dashboard, every report format, digest): 33,000.00."""
    return "–" if value is None else format_money(value)


def hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 48:
        return f"{value / 24:.1f} d"
    return f"{value:.1f} h"


def hbar_chart(rows: list[tuple[str, int]], *, title: str, colors: list[str] | None = None) -> Markup:
    """Horizontal bars (a funnel reads top to bottom), scaled to the largest value."""
    width, label_w, bar_h, gap = 360, 96, 20, 6
    top = max((v for _, v in rows), default=0) or 1
    height = len(rows) * (bar_h + gap) + gap
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    span = width - label_w - 44
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = max(1.0, span * value / top) if value else 0
        color = (colors or [BAR])[min(i, len(colors or [BAR]) - 1)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar_h * 0.7:.1f}" text-anchor="end" font-size="12" '
            f'fill="#0f172a">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="12" '
            f'fill="#0f172a">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def vbar_chart(rows: list[tuple[str, int]], *, title: str, color: str = BAR) -> Markup:
    """Vertical bars with labels underneath (histograms, replies by touch number)."""
    width, height, base, pad = 360, 170, 140, 8
    n = max(len(rows), 1)
    slot = (width - 2 * pad) / n
    top = max((v for _, v in rows), default=0) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" stroke="{MUTED}" stroke-width="1"/>',
    ]
    for i, (label, value) in enumerate(rows):
        x = pad + i * slot + slot * 0.15
        h = (base - 20) * value / top
        cx = pad + i * slot + slot / 2
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" rx="3" fill="{color}"/>'
            f'<text x="{cx:.1f}" y="{base - h - 4:.1f}" text-anchor="middle" font-size="12" fill="#0f172a">{value}</text>'
            f'<text x="{cx:.1f}" y="{base + 16}" text-anchor="middle" font-size="11" fill="{MUTED}">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def funnel_chart(fig: Figures) -> Markup:
    """Enrolled -> touched 1..n -> replied, for one sequence."""
    rows = [("Enrolled", fig.enrolled)]
    rows += [(f"Touch {i + 1}", n) for i, n in enumerate(fig.touched)]
    rows.append(("Replied", fig.replies))
    colors = [MUTED] + [BAR] * len(fig.touched) + [REPLY]
    return hbar_chart(rows, title=f"Funnel of {fig.sequence_name or fig.sequence_id}", colors=colors)


def replies_by_touch_chart(fig: Figures) -> Markup:
    rows = [(f"#{i + 1}", n) for i, n in enumerate(fig.replies_by_touch)]
    return vbar_chart(rows, title="Replies by touch number", color=REPLY)


def local(value: datetime | None, tz: str) -> str:
    return "–" if value is None else value.astimezone(ZoneInfo(tz)).strftime("%a %d %b %Y %H:%M")


def report_context(report: Report) -> dict[str, Any]:
    """Everything the templates need; the dashboard renders its pages from the same context."""
    aging = report.aging
    return {
        "r": report,
        "tz": report.timezone,
        "local": lambda v: local(v, report.timezone),
        "funnels": [(fig, funnel_chart(fig), replies_by_touch_chart(fig)) for fig in report.sequences],
        "touch_chart": replies_by_touch_chart(report.totals),
        "age_chart": vbar_chart(
            [(b.label, b.count) for b in aging.since_last_touch], title="Active enrollments by days since the last touch"
        ),
        "next_chart": vbar_chart(
            [(b.label, b.count) for b in aging.until_next_touch],
            title="Active enrollments by days until the next touch",
            color=BAR,
        ),
        "pipeline": {p.state: p for p in report.pipeline},
    }


def render_report_html(report: Report) -> str:
    return environment().get_template("report.html").render(report_context(report))


def render_digest(report: Report, *, day: str, day_label: str, currency: str = "") -> tuple[str, str]:
    """(text, html) bodies of the daily digest of ``day`` (the subject's date) covering ``day_label``."""
    ctx = {**report_context(report), "day": day, "day_label": day_label}
    env = environment(currency)
    return env.get_template("digest.txt").render(ctx), env.get_template("digest.html").render(ctx)
