"""Header mapping: variants, the national 双公示 templates, the legacy layout, and what is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from portal.ingest.headers import (
    DEFAULT_HEADERS_FILE,
    HeaderTable,
    map_headers,
    normalise_header,
    require_columns,
)
from portal.ingest.importers import SourceError

# domain.md, "Files as departments really deliver them": the 行政处罚 template, verbatim.
XZCF_HEADERS = [
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1（统一社会信用代码）", "行政相对人代码_2（工商注册号）", "行政相对人代码_3（组织机构代码）",
    "行政相对人代码_4（税务登记号）", "行政相对人代码_5（事业单位证书号）", "行政相对人代码_6（社会组织登记证号）", "法定代表人", "法定代表人证件类型",
    "法定代表人证件号码", "证件类型", "证件号码", "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容", "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号", "处罚决定日期", "处罚有效期", "公示截止期", "处罚机关", "处罚机关统一社会信用代码",
    "数据来源单位", "数据来源单位统一社会信用代码", "备注",
]

XZXK_HEADERS = [
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1（统一社会信用代码）", "行政相对人代码_2（工商注册号）", "行政相对人代码_3（组织机构代码）",
    "行政相对人代码_4（税务登记号）", "行政相对人代码_5（事业单位证书号）", "行政相对人代码_6（社会组织登记证号）", "法定代表人", "法定代表人证件类型",
    "法定代表人证件号码", "证件类型", "证件号码", "行政许可决定文书名称", "行政许可决定文书号", "许可类别", "许可证书名称", "许可编号", "许可内容",
    "许可决定日期", "有效期自", "有效期至", "许可机关", "许可机关统一社会信用代码", "当前状态", "数据来源单位", "数据来源单位统一社会信用代码", "备注",
]

# The older 行政处罚 layout (2016 data standard), as still exported by many departments.
XZCF_LEGACY_HEADERS = [
    "行政处罚决定书文号", "处罚名称", "处罚类别1", "处罚类别2", "处罚事由", "处罚依据", "行政相对人名称",
    "行政相对人代码_1", "行政相对人代码_2", "行政相对人代码_3", "行政相对人代码_4", "行政相对人代码_5",
    "法定代表人姓名", "处罚结果", "处罚决定日期", "处罚机关", "当前状态", "地方编码", "备注",
]

CONTRACT = {
    "subject_name": "主体名称", "subject_type": "主体类别", "uscc": "统一社会信用代码", "id_type": "证件类型",
    "id_number": "证件号码", "legal_rep": "法定代表人", "legal_rep_id_type": "法定代表人证件类型",
    "legal_rep_id_number": "法定代表人证件号码", "list_code": "名单代码", "list_name": "名单名称",
    "facts": "认定事实", "basis": "认定依据", "decision_no": "认定文书号", "authority": "认定部门",
    "decision_date": "认定日期", "publish_from": "公布起始日期", "publish_until": "公布截止日期",
    "region": "所属区域", "phone": "联系电话", "address": "住所", "status": "状态", "removal_date": "移出日期",
    "removal_reason": "移出原因",
}


def key_of(header: str) -> str | None:
    mapping = map_headers([header])
    return mapping.columns.get(0)


@pytest.mark.parametrize(("key", "header"), sorted(CONTRACT.items()))
def test_contract_headers_and_english_keys_map(key: str, header: str) -> None:
    assert key_of(header) == key
    assert key_of(key) == key
    assert key_of(key.upper()) == key


@pytest.mark.parametrize(("header", "key"), [
    # domain.md variants of 主体名称
    ("企业名称", "subject_name"), ("单位名称", "subject_name"), ("当事人名称", "subject_name"),
    ("纳税人名称", "subject_name"), ("行政相对人名称", "subject_name"), ("被执行人姓名/名称", "subject_name"),
    ("姓名", "subject_name"), ("名称", "subject_name"),
    # 统一社会信用代码
    ("社会信用代码", "uscc"), ("统一社会信用代码(纳税人识别号)", "uscc"), ("统一社会信用代码（纳税人识别号）", "uscc"),
    ("行政相对人代码_1（统一社会信用代码）", "uscc"),
    # 认定文书号, 认定日期, 认定部门, 认定事实, 公布截止日期
    ("决定书文号", "decision_no"), ("行政处罚决定书文号", "decision_no"), ("行政许可决定文书号", "decision_no"),
    ("处罚决定日期", "decision_date"), ("许可决定日期", "decision_date"),
    ("处罚机关", "authority"), ("许可机关", "authority"),
    ("违法事实", "facts"), ("处罚事由", "facts"), ("失信事实", "facts"),
    ("公示截止期", "publish_until"), ("有效期至", "valid_until"),
    ("许可内容", "licence_content"), ("处罚结果", "penalty_content"), ("处罚内容", "penalty_content"),
    ("行政相对人代码_2（工商注册号）", "reg_no"), ("行政相对人类别", "subject_type"),
])
def test_department_variants_map(header: str, key: str) -> None:
    assert key_of(header) == key


@pytest.mark.parametrize(("raw", "normalised"), [
    ("主体名称*", "主体名称"), ("*主体名称", "主体名称"), ("主体名称＊", "主体名称"), (" 主体 名称 ", "主体名称"),
    ("主体\n名称", "主体名称"), ("罚款金额（万元）", "罚款金额(万元)"), ("ＵＳＣＣ", "uscc"), ("Subject_Name", "subject_name"),
    ("\ufeff主体名称", "主体名称"), ("主体名称\u3000", "主体名称"),
])
def test_normalise_header(raw: str, normalised: str) -> None:
    assert normalise_header(raw) == normalised


@pytest.mark.parametrize(("header", "key"), [
    ("主体名称 *", "subject_name"), ("＊统一社会信用代码", "uscc"), ("主体名称（必填）", "subject_name"),
    ("罚款金额（万元）", "fine_amount"), ("罚款金额(元)", "fine_amount"), ("罚款金额", "fine_amount"),
    ("认定日期【格式：2024-03-05】", "decision_date"), ("SUBJECT NAME", "subject_name"),
    ("行政相对人代码_1(统一社会信用代码)", "uscc"), ("行政相对人代码_2(工商注册号)", "reg_no"),
    ("行政相对人代码_3（组织机构代码）", "org_code"), ("行政相对人代码_5（居民身份证号）", "id_number"),
    ("行政相对人代码_5（事业单位证书号）", "institution_no"),
    # a template code column whose bracket names the code in other words: the bracket decides
    ("行政相对人代码_5（身份证号码）", "id_number"),
])
def test_bracket_space_asterisk_variants(header: str, key: str) -> None:
    assert key_of(header) == key


def test_national_penalty_template_maps_completely() -> None:
    mapping = map_headers(XZCF_HEADERS)
    assert mapping.unknown == []
    assert mapping.duplicates == []
    assert mapping.template == "XZCF"
    assert mapping.layout is None
    assert mapping.missing_required == []
    by_header = {XZCF_HEADERS[i]: key for i, key in mapping.columns.items()}
    assert len(by_header) == len(XZCF_HEADERS)
    assert by_header["行政相对人代码_5（事业单位证书号）"] == "institution_no"
    assert by_header["证件类型"] == "id_type"
    assert by_header["法定代表人证件类型"] == "legal_rep_id_type"
    assert by_header["处罚类别"] == "penalty_category"
    assert by_header["没收违法所得、没收非法财物的金额（万元）"] == "confiscated_amount"
    assert by_header["处罚机关统一社会信用代码"] == "authority_uscc"
    assert by_header["公示截止期"] == "publish_until"
    assert by_header["处罚有效期"] == "penalty_validity"


def test_national_licence_template_maps_completely() -> None:
    mapping = map_headers(XZXK_HEADERS)
    assert mapping.unknown == []
    assert mapping.duplicates == []
    assert mapping.template == "XZXK"
    assert mapping.missing_required == []
    by_header = {XZXK_HEADERS[i]: key for i, key in mapping.columns.items()}
    assert len(by_header) == len(XZXK_HEADERS)
    assert by_header["行政许可决定文书名称"] == "licence_doc_name"
    assert by_header["有效期自"] == "valid_from"
    assert by_header["有效期至"] == "valid_until"
    assert by_header["当前状态"] == "current_status"
    assert by_header["许可机关统一社会信用代码"] == "authority_uscc"


def test_legacy_penalty_layout() -> None:
    mapping = map_headers(XZCF_LEGACY_HEADERS)
    assert mapping.layout == "xzcf-legacy"
    assert mapping.template == "XZCF"
    assert mapping.unknown == []
    assert mapping.duplicates == []
    by_header = {XZCF_LEGACY_HEADERS[i]: key for i, key in mapping.columns.items()}
    assert by_header["行政相对人代码_5"] == "id_number"  # 居民身份证号 in this layout
    assert by_header["行政相对人代码_2"] == "org_code"
    assert by_header["行政相对人代码_3"] == "reg_no"
    assert by_header["处罚名称"] == "penalty_name"
    assert by_header["处罚事由"] == "facts"
    assert by_header["处罚结果"] == "penalty_content"
    assert by_header["地方编码"] == "local_code"
    assert by_header["处罚类别1"] == "penalty_category"
    # 处罚类别2 is joined onto penalty_category rather than reported as a duplicate
    assert mapping.joined == {XZCF_LEGACY_HEADERS.index("处罚类别2"): "penalty_category"}
    # the old layout has no 行政相对人类别: the validator infers it, so the file is not refused
    assert mapping.missing_required == []
    row: list[str | None] = [None] * len(XZCF_LEGACY_HEADERS)
    row[XZCF_LEGACY_HEADERS.index("处罚类别1")] = "警告"
    row[XZCF_LEGACY_HEADERS.index("处罚类别2")] = "罚款"
    assert mapping.pick(row)["penalty_category"] == "警告；罚款"
    row[XZCF_LEGACY_HEADERS.index("处罚类别2")] = None
    assert mapping.pick(row)["penalty_category"] == "警告"


def test_same_bare_code_column_means_other_things_in_current_layout() -> None:
    headers = ["行政相对人名称", "行政相对人类别", "行政相对人代码_5", "行政处罚决定书文号", "处罚决定日期", "处罚机关"]
    mapping = map_headers(headers)
    assert mapping.layout is None
    assert mapping.columns[2] == "institution_no"


def test_legacy_bracketed_code_columns_follow_their_bracket() -> None:
    headers = ["行政处罚决定书文号", "处罚名称", "处罚类别1", "处罚事由", "行政相对人名称",
               "行政相对人代码_2(组织机构代码)", "行政相对人代码_3(工商登记码)", "行政相对人代码_5(居民身份证号)",
               "处罚决定日期", "处罚机关"]
    mapping = map_headers(headers)
    assert mapping.layout == "xzcf-legacy"
    assert [mapping.columns[i] for i in (5, 6, 7)] == ["org_code", "reg_no", "id_number"]


def test_file_with_list_column_is_not_a_template() -> None:
    mapping = map_headers(["企业名称", "主体类别", "行政处罚决定书文号", "处罚决定日期", "名单名称"])
    assert mapping.template is None
    assert mapping.missing_required == []


def test_unknown_and_duplicate_columns_reported() -> None:
    headers = ["主体名称", "主体类别", "认定日期", "名单名称", "企业名称", "主体名称", "经办人", "", "内部编号"]
    mapping = map_headers(headers)
    assert mapping.duplicates == ["企业名称", "主体名称"]
    assert mapping.unknown == ["经办人", "", "内部编号"]
    assert sorted(mapping.columns) == [0, 1, 2, 3]  # first wins
    assert mapping.missing_required == []


def test_missing_required_columns_refuse_the_file() -> None:
    mapping = map_headers(["企业名称", "统一社会信用代码", "备注"])
    assert mapping.template is None
    assert mapping.missing_required == ["subject_type", "decision_date", "list_name"]
    with pytest.raises(SourceError) as caught:
        require_columns(mapping, "税务局A级纳税人.xlsx")
    error = caught.value
    for text in ("税务局A级纳税人.xlsx", "主体类别", "认定日期", "名单名称", "企业名称、统一社会信用代码、备注"):
        assert text in error.message_zh
    assert "subject_type" in error.message_en and "list_code or list_name" in error.message_en


def test_complete_mapping_passes_require_columns() -> None:
    mapping = map_headers(["主体名称", "主体类别", "认定日期", "名单代码"])
    require_columns(mapping, "ok.csv")  # does not raise
    assert mapping.missing_required == []


def test_operators_can_extend_the_header_file(tmp_path: Path) -> None:
    extended = DEFAULT_HEADERS_FILE.read_text(encoding="utf-8").replace(
        'aliases = ["主体类型",', 'aliases = ["市场主体类型（自定义）", "主体类型",')
    path = tmp_path / "headers.toml"
    path.write_text(extended, encoding="utf-8")
    table = HeaderTable.load(path)
    assert map_headers(["市场主体类型（自定义）"], table).columns == {0: "subject_type"}
    assert map_headers(["市场主体类型（自定义）"]).columns == {}


def test_ambiguous_header_file_is_refused(tmp_path: Path) -> None:
    broken = DEFAULT_HEADERS_FILE.read_text(encoding="utf-8").replace(
        'aliases = ["主体类型",', 'aliases = ["企业名称", "主体类型",')
    path = tmp_path / "headers.toml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ValueError, match="企业名称"):
        HeaderTable.load(path)
