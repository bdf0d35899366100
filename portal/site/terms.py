"""The words a page uses for an entry's fields: each list's own terms, and Chinese labels for details.

双公示 records are not 认定 decisions: a 行政处罚 has a 处罚机关 and a 处罚决定书文号, a 行政许可 a 许可机关 and a
行政许可决定文书号 (the national 双公示 data templates, domain.md). Every other list uses the import contract's
words (认定部门, 认定文书号 …). The extra columns an entry carries in ``details`` are keyed by the canonical
keys of the header mapping (portal/data/headers.toml); their Chinese label is that file's ``label`` — one
source for import and display — with a unit in brackets shown after the value (19.04 万元).
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

HEADERS_FILE = Path(__file__).resolve().parents[1] / "data" / "headers.toml"

# The import contract's words for the core fields of an entry (the CSV and entry pages of every list).
DEFAULT_TERMS: dict[str, str] = {
    "authority": "认定部门", "decision_no": "认定文书号", "decision_date": "认定日期", "facts": "认定事实",
    "basis": "认定依据",
}
# Each 双公示 list's own terms (national 行政处罚 / 行政许可 data templates).
LIST_TERMS: dict[str, dict[str, str]] = {
    "XZCF": {"authority": "处罚机关", "decision_no": "处罚决定书文号", "decision_date": "处罚决定日期",
             "facts": "违法事实", "basis": "处罚依据"},
    "XZXK": {"authority": "许可机关", "decision_no": "行政许可决定文书号", "decision_date": "许可决定日期",
             "facts": "许可事项说明", "basis": "许可依据"},
}
# Labels that differ by list although the canonical key is shared (authority_uscc holds both).
LIST_DETAIL_LABELS: dict[str, dict[str, str]] = {
    "XZXK": {"authority_uscc": "许可机关统一社会信用代码"},
}
_UNIT = re.compile(r"^(?P<label>.+?)[（(](?P<unit>[^）)]+)[）)]$")
# Units that are part of a label but never a value's unit (a bracket that explains rather than measures).
VALUE_UNITS = frozenset({"万元", "元", "天", "个月", "年"})


def terms_for(list_code: str) -> dict[str, str]:
    """The labels of authority, decision_no, decision_date, facts and basis for a list."""
    return {**DEFAULT_TERMS, **LIST_TERMS.get(list_code, {})}


@lru_cache(maxsize=1)
def detail_labels() -> dict[str, str]:
    """Canonical key → Chinese label (as written in headers.toml, unit brackets included)."""
    with open(HEADERS_FILE, "rb") as f:
        raw = tomllib.load(f)
    labels = {key: str(spec.get("label") or key) for key, spec in raw.get("keys", {}).items()}
    labels.setdefault("bank_account", "银行账号")
    return labels


def detail_items(details: dict[str, Any] | None, list_code: str = "") -> list[tuple[str, str]]:
    """``(label, value)`` of an entry's details in a stable order, value with its unit (罚款金额, 19.04 万元).

    A key the header mapping does not know (a Chinese header kept as written) is shown as it came.
    """
    if not details:
        return []
    labels = {**detail_labels(), **LIST_DETAIL_LABELS.get(list_code, {})}
    order = {key: n for n, key in enumerate(labels)}
    items = []
    for key in sorted(details, key=lambda k: (order.get(k, len(order)), k)):
        value = str(details[key])
        label = labels.get(key, key)
        match = _UNIT.match(label)
        if match and match["unit"] in VALUE_UNITS:
            label, value = match["label"], f"{value} {match['unit']}"
        items.append((label, value))
    return items


def details_text(details: dict[str, Any] | None, list_code: str = "") -> str:
    """The details as one CSV cell: 罚款金额：19.04 万元；处罚类别：罚款."""
    return "；".join(f"{label}：{value}" for label, value in detail_items(details, list_code))
