"""The reading side of ingest: one source → validated, masked, lifecycle-evaluated rows, in batches.

One reader thread in the parent (``read_batches``, driven by ``portal.ingest.pipeline``) reads the sources
one after another and cuts their rows into ``RawBatch``es; N validator processes (``BatchValidator``) turn
each batch into masked staged rows and rejects; the parent keeps the staging database. So one large file
is validated on every core. Raw values travel only from the reader to a validator, inside ingest;
everything a validator sends back is public (masked). With one worker, ``process_source`` does both in
this process.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from portal.ingest.actions import Override
from portal.ingest.headers import HeaderMapping, map_headers, require_columns
from portal.ingest.importers import SourceError, open_source
from portal.ingest.importers.sql_reader import safe_url
from portal.ingest.ingest_memo import MemoReader, memo_key_base, pack, unpack
from portal.ingest.lifecycle import evaluate
from portal.ingest.masking import MaskingPolicy
from portal.ingest.validate import Problem, RowValidator, ValidRow
from portal.ingest.workdays import WorkCalendar
from portal.public.catalogue import Catalogue
from portal.public.digest import Digester
from portal.settings import HOLIDAYS_FILE, INGEST_BATCH_ROWS

# One staged row: what the parent stores (see portal.ingest.pipeline, table ``staged``).
StagedRow = tuple[str, str, str, str | None, str, str | None, str | None, str | None, str, int, int, bytes]
# One reject line: (source index, row, field, reason_zh, reason_en).
RejectLine = tuple[int, int, str, str, str]
# One clamped period: (source index, row, entry id, list code, kind, given, applied) — see portal.ingest.periods.
AdjustmentLine = tuple[int, int, str, str, str, str, str]


class IngestError(Exception):
    """The import was refused as a whole; nothing was published."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en


@dataclass
class SourceSpec:
    """What to read: a path or SQLAlchemy URL, with optional sheet / table / query."""

    spec: str
    sheet: str | None = None
    table: str | None = None
    query: str | None = None
    fmt: str | None = None


@dataclass(frozen=True)
class WorkContext:
    catalogue: Catalogue
    policy: MaskingPolicy
    key: bytes
    as_of: date
    imported_at: str
    overrides: dict[str, Override]
    holidays_file: Path = HOLIDAYS_FILE
    memo_path: Path | None = None  # the ingest memo (portal.ingest.ingest_memo); None: validate every row


@dataclass
class RawBatch:
    """Rows as read, on their way to a validating worker (raw values: never leaves the ingest step)."""

    source_index: int
    table_name: str
    batch_id: str  # sha256 prefix of the source
    n_headers: int
    mapping: HeaderMapping
    rows: list[tuple[int, list[str | None]]]
    rows_read: int  # rows read in this source so far, this batch included


@dataclass
class Batch:
    """Validated rows: staged (public, masked) entries and rejects."""

    source_index: int
    rows_read: int
    staged: list[StagedRow]
    rejects: list[RejectLine]
    rejected_rows: int  # rows of this batch rejected by validation
    fallback_years: list[int] = field(default_factory=list)
    adjustments: list[AdjustmentLine] = field(default_factory=list)
    memo_hits: list[bytes] = field(default_factory=list)  # memo keys of rows taken from the memo
    memo_new: list[tuple[bytes, bytes]] = field(default_factory=list)  # (key, packed outcome) validated now


@dataclass
class SourceDone:
    source_index: int
    report: dict[str, Any]  # rows read etc.; "rejected" is filled in by the parent from the batches
    unknown: dict[str, Any] | None


def internal_error(exc: BaseException) -> IngestError:
    """A bug met while handling rows, as an IngestError that names only the exception type and where it
    happened: the exception's own text may quote a raw cell (an ID number), and this message reaches the
    terminal and the audit log."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    name = type(exc).__name__
    return IngestError(f"内部错误（{name}，{where}），未发布任何数据", f"internal error ({name} at {where}); nothing published")


def display_name(spec: str) -> str:
    """A source as it may appear in messages, logs and the audit: database URLs lose their password."""
    if "://" not in spec:
        return spec
    try:
        return safe_url(make_url(spec))
    except ArgumentError:
        return spec.split("://", 1)[0] + "://***"


def read_batches(index: int, source: SourceSpec) -> Iterator[RawBatch | SourceDone]:
    """Read one source in batches of raw rows; raises IngestError if it cannot be read as a whole."""
    try:
        table = open_source(source.spec, sheet=source.sheet, table=source.table, query=source.query,
                            fmt=source.fmt)
        mapping = map_headers(table.headers)
        require_columns(mapping, table.name)
    except SourceError as exc:
        shown = display_name(source.spec)
        raise IngestError(f"来源“{shown}”无法导入：{exc.message_zh}",
                          f"source {shown!r} cannot be imported: {exc.message_en}") from exc
    rows: list[tuple[int, list[str | None]]] = []
    read = 0
    batch_id = table.sha256[:12]

    def batch() -> RawBatch:
        return RawBatch(index, table.name, batch_id, len(table.headers), mapping, rows, read)

    try:
        for row in table.rows():
            rows.append(row)
            read += 1
            if len(rows) >= INGEST_BATCH_ROWS:
                yield batch()
                rows = []
    except SourceError as exc:
        raise IngestError(f"读取“{table.name}”第{read + table.header_row}行附近时出错：{exc.message_zh}",
                          f"reading {table.name!r} failed near row {read + table.header_row}: {exc.message_en}"
                          ) from exc
    yield batch()
    unknown = None
    if mapping.unknown or mapping.duplicates:
        unknown = {"source": table.name, "columns": list(mapping.unknown), "duplicates": list(mapping.duplicates)}
    report = {"name": table.name, "kind": table.kind, "encoding": table.encoding, "sha256": table.sha256,
              "rows": read, "rejected": 0, "template": mapping.template, "layout": mapping.layout}
    yield SourceDone(index, report, unknown)


class BatchValidator:
    """Validates raw batches of any source; keeps one RowValidator per source."""

    def __init__(self, ctx: WorkContext) -> None:
        self.ctx = ctx
        self.calendar = WorkCalendar.load(ctx.holidays_file)
        self._validators: dict[int, RowValidator] = {}
        self._memo = MemoReader(ctx.memo_path) if ctx.memo_path else None
        self._memo_keys: dict[int, Any] = {}
        if self._memo is not None:
            self._memo_base = memo_key_base(ctx.key, ctx.policy.version, ctx.catalogue.version)

    def __call__(self, raw: RawBatch) -> Batch:
        validator = self._validators.get(raw.source_index)
        if validator is None:
            validator = RowValidator(
                catalogue=self.ctx.catalogue, policy=self.ctx.policy, digester=Digester(self.ctx.key),
                implied_list=raw.mapping.template,
                infer_subject_type="subject_type" not in raw.mapping.columns.values())
            self._validators[raw.source_index] = validator
            if self._memo is not None:
                per_source = self._memo_base.copy()
                per_source.update(orjson.dumps([raw.mapping.template, validator.infer_subject_type]))
                self._memo_keys[raw.source_index] = per_source
        memo, memo_base = self._memo, self._memo_keys.get(raw.source_index)
        index, mapping, n_headers = raw.source_index, raw.mapping, raw.n_headers
        provenance_head = b',"source":{"file":' + orjson.dumps(raw.table_name) + b',"row":'
        provenance_tail = f',"batch":"{raw.batch_id}","imported_at":"{self.ctx.imported_at}"}}}}'.encode()
        batch = Batch(index, raw.rows_read, [], [], 0)
        picks: list[tuple[int, dict[str, str | None] | None, bytes]] = []
        for row_number, values in raw.rows:
            if len(values) > n_headers and any(v not in (None, "") for v in values[n_headers:]):
                picks.append((row_number, None, b""))
                continue
            picked: dict[str, str | None] | None = mapping.pick(values)
            if memo_base is None:
                picks.append((row_number, picked, b""))
                continue
            hasher = memo_base.copy()
            hasher.update(orjson.dumps(picked))
            picks.append((row_number, picked, hasher.digest()))
        known = memo.get_many([key for _, _, key in picks if key]) if memo is not None else {}
        for row_number, picked, memo_key in picks:
            if picked is None:
                problems = [Problem("row", "该行的列数多于表头", "row has more cells than the header")]
            else:
                if memo is not None:
                    packed = known.get(memo_key)
                    if packed is not None:
                        batch.memo_hits.append(memo_key)
                        batch.staged.append(_stage(unpack(packed, self.ctx.catalogue), self.ctx, self.calendar,
                                                   index, row_number, provenance_head, provenance_tail,
                                                   batch.adjustments))
                        continue
                result = validator.validate(picked)
                if isinstance(result, ValidRow):
                    if memo is not None:
                        batch.memo_new.append((memo_key, pack(result)))  # before the lifecycle changes it
                    batch.staged.append(_stage(result, self.ctx, self.calendar, index, row_number,
                                               provenance_head, provenance_tail, batch.adjustments))
                    continue
                problems = result
            batch.rejected_rows += 1
            batch.rejects.extend((index, row_number, p.field, p.zh, p.en) for p in problems)
        batch.fallback_years = sorted(self.calendar.fallback_years)
        return batch


def process_source(index: int, source: SourceSpec, ctx: WorkContext) -> Iterator[Batch | SourceDone]:
    """Read and validate one source in this process (the single-worker path)."""
    validate = BatchValidator(ctx)
    for message in read_batches(index, source):
        yield validate(message) if isinstance(message, RawBatch) else message


def _stage(row: ValidRow, ctx: WorkContext, calendar: WorkCalendar, source_index: int, row_number: int,
           provenance_head: bytes, provenance_tail: bytes, adjustments: list[AdjustmentLine]) -> StagedRow:
    override = ctx.overrides.get(row.entry["id"])
    if override:
        row.status = override.status or row.status
        row.objection_since = override.objection_since
        if override.removal_date:
            row.removal_date, row.removal_reason = override.removal_date, override.removal_reason
    outcome = evaluate(row, row.spec, ctx.as_of, calendar)
    entry = row.entry
    if outcome.adjustment:
        adjustments.append((source_index, row_number, entry["id"], entry["list_code"], outcome.adjustment.kind,
                            outcome.adjustment.given, outcome.adjustment.applied.isoformat()))
    entry["notice_until"] = outcome.notice_until.isoformat() if outcome.notice_until else None
    entry["publish_from"] = outcome.publish_from.isoformat()
    entry["publish_until"] = outcome.publish_until.isoformat() if outcome.publish_until else None
    entry["status"] = outcome.status.value if outcome.status else None
    del entry["source"]  # appended below, after hashing the content without it
    content = orjson.dumps(entry)
    body = content[:-1] + provenance_head + str(row_number).encode() + provenance_tail
    return (entry["id"], entry["list_code"], entry["list_kind"], row.subject_key, entry["decision_date"],
            outcome.withheld, outcome.withdrawn_on.isoformat() if outcome.withdrawn_on else None,
            entry["status"], content_hash(content), source_index, row_number, body)


def content_hash(content: bytes) -> str:
    """Hash of an entry without its provenance: equal content gives equal hashes across imports."""
    return hashlib.blake2b(content, digest_size=8).hexdigest()
