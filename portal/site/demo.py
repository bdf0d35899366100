"""A small, deterministic public snapshot for tests and local previews of the site.

``write_demo_snapshot(root)`` writes ~50 masked entries over all kinds of list (organisations and natural
persons, every public status), a few tombstones and a change log through ``portal.public.snapshot.write_snapshot``.
It contains no real person or company: names are invented, ID numbers are already in their masked form.

    python -m portal.site.demo var/demo-snapshots     # then PORTAL_SNAPSHOT=var/demo-snapshots/latest
"""

from __future__ import annotations

import hashlib
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stdnum.cn import uscc as uscc_check

from portal.public.snapshot import write_snapshot

DATA_AS_OF = date(2026, 11, 20)
REGIONS = ("通川区", "达川区", "宣汉县", "开江县", "大竹县", "渠县", "万源市")
AUTHORITIES = {
    "black": ("达州市市场监督管理局", "国家税务总局达州市税务局", "达州市人力资源和社会保障局", "达州市中级人民法院"),
    "red": ("国家税务总局达州市税务局", "达州市市场监督管理局", "达州市发展和改革委员会"),
    "watch": ("达州市市场监督管理局",),
    "decision": ("达州市生态环境局", "达州市交通运输局", "达州市市场监督管理局"),
}
COMPANY_WORDS = ("澄岚", "和秀", "廖亭", "磐溪", "嘉陵", "巴山", "凤凰", "莲湖", "翠屏", "明月", "铁山", "州河",
                 "罗江", "南坝", "双龙", "金垭", "石桥", "青宁", "碑庙", "亭子", "安云", "龙会", "东岳", "复兴",
                 "麻柳", "蒲家", "河市", "江陵", "百节", "赵固")
TRADES = ("建筑劳务有限公司", "商贸有限公司", "建材有限责任公司", "矿业有限公司", "食品有限公司", "物流有限公司",
          "餐饮店", "农业开发有限公司")
PERSON_NAMES = ("王伟", "李娜", "张敏", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴芳")
# (list code, list name, kind, how many organisations, how many persons)
PLAN = (
    ("YZWFSX", "严重违法失信企业名单", "black", 6, 0),
    ("ZDSSWF", "重大税收违法失信主体名单", "black", 4, 2),
    ("TQNMGGZ", "拖欠农民工工资失信联合惩戒对象名单", "black", 4, 2),
    ("SXBZXR", "失信被执行人名单", "black", 3, 3),
    ("AQSCSX", "安全生产失信惩戒名单", "black", 2, 0),
    ("ZDGZ", "重点关注名单", "watch", 4, 0),
    ("AJNSR", "A级纳税人名单", "red", 6, 0),
    ("CXSFQY", "诚信示范企业名单", "red", 3, 0),
    ("CXGR", "诚信个人", "red", 0, 2),
    ("XZCF", "行政处罚", "decision", 4, 1),
    ("XZXK", "行政许可", "decision", 3, 1),
)


def _id(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _uscc(n: int) -> str:
    body = f"91511700MA6{n:06d}"
    return body + uscc_check.calc_check_digit(body)


def _masked_id(n: int) -> str:
    return f"5117**********{n % 10000:04d}"[:14] + f"{(n * 37) % 1000:03d}X"


def demo_entries() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    n = 0
    for code, name, kind, orgs, persons in PLAN:
        for i in range(orgs + persons):
            n += 1
            is_person = i >= orgs
            decided = DATA_AS_OF - timedelta(days=9 * n + 3)
            status = "已公布"
            notice_until = None
            if code in ("YZWFSX", "CXSFQY") and i == 0:
                status, decided = "公示中", DATA_AS_OF - timedelta(days=4)
                notice_until = (DATA_AS_OF + timedelta(days=24)).isoformat()
            elif code in ("SXBZXR", "ZDSSWF") and i == 1:
                status = "异议处理中"
            subject = (PERSON_NAMES[n % len(PERSON_NAMES)] if is_person
                       else COMPANY_WORDS[n % len(COMPANY_WORDS)] + ("实业" if n > 30 else "") + TRADES[n % len(TRADES)])
            if code == "CXGR" and is_person:  # masking.toml shows honour-list persons as 张*三
                subject = subject[0] + "*" + subject[1:] if len(subject) > 2 else subject[0] + "*"
            authority = AUTHORITIES[kind][n % len(AUTHORITIES[kind])]
            years = 1 if kind in ("red", "watch", "decision") else 3
            publish_from = (date.fromisoformat(notice_until) + timedelta(days=1)) if notice_until else decided
            details: dict[str, str] = {}
            if code == "XZCF":  # canonical keys of the header mapping, as ingest stores them
                details = {"penalty_category": "罚款", "fine_amount": f"{(n % 9) + 1}.5",
                           "authority_uscc": _uscc(900 + n)}
            elif code == "XZXK":
                details = {"licence_doc_name": "准予行政许可决定书", "licence_category": "普通",
                           "licence_cert_name": "道路运输经营许可证", "licence_no": f"川交运管许可达字{n:06d}号",
                           "licence_content": "道路普通货物运输", "valid_from": decided.isoformat(),
                           "valid_until": decided.replace(year=decided.year + 4).isoformat(),
                           "authority_uscc": _uscc(900 + n)}
            facts = f"经查，该主体于{decided.year}年存在{'守信' if kind == 'red' else '违法失信'}行为，事实清楚，证据确凿。"
            if n == 7:  # a value a spreadsheet would run as a formula, to prove downloads defuse it
                facts = '=HYPERLINK("http://example.invalid","详情")'
                details = {"备注": "-1+1"}
            entries.append({
                "id": _id(code, subject, str(n)),
                "list_code": code, "list_name": name, "list_kind": kind,
                "subject_name": subject,
                "subject_type": "自然人" if is_person else ("个体工商户" if "店" in subject else "法人及非法人组织"),
                "is_person": is_person,
                "uscc": None if is_person else _uscc(n), "reg_no": None,
                "id_type": "居民身份证" if is_person else None,
                "id_number": _masked_id(n) if is_person else None,
                "legal_rep": None if is_person else PERSON_NAMES[(n + 3) % len(PERSON_NAMES)],
                "legal_rep_id_type": None, "legal_rep_id_number": None,
                "facts": facts,
                "basis": "《达州市守信联合激励和失信联合惩戒实施办法》",
                "decision_no": f"达市{'信' if kind != 'decision' else '罚'}〔{decided.year}〕{n}号",
                "authority": authority,
                "decision_date": decided.isoformat(),
                "notice_until": notice_until,
                "publish_from": publish_from.isoformat(),
                # 失信被执行人 stay until the court removes them (no period in the catalogue)
                "publish_until": None if code == "SXBZXR" else publish_from.replace(year=publish_from.year + years).isoformat(),
                "region": REGIONS[n % len(REGIONS)],
                "phone": None,
                "address": (REGIONS[n % len(REGIONS)] + "***") if is_person else f"四川省达州市{REGIONS[n % len(REGIONS)]}{n}号",
                "status": status,
                "details": details,
                "id_digest": None, "legal_rep_id_digest": None, "uscc_digest": None,
                "source": {"file": "demo.csv", "row": n + 1, "batch": "demo0001", "imported_at": "2026-11-20T02:00:00+08:00"},
            })
    _share_subjects(entries)
    return entries


# One company on several lists (一户一档): the second 严重违法失信企业 is also under key attention and has a
# 行政处罚 decision. Ids stay as generated (an entry's id does not depend on which subject it turned out to be).
SHARED_SUBJECT = (("YZWFSX", 1), (("ZDGZ", 0), ("XZCF", 0)))


def _share_subjects(entries: list[dict[str, Any]]) -> None:
    (owner_code, owner_index), others = SHARED_SUBJECT
    by_code: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        if not entry["is_person"]:
            by_code.setdefault(entry["list_code"], []).append(entry)
    owner = by_code[owner_code][owner_index]
    for code, index in others:
        other = by_code[code][index]
        for key in ("subject_name", "subject_type", "uscc", "legal_rep", "region", "address"):
            other[key] = owner[key]


def demo_tombstones() -> list[dict[str, Any]]:
    rows = (("YZWFSX", "严重违法失信企业名单", "black", False, "信用修复"),
            ("SXBZXR", "失信被执行人名单", "black", True, "移出"),
            ("AJNSR", "A级纳税人名单", "red", False, "期满"),
            ("XZCF", "行政处罚", "decision", False, "撤销"))
    return [{"id": _id("withdrawn", code, str(i)), "list_code": code, "list_name": name, "list_kind": kind,
             "is_person": person, "withdrawn_on": (DATA_AS_OF - timedelta(days=i + 1)).isoformat(), "reason": reason}
            for i, (code, name, kind, person, reason) in enumerate(rows)]


def demo_changes(entries: list[dict[str, Any]], tombstones: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changes = [{"op": "added", "id": e["id"], "list_code": e["list_code"], "at": DATA_AS_OF.isoformat()}
               for e in entries[:8]]
    changes += [{"op": "withdrawn", "id": t["id"], "list_code": t["list_code"], "at": DATA_AS_OF.isoformat()}
                for t in tombstones]
    return changes


def write_demo_snapshot(root: Path, entries: list[dict[str, Any]] | None = None,
                        measures: dict[str, Any] | None = None) -> Path:
    """Write the demo snapshot under ``root`` (``root/latest`` points at it); returns the version dir.
    ``measures`` (public form) defaults to the measures catalogue in use (``PORTAL_MEASURES``)."""
    entries = demo_entries() if entries is None else entries
    tombstones = demo_tombstones()
    return write_snapshot(root, entries, tombstones, data_as_of=DATA_AS_OF,
                          changes=demo_changes(entries, tombstones), measures=measures)


if __name__ == "__main__":
    print(write_demo_snapshot(Path(sys.argv[1] if len(sys.argv) > 1 else "var/demo-snapshots")))
