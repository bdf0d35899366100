"""Jinja filters and labels shared by every template: Chinese dates, list kinds, withdrawal reasons."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape

from portal.public.dates import format_zh
from portal.public.states import SUSPENDED, SUSPENDED_TEXT, WITHDRAWN
from portal.settings import SHANGHAI
from portal.site.terms import detail_items, terms_for

# Red and black are never told apart by colour alone: every kind has a text label and an icon.
KIND_LABELS: dict[str, str] = {"red": "红名单", "black": "黑名单", "watch": "重点关注名单", "decision": "双公示"}
KIND_ICONS: dict[str, str] = {"red": "✓", "black": "✕", "watch": "!", "decision": "§"}
KIND_DESCRIPTIONS: dict[str, str] = {
    "red": "守信激励对象：依法依规认定的诚信主体，享受联合激励措施。",
    "black": "失信惩戒对象：严重失信主体，依法依规实施联合惩戒措施。",
    "watch": "重点关注对象：存在失信行为、需要加强监管的主体。",
    "decision": "行政许可与行政处罚信息（双公示）。",
}
KIND_ORDER = ("red", "black", "watch", "decision")

# Why an entry stopped being public, in general terms only (a tombstone never names the subject).
REASON_TEXTS: dict[str, str] = {
    "期满": "公示期限届满，依规停止公示。",
    "信用修复": "主体已完成信用修复，依规提前停止公示。",
    "撤销": "认定决定已被撤销，依规停止公示。",
    "异议更正": "经异议核查，相关信息已更正，原信息停止公示。",
    "移出": "认定部门已将其移出名单，依规停止公示。",
    SUSPENDED: SUSPENDED_TEXT,
}


def to_date(value: Any) -> date | None:
    """Accept a date, a datetime (converted to Asia/Shanghai) or an ISO string; None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI)
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def zh_date(value: Any) -> str:
    """2024-03-05 → 2024年3月5日 (no leading zeros, as Chinese government documents write dates)."""
    day = to_date(value)
    return format_zh(day) if day is not None else ""


def time_tag(value: Any) -> Markup:
    """A ``<time datetime="2024-03-05">2024年3月5日</time>`` element; empty for no date."""
    day = to_date(value)
    if day is None:
        return Markup("")
    # plain concatenation: Markup.format goes through string.Formatter, which shows in build profiles
    return Markup(f'<time datetime="{day.isoformat()}">{format_zh(day)}</time>')


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def kind_badge(kind: str) -> Markup:
    """A badge with an icon and a text label, so the kind is readable without colour."""
    if kind in _BADGES:
        return _BADGES[kind]
    return Markup('<span class="badge badge-other"><span aria-hidden="true">•</span> {}</span>').format(kind)


_BADGES = {kind: Markup(f'<span class="badge badge-{kind}"><span aria-hidden="true">{KIND_ICONS[kind]}</span> '
                        f'{escape(label)}</span>') for kind, label in KIND_LABELS.items()}


def reason_text(reason: str) -> str:
    return REASON_TEXTS.get(reason, "依规停止公示。")


def human_size(size: int) -> str:
    """File sizes as people read them: 12.3 KB, 1.2 MB."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def thousands(value: int) -> str:
    return f"{value:,}"


def state_title(reason: str) -> str:
    """The heading of a page whose entry is not public: suspended under objection, or no longer published."""
    return SUSPENDED if reason == SUSPENDED else WITHDRAWN


JINJA_FILTERS = {
    "zh_date": zh_date,
    "time_tag": time_tag,
    "kind_label": kind_label,
    "kind_badge": kind_badge,
    "reason_text": reason_text,
    "state_title": state_title,
    "human_size": human_size,
    "thousands": thousands,
    "list_terms": terms_for,
    "detail_items": detail_items,
    "subject_key": lambda e: subject_key(e),
    "issuers": lambda text: split_issuers(text),
}

_ISSUER_SEPARATORS = re.compile(r"[、，,；;/]+")


def split_issuers(text: str | None) -> list[str]:
    """The issuers of a jointly issued document (四川省发展和改革委员会、中国人民银行…), each on its own."""
    return [part.strip() for part in _ISSUER_SEPARATORS.split(text or "") if part.strip()]


def subject_key(entry: Any) -> str | None:
    """The key of an organisation's or 个体工商户's subject page (一户一档): its USCC, else its registration
    number; None for natural persons (they get no public subject page) and for subjects with neither."""
    if entry.get("is_person"):
        return None
    return entry.get("uscc") or entry.get("reg_no") or None
