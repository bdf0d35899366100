"""Checks on the written content (content/), the forms and the measures catalogue.

Every Markdown file is read with Pelican's own MarkdownReader, so what passes here is what the site build
sees. The forms are opened with the libraries a visitor's office suite stands in for (python-docx, pypdf,
openpyxl), and scripts/make_forms.py is run for real to prove its output is reproducible.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import os
import re
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import docx
import openpyxl
import pytest
from pelican.readers import MarkdownReader
from pelican.settings import DEFAULT_CONFIG
from stdnum.cn import uscc

REPO = Path(__file__).resolve().parent.parent
CONTENT = REPO / "content"
FORMS_DIR = CONTENT / "forms"
LISTS_TOML = REPO / "portal" / "data" / "lists.toml"
MEASURES_TOML = REPO / "portal" / "data" / "measures.toml"
MAKE_FORMS = REPO / "scripts" / "make_forms.py"

MARKDOWN_FILES = sorted(p for p in CONTENT.rglob("*.md") if p.name != "README.md")
POLICY_FILES = sorted((CONTENT / "policies").glob("*.md"))
NOTICE_FILES = sorted((CONTENT / "notices").glob("*.md"))
PAGE_FILES = sorted((CONTENT / "pages").glob("*.md"))

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DOC_NO = re.compile(r"^\S+〔(\d{4})〕\d+号$")
# An 18-digit 居民身份证 number, a 15-digit old one, or a bank account: any run of 15+ digits (or 17 + X).
ID_LIKE = re.compile(r"\d{15,}|\d{17}[Xx]")
LINK = re.compile(r"\{(filename|static)\}([^)\s]+)")
TAG = re.compile(r"<[^>]+>")

LEVELS = {"国家", "省", "市", "县"}
VALIDITIES = {"现行有效", "已修订", "已废止"}
POLICY_KEYS = {"title", "date", "slug", "category", "doc_no", "issuer", "written", "level", "validity", "summary"}
REQUIRED_PAGES = {"about", "xinyong-xiufu", "yiyi-chuli", "privacy", "help", "data"}

# The import contract's Chinese headers, in order (docs/domain.md, "One list entry").
CONTRACT_HEADERS = [
    "主体名称", "主体类别", "统一社会信用代码", "证件类型", "证件号码", "法定代表人", "法定代表人证件类型",
    "法定代表人证件号码", "名单代码", "名单名称", "认定事实", "认定依据", "认定文书号", "认定部门", "认定日期",
    "公布起始日期", "公布截止日期", "所属区域", "联系电话", "住所", "状态", "移出日期", "移出原因",
]


def _listed_forms() -> list[dict[str, Any]]:
    with (FORMS_DIR / "forms.toml").open("rb") as handle:
        return tomllib.load(handle)["form"]


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.fixture(scope="module")
def parsed() -> dict[Path, tuple[str, dict[str, Any]]]:
    reader = MarkdownReader(copy.deepcopy(DEFAULT_CONFIG))
    return {path: reader.read(str(path)) for path in MARKDOWN_FILES}


@pytest.fixture(scope="module")
def catalogue() -> dict[str, dict[str, Any]]:
    with LISTS_TOML.open("rb") as handle:
        return {entry["code"]: entry for entry in tomllib.load(handle)["list"]}


@pytest.fixture(scope="module")
def forms_listing() -> list[dict[str, Any]]:
    return _listed_forms()


def header_lines(path: Path) -> dict[str, str]:
    """The raw metadata header, to check what was written rather than what Pelican derived."""
    header: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        header[key.strip()] = value.strip()
    return header


def body_text(html: str) -> str:
    return TAG.sub("", html)


# --- every Markdown file ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MARKDOWN_FILES, ids=rel)
def test_file_parses_with_title_and_explicit_ascii_slug(path: Path, parsed: dict) -> None:
    html, metadata = parsed[path]
    header = header_lines(path)
    assert metadata.get("title"), "no Title"
    assert "Slug" in header, "Slug: must be written explicitly"
    assert SLUG.match(metadata["slug"]), f"slug {metadata['slug']!r} is not lowercase ASCII words joined by -"
    assert "status" not in metadata, "Status: is reserved by Pelican; policies use Validity:"
    assert metadata.get("summary"), "no Summary"
    assert len(body_text(html)) > 200, "body is almost empty"


def test_slugs_are_unique(parsed: dict) -> None:
    slugs = [metadata["slug"] for _, metadata in parsed.values()]
    duplicates = {slug for slug in slugs if slugs.count(slug) > 1}
    assert not duplicates


def test_content_links_point_at_existing_files() -> None:
    broken = []
    for path in MARKDOWN_FILES:
        for kind, target in LINK.findall(path.read_text(encoding="utf-8")):
            resolved = CONTENT / target.lstrip("/") if target.startswith("/") else path.parent / target
            if not resolved.is_file():
                broken.append(f"{rel(path)}: {{{kind}}}{target}")
    assert not broken


def _form_texts() -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in sorted(FORMS_DIR.iterdir()):
        if path.suffix in {".docx", ".xlsx", ".pdf"}:
            try:
                texts[path.name] = form_text(path)
            except pytest.skip.Exception:  # no pypdf: the PDFs are rendered from the same text as the DOCX
                continue
    return texts


def test_no_id_like_digit_runs_anywhere_in_content() -> None:
    sources = {rel(p): p.read_text(encoding="utf-8") for p in CONTENT.rglob("*") if p.suffix in {".md", ".toml"}}
    sources[rel(MEASURES_TOML)] = MEASURES_TOML.read_text(encoding="utf-8")
    sources.update(_form_texts())
    offenders = {name: ID_LIKE.findall(text) for name, text in sources.items() if ID_LIKE.search(text)}
    assert not offenders
    assert len(sources) >= len(MARKDOWN_FILES) + 5  # the scan did look at the forms too


# --- policies --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", POLICY_FILES, ids=rel)
def test_policy_metadata(path: Path, parsed: dict) -> None:
    html, metadata = parsed[path]
    assert metadata.keys() >= POLICY_KEYS, f"missing {POLICY_KEYS - metadata.keys()}"
    assert str(metadata["category"]) == "policies"
    assert metadata["level"] in LEVELS
    assert metadata["validity"] in VALIDITIES
    written = dt.date.fromisoformat(metadata["written"])
    assert written <= metadata["date"].date(), "成文日期 after 发布日期"
    match = DOC_NO.match(metadata["doc_no"])
    assert match, f"文号 {metadata['doc_no']!r} does not look like 达市府办〔2024〕12号"
    assert int(match.group(1)) == written.year, "the year in the 文号 differs from the 成文日期"
    length = len(body_text(html))
    assert 300 <= length <= 1800, f"body has {length} characters"
    assert "第一条" in html or "一、" in html, "no 条 / numbered structure"


def test_policy_collection_spans_levels_years_issuers_and_validities(parsed: dict) -> None:
    policies = [parsed[path][1] for path in POLICY_FILES]
    assert len(policies) >= 10
    assert {p["level"] for p in policies} == LEVELS
    assert len({p["issuer"] for p in policies}) >= 5
    years = {p["date"].year for p in policies}
    assert min(years) == 2019 and max(years) <= 2026 and len(years) >= 5
    validities = [p["validity"] for p in policies]
    assert validities.count("已废止") >= 1 and validities.count("已修订") >= 1
    assert len({p["doc_no"] for p in policies}) == len(policies), "two policies share a 文号"


def test_superseded_policies_point_at_a_newer_current_one(parsed: dict) -> None:
    by_slug = {parsed[path][1]["slug"]: parsed[path][1] for path in POLICY_FILES}
    for policy in by_slug.values():
        if policy["validity"] == "现行有效":
            assert "superseded_by" not in policy
            continue
        successor = by_slug.get(policy.get("superseded_by", ""))
        assert successor, f"{policy['slug']}: {policy['validity']} without a known Superseded_by"
        assert successor["validity"] == "现行有效"
        assert successor["date"] > policy["date"]


# --- notices ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTICE_FILES, ids=rel)
def test_notice_metadata(path: Path, parsed: dict, catalogue: dict) -> None:
    html, metadata = parsed[path]
    assert str(metadata["category"]) == "notices"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", header_lines(path)["Date"]), "Date needs a time"
    assert [str(tag) for tag in metadata["tags"]], "no Tags"
    assert "image" not in metadata and "<img" not in html, "notices carry no images"
    if "list_code" in metadata:
        assert metadata["list_code"] in catalogue
    text = body_text(html)
    assert "公司" in metadata["title"], "a notice names an organisation"
    assert "依据" in text, "no legal basis"
    assert "修复" in text or "移出" in text, "does not say how the subject may repair its credit"


def test_enough_notices_with_varied_tags(parsed: dict) -> None:
    tags = {str(tag) for path in NOTICE_FILES for tag in parsed[path][1]["tags"]}
    assert len(NOTICE_FILES) >= 8
    assert {"拖欠农民工工资", "安全生产"} <= tags


# --- pages -----------------------------------------------------------------------------------------------


def test_required_pages_exist_without_category_or_template(parsed: dict) -> None:
    pages = {parsed[path][1]["slug"]: parsed[path][1] for path in PAGE_FILES}
    assert pages.keys() >= REQUIRED_PAGES
    for metadata in pages.values():
        assert "category" not in metadata and "template" not in metadata


def _page_text(parsed: dict, slug: str) -> str:
    for path in PAGE_FILES:
        html, metadata = parsed[path]
        if metadata["slug"] == slug:
            return path.read_text(encoding="utf-8") + body_text(html)
    raise AssertionError(f"no page {slug}")


@pytest.mark.parametrize(("slug", "phrases"), [
    ("about", ["达州市社会信用体系建设领导小组办公室", "运维单位", "电子邮箱"]),
    ("xinyong-xiufu", ["满3个月", "满1年", "2个工作日", "5个工作日", "15个工作日",
                       "forms/xinyong-xiufu-shenqingshu.docx", "forms/xinyong-xiufu-shenqingshu.pdf",
                       "forms/xinyong-chengnuoshu.docx"]),
    ("yiyi-chuli", ["知情权", "异议权", "书面", "异议处理中", "10个工作日", "15个工作日",
                    "forms/yiyi-shenqingbiao.docx", "forms/yiyi-shenqingbiao.pdf"]),
    ("privacy", ["第二十三条", "前4位和后4位", "138****5678", "搜索引擎"]),
    ("help", ["统一社会信用代码", "完整", "证件号码", "为什么"]),
    ("data", ["增量", "added", "withdrawn", "subject_name", "publish_until",
              "forms/mingdan-shuju-daoru-muban.xlsx"]),
])
def test_page_covers_its_subject(parsed: dict, slug: str, phrases: list[str]) -> None:
    text = _page_text(parsed, slug).replace("\\*", "*")
    missing = [phrase for phrase in phrases if phrase not in text]
    assert not missing


# --- forms -----------------------------------------------------------------------------------------------


def form_text(path: Path) -> str:
    """All text a reader of the file would see; opening the file is itself part of the check."""
    if path.suffix == ".docx":
        document = docx.Document(str(path))
        cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
        return "\n".join([p.text for p in document.paragraphs] + cells + [document.core_properties.title or ""])
    if path.suffix == ".xlsx":
        workbook = openpyxl.load_workbook(path)
        values = [str(value) for sheet in workbook for row in sheet.iter_rows(values_only=True)
                  for value in row if value is not None]
        return "\n".join(values + [workbook.properties.title or ""])
    if path.suffix == ".pdf":
        data = path.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        pypdf = pytest.importorskip("pypdf")
        reader = pypdf.PdfReader(io.BytesIO(data))
        return "\n".join(page.extract_text() for page in reader.pages)
    raise AssertionError(f"unexpected form file {path.name}")


def test_forms_listing_matches_the_folder(forms_listing: list[dict], parsed: dict) -> None:
    listed = [entry["file"] for entry in forms_listing]
    on_disk = sorted(p.name for p in FORMS_DIR.iterdir() if p.name != "forms.toml")
    assert sorted(listed) == on_disk
    slugs = {metadata["slug"] for _, metadata in parsed.values()}
    for entry in forms_listing:
        assert entry["title"] and entry["description"]
        assert isinstance(entry["date"], dt.date)
        assert entry["applies_to"] in slugs, f"{entry['file']}: applies_to {entry['applies_to']!r} is no slug"
        assert entry["file"] == f"{entry['form']}.{entry['format'].lower()}"
        assert (FORMS_DIR / entry["file"]).stat().st_size < 100_000, "forms are committed: keep them small"
    kinds = {(entry["title"], entry["format"]) for entry in forms_listing}
    assert {("信用修复申请书", "DOCX"), ("信用修复申请书", "PDF"), ("公共信用信息异议申请表", "DOCX"),
            ("公共信用信息异议申请表", "PDF"), ("信用承诺书", "DOCX"), ("诚信示范企业申报表", "DOCX"),
            ("名单数据导入模板", "XLSX")} <= kinds


@pytest.mark.parametrize("entry", _listed_forms(), ids=lambda entry: entry["file"])
def test_each_form_opens_and_shows_its_title(entry: dict[str, Any]) -> None:
    text = form_text(FORMS_DIR / entry["file"])
    assert entry["title"] in text
    assert len(text) > 200, "nearly empty"


def test_import_template_has_the_contract_headers_and_a_valid_example(catalogue: dict) -> None:
    workbook = openpyxl.load_workbook(FORMS_DIR / "mingdan-shuju-daoru-muban.xlsx")
    sheet = workbook.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == CONTRACT_HEADERS
    assert len(rows) == 2, "exactly one example row"
    example = dict(zip(CONTRACT_HEADERS, rows[1], strict=True))
    assert example["主体名称"] and example["主体类别"] in {"法人及非法人组织", "个体工商户", "自然人"}
    assert uscc.is_valid(example["统一社会信用代码"])
    assert example["名单代码"] in catalogue
    assert example["名单名称"] == catalogue[example["名单代码"]]["name"]
    dt.date.fromisoformat(example["认定日期"])
    codes = [row[0] for row in workbook["名单目录"].iter_rows(min_row=2, values_only=True)]
    assert codes == list(catalogue)


def _run_make_forms(out: Path, tz: str) -> None:
    env = {**os.environ, "TZ": tz}
    subprocess.run([sys.executable, str(MAKE_FORMS), "--out", str(out)], check=True, env=env,
                   capture_output=True, timeout=60)


def _fingerprint(path: Path) -> object:
    """What a file says, independent of the zlib build that compressed it."""
    if path.suffix in {".docx", ".xlsx"}:
        with zipfile.ZipFile(path) as package:
            return [(info.filename, info.date_time, package.read(info)) for info in package.infolist()]
    if path.suffix == ".pdf":
        try:
            return form_text(path)
        except pytest.skip.Exception:  # no pypdf: fall back to the bytes
            return path.read_bytes()
    return path.read_bytes()


def test_make_forms_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _run_make_forms(first, "Asia/Shanghai")
    time.sleep(2.1)  # zip timestamps have a 2-second resolution: a clock leak must show up
    _run_make_forms(second, "America/New_York")
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert len(names) == 8
    changed = [name for name in names if (first / name).read_bytes() != (second / name).read_bytes()]
    assert not changed
    # The committed files are what the script makes (generated at another time, possibly elsewhere).
    stale = [name for name in names if _fingerprint(first / name) != _fingerprint(FORMS_DIR / name)]
    assert not stale, "content/forms is out of date: run python scripts/make_forms.py"


# --- measures catalogue ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def measures() -> dict[str, Any]:
    with MEASURES_TOML.open("rb") as handle:
        return tomllib.load(handle)


def test_measures_cover_every_list_with_well_formed_entries(measures: dict, catalogue: dict) -> None:
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", measures["version"])
    by_list = measures["measures"]
    assert set(by_list) == set(catalogue), "measures.toml and lists.toml disagree on the list codes"
    for code, items in by_list.items():
        assert 4 <= len(items) <= 8, f"{code}: {len(items)} measures"
        kind = catalogue[code]["kind"]
        for item in items:
            assert set(item) == {"text", "type", "mandatory", "basis", "department"}, code
            assert item["type"] in {"incentive", "punishment"}
            assert isinstance(item["mandatory"], bool)
            assert item["text"] and item["basis"] and item["department"]
            if kind == "red":
                assert item["type"] == "incentive", f"{code}: a red list punishes"
            if kind in {"black", "watch"}:
                assert item["type"] == "punishment", f"{code}: a black list rewards"
        texts = [item["text"] for item in items]
        assert len(set(texts)) == len(texts), f"{code}: duplicate measure"


def test_measures_include_the_domain_examples(measures: dict) -> None:
    by_list = measures["measures"]
    everything = "\n".join(item["text"] for items in by_list.values() for item in items)
    for phrase in ("绿色通道", "容缺受理", "降低抽查", "政府采购", "招标投标", "补助", "荣誉", "信易贷"):
        assert phrase in everything, phrase
    debtor = "\n".join(item["text"] for item in by_list["SXBZXR"])
    assert "飞机" in debtor and "动车组" in debtor
    assert any(item["mandatory"] for item in by_list["SXBZXR"])
    assert any(not item["mandatory"] for items in by_list.values() for item in items)
