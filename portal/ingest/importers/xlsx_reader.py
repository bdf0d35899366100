"""XLSX workbooks, read with python-calamine (Rust; far faster than openpyxl).

The zip directory is checked before calamine sees the file, so a truncated file, a non-zip or a zip bomb
renamed to .xlsx is refused with a clear message instead of crashing or exhausting memory. calamine holds
the cells of one sheet in compact Rust memory (an .xlsx cannot exceed 1,048,576 rows); rows are
converted to Python strings one at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import python_calamine

from portal.ingest.errors import SourceError
from portal.ingest.importers.base import (
    HEADER_SEARCH_ROWS,
    Row,
    SourceTable,
    find_header_row,
    format_datetime,
    format_number,
    require_rows_source,
    trim_trailing_empty,
)

# Refuse workbooks whose zip directory declares more than this much uncompressed data (a full sheet of
# 1,048,576 rows x 20 columns is well under 2 GiB of XML).
MAX_XLSX_UNCOMPRESSED_BYTES = 2 * 1024**3
# Spreadsheet XML compresses 10-50x; deflate tops out near 1030x on runs of identical bytes (bombs).
MAX_XLSX_COMPRESSION_RATIO = 500
RATIO_CHECK_MIN_BYTES = 16 * 1024**2
MAX_XLSX_MEMBERS = 10_000

CellValue = str | int | float | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None


def cell_text(value: CellValue) -> str | None:
    """One calamine cell as the text an operator sees in Excel (dates as ISO, 123.0 as 123)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _refuse(path: Path, why_zh: str, why_en: str) -> SourceError:
    return SourceError(f"“{path.name}”不是可读取的 Excel（.xlsx）文件：{why_zh}",
                       f"{path.name}: not a readable .xlsx workbook: {why_en}")


def check_zip_directory(path: Path) -> None:
    """Refuse non-zips, truncated files, non-workbooks and zip bombs before anything is decompressed."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise _refuse(path, "文件已损坏、被截断，或根本不是 Excel 文件。请重新导出或另存为 .xlsx 后再导入。",
                      f"bad zip: {exc}") from exc
    if len(members) > MAX_XLSX_MEMBERS:
        raise _refuse(path, f"压缩包内有 {len(members)} 个文件，超过上限 {MAX_XLSX_MEMBERS}。",
                      f"{len(members)} zip members")
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names and "xl/workbook.bin" not in names:
        raise _refuse(path, "压缩包中没有工作簿（xl/workbook.xml），可能是其他类型的压缩文件。",
                      "no xl/workbook.xml in the zip")
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNCOMPRESSED_BYTES:
        raise _refuse(path, f"解压后将达到 {total / 1024**3:.1f} GB，超过上限 "
                            f"{MAX_XLSX_UNCOMPRESSED_BYTES / 1024**3:.0f} GB（疑似“压缩炸弹”）。请拆分后再导入。",
                      f"declared uncompressed size {total} bytes exceeds {MAX_XLSX_UNCOMPRESSED_BYTES}")
    for member in members:
        if member.file_size >= RATIO_CHECK_MIN_BYTES:
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > MAX_XLSX_COMPRESSION_RATIO:
                raise _refuse(path, f"其中的 {member.filename} 压缩比高达 {ratio:.0f} 倍（疑似“压缩炸弹”），已拒绝读取。",
                              f"{member.filename} compression ratio {ratio:.0f} exceeds {MAX_XLSX_COMPRESSION_RATIO}")


def _open_sheet(path: Path, sheet: str | None) -> python_calamine.CalamineSheet:
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        if sheet is not None:
            if sheet not in workbook.sheet_names:
                raise SourceError(
                    f"“{path.name}”中没有名为“{sheet}”的工作表。现有工作表：{'、'.join(workbook.sheet_names)}。",
                    f"{path.name}: no sheet {sheet!r}; sheets: {', '.join(workbook.sheet_names)}")
            return workbook.get_sheet_by_name(sheet)
        # The first visible worksheet: departments often hide a code-list sheet in front.
        for meta in workbook.sheets_metadata:
            if meta.visible == python_calamine.SheetVisibleEnum.Visible and \
                    meta.typ == python_calamine.SheetTypeEnum.WorkSheet:
                return workbook.get_sheet_by_name(meta.name)
        return workbook.get_sheet_by_index(0)
    except SourceError:
        raise
    except python_calamine.PasswordError as exc:
        raise _refuse(path, "文件设置了打开密码，请取消密码后再导入。", "password protected") from exc
    except Exception as exc:  # calamine raises several error types (ZipError, XmlError, CalamineError...)
        raise _refuse(path, f"文件内容已损坏（{type(exc).__name__}）。请在 Excel 中打开并另存为 .xlsx 后再导入。",
                      f"{type(exc).__name__}: {exc}") from exc


def _sheet_rows(path: Path, sheet: python_calamine.CalamineSheet) -> Iterator[list[CellValue]]:
    try:
        yield from cast(Iterator[list[CellValue]], sheet.iter_rows())  # calamine: lists of cell values
    except Exception as exc:
        raise _refuse(path, f"读取工作表“{sheet.name}”时出错（{type(exc).__name__}）。", str(exc)) from exc


def read_xlsx(path: Path, sheet_name: str | None = None) -> SourceTable:
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse(path, "这是旧版 Excel（.xls）或加密的工作簿。请在 Excel 中另存为 .xlsx（并取消密码）后再导入。",
                      "OLE2 file: legacy .xls or encrypted workbook")
    check_zip_directory(path)
    sheet = _open_sheet(path, sheet_name)

    # calamine's iter_rows starts at the sheet's first row (row 1) even when the data starts lower, so the
    # enumeration index + 1 is the Excel row number (checked by tests/test_importers.py).
    top: list[list[str | None]] = []
    for raw in _sheet_rows(path, sheet):
        top.append([cell_text(c) for c in raw])
        if len(top) >= HEADER_SEARCH_ROWS:
            break
    header_index = find_header_row(top)
    headers = trim_trailing_empty([c or "" for c in top[header_index]]) if header_index is not None else []
    require_rows_source(headers, path.name)
    assert header_index is not None
    width = len(headers)

    def rows() -> Iterator[Row]:
        for index, raw in enumerate(_sheet_rows(path, sheet)):
            if index <= header_index:
                continue
            values = [cell_text(c) for c in raw]
            if not any(v is not None for v in values):
                continue
            # calamine pads every row to the sheet width: drop empty cells past the headers so only
            # real extra cells make a row longer than its header.
            end = len(values)
            while end > width and values[end - 1] is None:
                end -= 1
            del values[end:]
            if len(values) < width:
                values.extend([None] * (width - len(values)))
            yield index + 1, values

    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return SourceTable(name=path.name, kind="xlsx", encoding=None, sha256=digest, headers=headers,
                       header_row=header_index + 1, row_source=rows)
