"""Working days on the official Chinese holiday calendar, including adjusted working weekends (调休).

``chinese-calendar`` carries the State Council's arrangement for the years it knows (2004–2026 in the pinned
version). The arrangement for a new year is published each November/December; until the library catches up,
an operator adds it to ``portal/data/holidays.toml``. For a year known to neither, no weekend and no day that
any arrangement consistent with 《全国年节及纪念日放假办法》 could make a day off is a working day
(``portal.ingest.holidays``): periods err long, never short. Such years are reported (import summary and manifest,
``calendar_fallback_years``) and every period is recomputed at the next import, once the year is known.
In every year the statutory holidays themselves are never working days, whatever ``holidays.toml`` says.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from portal.ingest.holidays import possible_days_off, statutory_holidays
from portal.public.dates import parse_date
from portal.settings import HOLIDAYS_FILE


@dataclass
class WorkCalendar:
    extra_holidays: set[date] = field(default_factory=set)
    extra_workdays: set[date] = field(default_factory=set)
    extra_years: set[int] = field(default_factory=set)
    fallback_years: set[int] = field(default_factory=set)  # years counted on possible_days_off (err long)
    _cache: dict[date, bool] = field(default_factory=dict)
    _sums: dict[tuple[date, int], date] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = HOLIDAYS_FILE) -> WorkCalendar:
        cal = cls()
        if path.exists():
            with open(path, "rb") as f:
                raw = tomllib.load(f)
            for year, spec in raw.get("year", {}).items():
                cal.extra_years.add(int(year))
                cal.extra_holidays.update(parse_date(d) for d in spec.get("holidays", []))
                cal.extra_workdays.update(parse_date(d) for d in spec.get("workdays", []))
        return cal

    def is_workday(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        if day.year in self.extra_years:
            result = day not in statutory_holidays(day.year) and (
                day in self.extra_workdays or (day.weekday() < 5 and day not in self.extra_holidays))
        else:
            try:
                result = chinese_calendar.is_workday(day)
            except NotImplementedError:
                self.fallback_years.add(day.year)
                result = day.weekday() < 5 and day not in possible_days_off(day.year)
        if result and day.month == 12 and not self._known(day.year + 1) and day in possible_days_off(day.year):
            # The next year's arrangement may start its 元旦 break in these last days of December.
            self.fallback_years.add(day.year + 1)
            result = False
        self._cache[day] = result
        return result

    def _known(self, year: int) -> bool:
        """Whether ``year``'s arrangement is published (in holidays.toml or the calendar package)."""
        if year in self.extra_years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            return False
        return True

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (start itself not counted)."""
        known = self._sums.get((start, count))
        if known is not None:
            return known
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                remaining -= 1
        self._sums[(start, count)] = day
        return day
