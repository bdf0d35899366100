"""Test data for the engine and API tests: a small but realistic snapshot written with the lead's
``portal.public.snapshot.write_snapshot`` (the one writer of snapshots)."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from portal.public.digest import Digester, normalise_for_digest
from portal.public.snapshot import write_snapshot

TEST_TODAY = date(2026, 11, 23)
TEST_HMAC_KEY = "test-only-hmac-key-for-search-api-tests-0123456789"
_DIGESTER = Digester(TEST_HMAC_KEY.encode())

LIST_NAMES = {"YZWFSX": ("严重违法失信企业名单", "black"), "SXBZXR": ("失信被执行人名单", "black"),
              "ZDGZ": ("重点关注名单", "watch"), "AJNSR": ("A级纳税人名单", "red"), "CXGR": ("诚信个人", "red"),
              "XZCF": ("行政处罚", "decision"), "TQNMGGZ": ("拖欠农民工工资失信联合惩戒对象名单", "black")}


def sample_digest(number: str) -> str:
    return _DIGESTER.digest(normalise_for_digest(number))


def make_entry(subject_name: str, *, list_code: str = "YZWFSX", decision_date: str = "2026-01-10",
               is_person: bool = False, raw_id: str | None = None, raw_rep_id: str | None = None,
               **fields: Any) -> dict[str, Any]:
    """One public entry with every PublicEntry key; ``raw_id``/``raw_rep_id`` only feed the digests."""
    list_name, list_kind = LIST_NAMES[list_code]
    entry_id = hashlib.sha256(f"{list_code}|{subject_name}|{decision_date}|{fields.get('decision_no')}|"
                              f"{fields.get('uscc')}".encode()).hexdigest()[:16]
    entry: dict[str, Any] = {
        "id": entry_id, "list_code": list_code, "list_name": list_name, "list_kind": list_kind,
        "subject_name": subject_name, "subject_type": "自然人" if is_person else "法人及非法人组织",
        "is_person": is_person, "uscc": None, "reg_no": None,
        "id_type": "居民身份证" if raw_id else None,
        "id_number": (raw_id[:4] + "*" * 10 + raw_id[-4:]) if raw_id else None,
        "legal_rep": None, "legal_rep_id_type": "居民身份证" if raw_rep_id else None,
        "legal_rep_id_number": (raw_rep_id[:4] + "*" * 10 + raw_rep_id[-4:]) if raw_rep_id else None,
        "facts": None, "basis": None, "decision_no": None, "authority": "达州市市场监督管理局",
        "decision_date": decision_date, "notice_until": None, "publish_from": decision_date,
        "publish_until": "2029-01-10", "region": "通川区", "phone": None, "address": None, "status": "已公布",
        "details": {}, "id_digest": sample_digest(raw_id) if raw_id else None,
        "legal_rep_id_digest": sample_digest(raw_rep_id) if raw_rep_id else None,
        "uscc_digest": None,
        "source": {"file": "test.csv", "row": 2, "batch": "test", "imported_at": "2026-11-23T10:00:00+08:00"},
    }
    entry.update(fields)
    if entry["uscc"]:
        entry["uscc_digest"] = sample_digest(entry["uscc"])
    return entry


PERSON_ID = "51170219850312123X"
REP_ID = "511702197801011234"
USCC_A = "91511700MA62ABCD1X"
USCC_B = "91511702MA6200002Y"


def sample_entries() -> list[dict[str, Any]]:
    return [
        make_entry("王伟", list_code="SXBZXR", is_person=True, raw_id=PERSON_ID, decision_date="2026-03-01",
                   subject_type="自然人", facts="拒不履行生效判决", authority="达州市中级人民法院",
                   decision_no="（2026）川17执123号"),
        make_entry("王伟东", list_code="SXBZXR", is_person=True, raw_id="511702199001011111",
                   decision_date="2026-05-01", subject_type="自然人", authority="达州市中级人民法院"),
        make_entry("达州市王伟建材经营部", list_code="ZDGZ", decision_date="2026-06-01", subject_type="个体工商户",
                   uscc="92511702MA6XYZ001A", region="达川区"),
        make_entry("達州市某某建築工程有限公司", uscc=USCC_A, decision_date="2026-02-01", legal_rep="李明",
                   raw_rep_id=REP_ID, decision_no="达市监处罚〔2024〕12号", facts="提供虚假材料骗取登记，法定代表人王伟知情"),
        make_entry("达州市某某建筑工程有限公司", list_code="AJNSR", uscc=USCC_A, decision_date="2025-12-01",
                   authority="国家税务总局达州市税务局"),
        make_entry("臺灣某某貿易有限公司", list_code="XZCF", uscc=USCC_B, decision_date="2026-04-01",
                   facts="未按规定公示年度报告", details={"penalty_category": "罚款", "fine_amount": "1.5"}),
        make_entry("ＡＢＣ科技（达州）有限公司", decision_date="2026-07-01", uscc="91511700MA62ABC00Q",
                   facts="abc test \"quoted\" NEAR(x) -y * ^z AND (w)"),
        make_entry("过期公司", decision_date="2023-01-01", publish_until="2026-11-22", uscc="91511700MA62EXP01K"),
        make_entry("今日到期公司", decision_date="2023-01-02", publish_until="2026-11-23"),
        make_entry("诚信个人张三", list_code="CXGR", is_person=True, decision_date="2026-08-01",
                   subject_type="自然人", raw_id="511702199202022222"),
        make_entry("<script>alert(1)</script>王伟商行", decision_date="2025-06-01"),
    ]


WITHDRAWN_ID = "0123456789abcdef"


def sample_tombstones() -> list[dict[str, Any]]:
    return [{"id": WITHDRAWN_ID, "list_code": "YZWFSX", "list_name": "严重违法失信企业名单", "list_kind": "black",
             "is_person": False, "withdrawn_on": "2026-11-20", "reason": "信用修复"}]


def sample_changes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return ([{"op": "added", "id": e["id"], "list_code": e["list_code"], "at": "2026-11-23"} for e in entries]
            + [{"op": "withdrawn", "id": WITHDRAWN_ID, "list_code": "YZWFSX", "at": "2026-11-23"}])


def write_test_snapshot(root: Path, entries: list[dict[str, Any]] | None = None, *,
                        data_as_of: date = TEST_TODAY) -> Path:
    """Write the sample snapshot under ``root``; returns ``root/latest``."""
    entries = sample_entries() if entries is None else entries
    write_snapshot(root, entries, sample_tombstones(), data_as_of=data_as_of, changes=sample_changes(entries))
    return root / "latest"
