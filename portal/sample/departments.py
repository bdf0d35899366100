"""The department files of a sample delivery: who sends which lists, with which headers and date style.

Headers are the ones departments really use (variants of the import contract, see
``portal/data/headers.toml``); the 行政处罚 file uses the national 双公示 template verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.sample.subjects import INDIVIDUAL_BUSINESS, ORG, PERSON

CSV_GBK = "csv-gbk"
CSV_UTF8 = "csv-utf8"
XLSX = "xlsx"

# Date styles: how a department writes a date.
DATE_CN = "cn"  # 2024年3月5日
DATE_SLASH = "slash"  # 2024/3/5
DATE_SLASH_PADDED = "slash-padded"  # 2024/03/05
DATE_ISO = "iso"  # 2024-03-05
DATE_EXCEL = "excel"  # a real date cell in XLSX, ISO text in CSV

# The national 行政处罚 data template (双公示), header for header. Key None: a column we leave empty.
PENALTY_TEMPLATE: tuple[tuple[str, str | None], ...] = (
    ("行政相对人名称", "subject_name"),
    ("行政相对人类别", "subject_type"),
    ("行政相对人代码_1（统一社会信用代码）", "uscc"),
    ("行政相对人代码_2（工商注册号）", "reg_no"),
    ("行政相对人代码_3（组织机构代码）", "org_code"),
    ("行政相对人代码_4（税务登记号）", None),
    ("行政相对人代码_5（事业单位证书号）", None),
    ("行政相对人代码_6（社会组织登记证号）", None),
    ("法定代表人", "legal_rep"),
    ("法定代表人证件类型", "legal_rep_id_type"),
    ("法定代表人证件号码", "legal_rep_id_number"),
    ("证件类型", "id_type"),
    ("证件号码", "id_number"),
    ("行政处罚决定书文号", "decision_no"),
    ("违法行为类型", "penalty_type"),
    ("违法事实", "facts"),
    ("处罚依据", "basis"),
    ("处罚类别", "penalty_category"),
    ("处罚内容", "penalty_content"),
    ("罚款金额（万元）", "fine_amount"),
    ("没收违法所得、没收非法财物的金额（万元）", "confiscated_amount"),
    ("暂扣或吊销证照名称及编号", "licence_suspended"),
    ("处罚决定日期", "decision_date"),
    ("处罚有效期", "penalty_validity"),
    ("公示截止期", "publish_until"),
    ("处罚机关", "authority"),
    ("处罚机关统一社会信用代码", "authority_uscc"),
    ("数据来源单位", "data_source"),
    ("数据来源单位统一社会信用代码", "data_source_uscc"),
    ("备注", "remarks"),
)
PENALTY_TEMPLATE_HEADERS: tuple[str, ...] = tuple(h for h, _ in PENALTY_TEMPLATE)

# The national 行政许可 data template (双公示): the same 行政相对人 and 法定代表人 columns, then the licence.
LICENCE_TEMPLATE: tuple[tuple[str, str | None], ...] = (
    *PENALTY_TEMPLATE[:13],
    ("行政许可决定文书名称", "licence_doc_name"),
    ("行政许可决定文书号", "decision_no"),
    ("许可类别", "licence_category"),
    ("许可证书名称", "licence_cert_name"),
    ("许可编号", "licence_no"),
    ("许可内容", "licence_content"),
    ("许可决定日期", "decision_date"),
    ("有效期自", "valid_from"),
    ("有效期至", "valid_until"),
    ("许可机关", "authority"),
    ("许可机关统一社会信用代码", "authority_uscc"),
    ("当前状态", "current_status"),
    ("数据来源单位", "data_source"),
    ("数据来源单位统一社会信用代码", "data_source_uscc"),
    ("备注", "remarks"),
)


@dataclass(frozen=True)
class Authority:
    name: str
    abbreviation: str  # used in decision numbers: 达市监信〔2024〕12号
    court_code: str = ""  # courts number cases as （2024）川1702执123号


@dataclass(frozen=True)
class FileSpec:
    stem: str  # file name without extension
    department: str
    lists: tuple[tuple[str, int], ...]  # (list code, weight)
    subjects: dict[str, tuple[tuple[str, int], ...]]  # list code -> (subject kind, weight)
    list_names: dict[str, tuple[str, ...]]  # list code -> names written in 名单名称 (name or aliases)
    columns: tuple[tuple[str, str | None], ...]  # (header, canonical key)
    date_style: str
    format_preference: tuple[str, ...]  # first one the caller allows wins
    weight: int  # share of all rows
    authorities: tuple[Authority, ...]
    utf8_bom: bool = False
    title: str | None = None  # XLSX only: a title row above the header; {year} is the as_of year
    sheet_name: str = "Sheet1"
    forced: tuple[tuple[str, str], ...] = ()  # (list code, subject kind) of the clean shared subjects

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(k for _, k in self.columns if k)

    @property
    def has_status(self) -> bool:
        return "status" in self.keys


MARKET = FileSpec(
    stem="market-regulation-credit",
    department="达州市市场监督管理局",
    lists=(("YZWFSX", 55), ("ZDGZ", 45)),
    subjects={"YZWFSX": ((ORG, 85), (INDIVIDUAL_BUSINESS, 15)), "ZDGZ": ((ORG, 80), (INDIVIDUAL_BUSINESS, 20))},
    list_names={"YZWFSX": ("严重违法失信企业名单", "严重违法失信名单"), "ZDGZ": ("重点关注名单", "经营异常名录")},
    columns=(
        ("序号", "seq"), ("企业名称", "subject_name"), ("统一社会信用代码*", "uscc"), ("主体类别", "subject_type"),
        ("法定代表人", "legal_rep"), ("法定代表人证件类型", "legal_rep_id_type"),
        ("法定代表人证件号码", "legal_rep_id_number"), ("名单名称", "list_name"), ("列入事由", "facts"),
        ("认定依据", "basis"), ("决定书文号", "decision_no"), ("认定部门", "authority"),
        ("认定日期 ", "decision_date"), ("所属区域", "region"), ("住所", "address"), ("联系电话", "phone"),
        ("状态", "status"), ("移出日期", "removal_date"), ("移出原因", "removal_reason"),
    ),
    date_style=DATE_CN,
    format_preference=(XLSX, CSV_GBK, CSV_UTF8),
    weight=22,
    authorities=(
        Authority("达州市市场监督管理局", "达市监"), Authority("达州市通川区市场监督管理局", "通市监"),
        Authority("达州市达川区市场监督管理局", "达川市监"), Authority("宣汉县市场监督管理局", "宣市监"),
        Authority("大竹县市场监督管理局", "竹市监"), Authority("渠县市场监督管理局", "渠市监"),
    ),
    sheet_name="严重违法失信及重点关注",
    forced=(("YZWFSX", ORG),),
)

TAX = FileSpec(
    stem="tax-credit",
    department="国家税务总局达州市税务局",
    lists=(("ZDSSWF", 50), ("AJNSR", 50)),
    subjects={"ZDSSWF": ((ORG, 75), (INDIVIDUAL_BUSINESS, 10), (PERSON, 15)),
              "AJNSR": ((ORG, 95), (INDIVIDUAL_BUSINESS, 5))},
    list_names={"ZDSSWF": ("重大税收违法失信主体名单", "重大税收违法失信主体"), "AJNSR": ("A级纳税人名单", "A级纳税人")},
    columns=(
        ("纳税人名称", "subject_name"), ("统一社会信用代码(纳税人识别号)", "uscc"), ("主体类别", "subject_type"),
        ("法定代表人", "legal_rep"), ("法定代表人证件号码", "legal_rep_id_number"), ("证件类型", "id_type"),
        ("证件号码", "id_number"), ("名单名称", "list_name"), ("主要违法事实", "facts"), ("认定依据", "basis"),
        ("认定文书号", "decision_no"), ("认定部门", "authority"), ("认定日期", "decision_date"),
        ("公布截止日期", "publish_until"), ("开户银行", "bank_name"), ("开户银行账号", "bank_account"),
        ("联系电话", "phone"), ("状态", "status"), ("移出日期", "removal_date"), ("移出原因", "removal_reason"),
    ),
    date_style=DATE_SLASH,
    format_preference=(CSV_GBK, CSV_UTF8, XLSX),
    weight=18,
    authorities=(
        Authority("国家税务总局达州市税务局", "达税"), Authority("国家税务总局达州市通川区税务局", "通税"),
        Authority("国家税务总局宣汉县税务局", "宣税"), Authority("国家税务总局渠县税务局", "渠税"),
    ),
    forced=(("AJNSR", ORG), ("ZDSSWF", PERSON)),
)

COURT = FileSpec(
    stem="court-dishonest-debtors",
    department="达州市中级人民法院",
    lists=(("SXBZXR", 100),),
    subjects={"SXBZXR": ((PERSON, 60), (ORG, 34), (INDIVIDUAL_BUSINESS, 6))},
    list_names={"SXBZXR": ("失信被执行人名单", "失信被执行人")},
    columns=(
        ("被执行人姓名/名称", "subject_name"), ("主体类别", "subject_type"), ("证件类型", "id_type"),
        ("证件号码", "id_number"), ("统一社会信用代码", "uscc"), ("法定代表人或者负责人姓名", "legal_rep"),
        ("名单名称", "list_name"), ("失信被执行人行为具体情形", "facts"), ("认定依据", "basis"), ("案号", "decision_no"),
        ("执行法院", "authority"), ("认定日期", "decision_date"), ("公布截止日期", "publish_until"),
        ("所属区域", "region"), ("住所", "address"), ("状态", "status"), ("移出日期", "removal_date"),
        ("移出原因", "removal_reason"),
    ),
    date_style=DATE_ISO,
    format_preference=(CSV_UTF8, CSV_GBK, XLSX),
    weight=22,
    utf8_bom=True,
    authorities=(
        Authority("达州市中级人民法院", "达中法", "17"), Authority("达州市通川区人民法院", "通法", "1702"),
        Authority("达州市达川区人民法院", "达川法", "1703"), Authority("宣汉县人民法院", "宣法", "1722"),
        Authority("开江县人民法院", "开法", "1723"), Authority("大竹县人民法院", "竹法", "1724"),
        Authority("渠县人民法院", "渠法", "1725"), Authority("万源市人民法院", "万法", "1781"),
    ),
    forced=(("SXBZXR", ORG), ("SXBZXR", PERSON)),
)

WAGES = FileSpec(
    stem="hrss-wage-arrears",
    department="达州市人力资源和社会保障局",
    lists=(("TQNMGGZ", 100),),
    subjects={"TQNMGGZ": ((ORG, 70), (INDIVIDUAL_BUSINESS, 5), (PERSON, 25))},
    list_names={"TQNMGGZ": ("拖欠农民工工资失信联合惩戒对象名单", "拖欠农民工工资黑名单")},
    columns=(
        ("序号", "seq"), ("单位名称", "subject_name"), ("社会信用代码", "uscc"), ("主体类别", "subject_type"),
        ("法定代表人", "legal_rep"), ("法定代表人证件类型", "legal_rep_id_type"),
        ("法定代表人证件号码", "legal_rep_id_number"), ("证件类型", "id_type"), ("证件号码", "id_number"),
        ("名单名称", "list_name"), ("失信事实", "facts"), ("认定依据", "basis"), ("认定文书号", "decision_no"),
        ("认定部门", "authority"), ("认定日期", "decision_date"), ("所属区域", "region"), ("联系电话", "phone"),
        ("住所", "address"), ("状态", "status"), ("移出日期", "removal_date"), ("移出原因", "removal_reason"),
    ),
    date_style=DATE_ISO,
    format_preference=(CSV_GBK, CSV_UTF8, XLSX),
    weight=8,
    authorities=(Authority("达州市人力资源和社会保障局", "达人社"), Authority("渠县人力资源和社会保障局", "渠人社"),
                 Authority("宣汉县人力资源和社会保障局", "宣人社")),
    forced=(("TQNMGGZ", ORG), ("TQNMGGZ", PERSON)),
)

HONOURS = FileSpec(
    stem="ndrc-honours",
    department="达州市发展和改革委员会",
    lists=(("CXSFQY", 60), ("CXGR", 40)),
    subjects={"CXSFQY": ((ORG, 90), (INDIVIDUAL_BUSINESS, 10)), "CXGR": ((PERSON, 100),)},
    list_names={"CXSFQY": ("诚信示范企业名单", "诚信示范企业"), "CXGR": ("诚信个人", "守信激励个人")},
    columns=(
        ("主体名称", "subject_name"), ("主体类别", "subject_type"), ("统一社会信用代码", "uscc"),
        ("证件类型", "id_type"), ("证件号码", "id_number"), ("名单名称", "list_name"), ("守信事实", "facts"),
        ("认定依据", "basis"), ("认定文书号", "decision_no"), ("认定部门", "authority"), ("认定日期", "decision_date"),
        ("公布起始日期", "publish_from"), ("公布截止日期", "publish_until"), ("所属区域", "region"),
        ("联系电话", "phone"), ("状态", "status"), ("移出日期", "removal_date"), ("移出原因", "removal_reason"),
    ),
    date_style=DATE_EXCEL,
    format_preference=(XLSX, CSV_UTF8, CSV_GBK),
    weight=8,
    authorities=(Authority("达州市发展和改革委员会", "达发改"),),
    title="达州市{year}年度诚信示范企业和诚信个人名单",
    sheet_name="诚信典型名单",
    forced=(("CXSFQY", ORG), ("CXGR", PERSON)),
)

PENALTIES = FileSpec(
    stem="shuanggongshi-xzcf",
    department="达州市社会信用体系建设领导小组办公室",
    lists=(("XZCF", 100),),
    subjects={"XZCF": ((ORG, 60), (INDIVIDUAL_BUSINESS, 15), (PERSON, 25))},
    list_names={"XZCF": ()},
    columns=PENALTY_TEMPLATE,
    date_style=DATE_SLASH_PADDED,
    format_preference=(CSV_UTF8, CSV_GBK, XLSX),
    weight=17,
    authorities=(
        Authority("达州市市场监督管理局", "达市监"), Authority("达州市生态环境局", "达环"),
        Authority("达州市交通运输局", "达交"), Authority("达州市城市管理行政执法局", "达城执"),
        Authority("达州市卫生健康委员会", "达卫"), Authority("达州市应急管理局", "达应急"),
        Authority("达州市通川区市场监督管理局", "通市监"), Authority("国家税务总局达州市通川区税务局", "通税"),
    ),
    forced=(("XZCF", ORG),),
)

SAFETY = FileSpec(
    stem="emergency-safety-dishonest",
    department="达州市应急管理局",
    lists=(("AQSCSX", 100),),
    subjects={"AQSCSX": ((ORG, 90), (INDIVIDUAL_BUSINESS, 10))},
    list_names={"AQSCSX": ("安全生产失信惩戒名单", "安全生产严重失信主体名单")},
    columns=(
        ("subject_name", "subject_name"), ("subject_type", "subject_type"), ("uscc", "uscc"),
        ("legal_rep", "legal_rep"), ("legal_rep_id_type", "legal_rep_id_type"),
        ("legal_rep_id_number", "legal_rep_id_number"), ("list_code", "list_code"), ("list_name", "list_name"),
        ("facts", "facts"), ("basis", "basis"), ("decision_no", "decision_no"), ("authority", "authority"),
        ("decision_date", "decision_date"), ("publish_from", "publish_from"), ("publish_until", "publish_until"),
        ("region", "region"), ("phone", "phone"), ("address", "address"), ("status", "status"),
        ("removal_date", "removal_date"), ("removal_reason", "removal_reason"),
    ),
    date_style=DATE_ISO,
    format_preference=(CSV_UTF8, CSV_GBK, XLSX),
    weight=5,
    authorities=(Authority("达州市应急管理局", "达应急"), Authority("大竹县应急管理局", "竹应急")),
    forced=(("AQSCSX", ORG),),
)

LICENCES = FileSpec(
    stem="shuanggongshi-xzxk",
    department="达州市行政审批局",
    lists=(("XZXK", 100),),
    subjects={"XZXK": ((ORG, 70), (INDIVIDUAL_BUSINESS, 20), (PERSON, 10))},
    list_names={"XZXK": ()},
    columns=LICENCE_TEMPLATE,
    date_style=DATE_SLASH_PADDED,
    format_preference=(CSV_UTF8, CSV_GBK, XLSX),
    weight=8,
    authorities=(
        Authority("达州市行政审批局", "达审批"), Authority("达州市交通运输局", "达交"),
        Authority("达州市市场监督管理局", "达市监"), Authority("达州市生态环境局", "达环"),
        Authority("宣汉县行政审批局", "宣审批"),
    ),
    forced=(("XZXK", ORG),),
)

# LICENCES last: the files before it keep the streams (and so the rows) they had before it was added.
DEPARTMENT_FILES: tuple[FileSpec, ...] = (MARKET, TAX, COURT, WAGES, HONOURS, PENALTIES, SAFETY, LICENCES)
