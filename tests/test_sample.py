"""Tests of ``portal.sample``: realistic synthetic department files.

The files are read back the way an importer would (csv with the declared encoding, openpyxl for XLSX) and
checked with python-stdnum and a small independent validator written here, not with the generator's own
bookkeeping, except where the test compares the two.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import opencc
import pytest
from openpyxl import load_workbook
from stdnum.cn import ric, uscc

from portal.sample import MANIFEST_NAME, SAMPLE_FORMATS, sensitive_values, write_samples
from portal.sample.identifiers import uscc_check_char

AS_OF = date(2026, 11, 23)
ROWS = 300
SHARE = 0.03

# The national 双公示 行政处罚 template, as written in domain.md (typed here, not imported).
NATIONAL_PENALTY_HEADERS = [
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1（统一社会信用代码）", "行政相对人代码_2（工商注册号）",
    "行政相对人代码_3（组织机构代码）", "行政相对人代码_4（税务登记号）", "行政相对人代码_5（事业单位证书号）",
    "行政相对人代码_6（社会组织登记证号）", "法定代表人", "法定代表人证件类型", "法定代表人证件号码", "证件类型",
    "证件号码", "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容",
    "罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号", "处罚决定日期",
    "处罚有效期", "公示截止期", "处罚机关", "处罚机关统一社会信用代码", "数据来源单位", "数据来源单位统一社会信用代码",
    "备注",
]

# Independent header → field mapping for the columns these tests check.
FIELD_HEADERS = {
    "name": {"企业名称", "纳税人名称", "被执行人姓名/名称", "单位名称", "主体名称", "行政相对人名称", "subject_name"},
    "type": {"主体类别", "行政相对人类别", "subject_type"},
    "uscc": {"统一社会信用代码", "统一社会信用代码(纳税人识别号)", "社会信用代码", "行政相对人代码_1(统一社会信用代码)",
             "uscc"},
    "reg_no": {"行政相对人代码_2(工商注册号)"},
    "id_type": {"证件类型", "id_type"},
    "id_number": {"证件号码", "id_number"},
    "rep_id": {"法定代表人证件号码", "legal_rep_id_number"},
    "list": {"名单名称", "list_name"},
    "decision_date": {"认定日期", "处罚决定日期", "decision_date"},
    "publish_until": {"公布截止日期", "公示截止期", "publish_until"},
    "status": {"状态", "status"},
    "removal_date": {"移出日期", "removal_date"},
    "removal_reason": {"移出原因", "removal_reason"},
}
KNOWN_LISTS = {
    "严重违法失信企业名单", "严重违法失信名单", "重点关注名单", "经营异常名录", "重大税收违法失信主体名单", "重大税收违法失信主体",
    "A级纳税人名单", "A级纳税人", "失信被执行人名单", "失信被执行人", "拖欠农民工工资失信联合惩戒对象名单",
    "拖欠农民工工资黑名单", "诚信示范企业名单", "诚信示范企业", "诚信个人", "守信激励个人", "安全生产失信惩戒名单",
    "安全生产严重失信主体名单",
}
DATE_RE = re.compile(r"^(\d{4})(?:-|/|年)(\d{1,2})(?:-|/|月)(\d{1,2})日?$")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")


# --- reading the files back ---------------------------------------------------------------------------

def _header_key(header: object) -> str:
    return "".join(unicodedata.normalize("NFKC", str(header)).split()).rstrip("*")


def _clean(value: object) -> str:
    """What an importer holds after clean-up: no control characters, width folded, trimmed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    text = CONTROL_RE.sub("", str(value))
    return unicodedata.normalize("NFKC", text).strip()


def read_rows(path: Path, entry: dict) -> Iterator[dict[str, str]]:
    """Rows of one generated file as {field: cleaned value} using FIELD_HEADERS."""
    if entry["kind"] == "xlsx":
        workbook = load_workbook(path, read_only=True)
        raw = [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
        workbook.close()
    else:
        with open(path, encoding=entry["encoding"], newline="") as f:
            raw = list(csv.reader(f))
    header = [_header_key(h) for h in raw[entry["header_row"] - 1]]
    fields = {i: field for i, h in enumerate(header) for field, names in FIELD_HEADERS.items()
              if h in {_header_key(n) for n in names}}
    for cells in raw[entry["header_row"]:]:
        yield {field: _clean(cells[i]) for i, field in fields.items()}


def parse_date(text: str) -> date | None:
    match = DATE_RE.match(text)
    if not match:
        return None
    try:
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def defects_of(row: dict[str, str]) -> list[str]:
    """Independent validation: the defects a row has (an importer must reject it for each)."""
    found = []
    if not row.get("name"):
        found.append("missing_name")
    elif len(row["name"]) > 200:
        found.append("overlong_text")
    if not row.get("type"):
        found.append("missing_subject_type")
    code = "".join(row.get("uscc", "").split()).upper()
    if code and not uscc.is_valid(code):
        found.append("bad_uscc_check")
    number = row.get("id_number", "").upper()
    if row.get("id_type") in ("居民身份证", "身份证") and len(number) == 18 and \
            ric.calc_check_digit(number) != number[-1]:
        found.append("bad_id_check")
    if parse_date(row.get("decision_date", "")) is None:
        found.append("bad_date")
    if "list" in row and row["list"] not in KNOWN_LISTS:
        found.append("unknown_list")
    return found


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], dict]:
    out = tmp_path_factory.mktemp("sample")
    paths = write_samples(out, ROWS, as_of=AS_OF, invalid_share=SHARE)
    manifest = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    return out, paths, manifest


@pytest.fixture(scope="module")
def all_rows(sample: tuple[Path, list[Path], dict]) -> list[tuple[str, dict[str, str]]]:
    out, _, manifest = sample
    return [(entry["file"], row) for entry in manifest["files"] for row in read_rows(out / entry["file"], entry)]


# --- tests ----------------------------------------------------------------------------------------------

def test_same_seed_gives_byte_identical_files(sample: tuple[Path, list[Path], dict], tmp_path: Path) -> None:
    out, paths, _ = sample
    again = write_samples(tmp_path / "again", ROWS, as_of=AS_OF, invalid_share=SHARE)
    assert [p.name for p in again] == [p.name for p in paths]
    for first, second in zip(paths, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name
    assert (out / MANIFEST_NAME).read_bytes() == (tmp_path / "again" / MANIFEST_NAME).read_bytes()

    other = write_samples(tmp_path / "other", ROWS, seed=7, as_of=AS_OF, invalid_share=SHARE)
    assert all(a.read_bytes() != b.read_bytes() for a, b in zip(paths, other, strict=True))


def test_deterministic_across_processes(sample: tuple[Path, list[Path], dict], tmp_path: Path) -> None:
    """A fresh interpreter with another hash seed (set iteration order) writes the same bytes."""
    out, _, _ = sample
    script = (
        "import sys; from datetime import date; from pathlib import Path; from portal.sample import write_samples;"
        f"write_samples(Path(sys.argv[1]), {ROWS}, as_of=date({AS_OF.year}, {AS_OF.month}, {AS_OF.day}),"
        f" invalid_share={SHARE})"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, env=env, timeout=120)
    assert (tmp_path / MANIFEST_NAME).read_bytes() == (out / MANIFEST_NAME).read_bytes()  # holds every sha256


def test_formats_encodings_and_split(sample: tuple[Path, list[Path], dict]) -> None:
    out, paths, manifest = sample
    assert sum(entry["rows"] for entry in manifest["files"]) == ROWS
    assert {entry["format"] for entry in manifest["files"]} == set(SAMPLE_FORMATS)
    assert len(manifest["files"]) >= 7 and len(paths) == len(manifest["files"])
    boms = {entry["bom"] for entry in manifest["files"] if entry["format"] == "csv-utf8"}
    assert boms == {True, False}  # some UTF-8 files with BOM, some without
    for entry in manifest["files"]:
        data = (out / entry["file"]).read_bytes()
        if entry["format"] == "csv-gbk":
            assert entry["encoding"] == "gb18030"
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
            text = data.decode("gb18030")
            assert "社会信用代码" in text and "\r\n" in text  # Excel's CSV: CRLF line ends
        elif entry["format"] == "csv-utf8":
            assert data.startswith(b"\xef\xbb\xbf") == entry["bom"]
            data.decode("utf-8")
        else:
            assert data[:2] == b"PK"


def test_only_allowed_formats_are_used(tmp_path: Path) -> None:
    progress: list[int] = []
    paths = write_samples(tmp_path, 120, formats=("csv-utf8",), as_of=AS_OF, progress=progress.append)
    assert paths and all(p.suffix == ".csv" for p in paths)
    for path in paths:
        path.read_bytes().decode("utf-8")
    assert sum(progress) == 120
    with pytest.raises(ValueError):
        write_samples(tmp_path, 10, formats=("csv-latin1",), as_of=AS_OF)


def test_invalid_share_is_exact_and_matches_independent_validation(
        sample: tuple[Path, list[Path], dict], all_rows: list[tuple[str, dict[str, str]]]) -> None:
    _, _, manifest = sample
    expected = int(ROWS * SHARE + 0.5)
    assert manifest["invalid_rows"] == expected == sum(e["invalid_rows"] for e in manifest["files"])
    found: Counter[str] = Counter()
    per_file: Counter[str] = Counter()
    for name, row in all_rows:
        defects = defects_of(row)
        assert len(defects) <= 1, (name, row, defects)  # one defect per invalid row
        found.update(defects)
        per_file[name] += bool(defects)
    declared = Counter()
    for entry in manifest["files"]:
        declared.update(entry["invalid_by_kind"])
        assert per_file[entry["file"]] == entry["invalid_rows"], entry["file"]
    assert found == declared
    assert sum(found.values()) == expected


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """800 CSV rows with 10 % invalid: enough for every defect kind and the rarer identifiers."""
    out = tmp_path_factory.mktemp("larger")
    write_samples(out, 800, formats=("csv-utf8",), as_of=AS_OF, invalid_share=0.1)
    return out, json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))


def test_defects_spread_over_kinds(larger: tuple[Path, dict]) -> None:
    out, manifest = larger
    kinds: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for entry in manifest["files"]:
        kinds.update(entry["invalid_by_kind"])
        for row in read_rows(out / entry["file"], entry):
            found.update(defects_of(row))
    assert sum(kinds.values()) == 80
    assert set(kinds) == {"bad_uscc_check", "bad_id_check", "missing_name", "missing_subject_type", "bad_date",
                          "unknown_list", "overlong_text"}
    assert found == kinds


def test_identifiers_belong_to_one_subject(larger: tuple[Path, dict]) -> None:
    """Distinct subjects never share a USCC or an ID number; shared subjects keep theirs on every list."""
    out, manifest = larger
    names_by_number: dict[str, set[str]] = {}
    for entry in manifest["files"]:
        for row in read_rows(out / entry["file"], entry):
            if defects_of(row):
                continue
            for key in ("uscc", "id_number"):
                number = "".join(row.get(key, "").split()).upper()
                if number:
                    names_by_number.setdefault(number, set()).add(row["name"])
    assert len(names_by_number) > 500
    assert {number: names for number, names in names_by_number.items() if len(names) > 1} == {}


def test_legacy_ids_and_other_documents(larger: tuple[Path, dict]) -> None:
    out, manifest = larger
    numbers = [row.get("id_number", "") for entry in manifest["files"] for row in read_rows(out / entry["file"], entry)]
    assert any(len(n) == 15 and n.isdigit() for n in numbers)  # first-generation numbers, to be upgraded
    assert any(re.fullmatch(r"[HME]\d{8}", n) for n in numbers)  # passes and passports


def test_identifiers_valid_unless_broken_on_purpose(
        sample: tuple[Path, list[Path], dict], all_rows: list[tuple[str, dict[str, str]]]) -> None:
    _, _, manifest = sample
    declared_bad_ids = sum(e["invalid_by_kind"].get("bad_id_check", 0) for e in manifest["files"])
    declared_bad_usccs = sum(e["invalid_by_kind"].get("bad_uscc_check", 0) for e in manifest["files"])
    bad_ids = bad_usccs = good_ids = 0
    for _, row in all_rows:
        for key in ("id_number", "rep_id"):
            number = "".join(row.get(key, "").split()).upper()
            if len(number) == 18 and number[:17].isdigit():
                if ric.calc_check_digit(number) == number[-1]:
                    good_ids += 1
                    assert ric.is_valid(number), number  # plausible birth date and birth place too
                else:
                    bad_ids += 1
            elif len(number) == 15 and number.isdigit():
                upgraded = number[:6] + "19" + number[6:]
                assert ric.is_valid(upgraded + ric.calc_check_digit(upgraded + "0"))
        code = "".join(row.get("uscc", "").split()).upper()
        if code:
            if uscc.is_valid(code):
                assert uscc_check_char(code[:17]) == uscc.calc_check_digit(code[:17])
            else:
                bad_usccs += 1
                assert uscc.calc_check_digit(code[:17]) != code[17]  # broken in its check character only
    assert good_ids > 100
    assert bad_ids == declared_bad_ids
    assert bad_usccs == declared_bad_usccs


def test_uscc_check_char_agrees_with_stdnum() -> None:
    import random

    rng = random.Random(5)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for _ in range(2000):
        first17 = "".join(rng.choice("0123456789") for _ in range(8)) + "".join(rng.choices(alphabet, k=9))
        assert uscc_check_char(first17) == uscc.calc_check_digit(first17)


def test_every_lifecycle_state_is_present(sample: tuple[Path, list[Path], dict],
                                          all_rows: list[tuple[str, dict[str, str]]]) -> None:
    _, _, manifest = sample
    states: Counter[str] = Counter()
    for entry in manifest["files"]:
        states.update(entry["valid_by_state"])
    assert set(states) == {"notice", "published", "expired", "objection", "repaired", "revoked"}

    statuses = Counter(row.get("status", "") for _, row in all_rows)
    assert statuses["异议处理中"] == states["objection"]
    assert statuses["已修复"] == states["repaired"]
    assert statuses["已撤销"] == states["revoked"]
    for _, row in all_rows:
        if row.get("status") == "已修复":
            assert row["removal_reason"] == "信用修复"
            removed = parse_date(row["removal_date"])
            assert removed is not None and removed < AS_OF
    # Expired by an explicit end date in the past, and recent decisions still under notice.
    ends = [parse_date(row.get("publish_until", "")) for _, row in all_rows]
    assert any(end and end < AS_OF for end in ends)
    decisions = [parse_date(row.get("decision_date", "")) for _, row in all_rows]
    assert any(d and 0 < (AS_OF - d).days <= 12 for d in decisions)
    assert all(d is None or d <= AS_OF for d in decisions)  # no future decisions


def test_conflicting_subject_on_black_and_red_lists(sample: tuple[Path, list[Path], dict],
                                                    all_rows: list[tuple[str, dict[str, str]]]) -> None:
    _, _, manifest = sample
    shared = manifest["shared_subjects"]["org"]
    lists = {row["list"] for _, row in all_rows if row.get("uscc") == shared["uscc"] and "list" in row}
    assert {"A级纳税人", "A级纳税人名单"} & lists or {"诚信示范企业", "诚信示范企业名单"} & lists  # red
    assert {"严重违法失信企业名单", "严重违法失信名单", "失信被执行人名单", "失信被执行人"} & lists  # black
    person = manifest["shared_subjects"]["person"]
    person_lists = {row.get("list") for _, row in all_rows if row.get("name") == person["subject_name"]}
    assert {"诚信个人", "守信激励个人"} & person_lists and len(person_lists) >= 3


def test_names_look_real(all_rows: list[tuple[str, dict[str, str]]]) -> None:
    persons = [row["name"] for _, row in all_rows if row.get("type") == "自然人" and row.get("name")]
    orgs = [row["name"] for _, row in all_rows if row.get("type") == "法人及非法人组织" and row.get("name")
            and len(row["name"]) <= 200]
    assert sum(len(n) == 2 for n in persons) >= len(persons) * 0.3  # 王伟, 李娜 …
    assert any(len(n) == 3 for n in persons)
    to_simplified = opencc.OpenCC("t2s")
    assert any(to_simplified.convert(n) != n for n in orgs + persons)  # 達州市…, 陳偉
    companies = [n for n in orgs if n.endswith("公司")]
    assert companies and all(10 <= len(n) <= 20 for n in companies)
    assert any(n.startswith(("达州市", "通川区", "达川区", "宣汉县", "達州市")) for n in companies)


def test_dirt_an_importer_must_clean(larger: tuple[Path, dict]) -> None:
    out, manifest = larger
    text = "".join((out / entry["file"]).read_text(encoding=entry["encoding"]) for entry in manifest["files"])
    assert re.search(r"[\x07\x08\x0b\x1b\x7f]", text)  # control characters to strip, not reject
    assert re.search(r"[\uff10-\uff19]", text)  # full-width digits
    assert re.search(r"(^|,)[ \u3000]\S|\S[ \u3000]+(,|$)", text, re.M)  # stray spaces
    assert "2024年" in text or "2025年" in text or "2026年" in text  # Chinese date style
    assert re.search(r",\d{4}/\d{1,2}/\d{1,2},", text)  # 2024/3/5 style


def test_xlsx_title_row_and_header(sample: tuple[Path, list[Path], dict]) -> None:
    out, _, manifest = sample
    titled = [e for e in manifest["files"] if e["kind"] == "xlsx" and e["header_row"] == 2]
    assert titled
    workbook = load_workbook(out / titled[0]["file"])
    sheet = workbook.worksheets[0]
    first, second, third = (list(r) for r in sheet.iter_rows(min_row=1, max_row=3, values_only=True))
    assert "名单" in first[0] and all(cell is None for cell in first[1:])
    assert "主体名称" in second and "统一社会信用代码" in second
    assert any(isinstance(cell, datetime) for cell in third)  # real date cells
    assert sheet.max_row == titled[0]["rows"] + 2


def test_national_template_has_exactly_the_national_headers(sample: tuple[Path, list[Path], dict]) -> None:
    out, _, manifest = sample
    entry = next(e for e in manifest["files"] if e["lists"] == ["XZCF"])
    with open(out / entry["file"], encoding=entry["encoding"], newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == NATIONAL_PENALTY_HEADERS
    categories = Counter(row[NATIONAL_PENALTY_HEADERS.index("处罚类别")] for row in rows[1:])
    assert categories["警告"] + categories["通报批评"] > 0


def test_english_header_file(sample: tuple[Path, list[Path], dict]) -> None:
    out, _, manifest = sample
    entry = next(e for e in manifest["files"] if e["lists"] == ["AQSCSX"])
    with open(out / entry["file"], encoding=entry["encoding"], newline="") as f:
        header = next(csv.reader(f))
    assert header[:3] == ["subject_name", "subject_type", "uscc"]


def test_sensitive_values(sample: tuple[Path, list[Path], dict], all_rows: list[tuple[str, dict[str, str]]]
                          ) -> None:
    out, paths, _ = sample
    values = sensitive_values([*paths, out / MANIFEST_NAME])
    ids = {"".join(row[k].split()).upper() for _, row in all_rows for k in ("id_number", "rep_id") if row.get(k)}
    assert ids and ids <= values
    for value in ids:
        if len(value) == 15:  # legacy numbers come with their 18-digit upgrade
            body = value[:6] + "19" + value[6:]
            assert body + ric.calc_check_digit(body + "0") in values
    assert any(re.fullmatch(r"1[3-9]\d{9}", v) for v in values)  # mobile phones
    assert any(re.fullmatch(r"\d{16,20}", v) for v in values)  # bank accounts (开户银行账号)
    assert not any(re.search(r"[\u4e00-\u9fff]", v) for v in values)  # no headers or names
    assert sensitive_values([]) == set()


def test_real_ingest_rejects_exactly_the_invalid_rows_and_leaks_nothing(
        sample: tuple[Path, list[Path], dict], tmp_path: Path) -> None:
    """End to end through ``portal.ingest.pipeline``: the manifest's intentions are what the importer finds."""
    from portal.ingest.pipeline import run_ingest
    from portal.ingest.worker import SourceSpec

    out, paths, manifest = sample
    result = run_ingest([SourceSpec(str(p)) for p in paths], tmp_path / "snapshots", as_of=AS_OF,
                        key=b"test-sample-key-0123456789abcdef0123", workers=1)
    counts = result.manifest["counts"]
    states: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for entry in manifest["files"]:
        states.update(entry["valid_by_state"])
        kinds.update(entry["invalid_by_kind"])

    assert counts["rows_read"] == ROWS
    assert counts["rejected"] == manifest["invalid_rows"]
    with open(result.version_dir / "rejects.csv", encoding="utf-8-sig", newline="") as f:
        reject_fields = Counter(row["field"] for row in csv.DictReader(f))
    assert reject_fields == Counter({
        "uscc": kinds["bad_uscc_check"], "id_number": kinds["bad_id_check"],
        "subject_name": kinds["missing_name"] + kinds["overlong_text"],
        "subject_type": kinds["missing_subject_type"], "decision_date": kinds["bad_date"],
        "list_name": kinds["unknown_list"],
    }) - Counter()
    assert counts["under_notice"] == states["notice"]
    assert counts["objection_flagged"] == states["objection"]
    withheld = counts["withheld"]
    assert (withheld["expired"], withheld["repaired"], withheld["revoked"]) == \
        (states["expired"], states["repaired"], states["revoked"])
    assert withheld["conflict"] >= 1  # the shared subject on a black and a red list
    assert counts["published"] + withheld["conflict"] == states["published"] + states["objection"]

    raw = sensitive_values(paths)
    for public_file in result.version_dir.iterdir():
        text = public_file.read_text(encoding="utf-8", errors="replace")
        assert not [value for value in raw if value in text], public_file.name
