"""Synthetic public snapshots for bench_site.py: N masked entries shaped like the demo snapshot's.

Entries are spread over the demo snapshot's lists with the demo's mix of organisations and persons, of
statuses and of field sizes (an entry page is about the size of a real one). ``changed_entries`` alters the
``facts`` of a fixed share of them, which is what a daily import mostly does.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from portal.public.snapshot import write_snapshot
from portal.site.demo import (
    AUTHORITIES,
    COMPANY_WORDS,
    DATA_AS_OF,
    PERSON_NAMES,
    PLAN,
    REGIONS,
    TRADES,
    _masked_id,
    _uscc,
)


def _id(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def synthetic_entries(count: int) -> list[dict[str, Any]]:
    weights = [(code, name, kind, orgs, persons) for code, name, kind, orgs, persons in PLAN]
    slots = [(code, name, kind, i >= orgs) for code, name, kind, orgs, persons in weights
             for i in range(orgs + persons)]
    entries = []
    for n in range(count):
        code, name, kind, is_person = slots[n % len(slots)]
        decided = DATA_AS_OF - timedelta(days=n * 1000 // max(count, 1) + 3)
        status, notice_until = "已公布", None
        if n % 20 == 0 and not is_person:
            status, decided = "公示中", DATA_AS_OF - timedelta(days=n % 7)
            notice_until = (DATA_AS_OF + timedelta(days=24)).isoformat()
        elif n % 97 == 1:
            status = "异议处理中"
        subject = (PERSON_NAMES[n % len(PERSON_NAMES)] + PERSON_NAMES[(n // 10) % len(PERSON_NAMES)][1:] if is_person
                   else COMPANY_WORDS[n % len(COMPANY_WORDS)] + COMPANY_WORDS[(n // 30) % len(COMPANY_WORDS)]
                   + TRADES[n % len(TRADES)])
        years = 1 if kind in ("red", "watch", "decision") else 3
        publish_from = DATA_AS_OF + timedelta(days=25) if notice_until else decided
        region = REGIONS[n % len(REGIONS)]
        entries.append({
            "id": _id("bench", code, str(n)),
            "list_code": code, "list_name": name, "list_kind": kind,
            "subject_name": subject,
            "subject_type": "自然人" if is_person else ("个体工商户" if "店" in subject else "法人及非法人组织"),
            "is_person": is_person,
            "uscc": None if is_person else _uscc(n % 1_000_000), "reg_no": None,
            "id_type": "居民身份证" if is_person else None,
            "id_number": _masked_id(n) if is_person else None,
            "legal_rep": None if is_person else PERSON_NAMES[(n + 3) % len(PERSON_NAMES)],
            "legal_rep_id_type": None, "legal_rep_id_number": None,
            "facts": f"经查，该主体于{decided.year}年{decided.month}月存在{'守信' if kind == 'red' else '违法失信'}行为"
                     f"（第{n}号案卷），事实清楚，证据确凿，依法予以认定。",
            "basis": "《达州市守信联合激励和失信联合惩戒实施办法》第十二条",
            "decision_no": f"达市{'信' if kind != 'decision' else '罚'}〔{decided.year}〕{n}号",
            "authority": AUTHORITIES[kind][n % len(AUTHORITIES[kind])],
            "decision_date": decided.isoformat(),
            "notice_until": notice_until,
            "publish_from": publish_from.isoformat(),
            "publish_until": None if code == "SXBZXR" else publish_from.replace(
                year=publish_from.year + years, day=min(publish_from.day, 28)).isoformat(),
            "region": region,
            "phone": None,
            "address": (region + "***") if is_person else f"四川省达州市{region}{n % 500}号",
            "status": status,
            "details": {"处罚类别": "罚款", "罚款金额（万元）": f"{(n % 9) + 1}.5"} if code == "XZCF" else {},
            "id_digest": None, "legal_rep_id_digest": None, "uscc_digest": None,
            "source": {"file": "bench.csv", "row": n + 1, "batch": "bench0001",
                       "imported_at": "2026-11-20T02:00:00+08:00"},
        })
    return entries


def changed_entries(entries: list[dict[str, Any]], share: float, offset: int = 0,
                    note: str = "（经复核更正）") -> list[dict[str, Any]]:
    """A copy of ``entries`` in which every 1/share-th entry (from ``offset``) has new ``facts``
    (e.g. share=0.01: 1%)."""
    step = max(1, round(1 / share))
    return [{**e, "facts": e["facts"] + note} if i % step == offset % step else e for i, e in enumerate(entries)]


def write_bench_snapshot(root: Path, entries: list[dict[str, Any]]) -> Path:
    return write_snapshot(root, entries, [], data_as_of=DATA_AS_OF)
