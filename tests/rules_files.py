"""Helpers for the rule tests: department files written as real CSV (GB18030) and XLSX, run through ingest,
and the law's own arithmetic, written out here independently of portal's code."""

from __future__ import annotations

import calendar
import csv
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import chinese_calendar
import openpyxl
from stdnum.cn import uscc as stdnum_uscc

from portal.ingest.identifiers import ric_check_digit
from portal.ingest.pipeline import SourceSpec, run_ingest
from portal.public import snapshot as snap

KEY = b"test-only-hmac-key-0123456789abcdef"
FORMATS = ("csv", "xlsx")


def uscc(body17: str) -> str:
    return body17 + stdnum_uscc.calc_check_digit(body17)


def resident_id(body17: str) -> str:
    return body17 + ric_check_digit(body17)


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """A department file: GB18030 CSV (as Excel saves it in China) or an XLSX workbook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with open(path, "w", encoding="gb18030", newline="") as f:
            csv.writer(f).writerows([list(header), *[list(r) for r in rows]])
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(header))
        for row in rows:
            sheet.append(list(row))
        book.save(path)
    return path


def ingest(paths: Sequence[Path], root: Path, as_of: date, **kwargs: Any) -> tuple[dict[str, Any], Path]:
    result = run_ingest([SourceSpec(str(p)) for p in paths], root, as_of=as_of, key=KEY, workers=1, **kwargs)
    return result.manifest, result.version_dir


def entries_by(version_dir: Path, key: str = "decision_no") -> dict[str, dict[str, Any]]:
    return {e[key]: e for e in snap.iter_entries(version_dir)}


def tombstones(version_dir: Path) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in snap.iter_tombstones(version_dir)}


def civil_period_end(first_public_day: date, *, years: int = 0, months: int = 0) -> date:
    """民法典 第二百零一条: the starting day (the day before the first public day) is not counted;
    第二百零二条: the period ends on the corresponding day of the last month, or that month's last day."""
    start = first_public_day - timedelta(days=1)
    index = start.month - 1 + years * 12 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def walk_working_days(start: date, count: int, is_day_off: Any = None) -> date:
    """The ``count``-th working day after ``start``, walking the official calendar one day at a time."""
    day = start
    while count:
        day += timedelta(days=1)
        off = is_day_off(day) if is_day_off else not chinese_calendar.is_workday(day)
        if not off:
            count -= 1
    return day
