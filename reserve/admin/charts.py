"""A holdings-over-time chart as inline SVG, drawn on the server: no script, no CDN, readable
without JavaScript (a step line of the holdings, a dashed step line per cap as it was in force,
labelled axes)."""

from __future__ import annotations

from datetime import datetime

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from reserve.common.amounts import btc_text
from reserve.reports.holdings_chart import CapLine, HoldingsChart

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 90, 170, 24, 30
CAP_COLOURS = ("#b91c1c", "#c2410c", "#7c3aed", "#0f766e")


def _btc(sats: int) -> str:
    return f"{btc_text(sats).rstrip('0').rstrip('.')} BTC"


def _cap_words(cap: CapLine) -> str:
    return f"{cap.rule_type.replace('_', ' ')}: " + ("not in force" if cap.limit_sats is None else _btc(cap.limit_sats))


def holdings_svg(chart: HoldingsChart) -> SafeString:
    span_seconds = max((chart.until - chart.since).total_seconds(), 1.0)
    limits = [limit for cap in chart.caps for _, limit in cap.steps if limit is not None]
    top_sats = max([sats for _, sats in chart.points] + limits + [1]) * 11 // 10
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(at: datetime) -> float:
        return LEFT + plot_width * (at - chart.since).total_seconds() / span_seconds

    def y(sats: int) -> float:
        return TOP + plot_height * (1 - sats / top_sats)

    def cap_path(cap: CapLine) -> str:
        # Each limit holds until the next step; a gap while no version in force had the rule.
        path = []
        for (at, limit), (end, _) in zip(cap.steps, [*cap.steps[1:], (chart.until, None)], strict=True):
            if limit is not None:
                path.append(f"M{x(at):.1f},{y(limit):.1f}H{x(end):.1f}")
        return "".join(path)

    # A step line: holdings stay level until the next change.
    path = [f"M{x(chart.points[0][0]):.1f},{y(chart.points[0][1]):.1f}"]
    for at, sats in chart.points[1:]:
        path.append(f"H{x(at):.1f}V{y(sats):.1f}")
    path.append(f"H{x(chart.until):.1f}")
    current = chart.points[-1][1]
    caps = format_html_join(
        "",
        '<g class="cap-line"><path d="{}" fill="none" stroke="{}" stroke-dasharray="6 4"/>'
        '<text x="{}" y="{}" font-size="11" fill="{}">{}</text></g>',
        (
            (
                cap_path(cap),
                CAP_COLOURS[index % len(CAP_COLOURS)],
                LEFT + plot_width + 6,
                f"{y(cap.limit_sats or 0) + 4:.1f}",
                CAP_COLOURS[index % len(CAP_COLOURS)],
                _cap_words(cap),
            )
            for index, cap in enumerate(chart.caps)
        ),
    )
    description = f"{chart.title}: {_btc(current)} now" + "".join(
        f"; {cap.rule_type.replace('_', ' ')} limit "
        + ", then ".join(f"{'none' if limit is None else _btc(limit)} from {at:%Y-%m-%d}" for at, limit in cap.steps)
        + f" ({cap.policy_name})"
        for cap in chart.caps
    )
    return format_html(
        '<svg class="holdings-chart" role="img" viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" '
        'xmlns="http://www.w3.org/2000/svg" aria-label="{desc}"><title>{title}</title><desc>{desc}</desc>'
        '<line x1="{l}" x2="{l}" y1="{t}" y2="{b}" stroke="#9ca3af"/>'
        '<line x1="{l}" x2="{r}" y1="{b}" y2="{b}" stroke="#9ca3af"/>'
        '<text x="{lt}" y="{t4}" font-size="11" text-anchor="end" fill="currentColor">{top}</text>'
        '<text x="{lt}" y="{b}" font-size="11" text-anchor="end" fill="currentColor">0</text>'
        '<text x="{l}" y="{bt}" font-size="11" fill="currentColor">{since}</text>'
        '<text x="{r}" y="{bt}" font-size="11" text-anchor="end" fill="currentColor">{until}</text>'
        '<path class="holdings-line" d="{path}" fill="none" stroke="#2563eb" stroke-width="2"/>'
        '<text x="{rt}" y="{cy}" font-size="11" fill="#2563eb">now {now}</text>{caps}</svg>',
        w=WIDTH,
        h=HEIGHT,
        desc=description,
        title=chart.title,
        l=LEFT,
        r=LEFT + plot_width,
        t=TOP,
        b=TOP + plot_height,
        lt=LEFT - 6,
        t4=TOP + 4,
        bt=TOP + plot_height + 16,
        rt=LEFT + plot_width + 6,
        cy=f"{y(current) + 4:.1f}",
        top=_btc(top_sats),
        since=f"{chart.since:%Y-%m-%d}",
        until=f"{chart.until:%Y-%m-%d}",
        path="".join(path),
        now=_btc(current),
        caps=caps,
    )
