"""Bulk downloads (数据开放): per-list CSV and JSON of the masked public data, organisations only.

Natural persons are left out of bulk files (they are found one by one through the rate-limited search),
so that a download can not be used to enumerate persons. CSV cells that a spreadsheet would run as a
formula are defused with a leading apostrophe (OWASP CSV injection), and the file carries a UTF-8 BOM so
that Excel opens it in Chinese.
"""

from __future__ import annotations

import csv
import hashlib
import io
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from portal.site.snapshot_view import HIDDEN_FIELDS, public_record
from portal.site.terms import details_text, terms_for

# Column order and Chinese headers of the CSV (the JSON keeps the English keys of PublicEntry).
CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "编号"), ("list_code", "名单代码"), ("list_name", "名单名称"), ("subject_name", "主体名称"),
    ("subject_type", "主体类别"), ("uscc", "统一社会信用代码"), ("reg_no", "注册号"), ("legal_rep", "法定代表人"),
    ("facts", "认定事实"), ("basis", "认定依据"), ("decision_no", "认定文书号"), ("authority", "认定部门"),
    ("decision_date", "认定日期"), ("notice_until", "公示截止日期"), ("publish_from", "公布起始日期"),
    ("publish_until", "公布截止日期"), ("region", "所属区域"), ("address", "住所"), ("status", "状态"),
    ("details", "其他信息"), ("url", "网页地址"),
)
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_header(list_code: str) -> list[str]:
    """The CSV's column titles in the list's own terms (双公示: 处罚机关, 处罚决定书文号 …)."""
    terms = terms_for(list_code)
    return [terms.get(key, title) for key, title in CSV_COLUMNS]


def defuse_cell(value: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would evaluate (= + - @ tab CR at the start)."""
    if value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def downloadable(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records that may go into bulk files: organisations only, without digests or provenance."""
    return [public_record(e) for e in entries if not e["is_person"]]


def _cell(record: dict[str, Any], key: str, site_url: str) -> str:
    if key == "url":
        return f"{site_url}/entries/{record['id']}/"
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, dict):
        return "；".join(f"{k}：{v}" for k, v in sorted(value.items()))
    return str(value)


_KEYS = tuple(key for key, _ in CSV_COLUMNS)
_DETAILS_AT = _KEYS.index("details")
_TRIGGERS = frozenset(FORMULA_TRIGGERS)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = "；".join(f"{k}：{v}" for k, v in sorted(value.items()))
    elif not isinstance(value, str):
        value = str(value)
    return "'" + value if value[:1] in _TRIGGERS else value


def csv_row(record: dict[str, Any], site_url: str) -> list[str]:
    """One CSV row: ``defuse_cell(_cell(record, key, site_url))`` for every column, in one comprehension
    (it runs once per organisation on every build)."""
    get = record.get
    row = [_text(f"{site_url}/entries/{record['id']}/" if key == "url" else get(key)) for key in _KEYS]
    if record.get("details"):  # Chinese labels with units, never the canonical keys
        row[_DETAILS_AT] = _text(details_text(record["details"], record.get("list_code", "")))
    return row


def to_csv(records: list[dict[str, Any]], site_url: str = "") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_header(records[0]["list_code"] if records else ""))
    for record in records:
        writer.writerow(csv_row(record, site_url))
    return buffer.getvalue().encode("utf-8-sig")


def _json_document(records: list[dict[str, Any]], *, list_code: str, data_as_of: str, count: int,
                   site_url: str) -> dict[str, Any]:
    return {
        "list_code": list_code,
        "data_as_of": data_as_of,
        "count": count,
        "note": "仅含法人及非法人组织、个体工商户的脱敏公开信息；自然人信息请通过信用查询逐条查询。",
        "entries": [{**r, "url": f"{site_url}/entries/{r['id']}/"} for r in records],
    }


def to_json(records: list[dict[str, Any]], *, list_code: str, data_as_of: str, site_url: str = "") -> bytes:
    document = _json_document(records, list_code=list_code, data_as_of=data_as_of, count=len(records),
                              site_url=site_url)
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def csv_rows(entries: Iterable[dict[str, Any]], site_url: str) -> bytes:
    """The CSV lines (UTF-8, CRLF) of organisations' entries, without header or BOM."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(csv_row(entry, site_url) for entry in entries)  # hidden fields are not among the columns
    return buffer.getvalue().encode("utf-8")


def json_records(entries: Iterable[dict[str, Any]], site_url: str) -> bytes:
    """The JSON records of organisations' entries as they appear inside the document's ``entries`` array
    (indented, joined by commas, no leading or trailing separator)."""
    bodies = []
    for entry in entries:
        record = entry.copy()
        for key in HIDDEN_FIELDS:
            record.pop(key, None)
        record["url"] = f"{site_url}/entries/{record['id']}/"
        bodies.append(orjson.dumps(record, option=orjson.OPT_INDENT_2).replace(b"\n", b"\n    "))
    return b",\n    ".join(bodies)


class ListDownload:
    """The CSV and JSON files of one list, written a block of records at a time (same bytes as to_csv /
    to_json). A block's bytes (:func:`csv_rows`, :func:`json_records`) can come from a cache: the files are
    concatenations of blocks, hashed as they are written.

    ``count`` (the number of records that will be added) is needed up front: the JSON document states it
    before its entries.
    """

    def __init__(self, csv_path: Path, json_path: Path, *, list_code: str, data_as_of: str, count: int,
                 site_url: str = "") -> None:
        self.csv_path, self.json_path = csv_path, json_path
        self.site_url = site_url
        self.count = count
        self.added = 0
        self._sizes = {"csv": 0, "json": 0}
        self._digests = {"csv": hashlib.sha256(), "json": hashlib.sha256()}
        # both files stay open across add() calls and are closed by close()
        self._files = {"csv": open(csv_path, "wb"), "json": open(json_path, "wb")}  # noqa: SIM115
        header = io.StringIO()
        csv.writer(header, lineterminator="\r\n").writerow(csv_header(list_code))
        self._write("csv", header.getvalue().encode("utf-8-sig"))
        head = orjson.dumps(_json_document([], list_code=list_code, data_as_of=data_as_of, count=count,
                                           site_url=site_url), option=orjson.OPT_INDENT_2)
        if not head.endswith(b"[]\n}"):
            raise AssertionError("unexpected JSON layout")
        self._write("json", head[:-len(b"]\n}")])

    def _write(self, kind: str, data: bytes) -> None:
        self._files[kind].write(data)
        self._digests[kind].update(data)
        self._sizes[kind] += len(data)

    def add(self, entry: dict[str, Any]) -> None:
        """Add one organisation's entry (persons never go into bulk files)."""
        if entry["is_person"]:
            raise ValueError("natural persons are never written to bulk downloads")
        self.add_block(csv_rows([entry], self.site_url), json_records([entry], self.site_url), 1)

    def add_block(self, csv_bytes: bytes, json_bytes: bytes, count: int) -> None:
        """Add ``count`` records given as :func:`csv_rows` and :func:`json_records` of organisations."""
        if not count:
            return
        self._write("csv", csv_bytes)
        self._write("json", b",\n    " if self.added else b"\n    ")
        self._write("json", json_bytes)
        self.added += count

    def close(self) -> dict[str, Any]:
        """Finish both files; returns their facts for the downloads page (url-less: size and sha256)."""
        if self.added != self.count:
            raise ValueError(f"{self.json_path.name}: announced {self.count} records, got {self.added}")
        self._write("json", b"\n  ]\n}" if self.added else b"]\n}")
        for handle in self._files.values():
            handle.close()
        return {kind: {"size": self._sizes[kind], "sha256": self._digests[kind].hexdigest()}
                for kind in ("csv", "json")}


class BackgroundCalls:
    """Runs calls one after another in a thread, in the order given (file writes and hashing of the
    download blocks, which release the GIL, so the next pages render meanwhile on the other core).

    The queue is bounded, so memory stays flat; the first error stops further calls and is raised by
    :meth:`call` or :meth:`close`.
    """

    def __init__(self, depth: int = 64) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="portal-download-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if self._error is None:
                function, args = job
                try:
                    function(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to the building thread
                    self._error = exc

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((function, args))

    def close(self) -> None:
        """Wait for every queued call; raise the first error."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
