"""Issue 11, conflicts and exclusions: one organisation under any of its identifiers, persons by ID only,
and the red-list exclusions of lists.toml (诚信示范企业: 经营异常名录, 失信被执行人 of company or 法定代表人)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from rules_files import FORMATS, entries_by, ingest, resident_id, uscc, write_table

from portal.public.catalogue import load_catalogue

HEADER = ["主体名称", "主体类别", "统一社会信用代码", "工商注册号", "组织机构代码", "证件号码", "法定代表人", "法定代表人证件号码",
          "名单名称", "认定日期", "认定部门", "认定文书号"]
ORG, PERSON = "法人及非法人组织", "自然人"
U1, U2, U3, U4, U5, U6, U6B = (uscc(f"91511700MA6{n:06d}") for n in (100001, 100002, 100003, 100004, 100005,
                                                                       100006, 100007))
REG_1, REG_2, REG_5 = "511700000000101", "511700000000102", "511700000000105"
P1, P2, P3 = (resident_id(f"5117021980010{n}12") for n in (1, 2, 3))
AS_OF = date(2026, 11, 23)


def row(name: str, kind: str, list_name: str, no: str, *, code: str = "", reg: str = "", org_code: str = "",
        id_number: str = "", rep: str = "", rep_id: str = "", decided: str = "2026-10-01") -> list[str]:
    return [name, kind, code, reg, org_code, id_number, rep, rep_id, list_name, decided, "达州市发展和改革委员会", no]


BLACK = [
    row("达州市甲建筑工程有限公司", ORG, "严重违法失信企业名单", "B1", code=U1, reg=REG_1, decided="2025-01-06"),
    row("达州市乙商贸有限公司", ORG, "严重违法失信企业名单", "B2", code=U2, reg=REG_2, decided="2025-01-06"),
    row("达州市丙科技有限公司", ORG, "经营异常名录", "W3", code=U3, decided="2026-06-01"),
    row("张三", PERSON, "失信被执行人名单", "B4", id_number=P1, decided="2025-05-01"),
    row("达州市戊（集团）有限公司", ORG, "严重违法失信企业名单", "B5", code=U5, decided="2025-01-06"),
    row("达州市己实业有限公司", ORG, "严重违法失信企业名单", "B6", code=U6, decided="2025-01-06"),
    row("李四", PERSON, "失信被执行人名单", "B7", id_number=P2, decided="2025-05-01"),
]
RED = [
    # name + 注册号 only: the same company as B1 by its full name
    row("达州市甲建筑工程有限公司", ORG, "A级纳税人名单", "R1", reg=REG_1.replace("101", "901")),
    # another name form, but B2's 注册号
    row("达州市乙商贸有限责任公司", ORG, "A级纳税人名单", "R2", reg=REG_2),
    # 组织机构代码 only, written XXXXXXXX-X: characters 9–17 of W3's USCC; 示范企业 excludes the watch list
    row("丙科技", ORG, "诚信示范企业名单", "R3", reg="511700000000303", org_code=f"{U3[8:16]}-{U3[16]}"),
    # the watch list does not exclude A级纳税人: published
    row("达州市丙科技有限公司", ORG, "A级纳税人名单", "R3A", code=U3),
    # 法定代表人 张三 is a 失信被执行人: excluded from 示范企业, not from 守合同重信用企业
    row("达州市丁食品有限公司", ORG, "诚信示范企业名单", "R4", code=U4, rep="张三", rep_id=P1),
    row("达州市丁食品有限公司", ORG, "守合同重信用企业名单", "R4B", code=U4, rep="张三", rep_id=P1),
    # the same name with half-width brackets and a stray space, and a 注册号
    row("达州市戊(集团) 有限公司", ORG, "A级纳税人名单", "R5", reg=REG_5),
    # the same name as B6 but a different USCC: a different company
    row("达州市己实业有限公司", ORG, "A级纳税人名单", "R6", code=U6B),
    # persons by ID number only
    row("李四", PERSON, "诚信个人", "R7", id_number=P2),
    row("李四", PERSON, "诚信个人", "R8", id_number=P3),
]
WITHHELD = {"R1": ("YZWFSX", "name"), "R2": ("YZWFSX", "reg_no"), "R3": ("ZDGZ", "org_code"),
            "R4": ("SXBZXR", "legal_rep"), "R5": ("YZWFSX", "name"), "R7": ("SXBZXR", "id_number")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_red_entries_are_withheld_whatever_identifier_matches_and_reported(fmt: str, tmp_path: Path) -> None:
    black = write_table(tmp_path / f"black.{fmt}", HEADER, BLACK)
    red = write_table(tmp_path / f"red.{fmt}", HEADER, RED)
    manifest, version = ingest([black, red], tmp_path / "snap", AS_OF)
    assert manifest["counts"]["rejected"] == 0, (version / "rejects.csv").read_text(encoding="utf-8-sig")
    public = entries_by(version)
    assert {r[-1] for r in RED} - set(public) == set(WITHHELD)
    assert {r[-1] for r in BLACK} <= set(public)
    assert manifest["counts"]["withheld"]["conflict"] == manifest["conflicts_total"] == len(WITHHELD)
    ids = {e["id"]: no for no, e in public.items()}
    reported = {item["red_id"]: item for item in manifest["conflicts"]}
    assert len(reported) == len(WITHHELD)
    black_ids = {no: e["id"] for no, e in public.items() if no.startswith(("B", "W"))}
    for item in reported.values():
        assert item["red_id"] not in ids  # withheld
    # What the report says for each: the excluding list, how the subject was recognised, and which entry.
    by_red = {}
    for item in reported.values():
        by_red[item["black_id"], item["by_list"], item["matched_by"]] = item
    expected_black = {"R1": "B1", "R2": "B2", "R3": "W3", "R4": "B4", "R5": "B5", "R7": "B7"}
    for no, (by_list, matched_by) in WITHHELD.items():
        assert (black_ids[expected_black[no]], by_list, matched_by) in by_red, no
    # The report never carries an identifier itself (digests, numbers or names).
    text = str(manifest["conflicts"])
    assert P1 not in text and U1 not in text and "张三" not in text


def test_exclusions_are_data_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    model = catalogue.by_code("CXSFQY")
    rules = {(e.kind.value if e.kind else e.code, e.legal_rep) for e in model.excluded_by}
    assert rules == {("black", False), ("ZDGZ", False), ("SXBZXR", True)}
    # Every red list keeps the conflict rule even when lists.toml does not write it.
    assert all(any(e.kind and e.kind.value == "black" for e in spec.excluded_by)
               for spec in catalogue.lists if spec.kind.value == "red")
