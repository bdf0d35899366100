"""The statutory holidays of 《全国年节及纪念日放假办法》, for years whose arrangement is not published yet.

The 办法 (as revised by 国务院令第774号, in force from 2025-01-01) fixes the days off for everyone: 元旦 1 day
(1月1日), 春节 4 days (农历除夕、正月初一至初三), 清明节 1 day (农历清明当日, the solar term), 劳动节 2 days (5月1日、2日),
端午节 1 day (农历端午当日), 中秋节 1 day (农历中秋当日), 国庆节 3 days (10月1日至3日). Each year the State Council then
publishes an arrangement that joins them with weekends into longer breaks, moving weekend days (调休) and
giving 补假 for holidays that fall on a weekend. That arrangement cannot be known in advance; the statutory
days can.

For a year without a published arrangement, a working-day period must never end before it could end under
any arrangement consistent with the law. So this module also gives every weekday that *could* be a day off
in such an arrangement (the breaks the State Council has drawn around each holiday since 2008, widened), and
``portal.ingest.workdays`` counts none of them, and no weekend, as a working day: the period ends on or after the
day it would end under every such arrangement. The next publish after the arrangement is known (chinese-calendar
updated, or ``holidays.toml`` filled in) recomputes every period exactly.

Lunar dates come from ``lunar_python`` (the 6tail lunar calendar, years 1–9999); 清明 from its solar-term table.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

from lunar_python import Lunar

# Widest breaks drawn around each holiday (inclusive), checked against every arrangement 2008–2026 in
# chinese-calendar (tests/test_rules_calendar.py): the Spring Festival break ran from at the earliest two days
# before 除夕 (2026: 腊月廿八) to 正月初七/初八; 劳动节 from 4月29日 (2013) to 5月5日; 国庆 from 9月29日 (2008) to
# 10月8日; a one-day holiday joined a weekend with at most one bridge day, or 补假 on the Monday. The one-off
# days of 2015 (9月3日-4日, 抗战胜利70周年) were not holidays of the 办法 and are not predicted.
SPRING_BREAK = (-3, 8)  # from 除夕 - 3 days to 正月初一 + 7 days (初八)
LABOUR_BREAK = (date(2000, 4, 29), date(2000, 5, 6))  # month/day bounds, year replaced
NATIONAL_BREAK = ((9, 29), (10, 8))  # 国庆 break; it starts earlier still when 中秋 falls just before it
ONE_DAY_BREAK = 2  # a one-day holiday: any weekday within 2 days of it may be off (bridge day or 补假)
MID_AUTUMN_JOINS_NATIONAL = 7  # 中秋 within a week before 10月1日 is joined to the National Day break


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory days off of ``year`` with their names (no weekend or 调休 logic)."""
    new_year = Lunar.fromYmd(year, 1, 1)
    eve = new_year.next(-1).getSolar()
    spring_first = new_year.getSolar()
    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    first = date(spring_first.getYear(), spring_first.getMonth(), spring_first.getDay())
    days[date(eve.getYear(), eve.getMonth(), eve.getDay())] = "春节"
    for offset in range(3):
        days[first + timedelta(days=offset)] = "春节"
    days[_qingming(year)] = "清明节"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "劳动节"
    days[_lunar(year, 5, 5)] = "端午节"
    days[_lunar(year, 8, 15)] = "中秋节"
    for day in (1, 2, 3):
        days[date(year, 10, day)] = "国庆节"
    return days


@lru_cache(maxsize=64)
def possible_days_off(year: int) -> frozenset[date]:
    """Every day of ``year`` that some arrangement consistent with the 办法 could make a day off."""
    off: set[date] = set()
    for y in (year - 1, year, year + 1):  # 元旦 breaks reach back into December, 春节 ones into January
        off.update(_breaks(y))
    return frozenset(day for day in off if day.year == year)


def _breaks(year: int) -> set[date]:
    holidays = statutory_holidays(year)
    off = set(holidays)
    eve = min(day for day, name in holidays.items() if name == "春节")
    off.update(_span(eve + timedelta(days=SPRING_BREAK[0]), eve + timedelta(days=SPRING_BREAK[1])))
    off.update(_span(LABOUR_BREAK[0].replace(year=year), LABOUR_BREAK[1].replace(year=year)))
    national_start, national_end = date(year, *NATIONAL_BREAK[0]), date(year, *NATIONAL_BREAK[1])
    mid_autumn = _lunar(year, 8, 15)
    if date(year, 10, 1) - timedelta(days=MID_AUTUMN_JOINS_NATIONAL) <= mid_autumn <= national_end:
        national_start = min(national_start, mid_autumn)
    off.update(_span(national_start, national_end))
    for day, name in holidays.items():
        if name in ("元旦", "清明节", "端午节", "中秋节"):
            off.update(_span(day - timedelta(days=ONE_DAY_BREAK), day + timedelta(days=ONE_DAY_BREAK)))
    return off


def _span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _lunar(year: int, month: int, day: int) -> date:
    solar = Lunar.fromYmd(year, month, day).getSolar()
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


def _qingming(year: int) -> date:
    # The solar-term table of the lunar year that starts in ``year`` holds that spring's 清明.
    solar = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    return date(solar.getYear(), solar.getMonth(), solar.getDay())
