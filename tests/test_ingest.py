"""The ingest pipeline end to end on real files: books, rejects, stable ids, withdrawals, refusals."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import date
from pathlib import Path

import orjson
import pytest
from openpyxl import Workbook

from portal.ingest.identifiers import ric_check_digit
from portal.ingest.pipeline import IngestError, SourceSpec, run_ingest
from portal.public import snapshot as snap
from portal.public.digest import MissingKeyError, digest_id, load_key
from portal.public.records import PublicEntry, Tombstone

KEY = b"test-only-hmac-key-0123456789abcdef"
AS_OF = date(2026, 11, 23)
HEADER = ["主体名称", "主体类别", "统一社会信用代码", "证件类型", "证件号码", "名单名称", "认定日期", "认定部门",
          "认定文书号", "认定事实", "联系电话", "住所", "状态", "移出日期", "移出原因", "开户银行账号"]


def ric(body17: str) -> str:
    return body17 + ric_check_digit(body17)


PERSON_ID = ric("51170219850307123")
PERSON_ID_2 = ric("51172119920815004")
PHONE = "13912345678"
BANK = "6222021234567890123"
ORG_USCC = "91110000600037341L"


def uscc(body17: str) -> str:
    from stdnum.cn import uscc as stdnum_uscc

    return body17 + stdnum_uscc.calc_check_digit(body17)


ROWS = [
    # published black entry of an organisation, with a phone and bank account
    ["达州市示例建筑工程有限公司", "法人及非法人组织", ORG_USCC, "", "", "严重违法失信企业名单", "2025年3月5日",
     "达州市市场监督管理局", "达市监〔2025〕12号", "拖欠工程款", PHONE, "四川省达州市通川区朝阳路1号", "", "", "", BANK],
    # person on the court list (open-ended)
    ["王伟", "自然人", "", "居民身份证", PERSON_ID, "失信被执行人名单", "2025/3/5", "达州市中级人民法院",
     "（2025）川17执1号", f"被执行人王伟（身份证号{PERSON_ID}）未履行", "", "四川省达州市通川区西外镇1号", "", "", "", ""],
    # under notice: decided 3 working days ago on a list with a 20 working-day notice
    ["宣汉县示例矿业有限公司", "法人", uscc("91511722MA6200001"), "", "", "安全生产失信惩戒名单", "2026-11-18",
     "宣汉县应急管理局", "宣应急〔2026〕3号", "", "", "", "", "", "", ""],
    # repaired
    ["达州市示例商贸有限公司", "企业", uscc("91511700MA6201234"), "", "", "严重违法失信企业名单", "2024-01-10",
     "达州市市场监督管理局", "达市监〔2024〕2号", "", "", "", "已修复", "2026-05-01", "信用修复", ""],
    # expired (1 year list)
    ["达川区示例餐饮店", "个体工商户", uscc("92511703MA62ABCD1"), "", "", "重点关注名单", "2024-06-01",
     "达川区市场监督管理局", "", "", "", "", "", "", "", ""],
    # invalid: bad ID check digit
    ["李娜", "自然人", "", "身份证", PERSON_ID_2[:-1] + ("0" if PERSON_ID_2[-1] != "0" else "1"), "失信被执行人名单",
     "2025-03-05", "达州市中级人民法院", "", "", "", "", "", "", "", ""],
    # invalid: unknown list, bad date
    ["达州市另一家公司", "法人及非法人组织", ORG_USCC, "", "", "不存在的名单", "2025-02-30",
     "", "", "", "", "", "", "", "", ""],
    # invalid: missing name
    ["", "法人及非法人组织", ORG_USCC, "", "", "重点关注名单", "2025-01-01", "", "", "", "", "", "", "", "", ""],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", header: list[str] = HEADER) -> Path:
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def department_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "市场监管局-2026-11.csv", [list(r) for r in ROWS], encoding="gb18030")


def ingest(paths: list[Path], root: Path, as_of: date = AS_OF):  # type: ignore[no-untyped-def]
    return run_ingest([SourceSpec(str(p)) for p in paths], root, as_of=as_of, key=KEY)


def test_books_balance_and_every_reject_is_accounted_for(department_csv: Path, tmp_path: Path) -> None:
    result = ingest([department_csv], tmp_path / "snapshots")
    counts = result.manifest["counts"]
    assert counts["rows_read"] == len(ROWS)
    assert counts["published"] == 2 and counts["under_notice"] == 1
    assert counts["withheld"]["repaired"] == 1 and counts["withheld"]["expired"] == 1
    assert counts["rejected"] == 3
    assert counts["rows_read"] == (counts["published"] + counts["under_notice"]
                                   + sum(counts["withheld"].values()) + counts["rejected"])
    assert result.manifest["sources"][0]["encoding"] in ("gb18030", "gbk")
    with open(result.version_dir / "rejects.csv", encoding="utf-8-sig") as f:
        rejects = list(csv.DictReader(f))
    assert {(r["row"], r["field"]) for r in rejects} >= {("7", "id_number"), ("8", "list_name"),
                                                          ("8", "decision_date"), ("9", "subject_name")}
    assert all(r["source"] == department_csv.name and r["reason_zh"] and r["reason_en"] for r in rejects)


def test_snapshot_rows_match_the_public_schema_and_hold_masked_data(department_csv: Path, tmp_path: Path) -> None:
    version = ingest([department_csv], tmp_path / "snapshots").version_dir
    entries = [PublicEntry.model_validate(e) for e in snap.iter_entries(version)]
    person = next(e for e in entries if e.is_person)
    assert person.id_number == PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
    assert person.address == "四川省达州市通川区***"
    assert person.id_digest == digest_id(PERSON_ID, KEY)
    assert PERSON_ID not in (person.facts or "")
    org = next(e for e in entries if e.list_code == "YZWFSX")
    assert org.phone == "139****5678" and org.details["bank_account"] == "6222***********0123"
    assert org.source.file == department_csv.name and org.source.row == 2
    dates = [e.decision_date for e in entries]
    assert dates == sorted(dates, reverse=True)
    for tomb in snap.iter_tombstones(version):
        Tombstone.model_validate(tomb)  # extra="forbid": no name, number or facts can ride along


def test_no_raw_identifier_reaches_any_snapshot_file(department_csv: Path, tmp_path: Path) -> None:
    version = ingest([department_csv], tmp_path / "snapshots").version_dir
    raw_values = [PERSON_ID, PERSON_ID_2, PHONE, BANK]
    for path in version.iterdir():
        text = path.read_bytes().decode("utf-8-sig")
        for value in raw_values:
            assert value not in text, f"{value} leaked into {path.name}"


def test_same_batch_again_gives_same_ids_and_no_changes(department_csv: Path, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    first = ingest([department_csv], root).version_dir
    second_result = ingest([department_csv], root)
    ids = lambda v: sorted(e["id"] for e in snap.iter_entries(v))  # noqa: E731
    assert ids(first) == ids(second_result.version_dir)
    assert second_result.manifest["changes"] == {"added": 0, "updated": 0, "withdrawn": 0}
    assert second_result.manifest["previous"] == first.name


def test_later_import_records_expiry_as_withdrawal_with_a_tombstone(department_csv: Path, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    first = ingest([department_csv], root, as_of=date(2025, 5, 1))
    assert first.manifest["counts"]["published"] == 4  # 重点关注 and the later-repaired entry are public then
    later = ingest([department_csv], root, as_of=AS_OF)
    changes = list(snap.iter_jsonl(later.version_dir / "changes.jsonl"))
    withdrawn = {c["list_code"]: c["id"] for c in changes if c["op"] == "withdrawn"}
    assert sorted(withdrawn) == ["YZWFSX", "ZDGZ"]
    tombs = {t["id"]: t for t in snap.iter_tombstones(later.version_dir)}
    assert (tombs[withdrawn["ZDGZ"]]["reason"], tombs[withdrawn["ZDGZ"]]["withdrawn_on"]) == ("期满", "2025-06-01")
    assert (tombs[withdrawn["YZWFSX"]]["reason"], tombs[withdrawn["YZWFSX"]]["withdrawn_on"]) == ("信用修复", "2026-05-01")


def test_entries_missing_from_a_new_batch_are_withdrawn_not_lost(department_csv: Path, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    ingest([department_csv], root)
    smaller = write_csv(tmp_path / "smaller.csv", [list(ROWS[0])])
    result = ingest([smaller], root)
    assert result.manifest["changes"]["withdrawn"] == 2  # the person and the entry under notice
    tomb_ids = {t["id"] for t in snap.iter_tombstones(result.version_dir)}
    assert len(tomb_ids) >= 4  # 2 new + repaired + expired carried forward


def test_file_without_required_columns_is_refused_whole_and_latest_unchanged(
        department_csv: Path, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    good = ingest([department_csv], root).version_dir
    bad = write_csv(tmp_path / "bad.csv", [["某公司", "x"]], header=["单位", "备注"])
    with pytest.raises(IngestError) as exc:
        ingest([department_csv, bad], root)
    assert "bad.csv" in exc.value.zh and "主体名称" in exc.value.zh
    assert snap.latest_version(root) == good
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_conflict_rule_withholds_red_entry_of_blacklisted_subject(tmp_path: Path) -> None:
    rows = [list(ROWS[0]), ["达州市示例建筑工程有限公司", "法人及非法人组织", ORG_USCC, "", "", "A级纳税人名单",
                                      "2026-04-01", "国家税务总局达州市税务局", "", "", "", "", "", "", "", ""]]
    result = ingest([write_csv(tmp_path / "t.csv", rows)], tmp_path / "s")
    assert result.manifest["counts"]["withheld"]["conflict"] == 1
    assert result.manifest["conflicts"][0]["list_code"] == "AJNSR"
    assert [e["list_code"] for e in snap.iter_entries(result.version_dir)] == ["YZWFSX"]


def test_xlsx_with_title_row_and_jsonl_and_english_headers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["2026年第四季度重点关注名单"])
    ws.append([])
    ws.append(["企业名称", "主体类别", "统一社会信用代码*", "名单名称", "认定日期"])
    ws.append(["达州市示例建筑工程有限公司", "法人及非法人组织", ORG_USCC, "重点关注名单", date(2026, 3, 1)])
    xlsx = tmp_path / "list.xlsx"
    wb.save(xlsx)
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_bytes(orjson.dumps({"subject_name": "王伟", "subject_type": "自然人", "id_number": PERSON_ID,
                                    "list_code": "SXBZXR", "decision_date": "2025-01-02"}) + b"\n")
    result = ingest([xlsx, jsonl], tmp_path / "s")
    entries = list(snap.iter_entries(result.version_dir))
    assert {e["list_code"] for e in entries} == {"ZDGZ", "SXBZXR"}
    xlsx_entry = next(e for e in entries if e["list_code"] == "ZDGZ")
    assert xlsx_entry["decision_date"] == "2026-03-01" and xlsx_entry["source"]["row"] == 4


def test_sqlite_database_source(tmp_path: Path) -> None:
    db = tmp_path / "dept.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE penalties (当事人名称 TEXT, 主体类别 TEXT, 统一社会信用代码 TEXT, 名单代码 TEXT, "
                     "认定日期 TEXT, 处罚类别 TEXT)")
        conn.execute("INSERT INTO penalties VALUES (?,?,?,?,?,?)",
                     ("达州市示例建筑工程有限公司", "法人及非法人组织", ORG_USCC, "XZCF", "2026-10-08", "警告"))
    result = run_ingest([SourceSpec(f"sqlite:///{db}", table="penalties")], tmp_path / "s", as_of=AS_OF, key=KEY)
    (entry,) = snap.iter_entries(result.version_dir)
    assert entry["list_kind"] == "decision" and entry["publish_until"] == "2027-01-07"  # 警告: 3 months
    assert json.loads((result.version_dir / "manifest.json").read_text())["sources"][0]["kind"] == "sql"


def test_production_mode_refuses_to_run_without_a_real_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("PORTAL_HMAC_KEY")
    with pytest.raises(MissingKeyError):
        load_key()
    monkeypatch.setenv("PORTAL_HMAC_KEY", "short")
    with pytest.raises(MissingKeyError):
        load_key()
    monkeypatch.setenv("PORTAL_HMAC_KEY", "k" * 40)
    assert load_key() == b"k" * 40


def test_parallel_and_single_process_imports_give_the_same_snapshot(tmp_path: Path) -> None:
    from portal.sample import write_samples

    files = write_samples(tmp_path / "in", 600, as_of=AS_OF, formats=("csv-gbk", "csv-utf8"))
    big = write_csv(tmp_path / "in" / "dupes.csv", [list(ROWS[0]), list(ROWS[0]), list(ROWS[1])])
    sources = [SourceSpec(str(p)) for p in [*files, big]]

    def public_files(workers: int) -> dict[str, list[bytes]]:
        result = run_ingest(sources, tmp_path / f"s{workers}", as_of=AS_OF, key=KEY, workers=workers)
        out = {}
        for name in ("entries.jsonl", "withdrawn.jsonl", "rejects.csv", "changes.jsonl"):
            lines = (result.version_dir / name).read_bytes().splitlines()
            out[name] = [orjson.dumps({**(e := orjson.loads(x)), "source": {**e["source"], "imported_at": ""}})
                         if name == "entries.jsonl" else x for x in lines]
        return out

    single, parallel = public_files(1), public_files(2)
    assert single == parallel
    duplicate_rejects = [r for r in single["rejects.csv"] if "重复记录".encode() in r]
    assert len(duplicate_rejects) == 1 and b"dupes.csv,3," in duplicate_rejects[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_bug_while_validating_never_puts_a_raw_value_in_the_error(
        department_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    import portal.ingest.validate

    def broken(value: str) -> str:  # fault injection: a bug whose message quotes the raw cell
        raise ValueError(f"cannot handle {value}")

    monkeypatch.setattr(portal.ingest.validate, "normalise_id_number", lambda id_type, value: broken(value))
    with pytest.raises(IngestError) as exc:
        run_ingest([SourceSpec(str(department_csv))], tmp_path / "s", as_of=AS_OF, key=KEY, workers=workers)
    assert "ValueError" in exc.value.zh and "test_ingest.py" in exc.value.en  # where the fault was raised
    assert PERSON_ID not in str(exc.value) and PERSON_ID not in repr(exc.value.__cause__)
    assert snap.latest_version(tmp_path / "s") is None
