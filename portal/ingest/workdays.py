"""Working days on the official Chinese holiday calendar, including adjusted working weekends (调休).

``chinese-calendar`` carries the State Council's arrangement for the years it knows (2004–2026 in the pinned
version). The arrangement for a new year is published each November/December; until the library catches up,
an operator adds it to ``portal/data/holidays.toml``. For a year known to neither, working days fall back to
Monday–Friday and the fallback is reported (in the import summary and the manifest), never silent.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar

from portal.public.dates import parse_date
from portal.settings import HOLIDAYS_FILE


@dataclass
class WorkCalendar:
    extra_holidays: set[date] = field(default_factory=set)
    extra_workdays: set[date] = field(default_factory=set)
    extra_years: set[int] = field(default_factory=set)
    fallback_years: set[int] = field(default_factory=set)  # years counted Monday–Friday only
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
            result = day in self.extra_workdays or (day.weekday() < 5 and day not in self.extra_holidays)
        else:
            try:
                result = chinese_calendar.is_workday(day)
            except NotImplementedError:
                self.fallback_years.add(day.year)
                result = day.weekday() < 5
        self._cache[day] = result
        return result

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
