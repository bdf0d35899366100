"""JSON (an array of objects, or {"data": [...]}) and JSON Lines.

Headers are the union of the record keys in first-seen order. A JSON document is parsed whole (orjson;
a JSON array cannot be streamed without another dependency: large deliveries should be JSON Lines).
JSON Lines are read twice, each pass streaming one line at a time: the first pass collects the keys (so a
key first seen on line 900,000 is still a header and its values are delivered in that column), the
second yields the rows. Row numbers: record index for JSON, line number for JSON Lines.
"""

from __future__ import annotations

import codecs
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from portal.ingest.errors import SourceError
from portal.ingest.importers.base import Row, SourceTable, require_rows_source, scalar_text

# Wrappers around the record array that department APIs use.
RECORD_ARRAY_KEYS = ("data", "records", "rows", "items")


def json_text(value: Any) -> str | None:
    """A JSON value as cell text: numbers without a spurious .0, nested values as compact JSON."""
    try:
        return scalar_text(value)
    except TypeError:
        return orjson.dumps(value).decode()


def _records_of(document: Any, name: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        for key in RECORD_ARRAY_KEYS:
            if isinstance(document.get(key), list):
                return document[key]
    raise SourceError(
        f"“{name}”的 JSON 结构无法识别：应为对象数组，或 {{\"data\": [...]}} 形式。",
        f"{name}: JSON must be an array of objects or an object with a 'data' array.",
    )


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _union_keys(records: Iterator[tuple[int, dict[str, Any]]]) -> list[str]:
    seen: dict[str, None] = {}
    for _, record in records:
        for key in record:
            if key not in seen:
                seen[key] = None
    return list(seen)


def read_json(path: Path) -> SourceTable:
    if path.stat().st_size == 0:
        raise SourceError(f"“{path.name}”是空文件。", f"{path.name}: the file is empty.")
    try:
        document = orjson.loads(path.read_bytes().removeprefix(codecs.BOM_UTF8))
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"“{path.name}”不是有效的 JSON：{exc}。", f"{path.name}: invalid JSON: {exc}") from exc
    records = _records_of(document, path.name)
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise SourceError(f"“{path.name}”第 {index} 条记录不是 JSON 对象。",
                              f"{path.name}: record {index} is not an object.")
    headers = _union_keys(enumerate(records, start=1))
    require_rows_source(headers, path.name)

    def rows() -> Iterator[Row]:
        for index, record in enumerate(records, start=1):
            yield index, [json_text(record.get(key)) for key in headers]

    return SourceTable(name=path.name, kind="json", encoding=None, sha256=_digest(path), headers=headers,
                       header_row=0, row_source=rows)


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line_number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise SourceError(
                    f"“{path.name}”第 {line_number} 行不是有效的 JSON（{exc}）。整个文件未导入，请修正该行后重新导入。",
                    f"{path.name}: line {line_number} is not valid JSON: {exc}",
                ) from exc
            if not isinstance(record, dict):
                raise SourceError(f"“{path.name}”第 {line_number} 行不是 JSON 对象。",
                                  f"{path.name}: line {line_number} is not a JSON object.")
            yield line_number, record


def read_jsonl(path: Path) -> SourceTable:
    if path.stat().st_size == 0:
        raise SourceError(f"“{path.name}”是空文件。", f"{path.name}: the file is empty.")
    headers = _union_keys(_jsonl_records(path))
    require_rows_source(headers, path.name)

    def rows() -> Iterator[Row]:
        for line_number, record in _jsonl_records(path):
            yield line_number, [json_text(record.get(key)) for key in headers]

    return SourceTable(name=path.name, kind="jsonl", encoding=None, sha256=_digest(path), headers=headers,
                       header_row=0, row_source=rows)
