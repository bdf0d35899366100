"""Issue 11, periods: 处罚类别 parsing, 民法典 month arithmetic, bounds on file-given periods, full-width dates.

Every file is written here as a real CSV or XLSX and goes through the real ingest; every expected date is
worked out here from the rule (tests/rules_files.py), never copied from the output.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from rules_files import (
    FORMATS,
    civil_period_end,
    entries_by,
    ingest,
    tombstones,
    uscc,
    walk_working_days,
    write_table,
)
from typer.testing import CliRunner

from portal.cli import app

NATIONAL = ["行政处罚决定书文号", "行政相对人名称", "行政相对人类别", "行政相对人代码_1（统一社会信用代码）", "处罚类别",
            "处罚决定日期", "公示截止期", "处罚机关"]
LEGACY = ["行政处罚决定书文号", "处罚名称", "处罚类别1", "处罚类别2", "处罚事由", "行政相对人名称", "行政相对人代码_1",
          "处罚决定日期", "处罚机关"]
ORG = "法人及非法人组织"
AUTHORITY = "达州市市场监督管理局"


def penalty(n: int, category: str, decided: str, until: str = "") -> list[str]:
    return [f"达市监处罚〔2026〕{n}号", f"达州市示例{n}号商贸有限公司", ORG, uscc(f"91511700MA62{n:05d}"), category,
            decided, until, AUTHORITY]


@pytest.mark.parametrize("fmt", FORMATS)
def test_warning_and_criticism_get_the_short_period_whatever_the_separator(fmt: str, tmp_path: Path) -> None:
    decided = date(2026, 6, 1)
    cells = {1: "警告, 通报批评", 2: "警告；通报批评", 3: "警告/通报批评", 4: "通报批评、警告", 5: "警告 ; 通报批评",
             6: "警告", 7: "警告，罚款", 8: "罚款", 9: "警告, 没收违法所得"}
    short = {1, 2, 3, 4, 5, 6}
    path = write_table(tmp_path / f"xzcf.{fmt}", NATIONAL,
                       [penalty(n, cell, decided.isoformat()) for n, cell in cells.items()])
    manifest, version = ingest([path], tmp_path / "snap", date(2026, 6, 2))
    assert manifest["counts"]["rejected"] == 0
    entries = entries_by(version)
    for n in cells:
        expected = civil_period_end(decided, months=3) if n in short else civil_period_end(decided, years=1)
        assert entries[f"达市监处罚〔2026〕{n}号"]["publish_until"] == expected.isoformat(), cells[n]


@pytest.mark.parametrize("fmt", FORMATS)
def test_older_layout_joins_penalty_category_1_and_2(fmt: str, tmp_path: Path) -> None:
    decided = date(2026, 3, 5)
    pairs = {1: ("警告", "通报批评"), 2: ("警告", ""), 3: ("警告", "罚款"), 4: ("通报批评", "警告")}
    rows = [[f"达市监处罚〔2026〕{n}号", "未按规定公示年度报告案", a, b, "未按规定报送年度报告",
             f"达州市旧版{n}号商贸有限公司", uscc(f"91511700MA63{n:05d}"), "2026/3/5", AUTHORITY]
            for n, (a, b) in pairs.items()]
    manifest, version = ingest([write_table(tmp_path / f"legacy.{fmt}", LEGACY, rows)], tmp_path / "snap",
                               date(2026, 3, 6))
    assert manifest["sources"][0]["layout"] == "xzcf-legacy" and manifest["counts"]["rejected"] == 0
    entries = entries_by(version)
    for n, pair in pairs.items():
        expected = civil_period_end(decided, years=1) if "罚款" in pair else civil_period_end(decided, months=3)
        assert entries[f"达市监处罚〔2026〕{n}号"]["publish_until"] == expected.isoformat(), pair


def test_the_issue_example_by_the_rule() -> None:
    # 3 months from 2025-11-30: the starting day 11-29 is not counted; February 2026 has no 29th → its last day.
    assert civil_period_end(date(2025, 11, 30), months=3) == date(2026, 2, 28)


@pytest.mark.parametrize("fmt", FORMATS)
def test_months_and_years_end_on_the_corresponding_day_or_the_month_end(fmt: str, tmp_path: Path) -> None:
    # Decisions on the 28th–31st, short (3 months) and long (1 year) periods, one leap day.
    cases = {1: ("警告", date(2025, 11, 29)), 2: ("警告", date(2025, 11, 30)), 3: ("警告", date(2025, 12, 31)),
             4: ("警告", date(2026, 1, 29)), 5: ("警告", date(2026, 1, 31)), 6: ("罚款", date(2025, 3, 31)),
             7: ("罚款", date(2025, 2, 28)), 8: ("罚款", date(2024, 2, 29)), 9: ("罚款", date(2025, 5, 31))}
    path = write_table(tmp_path / f"ends.{fmt}", NATIONAL,
                       [penalty(n, cat, day.isoformat()) for n, (cat, day) in cases.items()])

    def end(n: int) -> date:
        category, decided = cases[n]
        return civil_period_end(decided, months=3) if category == "警告" else civil_period_end(decided, years=1)

    for n in cases:  # public on its last day, withdrawn (期满) the day after, with that day as withdrawn_on
        last = end(n)
        _, on_last = ingest([path], tmp_path / f"a{n}", last)
        assert entries_by(on_last)[f"达市监处罚〔2026〕{n}号"]["publish_until"] == last.isoformat()
        _, after = ingest([path], tmp_path / f"b{n}", last + timedelta(days=1))
        assert f"达市监处罚〔2026〕{n}号" not in entries_by(after)
        gone = [t for t in tombstones(after).values() if t["withdrawn_on"] == (last + timedelta(days=1)).isoformat()]
        assert gone and all(t["reason"] == "期满" for t in gone)


@pytest.mark.parametrize("fmt", FORMATS)
def test_file_periods_are_clamped_to_the_list_bounds_and_reported_per_row(fmt: str, tmp_path: Path) -> None:
    decided = date(2026, 3, 10)
    two_months = civil_period_end(decided, months=2)
    rows = [
        penalty(1, "罚款", decided.isoformat(), two_months.isoformat()),  # below the 1-year minimum
        penalty(2, "警告", decided.isoformat(), civil_period_end(decided, months=1).isoformat()),  # below 3 months
        penalty(3, "罚款", decided.isoformat(), "长期"),  # forever on a list with a 3-year maximum
        penalty(4, "罚款", decided.isoformat(), "2031-01-01"),  # beyond 3 years
        penalty(5, "罚款", decided.isoformat(), civil_period_end(decided, years=2).isoformat()),  # within bounds
    ]
    black_header = ["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "公布截止日期", "认定部门", "认定文书号"]
    black = [["达州市长期失信建筑有限公司", ORG, uscc("91511700MA6400001"), "严重违法失信企业名单", "2026-01-05", "长期",
              AUTHORITY, "达市监〔2026〕9号"]]
    penalties = write_table(tmp_path / f"xzcf.{fmt}", NATIONAL, rows)
    blacks = write_table(tmp_path / f"black.{fmt}", black_header, black)
    manifest, version = ingest([penalties, blacks], tmp_path / "snap", date(2026, 4, 1))
    entries = entries_by(version)
    one_year, three_months = civil_period_end(decided, years=1), civil_period_end(decided, months=3)
    three_years = civil_period_end(decided, years=3)
    assert entries["达市监处罚〔2026〕1号"]["publish_until"] == one_year.isoformat()
    assert entries["达市监处罚〔2026〕2号"]["publish_until"] == three_months.isoformat()
    assert entries["达市监处罚〔2026〕3号"]["publish_until"] == three_years.isoformat()
    assert entries["达市监处罚〔2026〕4号"]["publish_until"] == three_years.isoformat()
    assert entries["达市监处罚〔2026〕5号"]["publish_until"] == civil_period_end(decided, years=2).isoformat()
    # The black list: 20 working days of notice, then at most 3 years from the first public day.
    first_public = walk_working_days(date(2026, 1, 5), 20) + timedelta(days=1)
    assert entries["达市监〔2026〕9号"]["publish_until"] == civil_period_end(first_public, years=3).isoformat()

    report = manifest["period_adjustments"]
    assert report["total"] == 5 and report["by_kind"] == {"below_min": 2, "above_max": 3}
    by_row = {(item["source"], item["row"]): item for item in report["listed"]}
    assert by_row[(penalties.name, 2)] == {"source": penalties.name, "row": 2, "list_code": "XZCF",
                                           "id": entries["达市监处罚〔2026〕1号"]["id"], "kind": "below_min",
                                           "given": two_months.isoformat(), "applied": one_year.isoformat()}
    assert by_row[(penalties.name, 4)]["given"] == "长期"
    assert by_row[(blacks.name, 2)]["kind"] == "above_max" and by_row[(blacks.name, 2)]["given"] == "长期"
    assert (penalties.name, 6) not in by_row  # within bounds: not adjusted, not reported


def test_ingest_summary_names_each_clamped_row(tmp_path: Path) -> None:
    path = write_table(tmp_path / "xzcf.csv", NATIONAL, [penalty(1, "罚款", "2026-03-10", "长期")])
    result = CliRunner().invoke(app, ["ingest", str(path), "--snapshots", str(tmp_path / "snap"),
                                      "--as-of", "2026-04-01"], env={**os.environ, "COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "公布期限已按名单最长期限调整" in result.output and "xzcf.csv 第2行" in result.output
    assert f"按 {civil_period_end(date(2026, 3, 10), years=3).isoformat()} 公布" in result.output


@pytest.mark.parametrize("fmt", FORMATS)
def test_full_width_date_separators_are_folded(fmt: str, tmp_path: Path) -> None:
    cells = ["2025／3／5", "2025．3．5", "2025－03－05", "２０２５／３／５", "2025年3月5日"]
    path = write_table(tmp_path / f"dates.{fmt}", NATIONAL, [penalty(n, "罚款", cell) for n, cell in enumerate(cells)])
    manifest, version = ingest([path], tmp_path / "snap", date(2025, 3, 6))
    assert manifest["counts"]["rejected"] == 0
    assert {e["decision_date"] for e in entries_by(version).values()} == {"2025-03-05"}
