"""CSV / TSV / semicolon files as departments export them (Excel GBK exports included).

Encoding comes from the bytes, never the file name: a BOM decides (UTF-8-BOM, UTF-16); otherwise the first
chunk that holds non-ASCII bytes must decode as strict UTF-8, else as GB18030 (a superset of GBK and
GB2312, so 堃 and 㛃 survive). Strict trial decoding was chosen over charset-normalizer: it is
deterministic, costs well under a millisecond per 64 KiB, and charset-normalizer returned no answer for a
UTF-8 sample cut in the middle of a character. A byte sequence further down that does not decode
refuses the file with the line number.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TextIO

from portal.ingest.errors import SourceError
from portal.ingest.importers.base import (
    HEADER_SEARCH_ROWS,
    Row,
    SourceTable,
    find_header_row,
    require_rows_source,
    trim_trailing_empty,
)

# A single field may be large (a 10 MB 认定事实 is read, and its row rejected as too long), but an unclosed
# quote makes the parser swallow the rest of the file into one field: past this limit (characters) the file
# is refused instead of eating memory.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024
# Longest physical line read (characters): a file of one 200 MB line is refused after reading this much,
# never held whole (it peaked at 657 MB RSS when lines were read unbounded).
MAX_LINE_CHARS = 16 * 1024 * 1024
ENCODING_SAMPLE_BYTES = 1024 * 1024
DELIMITER_SAMPLE_CHARS = 64 * 1024
DELIMITERS = (",", "\t", ";")
DELIMITER_NAMES = {",": "逗号", "\t": "制表符", ";": "分号"}

csv.field_size_limit(max(csv.field_size_limit(), FIELD_SIZE_LIMIT))


def _valid_prefix(sample: bytes, encoding: str) -> int:
    """How many leading bytes of the sample decode strictly (all of them: len(sample))."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        decoder.decode(sample, final=False)  # a character cut at the end of the sample is fine
    except UnicodeDecodeError as exc:
        return exc.start
    return len(sample)


def _looks_utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text without BOM has a NUL in every other byte for ASCII characters."""
    head = sample[:4096]
    if len(head) < 4 or head.count(0) < len(head) // 4:
        return None
    even_nuls = head[0::2].count(0)
    odd_nuls = head[1::2].count(0)
    if odd_nuls > 3 * even_nuls:
        return "utf-16-le"
    if even_nuls > 3 * odd_nuls:
        return "utf-16-be"
    return None


def detect_encoding(path: Path) -> str:
    """The text encoding of a CSV file, from its bytes."""
    with path.open("rb") as handle:
        start = handle.read(4)
        if start.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        handle.seek(0)
        first = handle.read(ENCODING_SAMPLE_BYTES)
        utf16 = _looks_utf16_without_bom(first)
        if utf16:
            return utf16
        sample = first
        while sample.isascii():  # a long ASCII prefix says nothing: find the first non-ASCII bytes
            sample = handle.read(ENCODING_SAMPLE_BYTES)
            if not sample:
                return "utf-8"
    utf8_prefix = _valid_prefix(sample, "utf-8")
    if utf8_prefix == len(sample):
        return "utf-8"
    if _valid_prefix(sample, "gb18030") == len(sample):
        return "gb18030"
    if not sample[:utf8_prefix].isascii():
        # Real UTF-8 text, then bytes of another encoding (rows pasted from a GBK file): read as UTF-8,
        # and the reader refuses the file naming the line where the foreign bytes start.
        return "utf-8"
    raise SourceError(
        f"“{path.name}”的文字编码无法识别（不是 UTF-8，也不是 GBK/GB18030）。请在 Excel 或 WPS 中另存为"
        "“CSV UTF-8（逗号分隔）”后重新导入。",
        f"{path.name}: text encoding is neither UTF-8 nor GB18030.",
    )


def _without_nul(lines: Iterable[str]) -> Iterator[str]:
    """NUL characters cannot mean anything in a credit record (and PostgreSQL text refuses them): drop them."""
    for line in lines:
        yield line.replace("\x00", "") if "\x00" in line else line


def _bounded_lines(handle: TextIO, name: str) -> Iterator[str]:
    """The file's lines, NUL removed, each read with a size limit (``MAX_LINE_CHARS``)."""
    readline = handle.readline
    number = 0
    while line := readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise SourceError(
                f"“{name}”第 {number} 行超过 {MAX_LINE_CHARS // (1024 * 1024)} M 个字符，不像是正常的表格行（常见原因是"
                "文件没有换行符，或不是 CSV 文件）。",
                f"{name}: line {number} is longer than {MAX_LINE_CHARS} characters.")
        yield line.replace("\x00", "") if "\x00" in line else line


def sniff_delimiter(text: str, at_eof: bool) -> str:
    """Comma, tab or semicolon: the one that splits most records into the same, largest number of fields."""
    lines = text.splitlines(keepends=True)
    if not at_eof and len(lines) > 1:
        lines = lines[:-1]  # the sample may end inside a record
    best, best_score = ",", 1
    for delimiter in DELIMITERS:
        counts = Counter(len(rec) for rec in csv.reader(_without_nul(lines), delimiter=delimiter) if len(rec) > 1)
        if not counts:
            continue
        width, frequency = counts.most_common(1)[0]
        score = width * frequency
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _first_undecodable_line(path: Path, encoding: str) -> int:
    """Line number of the first bytes that do not decode (error path only: text I/O decodes in blocks,
    so the csv reader's own line count is ahead of or behind the bad bytes)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    lines_before = 1
    with path.open("rb") as handle:
        while block := handle.read(ENCODING_SAMPLE_BYTES):
            try:
                decoder.decode(block, final=False)
            except UnicodeDecodeError as exc:
                return lines_before + block[: max(exc.start, 0)].count(b"\n")
            lines_before += block.count(b"\n")
    return lines_before


def _records(path: Path, encoding: str, delimiter: str) -> Generator[tuple[int, list[str]], None, None]:
    """(first physical line of the record, cells); decode and parse errors become SourceError."""
    with path.open(encoding=encoding, errors="strict", newline="") as handle:
        reader = csv.reader(_bounded_lines(handle, path.name), delimiter=delimiter)
        previous_line = 0
        try:
            for record in reader:
                yield previous_line + 1, record
                previous_line = reader.line_num
        except UnicodeDecodeError as exc:
            line = _first_undecodable_line(path, encoding)
            raise SourceError(
                f"“{path.name}”第 {line} 行附近有无法按 {encoding} 解码的字节（文件可能混用了多种编码或已损坏）。",
                f"{path.name}: bytes near line {line} do not decode as {encoding}: {exc.reason}.",
            ) from exc
        except csv.Error as exc:
            line = reader.line_num
            raise SourceError(
                f"“{path.name}”第 {line} 行无法解析：{exc}。常见原因是引号没有成对闭合，或单个单元格超过 "
                f"{FIELD_SIZE_LIMIT // (1024 * 1024)} MB。",
                f"{path.name}: line {line} cannot be parsed: {exc}.",
            ) from exc


def read_csv(path: Path) -> SourceTable:
    if path.stat().st_size == 0:
        raise SourceError(f"“{path.name}”是空文件。", f"{path.name}: the file is empty.")
    encoding = detect_encoding(path)
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(DELIMITER_SAMPLE_CHARS)
        at_eof = not handle.read(1)
    delimiter = sniff_delimiter(sample, at_eof)

    top: list[tuple[int, list[str]]] = []
    with closing(_records(path, encoding, delimiter)) as records:
        for line, record in records:
            top.append((line, record))
            if len(top) >= HEADER_SEARCH_ROWS:
                break
    header_index = find_header_row([record for _, record in top])
    headers = trim_trailing_empty(top[header_index][1]) if header_index is not None else []
    require_rows_source(headers, path.name)
    assert header_index is not None
    header_line = top[header_index][0]
    width = len(headers)

    def rows() -> Iterator[Row]:
        with closing(_records(path, encoding, delimiter)) as records:
            for _ in range(header_index + 1):
                next(records)
            for line, record in records:
                if not any(record):
                    continue
                values: list[str | None] = [cell or None for cell in record]
                if len(values) < width:
                    values.extend([None] * (width - len(values)))
                yield line, values

    with path.open("rb") as raw:
        digest = hashlib.file_digest(raw, "sha256").hexdigest()
    return SourceTable(name=path.name, kind="csv", encoding=encoding, sha256=digest, headers=headers,
                       header_row=header_line, row_source=rows)
