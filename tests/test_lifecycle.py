"""Lifecycle rules evaluated at a date: notice in working days, publication windows, withdrawals."""

from datetime import date, timedelta

import pytest

from portal.ingest.lifecycle import (
    EXPIRED,
    NOT_YET_PUBLIC,
    OBJECTION_WITHHELD,
    REMOVED,
    REPAIRED,
    REVOKED,
    evaluate,
)
from portal.ingest.masking import load_policy
from portal.ingest.validate import RowValidator, ValidRow
from portal.ingest.workdays import WorkCalendar
from portal.public.catalogue import load_catalogue
from portal.public.digest import Digester
from portal.public.records import PublicStatus

USCC = "91110000600037341L"


def valid_row(list_name: str, decided: str, **extra: str) -> ValidRow:
    validator = RowValidator(catalogue=load_catalogue(), policy=load_policy(), digester=Digester(b"test"))
    raw = {"subject_name": "达州市示例建筑工程有限公司", "subject_type": "法人及非法人组织", "uscc": USCC,
           "list_name": list_name, "decision_date": decided, "decision_no": "达市监〔2026〕1号", **extra}
    result = validator.validate(raw)
    assert isinstance(result, ValidRow), result
    return result


def at(row: ValidRow, day: date):  # type: ignore[no-untyped-def]
    return evaluate(row, row.spec, day, WorkCalendar())


def test_twenty_working_days_notice_skips_holidays_and_counts_adjusted_weekends() -> None:
    # Decided Saturday 2026-09-19. Counting: Sun 9-20 is a 调休 working day, the Mid-autumn and National
    # Day holidays (9-25..27, 10-1..7) are skipped, Sat 10-10 is a 调休 working day: the 20th is Thu 10-22.
    row = valid_row("严重违法失信企业名单", "2026-09-19")
    outcome = at(row, date(2026, 10, 22))
    assert outcome.notice_until == date(2026, 10, 22)
    assert outcome.status is PublicStatus.UNDER_NOTICE
    assert at(row, date(2026, 10, 23)).status is PublicStatus.PUBLISHED
    assert outcome.publish_from == date(2026, 10, 23)
    assert outcome.publish_until == date(2029, 10, 22)  # 3 years


def test_calendar_day_notice_for_honours() -> None:
    row = valid_row("诚信示范企业名单", "2026-11-16")
    assert at(row, date(2026, 11, 23)).status is PublicStatus.UNDER_NOTICE
    published = at(row, date(2026, 11, 24))
    assert published.status is PublicStatus.PUBLISHED
    assert published.publish_until == date(2028, 11, 23)  # 2 years from 11-24


def test_expiry_is_automatic_on_the_day_after_the_period() -> None:
    row = valid_row("重点关注名单", "2025-01-10")  # 1 year, no notice
    assert at(row, date(2026, 1, 9)).status is PublicStatus.PUBLISHED
    gone = at(row, date(2026, 1, 10))
    assert gone.withheld == EXPIRED and gone.withdrawn_on == date(2026, 1, 10)


def test_explicit_publish_until_wins_and_court_list_is_open_ended() -> None:
    row = valid_row("失信被执行人名单", "2020-05-01")
    assert at(row, date(2026, 11, 23)).publish_until is None
    assert at(row, date(2026, 11, 23)).status is PublicStatus.PUBLISHED
    ended = valid_row("失信被执行人名单", "2020-05-01", publish_until="2026年11月22日")
    assert at(ended, date(2026, 11, 23)).withheld == EXPIRED


@pytest.mark.parametrize("status, reason, expected", [
    ("已修复", "信用修复", REPAIRED),
    ("已撤销", "", REVOKED),
    ("已移出", "", REMOVED),
])
def test_repair_revocation_and_removal_withdraw_early(status: str, reason: str, expected: str) -> None:
    row = valid_row("严重违法失信企业名单", "2025-01-06", status=status, removal_reason=reason,
                    removal_date="2026-06-01")
    outcome = at(row, date(2026, 11, 23))
    assert outcome.withheld == expected and outcome.withdrawn_on == date(2026, 6, 1)


def test_removal_date_in_the_future_ends_publication_the_day_before() -> None:
    row = valid_row("严重违法失信企业名单", "2025-01-06", removal_date="2026-12-01", removal_reason="信用修复")
    assert at(row, date(2026, 11, 30)).status is PublicStatus.PUBLISHED
    assert at(row, date(2026, 12, 1)).withheld == REPAIRED


def test_objection_flag_shown_or_withheld_per_list() -> None:
    black = valid_row("严重违法失信企业名单", "2025-01-06", status="异议处理中")
    assert at(black, date(2026, 11, 23)).status is PublicStatus.OBJECTION
    red = valid_row("A级纳税人名单", "2026-04-01", status="异议处理中")
    assert at(red, date(2026, 11, 23)).withheld == OBJECTION_WITHHELD


def test_penalty_period_short_for_warnings_and_capped_at_three_years() -> None:
    warning = valid_row("行政处罚", "2026-06-01", penalty_category="警告")
    assert at(warning, date(2026, 6, 2)).publish_until == date(2026, 8, 31)  # 3 months
    fine = valid_row("行政处罚", "2026-06-01", penalty_category="警告,罚款")
    assert at(fine, date(2026, 6, 2)).publish_until == date(2027, 5, 31)  # 1 year
    long = valid_row("行政处罚", "2020-06-01", publish_until="2030-01-01")
    assert at(long, date(2021, 1, 1)).publish_until == date(2023, 5, 31)  # at most 3 years


def test_future_decision_is_not_yet_public() -> None:
    row = valid_row("重点关注名单", "2026-12-01")
    assert at(row, date(2026, 11, 23)).withheld == NOT_YET_PUBLIC


def test_working_days_beyond_the_known_calendar_fall_back_and_are_reported() -> None:
    calendar = WorkCalendar()
    end = calendar.add_working_days(date(2027, 3, 1), 5)  # Mon → next Mon
    assert end == date(2027, 3, 1) + timedelta(days=7)
    assert 2027 in calendar.fallback_years
