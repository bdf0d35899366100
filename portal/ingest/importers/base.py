"""What every reader returns, and the cell and header-row rules they share."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from portal.ingest.errors import SourceError
from portal.ingest.headers import count_known_headers

Row = tuple[int, list[str | None]]

# How many rows from the top are searched for the header row (title rows, blank rows, 填报单位 lines).
HEADER_SEARCH_ROWS = 20


@dataclass
class SourceTable:
    """One readable table: its headers, and its rows streamed on demand.

    ``rows()`` can be called more than once; each call reads the source again from the start.
    Values are aligned with ``headers``: a short row is padded with None; a long row keeps its extra cells
    (so ``len(values) > len(headers)``) and the validator rejects it when an extra cell is non-empty.
    Empty cells are None. Rows whose cells are all empty are skipped (spreadsheets end in such rows),
    but row numbers still count them.
    """

    name: str  # file name, or the database URL with the password removed
    kind: str  # "csv" | "xlsx" | "json" | "jsonl" | "sql" | "oracle"
    encoding: str | None  # CSV only: "utf-8", "utf-8-sig", "gb18030", "utf-16"
    sha256: str  # of the file bytes; for SQL of the url-without-password + query text
    headers: list[str]  # raw header strings as found
    header_row: int  # 1-based row (line) number of the header in the file; 0 for JSON / SQL
    row_source: Callable[[], Iterator[Row]] = field(repr=False, compare=False, kw_only=True)

    def rows(self) -> Iterator[Row]:
        """Yield (source row number, values) one at a time; never holds the whole source in memory
        (JSON arrays excepted: see portal.ingest.importers.json_reader)."""
        return self.row_source()


def trim_trailing_empty(cells: list[str]) -> list[str]:
    """Drop empty header cells at the end: spreadsheets export them for formatted but unused columns."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def find_header_row(candidates: Sequence[Sequence[str | None]]) -> int | None:
    """Index of the header row among the first rows of a sheet or file, or None when all are empty.

    The header row is the first row with at least two non-empty text cells of which at least two and at
    least half map through the header mapping; this skips a title row ("2024年第一季度…名单"), blank rows
    and lines such as "填报单位：… 填报日期：…". When no row qualifies (a file whose headers are all
    unknown), the first row with two or more non-empty cells is taken, then the first non-empty row, and
    the missing-columns check reports what was found.
    """
    texts = [[c.strip() for c in row if isinstance(c, str) and c.strip()] for row in candidates]
    for index, cells in enumerate(texts):
        if len(cells) >= 2:
            known = count_known_headers(cells)
            if known >= 2 and known * 2 >= len(cells):
                return index
    for index, row in enumerate(candidates):
        if sum(1 for c in row if c not in (None, "")) >= 2:
            return index
    for index, row in enumerate(candidates):
        if any(c not in (None, "") for c in row):
            return index
    return None


def format_number(value: float) -> str:
    """A float as Excel shows it: 15 significant digits, no exponent, no trailing ".0".

    Excel keeps 15 significant digits, so an 18-digit ID number typed as a number comes out as the
    digits Excel holds (110101199001011000): wrong, and the validator rejects it, rather than a
    float artefact such as 110101199001011008.
    """
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = format(Decimal(f"{value:.15g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_datetime(value: dt.datetime) -> str:
    """Midnight datetimes are dates (Excel and Oracle DATE carry dates as datetimes)."""
    if value.time() == dt.time(0, 0) and value.tzinfo is None:
        return value.date().isoformat()
    return value.isoformat(sep=" ")


def require_rows_source(headers: list[str], name: str) -> None:
    if not headers:
        raise SourceError(f"“{name}”中没有找到表头行（文件为空或前 {HEADER_SEARCH_ROWS} 行都是空行）。",
                          f"{name}: no header row found (empty file or only blank rows at the top).")


def scalar_text(value: Any) -> str | None:
    """None, text, booleans and numbers as cell text; anything else is left to the caller (raises TypeError).

    Strings lose NUL characters (databases and JSON can carry them; nothing downstream wants them).
    """
    if value is None:
        return None
    if isinstance(value, str):
        return (value.replace("\x00", "") if "\x00" in value else value) or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value) if value.is_integer() else repr(value)
    raise TypeError(type(value).__name__)
