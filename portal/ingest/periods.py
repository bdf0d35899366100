"""Publication periods as the law counts them, and the bounds a list puts on periods given in a file.

Counting (民法典 第二百零一条、第二百零二条): the day on which a period starts is not counted; a period of N
months or years ends on the corresponding day of its last month, or on that month's last day when it has no
such day. An entry's ``publish_from`` is its first public day, so the starting day in the law's sense is the
day before it: 1 year from a first public day of 2025-03-05 ends on 2026-03-04, 3 months from 2025-11-30 end
on 2026-02-28 (the starting day is 11-29 and February 2026 has no 29th).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from portal.public.catalogue import ListSpec, Span
from portal.public.dates import add_months

if TYPE_CHECKING:
    from portal.ingest.workdays import WorkCalendar

# How departments separate several 处罚类别 in one cell (and how the older layout's 处罚类别1 + 处罚类别2 are
# joined by the header mapping): commas of both widths with or without spaces, 、 ； ; / | and plain spaces.
_CATEGORY_SEPARATORS = re.compile(r"[,，、;；/／|｜\s]+")
ABOVE_MAX = "above_max"  # adjustment kinds reported per row (manifest ``period_adjustments``)
BELOW_MIN = "below_min"


def period_end(first_day: date, span: Span, calendar: WorkCalendar) -> date:
    """The last day of a period of ``span`` whose first counted day is ``first_day``."""
    if span.working:  # 第二百零一条: the starting day itself is not counted
        return calendar.add_working_days(first_day - timedelta(days=1), span.days)
    return calendar_period_end(first_day, span)


def calendar_period_end(first_day: date, span: Span) -> date:
    """``period_end`` for a span of calendar years, months and days (no working days)."""
    start = first_day - timedelta(days=1)  # 第二百零一条: the starting day itself is not counted
    return add_months(start, span.years * 12 + span.months) + timedelta(days=span.days)  # 第二百零二条


@lru_cache(maxsize=4096)  # a department's files repeat a few dozen distinct 处罚类别 cells
def categories(value: str | None) -> frozenset[str]:
    """The 处罚类别 named in one cell: ``警告, 通报批评``, ``警告；通报批评``, ``警告/罚款`` …"""
    if not value:
        return frozenset()
    return frozenset(part for part in _CATEGORY_SEPARATORS.split(value) if part)


def is_short(details: dict[str, str], spec: ListSpec) -> bool:
    """True when the row qualifies for the list's short period (行政处罚: only 警告 and/or 通报批评)."""
    if not (spec.short_period and spec.short_period_field):
        return False
    found = categories(details.get(spec.short_period_field))
    return bool(found) and found <= spec.short_period_values


@dataclass(frozen=True)
class Adjustment:
    """A period given in the file that was outside the list's bounds, and what was applied instead."""

    kind: str  # ABOVE_MAX | BELOW_MIN
    given: str  # the file's end date (ISO) or 长期
    applied: date


def bounded_until(given: date | None, open_ended: bool, publish_from: date, spec: ListSpec, short: bool,
                  calendar: WorkCalendar) -> tuple[date | None, Adjustment | None]:
    """A file-given end (or 长期) held within the list's min/max; None/None: no end given."""
    if spec.max_period and (open_ended or given is not None):
        cap = period_end(publish_from, spec.max_period, calendar)
        if open_ended or (given is not None and given > cap):
            return cap, Adjustment(ABOVE_MAX, "长期" if open_ended else given.isoformat(), cap)  # type: ignore[union-attr]
    if open_ended:
        return None, None
    minimum = spec.short_min_period if short and spec.short_min_period else spec.min_period
    if given is not None and minimum is not None:
        floor = period_end(publish_from, minimum, calendar)
        if given < floor:
            return floor, Adjustment(BELOW_MIN, given.isoformat(), floor)
    return given, None
