"""Streaming writers for CSV (GB18030 or UTF-8) and XLSX that give byte-identical output for equal input.

CSV goes through ``csv.writer`` with Excel's dialect (CRLF, minimal quoting), as Excel's own export does.
XLSX uses openpyxl's write-only mode (rows are streamed to a temporary file, flat memory); openpyxl
stamps the save time into ``docProps/core.xml`` and every ZIP entry, so the archive is rewritten with a
fixed time afterwards — streaming entry by entry, never holding a sheet in memory.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from openpyxl import Workbook

from portal.sample.departments import CSV_GBK, CSV_UTF8, XLSX

FORMAT_ENCODINGS = {CSV_GBK: "gb18030", CSV_UTF8: "utf-8", XLSX: "xlsx"}
FORMAT_SUFFIXES = {CSV_GBK: ".csv", CSV_UTF8: ".csv", XLSX: ".xlsx"}
XLSX_MAX_ROWS = 1_048_576  # Excel's sheet limit, header and title rows included
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_COPY_CHUNK = 1 << 20


class RowWriter(Protocol):
    def write(self, cells: list[object]) -> None: ...
    def close(self) -> None: ...


class CsvRowWriter:
    def __init__(self, path: Path, encoding: str, header: list[str]) -> None:
        # Kept open across write() calls and closed in close(): a context manager cannot span them.
        self._file: IO[str] = open(path, "w", encoding=encoding, newline="", buffering=_COPY_CHUNK)  # noqa: SIM115
        self._writer = csv.writer(self._file)
        self._writer.writerow(header)

    def write(self, cells: list[object]) -> None:
        self._writer.writerow(cells)

    def close(self) -> None:
        self._file.close()


class XlsxRowWriter:
    def __init__(self, path: Path, header: list[str], *, title: str | None, sheet_name: str,
                 fixed_time: datetime) -> None:
        self._path = path
        self._fixed_time = fixed_time
        self._workbook = Workbook(write_only=True)
        self._workbook.properties.creator = "portal sample"
        self._workbook.properties.created = fixed_time
        self._sheet = self._workbook.create_sheet(sheet_name)
        if title:
            self._sheet.append([title])
        self._sheet.append(header)

    def write(self, cells: list[object]) -> None:
        self._sheet.append(cells)

    def close(self) -> None:
        temporary = self._path.with_name(self._path.name + ".tmp")
        self._workbook.save(temporary)
        _rewrite_zip_fixed_time(temporary, self._path, self._fixed_time)
        os.unlink(temporary)


_MODIFIED_RE = re.compile(rb"<dcterms:modified([^>]*)>[^<]*</dcterms:modified>")


def _rewrite_zip_fixed_time(source: Path, target: Path, fixed_time: datetime) -> None:
    """Copy a ZIP with every entry dated 1980-01-01 and core.xml's modified time set to ``fixed_time``."""
    stamp = fixed_time.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            if item.filename == "docProps/core.xml":
                data = _MODIFIED_RE.sub(rb"<dcterms:modified\1>" + stamp + rb"</dcterms:modified>",
                                        src.read(item))
                dst.writestr(info, data)
                continue
            with src.open(item) as reader, dst.open(info, "w", force_zip64=True) as writer:
                shutil.copyfileobj(reader, writer, _COPY_CHUNK)


def open_writer(path: Path, fmt: str, header: list[str], *, utf8_bom: bool, title: str | None,
                sheet_name: str, as_of: date) -> RowWriter:
    if fmt == XLSX:
        return XlsxRowWriter(path, header, title=title, sheet_name=sheet_name,
                             fixed_time=datetime(as_of.year, as_of.month, as_of.day, 9, 0, 0))
    encoding = "utf-8-sig" if fmt == CSV_UTF8 and utf8_bom else FORMAT_ENCODINGS[fmt]
    return CsvRowWriter(path, encoding, header)


class ClosingWriter:
    """Close a RowWriter when the block ends; on error the partial file is removed."""

    def __init__(self, writer: RowWriter, path: Path) -> None:
        self.writer = writer
        self.path = path

    def __enter__(self) -> RowWriter:
        return self.writer

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is None:
            self.writer.close()
            return
        try:
            self.writer.close()
        finally:
            self.path.unlink(missing_ok=True)
