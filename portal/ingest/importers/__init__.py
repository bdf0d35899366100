"""Source readers for the ingest step: files (CSV, XLSX, JSON, JSON Lines) and databases (SQLAlchemy URLs).

``open_source`` returns a ``SourceTable`` with the raw headers and a streaming ``rows()``; mapping the
headers (portal.ingest.headers) and checking values (the validator) happen downstream.
"""

from __future__ import annotations

import re
from pathlib import Path

from portal.ingest.errors import SourceError
from portal.ingest.importers.base import SourceTable
from portal.ingest.importers.csv_reader import read_csv
from portal.ingest.importers.json_reader import read_json, read_jsonl
from portal.ingest.importers.oracle_errors import explain_oracle_error
from portal.ingest.importers.sql_reader import read_sql
from portal.ingest.importers.xlsx_reader import read_xlsx

__all__ = ["SourceError", "SourceTable", "detect_format", "explain_oracle_error", "open_source"]

FILE_FORMATS = ("csv", "xlsx", "json", "jsonl")
_URL = re.compile(r"^[a-z][a-z0-9]*(\+[a-z0-9_]+)?://", re.IGNORECASE)
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
}


def detect_format(path: Path) -> str:
    """The file format from its first bytes; the extension only decides between look-alikes.

    Zip and OLE2 signatures win over the extension (an .xlsx renamed to .csv is still a workbook), JSON
    is recognised by its first character, everything else is read as delimited text.
    """
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        return "xlsx"
    by_extension = _EXTENSIONS.get(path.suffix.lower())
    if by_extension in ("json", "jsonl"):
        return by_extension
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if by_extension is None and stripped[:1] == b"[":
        return "json"
    if by_extension is None and stripped[:1] == b"{":
        first_line_end = stripped.find(b"\n")
        # One object per line is JSON Lines; an object spanning lines is a JSON document.
        if first_line_end != -1 and stripped[:first_line_end].rstrip().endswith(b"}"):
            return "jsonl"
        return "json"
    if by_extension == "xlsx":
        return "xlsx"  # not a zip: the xlsx reader refuses it with a clear message
    return "csv"


def open_source(spec: str | Path, *, sheet: str | None = None, table: str | None = None,
                query: str | None = None, fmt: str | None = None) -> SourceTable:
    """Open a file path or a SQLAlchemy URL as a SourceTable; raise SourceError if it cannot be read.

    ``fmt`` overrides the detected file format; ``sheet`` picks an XLSX sheet by name (default: the first
    visible worksheet); ``table`` or ``query`` is required for a database URL.
    """
    if isinstance(spec, str) and _URL.match(spec):
        return read_sql(spec, table=table, query=query)
    path = Path(spec)
    if not path.is_file():
        raise SourceError(f"找不到文件“{path}”。", f"file not found: {path}")
    if fmt is not None and fmt not in FILE_FORMATS:
        raise SourceError(f"不支持的文件格式“{fmt}”（支持 {'、'.join(FILE_FORMATS)}）。",
                          f"unsupported format {fmt!r}; expected one of {', '.join(FILE_FORMATS)}")
    kind = fmt or detect_format(path)
    if kind == "xlsx":
        return read_xlsx(path, sheet)
    if kind == "json":
        return read_json(path)
    if kind == "jsonl":
        return read_jsonl(path)
    return read_csv(path)
