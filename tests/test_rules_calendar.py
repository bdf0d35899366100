"""Issue 11, years whose holiday arrangement is not published: statutory holidays are never working days,
and a working-day period errs long, is reported, and is recomputed once the year is known.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from rules_files import FORMATS, entries_by, ingest, uscc, walk_working_days, write_table

from portal.ingest.holidays import possible_days_off, statutory_holidays
from portal.ingest.workdays import WorkCalendar

# 《全国年节及纪念日放假办法》 (国务院令第774号) for 2027, with the almanac's dates: 除夕 2027-02-05, 春节 02-06,
# 清明 04-05, 端午 (五月初五) 06-09, 中秋 (八月十五) 09-15.
STATUTORY_2027 = {
    date(2027, 1, 1): "元旦", date(2027, 2, 5): "春节", date(2027, 2, 6): "春节", date(2027, 2, 7): "春节",
    date(2027, 2, 8): "春节", date(2027, 4, 5): "清明节", date(2027, 5, 1): "劳动节", date(2027, 5, 2): "劳动节",
    date(2027, 6, 9): "端午节", date(2027, 9, 15): "中秋节", date(2027, 10, 1): "国庆节", date(2027, 10, 2): "国庆节",
    date(2027, 10, 3): "国庆节",
}
HEADER = ["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "认定部门", "认定文书号"]


def test_statutory_holidays_of_an_unpublished_year_are_computed() -> None:
    assert statutory_holidays(2027) == STATUTORY_2027
    calendar = WorkCalendar()
    assert not any(calendar.is_workday(day) for day in STATUTORY_2027)
    assert 2027 in calendar.fallback_years


def days(year: int) -> list[date]:
    return [date(year, 1, 1) + timedelta(days=n) for n in range((date(year + 1, 1, 1) - date(year, 1, 1)).days)]


@pytest.mark.parametrize("year", [y for y in range(2008, 2027) if y != 2015])
def test_every_published_arrangement_is_within_what_the_unknown_year_rule_allows(year: int) -> None:
    # Every weekday that a published arrangement made a day off is one the rule already treats as possibly
    # off (2015's one-off 抗战胜利70周年 days were no holiday of the 办法). So counting with the rule never ends
    # earlier than counting with the arrangement would have: checked for 20 working days from every day.
    possible = possible_days_off(year)
    assert {d for d in days(year) if d.weekday() < 5 and chinese_calendar.is_holiday(d)} <= possible
    for start in days(year)[:-40]:
        published = walk_working_days(start, 20)
        unknown = walk_working_days(start, 20, lambda d: d.weekday() >= 5 or d in possible_days_off(d.year))
        assert unknown >= published, start


def written_arrangement(path: Path) -> Path:
    # An arrangement for 2027 as the State Council might publish it: 元旦 1 day, 春节 02-05..02-11 with two 调休
    # Saturdays. Only the file's content matters to the test: the import must follow it once it is there.
    path.write_text("""[year.2027]
holidays = ["2027-01-01", "2027-02-05", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11"]
workdays = ["2027-01-30", "2027-02-20"]
""", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("decided, possibly_off", [
    # 元旦 2027 is a Friday: the weekdays within two days of it could join the break (12-30, 12-31 of 2026).
    (date(2026, 12, 20), {date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 1)}),
    # 春节 2027: 除夕 02-05; a break could run from 02-02 to 正月初八 (02-13).
    (date(2027, 1, 25), {date(2027, 2, 2) + timedelta(days=n) for n in range(12)}),
])
def test_notice_into_an_unknown_year_errs_long_is_reported_and_recomputed(
        fmt: str, decided: date, possibly_off: set[date], tmp_path: Path) -> None:
    path = write_table(tmp_path / f"black.{fmt}", HEADER, [[
        "达州市跨年建筑工程有限公司", "法人及非法人组织", uscc("91511700MA6500001"), "严重违法失信企业名单",
        decided.isoformat(), "达州市市场监督管理局", "达市监〔2026〕50号"]])

    def off_unknown(day: date) -> bool:
        if day.year == 2026 and day not in possibly_off:
            return not chinese_calendar.is_workday(day)
        return day.weekday() >= 5 or day in possibly_off

    expected = walk_working_days(decided, 20, off_unknown)
    # The least the law allows (only weekends and the statutory days off): the notice never ends before it.
    least = walk_working_days(decided, 20, lambda d: (not chinese_calendar.is_workday(d)) if d.year == 2026 else (
        d.weekday() >= 5 or d in STATUTORY_2027))
    assert expected >= least
    manifest, version = ingest([path], tmp_path / "snap", decided + timedelta(days=1))
    entry = entries_by(version)["达市监〔2026〕50号"]
    assert entry["notice_until"] == expected.isoformat()
    assert 2027 in manifest["calendar_fallback_years"]

    # Once the arrangement is known, the next import counts on it exactly and reports nothing.
    arrangement = written_arrangement(tmp_path / "holidays.toml")
    holidays = {date(2027, 1, 1), *(date(2027, 2, d) for d in (5, 8, 9, 10, 11))}
    workdays = {date(2027, 1, 30), date(2027, 2, 20)}

    def off_known(day: date) -> bool:
        if day.year == 2026:
            return not chinese_calendar.is_workday(day)
        return day not in workdays and (day.weekday() >= 5 or day in holidays or day in STATUTORY_2027)

    manifest, version = ingest([path], tmp_path / "snap2", decided + timedelta(days=1), holidays_file=arrangement)
    assert entries_by(version)["达市监〔2026〕50号"]["notice_until"] == walk_working_days(decided, 20, off_known).isoformat()
    assert manifest["calendar_fallback_years"] == []


def test_statutory_days_stay_off_even_if_holidays_toml_forgets_them(tmp_path: Path) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text('[year.2027]\nholidays = ["2027-01-01"]\nworkdays = ["2027-02-08"]\n', encoding="utf-8")
    calendar = WorkCalendar.load(path)
    assert not calendar.is_workday(date(2027, 2, 8))  # 正月初三 (a Monday): statutory, whatever the file says
    assert calendar.is_workday(date(2027, 2, 9))  # not statutory and the file makes no holiday of it
