"""Generate the downloadable forms (表格下载) into ``content/forms/``.

Run ``python scripts/make_forms.py`` (or ``--out DIR``). Writes:

- 信用修复申请书 (DOCX, PDF), 公共信用信息异议申请表 (DOCX, PDF), 信用承诺书 (DOCX), 诚信示范企业申报表 (DOCX)
  from one small document model, so the DOCX and the PDF of a form always say the same thing;
- 名单数据导入模板 (XLSX) with the import contract's Chinese headers, one example row and drop-downs fed by
  ``portal/data/lists.toml``;
- ``forms.toml``, the listing the site reads (file, title, description, applies_to, date).

Output is byte-for-byte reproducible: every timestamp inside a file is the form's fixed date, the OOXML zip
members are rewritten with that date, and reportlab runs with ``invariant=1``. Re-running must not change a
committed file unless the form itself changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import tomllib
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "content" / "forms"
LISTS_TOML = REPO_ROOT / "portal" / "data" / "lists.toml"

ISSUER = "达州市社会信用体系建设领导小组办公室"
PDF_FONT = "STSong-Light"  # reportlab's built-in CID font: no font file to ship, readers supply the glyphs
DOCX_EAST_ASIAN_FONT = "宋体"
GRID_COLUMNS = 4  # every form table is a label/value grid of four columns

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- the document model shared by the DOCX and PDF renderers -------------------------------------------


@dataclass(frozen=True)
class Para:
    text: str
    bold: bool = False
    centered: bool = False


@dataclass(frozen=True)
class Row:
    """One table row: 1, 2 or 4 cells; the last cell spans the remaining grid columns. "" = fill-in."""

    cells: tuple[str, ...]
    tall: bool = False  # a large box for free text


@dataclass(frozen=True)
class Grid:
    rows: tuple[Row, ...]


Block = Para | Grid


@dataclass(frozen=True)
class FormSpec:
    stem: str  # ASCII file name without extension
    title: str
    description: str
    applies_to: str  # slug of the guide page or policy this form belongs to
    date: dt.date
    formats: tuple[str, ...]
    blocks: tuple[Block, ...] = field(default=())

    @property
    def timestamp(self) -> dt.datetime:
        """The one timestamp written into every file of this form (09:00 Asia/Shanghai = 01:00 UTC)."""
        return dt.datetime.combine(self.date, dt.time(1, 0), tzinfo=dt.UTC)


def row(*cells: str, tall: bool = False) -> Row:
    return Row(tuple(cells), tall)


SIGNATURE = Para("申请人（盖章或者签名）：　　　　　　　　　　　　日期：　　　　年　　月　　日")
DECLARATION = Para(
    "本单位（本人）承诺：以上所填内容及所附材料真实、准确、完整。如有虚假，愿意承担相应法律责任，"
    "并接受撤销办理结果的处理。"
)

REPAIR_REQUEST = FormSpec(
    stem="xinyong-xiufu-shenqingshu",
    title="信用修复申请书",
    description="申请提前停止公开失信信息时提交，须附已履行义务的证明材料和信用承诺书。",
    applies_to="xinyong-xiufu",
    date=dt.date(2024, 6, 7),
    formats=("docx", "pdf"),
    blocks=(
        Para(f"{ISSUER}："),
        Grid((
            row("申请主体名称", ""),
            row("统一社会信用代码（证件号码）", ""),
            row("主体类别", "□法人及非法人组织　□个体工商户　□自然人"),
            row("法定代表人（负责人）", "", "联系电话", ""),
            row("经办人", "", "联系电话", ""),
            row("通讯地址", ""),
            row("失信信息所属名单", ""),
            row("认定部门", "", "认定文书号", ""),
            row("认定（处罚决定）日期", "", "公开截止日期", ""),
            row("纠正失信行为、履行义务情况", "", tall=True),
            row("申请修复理由", "", tall=True),
            row("所附材料", "□已履行行政处罚决定或者相关义务的证明材料　□整改报告　□信用承诺书　"
                "□营业执照副本复印件（身份证件复印件）　□授权委托书（委托办理的）　□其他："),
        )),
        DECLARATION,
        SIGNATURE,
        Para("以下由受理单位填写", bold=True),
        Grid((
            row("收到日期", "", "受理编号", ""),
            row("审核意见", "□同意修复　□不予修复（理由：　　　　　　　　）", tall=True),
        )),
        Para("填表说明", bold=True),
        Para("1. 一般失信行为信息自处罚决定作出之日起满3个月，严重失信主体名单信息自认定之日起满1年，方可申请。"),
        Para("2. 受理单位自收到申请之日起2个工作日内决定是否受理；自受理之日起5个工作日内作出决定，"
             "需要认定部门核实的不超过15个工作日。"),
        Para("3. 失信被执行人信息的删除由人民法院决定，不适用本申请书。"),
    ),
)

OBJECTION_REQUEST = FormSpec(
    stem="yiyi-shenqingbiao",
    title="公共信用信息异议申请表",
    description="认为本站公开的信用信息有错误、遗漏、超期公开或者侵犯合法权益时，书面提出异议使用。",
    applies_to="yiyi-chuli",
    date=dt.date(2024, 6, 7),
    formats=("docx", "pdf"),
    blocks=(
        Para(f"{ISSUER}："),
        Grid((
            row("申请人名称（姓名）", ""),
            row("统一社会信用代码（证件号码）", ""),
            row("申请人类别", "□信用主体本人　□受托代理人　□其他单位或者个人（公示期异议）"),
            row("经办人", "", "联系电话", ""),
            row("通讯地址", ""),
            row("异议信息所属名单", "", "信息页面地址", ""),
            row("认定部门", "", "认定文书号", ""),
            row("异议类型", "□信息记载错误　□信息遗漏　□超过公开期限仍在公开　□个人信息未作技术处理　□其他"),
            row("异议事项及理由", "", tall=True),
            row("请求更正的内容", "", tall=True),
            row("所附证明材料", ""),
        )),
        DECLARATION,
        SIGNATURE,
        Para("以下由受理单位填写", bold=True),
        Grid((
            row("收到日期", "", "受理编号", ""),
            row("核查结果", "□信息有误，予以更正或者删除　□信息准确，恢复公开　□已过公开期限，停止公开"),
            row("核查部门意见", "", tall=True),
        )),
        Para("填表说明", bold=True),
        Para("1. 受理单位自收到申请之日起2个工作日内决定是否受理；受理后在相关信息上标注“异议处理中”，"
             "核查期间暂停依据该信息实施的惩戒措施。"),
        Para("2. 认定部门自受理之日起10个工作日内完成核查；情况复杂的，累计不超过15个工作日。"),
        Para("3. 对失信被执行人信息有异议的，请向作出决定的人民法院提出。"),
    ),
)

CREDIT_COMMITMENT = FormSpec(
    stem="xinyong-chengnuoshu",
    title="信用承诺书",
    description="申请信用修复、办理告知承诺事项或者申报诚信评选时提交的信用承诺。",
    applies_to="xinyong-xiufu",
    date=dt.date(2024, 6, 7),
    formats=("docx",),
    blocks=(
        Grid((
            row("承诺主体名称", ""),
            row("统一社会信用代码（证件号码）", ""),
            row("法定代表人（负责人）", "", "联系电话", ""),
            row("承诺事项", "□信用修复　□行政许可告知承诺　□诚信示范企业申报　□其他："),
        )),
        Para("本单位（本人）郑重承诺："),
        Para("一、严格遵守国家法律、法规和规章，依法诚信经营，自觉接受政府、行业组织、社会公众和新闻舆论的监督。"),
        Para("二、所提交的全部材料真实、准确、完整，不存在隐瞒、虚构、伪造等情形。"),
        Para("三、已经纠正相关失信行为，履行了行政处罚决定或者相关法定义务，消除了不良影响。"),
        Para("四、今后不再发生同类失信行为，按时履行合同和法定义务。"),
        Para("五、同意本承诺书在“信用达州”网站公开，接受社会监督；同意有关部门对承诺履行情况进行核查。"),
        Para("六、如违背上述承诺，自愿接受撤销办理结果、恢复公开失信信息、记入信用记录等处理，"
             "3年内不再申请信用修复，并依法承担相应法律责任。"),
        Para("承诺主体（盖章或者签名）：　　　　　　　　　　　　日期：　　　　年　　月　　日"),
    ),
)

HONOUR_APPLICATION = FormSpec(
    stem="chengxin-shifan-qiye-shenbaobiao",
    title="诚信示范企业申报表",
    description="企业自愿申报诚信示范企业时填写，经行业主管部门推荐、信用办审核和7日公示后认定，有效期2年。",
    applies_to="dachuan-chengxin-shifan-qiye-banfa",
    date=dt.date(2025, 3, 27),
    formats=("docx",),
    blocks=(
        Grid((
            row("企业名称", ""),
            row("统一社会信用代码", "", "成立日期", ""),
            row("所属区域", "", "所属行业", ""),
            row("法定代表人", "", "联系电话", ""),
            row("联系人", "", "联系电话", ""),
            row("职工人数", "", "上年度纳税额（万元）", ""),
            row("纳税信用等级", "", "近3年合同履约率", ""),
            row("近3年行政处罚、失信记录", "□无　□有（请说明）："),
            row("近3年获得的荣誉", "", tall=True),
            row("企业诚信经营情况", "", tall=True),
            row("企业承诺", "本企业承诺所填内容真实，近3年未被列入任何严重失信主体名单或者重点关注名单，"
                "同意接受公示和社会监督。\n\n企业（盖章）：　　　　　　　　日期：　　　　年　　月　　日"),
            row("行业主管部门推荐意见", "", tall=True),
            row("县（市、区）信用办审核意见", "", tall=True),
        )),
        Para("填表说明", bold=True),
        Para("1. 申报企业应当在本地依法登记注册并实际经营满3年，纳税信用等级为B级以上。"),
        Para("2. 拟认定名单在“信用达州”网站公示7日；称号有效期2年，有效期届满前可以重新申报。"),
        Para("3. 有效期内被列入严重失信主体名单或者申报材料弄虚作假的，撤销称号，3年内不得再次申报。"),
        Para("4. 本表须同时提交信用承诺书。"),
    ),
)

IMPORT_TEMPLATE = FormSpec(
    stem="mingdan-shuju-daoru-muban",
    title="名单数据导入模板",
    description="认定部门向市公共信用信息平台报送红名单、黑名单、重点关注名单数据使用的Excel模板，含填写说明和名单目录。",
    applies_to="data",
    date=dt.date(2026, 3, 1),
    formats=("xlsx",),
)

FORMS: tuple[FormSpec, ...] = (
    REPAIR_REQUEST, OBJECTION_REQUEST, CREDIT_COMMITMENT, HONOUR_APPLICATION, IMPORT_TEMPLATE,
)


# --- the import template's columns (the import contract, docs/domain.md) -----------------


@dataclass(frozen=True)
class ImportColumn:
    header: str
    key: str
    required: str  # 是 / 否 / 条件 (required for some subject types)
    note: str
    example: str


IMPORT_COLUMNS: tuple[ImportColumn, ...] = (
    ImportColumn("主体名称", "subject_name", "是", "企业名称或者自然人姓名", "达州澄岚建筑劳务有限公司"),
    ImportColumn("主体类别", "subject_type", "是", "法人及非法人组织 / 个体工商户 / 自然人", "法人及非法人组织"),
    ImportColumn("统一社会信用代码", "uscc", "条件",
                 "18位，法人及非法人组织、个体工商户必填；无代码的老证照填写注册号", "91511702MA62A5B7CG"),
    ImportColumn("证件类型", "id_type", "条件",
                 "自然人必填：居民身份证 / 港澳居民来往内地通行证 / 台湾居民来往大陆通行证 / 护照 / 外国人永久居留身份证", ""),
    ImportColumn("证件号码", "id_number", "条件", "自然人必填；居民身份证为18位，末位可为X", ""),
    ImportColumn("法定代表人", "legal_rep", "否", "法人及非法人组织填写", "张某某"),
    ImportColumn("法定代表人证件类型", "legal_rep_id_type", "否", "同“证件类型”", ""),
    ImportColumn("法定代表人证件号码", "legal_rep_id_number", "否", "报送后在导入环节进行技术处理，不会原样公开", ""),
    ImportColumn("名单代码", "list_code", "条件", "见“名单目录”工作表；名单代码和名单名称至少填写一项", "TQNMGGZ"),
    ImportColumn("名单名称", "list_name", "条件", "名单全称或者常用名称", "拖欠农民工工资失信联合惩戒对象名单"),
    ImportColumn("认定事实", "facts", "否", "失信或者守信事实", "拖欠37名农民工工资共计86.4万元，经责令限期支付后逾期未支付。"),
    ImportColumn("认定依据", "basis", "否", "法律、法规、规章或者规范性文件条款", "《保障农民工工资支付条例》"),
    ImportColumn("认定文书号", "decision_no", "否", "如 达市人社惩〔2025〕2号", "达市人社惩〔2025〕2号"),
    ImportColumn("认定部门", "authority", "否", "作出认定的部门全称", "达州市人力资源和社会保障局"),
    ImportColumn("认定日期", "decision_date", "是", "如 2025-01-10，也可填写 2025年1月10日 或 2025/1/10", "2025-01-10"),
    ImportColumn("公布起始日期", "publish_from", "否", "不填时按名单默认规则计算", "2025-01-10"),
    ImportColumn("公布截止日期", "publish_until", "否", "不填时按名单默认公开期限计算", ""),
    ImportColumn("所属区域", "region", "否", "县（市、区）", "通川区"),
    ImportColumn("联系电话", "phone", "否", "报送后在导入环节进行技术处理", ""),
    ImportColumn("住所", "address", "否", "自然人住址公开时仅显示到县（市、区）", "达州市通川区"),
    ImportColumn("状态", "status", "否", "公示中 / 已公布 / 异议处理中 / 已修复 / 已撤销 / 已移出", ""),
    ImportColumn("移出日期", "removal_date", "否", "已移出的记录填写", ""),
    ImportColumn("移出原因", "removal_reason", "否", "信用修复 / 期满 / 撤销 / 异议更正", ""),
)

SUBJECT_TYPES = ("法人及非法人组织", "个体工商户", "自然人")
ID_TYPES = ("居民身份证", "港澳居民来往内地通行证", "台湾居民来往大陆通行证", "护照", "外国人永久居留身份证")
STATUSES = ("公示中", "已公布", "异议处理中", "已修复", "已撤销", "已移出")
REMOVAL_REASONS = ("信用修复", "期满", "撤销", "异议更正")
KIND_NAMES = {"red": "红名单", "black": "黑名单", "watch": "重点关注名单", "decision": "双公示"}


# --- DOCX ------------------------------------------------------------------------------------------------


def _set_run_font(run, size_pt: float, bold: bool = False) -> None:  # type: ignore[no-untyped-def]
    run.font.size = Pt(size_pt)
    run.font.bold = bold
    run.font.name = DOCX_EAST_ASIAN_FONT
    # Word picks the East Asian font from w:eastAsia; without it CJK text falls back to the theme font.
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), DOCX_EAST_ASIAN_FONT)


def _docx_grid(document, grid: Grid) -> None:  # type: ignore[no-untyped-def]
    table = document.add_table(rows=len(grid.rows), cols=GRID_COLUMNS)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for table_row, spec in zip(table.rows, grid.rows, strict=True):
        cells = table_row.cells
        last = len(spec.cells) - 1
        if last < GRID_COLUMNS - 1:
            cells[last].merge(cells[GRID_COLUMNS - 1])
        for index, text in enumerate(spec.cells):
            paragraph = cells[index].paragraphs[0]
            _set_run_font(paragraph.add_run(text), 10.5, bold=index % 2 == 0 and bool(text))
        if spec.tall:
            table_row.height = Cm(3.5)


def render_docx(form: FormSpec, path: Path) -> None:
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.2)
    heading = document.add_paragraph()
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _set_run_font(heading.add_run(form.title), 18, bold=True)
    for block in form.blocks:
        if isinstance(block, Grid):
            _docx_grid(document, block)
            continue
        paragraph = document.add_paragraph()
        if block.centered:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _set_run_font(paragraph.add_run(block.text), 11, bold=block.bold)
    props = document.core_properties
    props.title, props.author, props.last_modified_by = form.title, ISSUER, ISSUER
    props.subject, props.comments = form.description, ""
    props.created = props.modified = form.timestamp.replace(tzinfo=None)
    props.revision = 1
    buffer = io.BytesIO()
    document.save(buffer)
    path.write_bytes(normalise_ooxml(buffer.getvalue(), form.timestamp))


# --- PDF -------------------------------------------------------------------------------------------------


def _pdf_styles() -> dict[str, ParagraphStyle]:
    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=body, fontSize=18, leading=26, alignment=TA_CENTER, spaceAfter=10),
        "body": body,
        "cell": ParagraphStyle("cell", parent=body, fontSize=10, leading=14),
        # The CID font has no bold face: section headings stand out by size instead.
        "section": ParagraphStyle("section", parent=body, fontSize=12, leading=18, spaceBefore=4),
    }


def _pdf_markup(text: str) -> str:
    """Escape for reportlab's mini-markup; keep the full-width blanks that leave room to write by hand."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\u3000", "&nbsp;").replace("\n", "<br/>")


def _pdf_grid(grid: Grid, styles: dict[str, ParagraphStyle], width: float) -> Table:
    data: list[list[Paragraph | str]] = []
    commands: list[tuple] = [
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    heights: list[float | None] = []
    for y, spec in enumerate(grid.rows):
        cells: list[Paragraph | str] = [Paragraph(_pdf_markup(text), styles["cell"]) for text in spec.cells]
        last = len(cells) - 1
        cells += [""] * (GRID_COLUMNS - len(cells))
        if last < GRID_COLUMNS - 1:
            commands.append(("SPAN", (last, y), (GRID_COLUMNS - 1, y)))
        data.append(cells)
        heights.append(2.6 * cm if spec.tall else None)
    label, value = width * 0.24, width * 0.26
    table = Table(data, colWidths=[label, value, label, value], rowHeights=heights)
    table.setStyle(TableStyle(commands))
    return table


def render_pdf(form: FormSpec, path: Path) -> None:
    styles = _pdf_styles()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.6 * cm, bottomMargin=1.6 * cm,
        title=form.title, author=ISSUER, subject=form.description, creator=ISSUER,
        invariant=1,  # fixed creation date and document id: same input, same bytes
    )
    story: list = [Paragraph(form.title, styles["title"])]
    for block in form.blocks:
        if isinstance(block, Grid):
            story.append(_pdf_grid(block, styles, document.width))
        else:
            story.append(Paragraph(_pdf_markup(block.text), styles["section" if block.bold else "body"]))
        story.append(Spacer(1, 3))
    document.build(story)
    path.write_bytes(buffer.getvalue())


# --- XLSX ------------------------------------------------------------------------------------------------


def load_list_catalogue(path: Path = LISTS_TOML) -> list[dict]:
    with path.open("rb") as handle:
        return tomllib.load(handle)["list"]


def _choice(values: Sequence[str]) -> DataValidation:
    # An inline list must stay under Excel's 255-character limit; the lists here are short.
    return DataValidation(type="list", formula1='"' + ",".join(values) + '"', allow_blank=True)


def render_xlsx(form: FormSpec, path: Path) -> None:
    catalogue = load_list_catalogue()
    workbook = Workbook()
    header_font, header_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")

    data = workbook.active
    data.title = "名单数据"
    data.append([column.header for column in IMPORT_COLUMNS])
    data.append([column.example for column in IMPORT_COLUMNS])
    for index, column in enumerate(IMPORT_COLUMNS, start=1):
        cell = data.cell(row=1, column=index)
        cell.font, cell.fill = header_font, header_fill
        data.column_dimensions[cell.column_letter].width = max(12, min(40, len(column.example) * 2 + 4))
    data.freeze_panes = "B2"
    letters = {column.key: data.cell(row=1, column=i).column_letter for i, column in enumerate(IMPORT_COLUMNS, 1)}
    for key, values in (("subject_type", SUBJECT_TYPES), ("id_type", ID_TYPES), ("legal_rep_id_type", ID_TYPES),
                        ("status", STATUSES), ("removal_reason", REMOVAL_REASONS)):
        validation = _choice(values)
        validation.add(f"{letters[key]}2:{letters[key]}5000")
        data.add_data_validation(validation)
    code_validation = DataValidation(type="list", formula1=f"=名单目录!$A$2:$A${len(catalogue) + 1}", allow_blank=True)
    code_validation.add(f"{letters['list_code']}2:{letters['list_code']}5000")
    data.add_data_validation(code_validation)

    guide = workbook.create_sheet("填写说明")
    guide.append([form.title + "　填写说明"])
    guide["A1"].font = Font(bold=True, size=14)
    guide.append(["1. 第一行为列名，请勿修改；第二行为示例数据，报送前请删除。列名也可以使用下表中的英文键。"])
    guide.append(["2. 证件号码、联系电话仅在导入环节使用，公开前统一进行技术处理，不会原样公开。"])
    guide.append(["3. 日期可填写 2024-03-05、2024年3月5日 或 2024/3/5。"])
    guide.append([])
    guide.append(["列名", "英文键", "是否必填", "说明"])
    for cell in guide[6]:
        cell.font, cell.fill = header_font, header_fill
    for column in IMPORT_COLUMNS:
        guide.append([column.header, column.key, column.required, column.note])
    for letter, width in zip("ABCD", (20, 22, 10, 80), strict=True):
        guide.column_dimensions[letter].width = width

    lists = workbook.create_sheet("名单目录")
    lists.append(["名单代码", "名单名称", "类别", "其他名称"])
    for cell in lists[1]:
        cell.font, cell.fill = header_font, header_fill
    for entry in catalogue:
        lists.append([entry["code"], entry["name"], KIND_NAMES.get(entry["kind"], entry["kind"]),
                      "、".join(entry.get("aliases", []))])
    for letter, width in zip("ABCD", (12, 36, 14, 60), strict=True):
        lists.column_dimensions[letter].width = width
    for sheet in (guide, lists):
        for cells in sheet.iter_rows():
            for cell in cells:
                cell.alignment = Alignment(vertical="top", wrap_text=True)

    props = workbook.properties
    props.title, props.creator, props.lastModifiedBy = form.title, ISSUER, ISSUER
    props.description = form.description
    props.created = props.modified = form.timestamp.replace(tzinfo=None)
    buffer = io.BytesIO()
    workbook.save(buffer)  # openpyxl stamps "modified" with the current time here; normalise_ooxml undoes it
    path.write_bytes(normalise_ooxml(buffer.getvalue(), form.timestamp))


# --- reproducibility -------------------------------------------------------------------------------------

_CORE_DATE = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


def normalise_ooxml(package: bytes, timestamp: dt.datetime) -> bytes:
    """Rewrite an OOXML zip so that it depends only on its content and ``timestamp``.

    The libraries stamp zip members with the wall clock and (openpyxl) core.xml with the save time.
    """
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    date_time = timestamp.timetuple()[:6]
    source = zipfile.ZipFile(io.BytesIO(package))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w") as target:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = _CORE_DATE.sub(rb"\g<1>" + stamp + rb"\g<3>", body)
            member = zipfile.ZipInfo(info.filename, date_time=date_time)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            target.writestr(member, body)
    return output.getvalue()


# --- listing and entry point -----------------------------------------------------------------------------

RENDERERS: dict[str, Callable[[FormSpec, Path], None]] = {
    "docx": render_docx, "pdf": render_pdf, "xlsx": render_xlsx,
}


def _toml_string(value: str) -> str:
    # A JSON string with non-ASCII kept is a valid TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def forms_toml() -> str:
    lines = [
        "# The downloadable forms (表格下载). GENERATED by scripts/make_forms.py: edit the script, not this file.",
        "# One [[form]] per file. form = the form's id (shared by its DOCX and PDF); applies_to = slug of the",
        "# guide page or policy it belongs to; date = the form version's date. Size and SHA-256 are computed",
        "# by the site build.",
        "",
    ]
    for form in FORMS:
        for extension in form.formats:
            lines += [
                "[[form]]",
                f"file = {_toml_string(f'{form.stem}.{extension}')}",
                f"form = {_toml_string(form.stem)}",
                f"title = {_toml_string(form.title)}",
                f"format = {_toml_string(extension.upper())}",
                f"media_type = {_toml_string(MEDIA_TYPES[extension])}",
                f"description = {_toml_string(form.description)}",
                f"applies_to = {_toml_string(form.applies_to)}",
                f"date = {form.date.isoformat()}",
                "",
            ]
    return "\n".join(lines)


def make_forms(out_dir: Path) -> list[Path]:
    """Write every form and forms.toml into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for form in FORMS:
        for extension in form.formats:
            path = out_dir / f"{form.stem}.{extension}"
            RENDERERS[extension](form, path)
            written.append(path)
    listing = out_dir / "forms.toml"
    listing.write_text(forms_toml(), encoding="utf-8")
    written.append(listing)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the downloadable forms into content/forms/.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: content/forms)")
    args = parser.parse_args(argv)
    for path in make_forms(args.out):
        print(f"{path.stat().st_size:>8}  {path}")


if __name__ == "__main__":
    main()
