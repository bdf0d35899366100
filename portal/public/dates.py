"""Dates as departments write them: ISO, 2024年3月5日, 2024/3/5, 2024.3.5, 20240305, Excel serials."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from portal.settings import EXCEL_SERIAL_MAX, EXCEL_SERIAL_MIN, SHANGHAI

_YMD_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_COMPACT_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL_RE = re.compile(r"^\d{5}(?:\.0+)?$")
EXCEL_EPOCH = date(1899, 12, 30)  # Excel's day 0 once its 1900 leap-year bug is accounted for
OPEN_ENDED = frozenset({"长期", "长期有效", "永久", "无期限", "至今", "-", "—", "无"})


class DateError(ValueError):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def parse_date(value: str) -> date:
    """Parse one date or raise DateError naming the accepted forms."""
    text = value.strip()
    match = _YMD_RE.match(text) or _COMPACT_RE.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    elif _SERIAL_RE.match(text) and EXCEL_SERIAL_MIN <= float(text) <= EXCEL_SERIAL_MAX:
        return EXCEL_EPOCH + timedelta(days=int(float(text)))
    else:
        raise DateError(f"无法识别的日期“{text[:20]}”，应为 2024-03-05、2024年3月5日 或 2024/3/5",
                        f"unrecognised date {text[:20]!r}; use 2024-03-05, 2024年3月5日 or 2024/3/5")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError(f"日期不存在：{text[:20]}", f"no such date: {text[:20]}") from None


def is_open_ended(value: str) -> bool:
    """An end date such as 长期 (licences without expiry)."""
    return value.strip() in OPEN_ENDED


def today_shanghai() -> date:
    return datetime.now(SHANGHAI).date()


def format_zh(day: date) -> str:
    """2024年3月5日, the way dates are shown on the site."""
    return f"{day.year}年{day.month}月{day.day}日"


def add_months(day: date, months: int) -> date:
    """Calendar months; the 31st becomes the last day of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")
