"""Re-reading generated (or any department) files for the raw personal identifiers they contain.

The privacy leak test greps a public snapshot for every value returned here: no ID number, phone or bank
account from the inputs may appear in the output, masked forms aside.
"""

from __future__ import annotations

import codecs
import csv
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from openpyxl import load_workbook

from portal.ingest.identifiers import upgrade_ric15

# Header fragments (normalised) of columns that hold ID numbers, phones or bank accounts.
_SENSITIVE_FRAGMENTS = ("证件号码", "证件号", "身份证", "电话", "手机", "账号", "账户", "卡号", "联系方式",
                        "id_number", "phone", "bank_account")
_HEADER_SCAN_ROWS = 5  # a title row or two may sit above the header


def _normal_header(value: object) -> str:
    text = unicodedata.normalize("NFKC", str(value or ""))
    return "".join(text.split()).strip("*").casefold()


def _normal_value(value: object) -> str:
    """The identifier as an importer would store it: no control/format characters, half-width, no spaces."""
    text = "".join(c for c in str(value) if unicodedata.category(c) not in ("Cc", "Cf"))
    return "".join(unicodedata.normalize("NFKC", text).split()).upper()


def _is_sensitive(header: str) -> bool:
    return any(fragment in header for fragment in _SENSITIVE_FRAGMENTS)


def _csv_encoding(path: Path) -> str:
    """utf-8-sig with a BOM, utf-8 if every byte decodes, else gb18030 (what Excel exports in China)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        if f.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
        f.seek(0)
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def _csv_rows(path: Path) -> Iterator[list[str]]:
    with open(path, encoding=_csv_encoding(path), newline="") as f:
        yield from csv.reader(f)


def _xlsx_rows(path: Path) -> Iterator[list[object]]:
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows(values_only=True):
                yield list(row)
    finally:
        workbook.close()


def _values_of(rows: Iterable[Sequence[object]]) -> Iterator[str]:
    columns: list[int] | None = None
    for scanned, row in enumerate(rows):
        if columns is None:
            if sum(1 for cell in row if cell not in (None, "")) >= 3:
                columns = [i for i, cell in enumerate(row) if _is_sensitive(_normal_header(cell))]
            elif scanned >= _HEADER_SCAN_ROWS:
                return
            continue
        for i in columns:
            if i < len(row) and row[i] not in (None, ""):
                value = _normal_value(row[i])
                if value:
                    yield value


def sensitive_values(paths: Iterable[Path]) -> set[str]:
    """Every raw ID number, phone number and bank account in the given CSV/XLSX files.

    Columns are found by their header (证件号码, 法定代表人证件号码, 联系电话, 开户银行账号, id_number, phone …),
    so this works on any generated file set and on real department files alike. Values are returned in the
    form an importer would hold them before masking (control characters and spaces removed, full-width
    folded, upper case); a 15-digit legacy ID number is returned together with its 18-digit upgrade.
    Invalid values (wrong check digits) are included: they must not leak through the rejects either.
    Other files (the manifest, anything not .csv/.xlsx) are ignored.
    """
    found: set[str] = set()
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            rows: Iterable[Sequence[object]] = _csv_rows(Path(path))
        elif suffix == ".xlsx":
            rows = _xlsx_rows(Path(path))
        else:
            continue
        for value in _values_of(rows):
            found.add(value)
            if len(value) == 15 and value.isdigit():
                found.add(upgrade_ric15(value))
    return found
