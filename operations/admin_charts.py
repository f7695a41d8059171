"""Server-rendered SVG charts for the admin dashboard: no library, no script, no CDN.

Readable without colour: every series has a fill pattern of its own as well as a colour, the
legend shows both, every bar carries a ``<title>`` (hover, screen readers) and every chart has
a data table beside it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 190
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 10, 30

# Overlays drawn on a series' colour, so that no two series differ by colour alone.
PATTERNS = (
    "",  # solid
    '<path d="M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5" stroke="#fff" stroke-width="1.4"/>',  # diagonal
    '<circle cx="3" cy="3" r="1.3" fill="#fff"/>',  # dots
    '<path d="M0,0 L6,6 M6,0 L0,6" stroke="#fff" stroke-width="1"/>',  # cross-hatch
    '<path d="M0,3 L6,3" stroke="#fff" stroke-width="1.4"/>',  # horizontal lines
    '<path d="M3,0 L3,6" stroke="#fff" stroke-width="1.4"/>',  # vertical lines
)


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str
    pattern: int  # index into PATTERNS


def _r(value: float) -> float:
    return round(value, 2)


def _nice_step(top: float, ticks: int = 4) -> float:
    """A 1-2-5 step so that ``ticks`` steps cover ``top``."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value >= 1 else f"{value:.2g}"


def _defs(chart_id: str, series: Sequence[Series]) -> SafeString:
    return format_html_join(
        "",
        '<pattern id="{}-p{}" patternUnits="userSpaceOnUse" width="6" height="6">'
        '<rect width="6" height="6" fill="{}"/>{}</pattern>',
        ((chart_id, i, s.colour, mark_safe(PATTERNS[s.pattern % len(PATTERNS)]))
         for i, s in enumerate(series)),
    )


def legend(chart_id: str, series: Sequence[Series]) -> SafeString:
    items = format_html_join(
        "",
        '<li><svg width="14" height="14" aria-hidden="true"><rect width="14" height="14" '
        'fill="url(#{}-p{})" stroke="#444" stroke-width=".5"/></svg> {}</li>',
        ((chart_id, i, s.label) for i, s in enumerate(series)),
    )
    return format_html('<ul class="hs-legend">{}</ul>', items)


def _time_label(moment: datetime, bucket: timedelta) -> str:
    local = timezone.localtime(moment)
    return local.strftime("%a %H:%M") if bucket >= timedelta(hours=1) else local.strftime("%H:%M")


def stacked_bars(
    chart_id: str,
    title: str,
    bar_starts: Sequence[datetime],
    bucket: timedelta,
    series: Sequence[Series],
    unit: str,
    fmt: Callable[[float], str] = _number,
    counts: bool = True,
) -> SafeString:
    """Bars over time, one segment per series stacked bottom-up; an empty chart says so.
    ``counts``: whole numbers, so the axis never steps by less than one."""
    n = len(bar_starts)
    totals = [sum(s.values[i] for s in series) for i in range(n)]
    top = max(totals, default=0)
    step = max(_nice_step(top), 1.0) if counts else _nice_step(top)
    y_max = step * max(1, math.ceil(top / step)) if top > 0 else 4
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bar_w = plot_w / max(n, 1)
    gap = 1 if bar_w > 3 else 0

    def y(value: float) -> float:
        return TOP + plot_h - value / y_max * plot_h

    parts: list[SafeString] = []
    tick = 0.0
    while tick <= y_max + 1e-9:
        parts.append(format_html(
            '<line class="hs-grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
            '<text class="hs-axis" x="{}" y="{}" text-anchor="end">{}</text>',
            LEFT, WIDTH - RIGHT, _r(y(tick)), _r(y(tick)), LEFT - 6, _r(y(tick) + 4),
            _number(tick)))
        tick += step
    every = max(1, math.ceil(n / 8))
    for i in range(0, n, every):
        parts.append(format_html(
            '<text class="hs-axis" x="{}" y="{}" text-anchor="middle">{}</text>',
            _r(LEFT + (i + 0.5) * bar_w), HEIGHT - 10, _time_label(bar_starts[i], bucket)))
    for i in range(n):
        base = 0.0
        for k, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            label = f"{_time_label(bar_starts[i], bucket)} · {s.label}: {fmt(value)} {unit}"
            parts.append(format_html(
                '<rect class="hs-bar" data-series="{}" x="{}" y="{}" width="{}" '
                'height="{}" fill="url(#{}-p{})"><title>{}</title></rect>',
                s.label, _r(LEFT + i * bar_w + gap / 2), _r(y(base + value)),
                _r(max(bar_w - gap, 0.5)), _r(y(base) - y(base + value)), chart_id, k, label))
            base += value
    if top <= 0:
        parts.append(format_html(
            '<text class="hs-empty" x="{}" y="{}" text-anchor="middle">nothing in this window'
            '</text>', LEFT + plot_w / 2, TOP + plot_h / 2))
    svg = format_html(
        '<svg class="hs-chart" id="{}" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t">'
        '<title id="{}-t">{}</title><defs>{}</defs>{}'
        '<line class="hs-axis-line" x1="{}" x2="{}" y1="{}" y2="{}"/></svg>',
        chart_id, WIDTH, HEIGHT, chart_id, chart_id, title, _defs(chart_id, series),
        mark_safe("".join(parts)),  # every part is format_html output
        LEFT, WIDTH - RIGHT, TOP + plot_h, TOP + plot_h)
    return format_html('<figcaption>{}</figcaption>{}{}{}', title, svg, legend(chart_id, series),
                       _table(bar_starts, bucket, series, unit, fmt))


def _table(bar_starts: Sequence[datetime], bucket: timedelta, series: Sequence[Series],
           unit: str, fmt: Callable[[float], str]) -> SafeString:
    """The chart's figures as a table (bars with nothing in them left out)."""
    rows = [
        (_time_label(start, bucket), *(fmt(s.values[i]) if s.values[i] else "·" for s in series))
        for i, start in enumerate(bar_starts)
        if any(s.values[i] for s in series)
    ]
    head = format_html_join("", "<th>{}</th>", ((s.label,) for s in series))
    body = mark_safe("".join(  # safe: format_html output
        format_html("<tr>{}</tr>", format_html_join("", "<td>{}</td>", ((c,) for c in row)))
        for row in rows))
    return format_html(
        '<details class="hs-data"><summary>Data ({}, {} bar{} with data)</summary>'
        '<table><tr><th>from</th>{}</tr>{}</table></details>',
        unit, len(rows), "" if len(rows) == 1 else "s", head, body)


@dataclass(frozen=True)
class Spread:
    label: str
    count: int
    p50: float | None
    p95: float | None


def percentile_bars(chart_id: str, title: str, rows: Sequence[Spread],
                    fmt: Callable[[float | None], str], colour: str) -> SafeString:
    """One row per type: a hatched bar to p95 under a solid bar to p50, values written out."""
    row_h, label_w, text_w = 34, 170, 210
    height = TOP + row_h * max(len(rows), 1) + 6
    plot_w = WIDTH - label_w - text_w
    top = max((r.p95 or 0 for r in rows), default=0) or 1
    parts = []
    for i, r in enumerate(rows):
        y0 = TOP + i * row_h
        p95_w = (r.p95 or 0) / top * plot_w
        p50_w = (r.p50 or 0) / top * plot_w
        parts.append(format_html(
            '<text class="hs-axis" x="{}" y="{}" text-anchor="end">{}</text>'
            '<rect class="hs-bar hs-p95" x="{}" y="{}" width="{}" height="20" '
            'fill="url(#{}-p1)"><title>{} p95: {}</title></rect>'
            '<rect class="hs-bar hs-p50" x="{}" y="{}" width="{}" height="12" fill="{}">'
            '<title>{} p50: {}</title></rect>'
            '<text class="hs-value" x="{}" y="{}">p50 {} · p95 {} · n={}</text>',
            label_w - 8, y0 + 15, r.label,
            label_w, y0, _r(max(p95_w, 0.5)), chart_id, r.label, fmt(r.p95),
            label_w, y0 + 4, _r(max(p50_w, 0.5)), colour, r.label, fmt(r.p50),
            label_w + plot_w + 8, y0 + 15, fmt(r.p50), fmt(r.p95), f"{r.count:,}"))
    if not rows:
        parts.append(format_html(
            '<text class="hs-empty" x="{}" y="{}" text-anchor="middle">nothing in this window'
            '</text>', WIDTH / 2, TOP + row_h / 2))
    light = Series("p95", (), colour, 1)
    return format_html(
        '<figcaption>{}</figcaption>'
        '<svg class="hs-chart" id="{}" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-t">'
        '<title id="{}-t">{}</title><defs>{}</defs>{}</svg>'
        '<p class="hs-help">Solid bar: median (p50); hatched bar: 95th percentile (p95).</p>',
        title, chart_id, WIDTH, height, chart_id, chart_id, title, _defs(chart_id, [light, light]),
        mark_safe("".join(parts)))  # safe: format_html output
