"""Bar charts drawn at build time as inline SVG: no JavaScript, every value also written as text.

Each chart is an ``<svg role="img">`` with a title and description, and every bar carries its value as a
visible label; the page shows the same numbers in a table beside it, so the chart is decoration for
readers who can see it and never the only place a number is.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

BAR_HEIGHT = 28
BAR_GAP = 10
LABEL_WIDTH = 190
VALUE_WIDTH = 70
CHART_WIDTH = 640


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def bar_chart(bars: list[Bar], *, title: str, chart_id: str) -> Markup:
    """A horizontal bar chart; labels are truncated visually but kept whole in the <title> of each bar."""
    peak = max((b.value for b in bars), default=0) or 1
    plot_width = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = max(1, len(bars)) * (BAR_HEIGHT + BAR_GAP) + BAR_GAP
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-title" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    for index, bar in enumerate(bars):
        y = BAR_GAP + index * (BAR_HEIGHT + BAR_GAP)
        width = round(plot_width * bar.value / peak, 1) if bar.value else 0
        label = bar.label if len(bar.label) <= 12 else bar.label[:11] + "…"
        text_y = y + BAR_HEIGHT * 0.68
        parts.append(
            f'<g><title>{escape(bar.label)}：{bar.value}</title>'
            f'<text x="{LABEL_WIDTH - 8}" y="{text_y}" text-anchor="end" class="chart-label">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width}" height="{BAR_HEIGHT}" rx="3" class="chart-bar"/>'
            f'<text x="{LABEL_WIDTH + width + 6}" y="{text_y}" class="chart-value">{bar.value:,}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
