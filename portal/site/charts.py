"""Bar charts drawn at build time as inline SVG: no JavaScript, every value also written as text.

Each chart is an ``<svg role="img">`` with a title and description, and every bar carries its value as a
visible label; the page shows the same numbers in a table beside it, so the chart is decoration for
readers who can see it and never the only place a number is.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

# The chart has no viewBox: its user units are CSS pixels, so text keeps its size on a 320 px phone instead
# of being scaled down with the drawing (a 640-unit viewBox made 15 px labels 7 px tall there). Bars are
# sized in percent of the chart's width; each label sits on its own line above its bar.
FONT_PX = 16
LABEL_LINE = 22  # label line height
BAR_HEIGHT = 16
ROW_GAP = 12
BAR_SHARE = 80  # the longest bar takes this percentage of the width; the value is written at the right end
MAX_LABEL_CHARS = 16  # longer labels are cut with … (the whole label is in the bar's <title> and the table)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def bar_chart(bars: list[Bar], *, title: str, chart_id: str) -> Markup:
    """A horizontal bar chart, readable at phone width; labels are cut visually but kept whole in <title>."""
    peak = max((b.value for b in bars), default=0) or 1
    row = LABEL_LINE + BAR_HEIGHT + ROW_GAP
    height = max(1, len(bars)) * row
    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" role="img" aria-labelledby="{escape(chart_id)}-title" '
        f'width="100%" height="{height}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    for index, bar in enumerate(bars):
        y = index * row
        width = round(BAR_SHARE * bar.value / peak, 2) if bar.value else 0
        label = bar.label if len(bar.label) <= MAX_LABEL_CHARS else bar.label[:MAX_LABEL_CHARS - 1] + "…"
        bar_y = y + LABEL_LINE
        parts.append(
            f'<g><title>{escape(bar.label)}：{bar.value}</title>'
            f'<text x="0" y="{y + FONT_PX}" class="chart-label">{escape(label)}</text>'
            f'<rect x="0" y="{bar_y}" width="{width}%" height="{BAR_HEIGHT}" rx="3" class="chart-bar"/>'
            f'<text x="100%" y="{bar_y + BAR_HEIGHT - 2}" text-anchor="end" class="chart-value">{bar.value:,}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
