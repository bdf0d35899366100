"""Bulk downloads (数据开放): per-list CSV and JSON of the masked public data, organisations only.

Natural persons are left out of bulk files (they are found one by one through the rate-limited search),
so that a download can not be used to enumerate persons. CSV cells that a spreadsheet would run as a
formula are defused with a leading apostrophe (OWASP CSV injection), and the file carries a UTF-8 BOM so
that Excel opens it in Chinese.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

import orjson

from portal.site.snapshot_view import public_record

# Column order and Chinese headers of the CSV (the JSON keeps the English keys of PublicEntry).
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "编号"), ("list_code", "名单代码"), ("list_name", "名单名称"), ("subject_name", "主体名称"),
    ("subject_type", "主体类别"), ("uscc", "统一社会信用代码"), ("reg_no", "注册号"), ("legal_rep", "法定代表人"),
    ("facts", "认定事实"), ("basis", "认定依据"), ("decision_no", "认定文书号"), ("authority", "认定部门"),
    ("decision_date", "认定日期"), ("notice_until", "公示截止日期"), ("publish_from", "公布起始日期"),
    ("publish_until", "公布截止日期"), ("region", "所属区域"), ("address", "住所"), ("status", "状态"),
    ("details", "其他信息"), ("url", "网页地址"),
)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def defuse_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would evaluate (= + - @ tab CR at the start)."""
    if value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def downloadable(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that may go into bulk files: organisations only, without digests or provenance."""
    return [public_record(e) for e in entries if not e["is_person"]]


def _cell(record: dict[str, Any], key: str, site_url: str) -> str:
    if key == "url":
        return f"{site_url}/entries/{record['id']}/"
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, dict):
        return "；".join(f"{k}：{v}" for k, v in sorted(value.items()))
    return str(value)


def to_csv(records: list[dict[str, Any]], site_url: str = "") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([header for _, header in CSV_COLUMNS])
    for record in records:
        writer.writerow([defuse_cell(_cell(record, key, site_url)) for key, _ in CSV_COLUMNS])
    return buffer.getvalue().encode("utf-8-sig")


def to_json(records: list[dict[str, Any]], *, list_code: str, data_as_of: str, site_url: str = "") -> bytes:
    document = {
        "list_code": list_code,
        "data_as_of": data_as_of,
        "count": len(records),
        "note": "仅含法人及非法人组织、个体工商户的脱敏公开信息；自然人信息请通过信用查询逐条查询。",
        "entries": [{**r, "url": f"{site_url}/entries/{r['id']}/"} for r in records],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)
