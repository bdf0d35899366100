"""The report as a PDF (reportlab): A4, a subset of a CJK TrueType font embedded, a QR code to /verify.

Every character is drawn in the embedded font (the canvas's initial font included), so the report looks
the same in any reader, offline, without fonts of its own.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from portal.public.dates import format_zh
from portal.report.content import SECTION_ORDER, SECTION_TITLES, ReportContent, detail_label
from portal.report.settings import FONT_CANDIDATES

FONT_NAME = "PortalReportCJK"
REPORT_TITLE = "公共信用信息报告"
CHINESE_NUMERALS = "一二三四五六七八九十"
TEST_BANNER = "测试报告：本报告由开发测试密钥签章，仅供测试，不具有任何效力"
# QR code side on the page; 30 mm scans from a phone held at reading distance.
QR_SIDE = 30 * mm

_font_lock = threading.Lock()


class FontMissing(RuntimeError):
    pass


def register_font(path: Path | None) -> str:
    """Register the CJK font once per process (loading the 5 MB file takes ~0.25 s); returns its name."""
    with _font_lock:
        if FONT_NAME in pdfmetrics.getRegisteredFontNames():
            return FONT_NAME
        candidates = [(path, 0)] if path is not None else list(FONT_CANDIDATES)
        for candidate, index in candidates:
            if candidate.exists():
                pdfmetrics.registerFont(TTFont(FONT_NAME, str(candidate), subfontIndex=index))
                return FONT_NAME
        raise FontMissing("未找到中文字体（apt-get install fonts-wqy-microhei，或设置 PORTAL_REPORT_FONT） / no CJK "
                          f"TrueType font found (tried {', '.join(str(c) for c, _ in candidates)})")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT_NAME, fontSize=10, leading=15, wordWrap="CJK")
    return {
        "body": base,
        "title": ParagraphStyle("title", parent=base, fontSize=20, leading=28, alignment=1, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=20, spaceBefore=10, spaceAfter=4,
                             keepWithNext=1),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12, textColor=colors.HexColor("#333333")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=9.5, leading=13.5),
        "label": ParagraphStyle("label", parent=base, fontSize=9.5, leading=13.5, textColor=colors.HexColor("#333333")),
        "test": ParagraphStyle("test", parent=base, fontSize=11, leading=16, textColor=colors.HexColor("#b00020"),
                               borderColor=colors.HexColor("#b00020"), borderWidth=1, borderPadding=4, spaceAfter=8),
        "none": ParagraphStyle("none", parent=base, textColor=colors.HexColor("#1a1a1a")),
    }


def verify_link(verify_url: str, report_no: str, code: str) -> str:
    """The QR code's URL: the report number in the query, the code in the fragment (never sent to a server,
    so it stays out of every access log; the /verify page reads it in the browser)."""
    return f"{verify_url}?no={quote(report_no)}#code={quote(code)}"


def _text(value: Any) -> str:
    return escape(str(value)) if value not in (None, "") else "—"


def _grid(rows: list[list[Any]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths)
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT_NAME),  # a table's default is Helvetica, which is never embedded
        ("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#888888")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
        ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]))
    return table


def _period(entry: dict[str, Any]) -> str:
    start = entry.get("publish_from")
    end = entry.get("publish_until")
    first = format_zh(_iso(start)) if start else "—"
    return f"{first}至{format_zh(_iso(end))}" if end else f"{first}起（长期）"


def _iso(value: str) -> Any:
    from datetime import date

    return date.fromisoformat(value[:10])


def _entry_table(entry: dict[str, Any], styles: dict[str, ParagraphStyle], width: float) -> Table:
    label, cell = styles["label"], styles["cell"]
    rows: list[tuple[str, Any]] = [
        ("名单/类别", entry.get("list_name")),
        ("决定文书号", entry.get("decision_no")),
        ("认定/决定机关", entry.get("authority")),
        ("决定日期", format_zh(_iso(entry["decision_date"])) if entry.get("decision_date") else None),
        ("公示期限", _period(entry)),
        ("公示状态", entry.get("status")),
        ("记录主体名称", entry.get("subject_name")),
    ]
    if entry.get("legal_rep"):
        rows.append(("法定代表人（负责人）", entry["legal_rep"]))
    if entry.get("facts"):
        rows.append(("主要事实", entry["facts"]))
    if entry.get("basis"):
        rows.append(("依据", entry["basis"]))
    for key, value in sorted((entry.get("details") or {}).items()):
        rows.append((detail_label(key), value))
    return _grid([[Paragraph(name, label), Paragraph(_text(value), cell)] for name, value in rows],
                 [34 * mm, width - 34 * mm])


class QrCode(Flowable):
    """A QR code (segno) drawn as vector rectangles, one per horizontal run of dark modules: sharp at any
    zoom and in print. (reportlab's own QR widget builds a shape object per module: 0.3 s per report.)"""

    def __init__(self, data: str, side: float) -> None:
        super().__init__()
        self.matrix = [list(row) for row in segno.make(data, error="m", boost_error=False).matrix]
        self.side = side
        self.width = self.height = side

    def draw(self) -> None:
        count = len(self.matrix)
        quiet = 2  # modules of white border inside the box (readers need some quiet zone)
        module = self.side / (count + 2 * quiet)
        canvas = self.canv
        canvas.setFillColor(colors.black)
        for y, row in enumerate(self.matrix):
            x = 0
            while x < count:
                if row[x]:
                    start = x
                    while x < count and row[x]:
                        x += 1
                    canvas.rect((start + quiet) * module, self.side - (y + 1 + quiet) * module,
                                (x - start) * module, module, stroke=0, fill=1)
                else:
                    x += 1


def render_pdf(content: ReportContent, *, verification_code: str, verify_url: str) -> bytes:
    """The unsigned PDF of ``content``. ``register_font`` must have run."""
    styles = _styles()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"{REPORT_TITLE} {content.report_no}",
                            author=content.office, subject=f"{content.subject_name or content.subject.code}",
                            creator="信用门户 credit portal", initialFontName=FONT_NAME, lang="zh-CN")
    width = doc.width
    link = verify_link(verify_url, content.report_no, verification_code)
    story: list[Any] = []
    if content.test_key:
        story.append(Paragraph(TEST_BANNER, styles["test"]))
    story.append(Paragraph(REPORT_TITLE, styles["title"]))
    story.append(Paragraph("（法人和非法人组织、个体工商户）", ParagraphStyle("sub", parent=styles["body"], alignment=1)))
    story.append(Spacer(1, 6 * mm))
    facts = [
        ("报告编号", content.report_no),
        ("验证码", verification_code),
        ("出具时间", f"{format_zh(content.issued_at.date())} {content.issued_at:%H:%M}"),
        ("数据截止日期", format_zh(content.data_as_of)),
        ("出具机构", content.office),
    ]
    head = _grid([[Paragraph(name, styles["label"]), Paragraph(_text(value), styles["cell"])] for name, value in facts],
                 [26 * mm, width - 26 * mm - QR_SIDE - 8 * mm])
    qr_cell = [QrCode(link, QR_SIDE), Paragraph("扫码核验", ParagraphStyle("qrcap", parent=styles["small"], alignment=1))]
    header = Table([[head, qr_cell]], colWidths=[width - QR_SIDE - 4 * mm, QR_SIDE + 4 * mm])
    header.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), FONT_NAME), ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                                ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
    story.append(header)

    story.append(Paragraph("一、主体基本信息", styles["h2"]))
    subject_rows = [
        ("主体名称", content.subject_name or "（本平台未公示该主体的信息，名称以登记机关登记为准）"),
        (content.subject.label, content.subject.code),
        ("主体类别", content.subject_type or "—"),
    ]
    if content.other_names:
        subject_rows.append(("记录中的其他名称", "；".join(content.other_names)))
    story.append(_grid([[Paragraph(n, styles["label"]), Paragraph(_text(v), styles["cell"])] for n, v in subject_rows],
                       [34 * mm, width - 34 * mm]))

    for number, kind in enumerate(SECTION_ORDER, start=2):
        entries = content.section(kind)
        title = f"{CHINESE_NUMERALS[number - 1]}、{SECTION_TITLES[kind]}"
        if not entries:
            story.append(KeepTogether([Paragraph(title, styles["h2"]),
                                       Paragraph(content.none_found(kind), styles["none"])]))
            continue
        story.append(Paragraph(f"{title}（{len(entries)}条）", styles["h2"]))
        for index, entry in enumerate(entries, start=1):
            story.append(KeepTogether([Paragraph(f"第{index}条", styles["small"]),
                                       _entry_table(entry, styles, width), Spacer(1, 3 * mm)]))

    notes_number = CHINESE_NUMERALS[len(SECTION_ORDER) + 1]
    story.append(Paragraph(f"{notes_number}、报告说明", styles["h2"]))
    notes = [
        f"1. 本报告依据{_text(content.office)}公共信用信息公示平台截至{format_zh(content.data_as_of)}的公示信息出具，"
        "仅反映本平台依法公示的信息；已停止公示（公示期满、信用修复、撤销、异议更正等）的信息不在报告中。",
        f"2. 核验方式一：访问 <a href=\"{escape(link)}\" color=\"blue\">{_text(verify_url)}</a>（或扫描右上角二维码），"
        "输入报告编号和验证码，可查看本报告出具时记载的内容。",
        "3. 核验方式二：本报告已由出具机构以电子签章（PAdES 数字签名）签署，可在支持数字签名的 PDF 阅读器中离线核验；"
        "报告内容被改动后签名即失效。",
        "4. 对报告所列信息有异议的，可向认定机关或本平台提出异议申请。",
    ]
    for note in notes:
        story.append(Paragraph(note, styles["small"]))

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT_NAME, 8)
        canvas.setFillColor(colors.HexColor("#555555"))
        text = f"{REPORT_TITLE}  报告编号 {content.report_no}  第 {document.page} 页"
        if content.test_key:
            text = f"【测试报告，不具效力】  {text}"
        canvas.drawCentredString(A4[0] / 2, 10 * mm, text)
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
