"""The ingest pipeline: department sources → validated, masked, lifecycle-evaluated public snapshot.

Streaming: rows flow from the readers through validation into a staging SQLite file beside the snapshot
(bounded memory at any size), where duplicates, the red/black conflict rule, ordering and the comparison
with the previous snapshot are done with indexes instead of in-memory sets.

Safety: any source that cannot be read as a whole (missing required columns, unreadable file, database
error) aborts the import before anything is published — a department file that failed to load must not make
its entries look withdrawn. Bad rows never abort: each goes to rejects.csv with its source, row and reason.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sqlite3
import tempfile
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from portal.ingest.actions import Override
from portal.ingest.exclusions import apply_exclusions
from portal.ingest.identity import MATCH_LABELS
from portal.ingest.ingest_memo import MEMO_FILE, MemoWriter
from portal.ingest.lifecycle import CONFLICT, OBJECTION_WITHHELD, TOMBSTONE_REASON, WITHHELD_REASONS
from portal.ingest.masking import MaskingPolicy, load_policy
from portal.ingest.timeliness import LATE_FILE, apply_timeliness, write_report
from portal.ingest.workdays import WorkCalendar
from portal.ingest.worker import (
    Batch,
    BatchValidator,
    IngestError,
    RawBatch,
    SourceDone,
    SourceSpec,
    StagedRow,
    WorkContext,
    content_hash,
    display_name,
    internal_error,
    process_source,
    read_batches,
)
from portal.public import faults
from portal.public import snapshot as snap
from portal.public.catalogue import Catalogue, load_catalogue
from portal.public.digest import load_key
from portal.public.measures import load_measures
from portal.public.records import PublicStatus, WithdrawalReason
from portal.settings import HOLIDAYS_FILE, INGEST_BATCH_ROWS, INGEST_MAX_WORKERS, INGEST_QUEUE_BATCHES

MAX_CONFLICTS_LISTED = 1_000  # manifest lists this many conflicts; the count is always complete
MAX_ADJUSTMENTS_LISTED = 1_000  # manifest lists this many clamped periods; the counts are always complete


@dataclass
class IngestResult:
    version_dir: Path
    manifest: dict[str, Any]
    memo: dict[str, int] | None = None  # rows taken from the ingest memo / validated / memo entries dropped


ProgressFn = Callable[[str, int], None]  # (source name, rows read so far in it)


def run_ingest(sources: Sequence[SourceSpec], snapshots_root: Path, *, as_of: date,
               catalogue: Catalogue | None = None, policy: MaskingPolicy | None = None,
               key: bytes | None = None, progress: ProgressFn | None = None,
               overrides: dict[str, Override] | None = None, set_latest: bool = True,
               workers: int | None = None, holidays_file: Path = HOLIDAYS_FILE,
               memo: bool = True, memo_path: Path | None = None,
               measures: dict[str, Any] | None = None) -> IngestResult:
    """Import ``sources`` as of ``as_of`` into a new snapshot version under ``snapshots_root``.

    ``overrides`` are operator actions (objections, repairs) applied over the rows; with ``set_latest``
    false the new version is written but ``latest`` stays where it was (``portal publish`` moves it only
    once the site and the index are built too). ``workers`` processes read sources in parallel
    (default: one per core, at most one per source). ``holidays_file`` adds holiday arrangements the
    calendar package does not know yet (default ``portal/data/holidays.toml``). With ``memo`` rows unchanged
    since the last import are taken from the ingest memo instead of being validated again
    (``portal.ingest.ingest_memo``), kept at ``memo_path`` (default: beside the snapshot versions).
    ``measures`` (public form, default: the file named by ``PORTAL_MEASURES``) is copied into the
    snapshot with the catalogue.
    """
    ctx = WorkContext(catalogue=catalogue or load_catalogue(), policy=policy or load_policy(),
                      key=key if key is not None else load_key(), as_of=as_of,
                      imported_at=snap.now_shanghai().isoformat(), overrides=overrides or {},
                      holidays_file=holidays_file,
                      memo_path=(memo_path or snapshots_root / MEMO_FILE) if memo else None)
    snapshots_root.mkdir(parents=True, exist_ok=True)
    previous = snap.latest_version(snapshots_root)
    staging_dir = snap.begin_version(snapshots_root)
    try:
        with tempfile.TemporaryDirectory(dir=snapshots_root, prefix=".stage-") as work:
            builder = _SnapshotBuilder(Path(work) / "stage.db", staging_dir, as_of)
            memo_writer = MemoWriter(ctx.memo_path, builder.db) if ctx.memo_path else None
            n_workers = min(workers or os.cpu_count() or 1, INGEST_MAX_WORKERS)
            messages = (_parallel(sources, ctx, n_workers) if n_workers > 1 else
                        _inline(sources, ctx))
            for message in messages:
                if isinstance(message, Batch):
                    builder.add_batch(message)
                    if memo_writer is not None:
                        memo_writer.add(message.memo_hits, message.memo_new)
                    faults.reached("ingest")
                    if progress:
                        progress(display_name(sources[message.source_index].spec), message.rows_read)
                else:
                    builder.finish_source(message)
            builder.apply_conflict_rule(ctx.catalogue)
            if previous is not None:
                builder.load_previous(previous)
            calendar = WorkCalendar.load(holidays_file)
            apply_timeliness(builder.db, ctx.catalogue, as_of, previous, calendar)
            builder.fallback_years.update(calendar.fallback_years)
            manifest = builder.write_files(ctx.catalogue, ctx.policy, previous,
                                           measures if measures is not None else load_measures())
            builder.close()
            memo_stats = memo_writer.commit() if memo_writer is not None else None
        version_dir = snap.commit_version(snapshots_root, staging_dir, manifest, set_latest=set_latest)
    except BaseException:
        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    if set_latest:  # a publish prunes itself, together with its releases
        snap.prune_versions(snapshots_root)
    return IngestResult(version_dir, snap.read_manifest(version_dir), memo_stats)


def _inline(sources: Sequence[SourceSpec], ctx: WorkContext) -> Iterator[Batch | SourceDone]:
    """The single-process path, with the same error rule as the workers (see ``internal_error``)."""
    try:
        for index, source in enumerate(sources):
            yield from process_source(index, source, ctx)
    except IngestError:
        raise
    except Exception as exc:
        raise internal_error(exc) from None


def _validate_worker(tasks: Any, results: Any, ctx: WorkContext) -> None:
    """Worker process: validate raw batches until the sentinel; a bug fails the import, never hangs it."""
    validate = BatchValidator(ctx)
    try:
        while (raw := tasks.get()) is not None:
            results.put(("msg", validate(raw)))
    except Exception as exc:
        error = internal_error(exc)
        results.put(("error", (error.zh, error.en)))
    results.put(("exit", None))


def _parallel(sources: Sequence[SourceSpec], ctx: WorkContext, n_workers: int) -> Iterator[Batch | SourceDone]:
    """Read sources in a thread of this process, validate in ``n_workers`` processes, yield their results.

    Reading and parsing a row costs a few microseconds; validating it costs most of the import, so one
    reader feeds all cores, and one large file is parallel too. Bounded queues keep memory flat.
    """
    mp = multiprocessing.get_context("fork")  # workers inherit the loaded catalogue, policy and key
    tasks = mp.Queue(maxsize=2 * n_workers)
    results = mp.Queue(maxsize=INGEST_QUEUE_BATCHES)
    procs = [mp.Process(target=_validate_worker, args=(tasks, results, ctx), daemon=True)
             for _ in range(n_workers)]
    for proc in procs:
        proc.start()

    def feed() -> None:
        try:
            for index, source in enumerate(sources):
                for message in read_batches(index, source):
                    if isinstance(message, RawBatch):
                        tasks.put(message)
                    else:
                        results.put(("msg", message))
        except IngestError as exc:
            results.put(("error", (exc.zh, exc.en)))
        except Exception as exc:
            error = internal_error(exc)
            results.put(("error", (error.zh, error.en)))
        finally:
            for _ in procs:
                tasks.put(None)

    reader = threading.Thread(target=feed, name="ingest-reader", daemon=True)
    reader.start()
    running = n_workers
    try:
        while running:
            kind, payload = results.get()
            if kind == "msg":
                yield payload
            elif kind == "exit":
                running -= 1
            else:
                raise IngestError(*payload)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()


def _size_hint(source: SourceSpec) -> int:
    try:
        return os.path.getsize(source.spec)
    except OSError:
        return 0


class _SnapshotBuilder:
    def __init__(self, db_path: Path, out_dir: Path, as_of: date) -> None:
        self.out_dir = out_dir
        self.as_of = as_of
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;
            PRAGMA cache_size = -65536;
            -- A rowid table (rows appended in arrival order) with a small unique index on id: random
            -- 16-hex ids as a WITHOUT ROWID key would split pages full of ~1 KB bodies on every insert.
            CREATE TABLE staged (
                id TEXT NOT NULL, list_code TEXT, kind TEXT, subject_key TEXT, decision_date TEXT,
                withheld TEXT, withdrawn_on TEXT, status TEXT, content_hash TEXT, source INTEGER, row INTEGER,
                body BLOB);
            CREATE UNIQUE INDEX staged_id ON staged(id);
            CREATE TABLE rejects (source INTEGER, row INTEGER, field TEXT, reason_zh TEXT, reason_en TEXT);
            CREATE TABLE previous (id TEXT PRIMARY KEY, content_hash TEXT, public INTEGER, tomb BLOB) WITHOUT ROWID;
            CREATE TABLE conflicts (red_id TEXT, black_id TEXT, list_code TEXT, by_list TEXT, by_kind TEXT,
                                    matched_by TEXT);
            CREATE TABLE adjustments (source INTEGER, row INTEGER, id TEXT, list_code TEXT, kind TEXT, given TEXT,
                                      applied TEXT);
        """)
        self.db.execute("BEGIN")
        self.rows_read = 0
        self.rejected_rows = 0
        self.reports: dict[int, dict[str, Any]] = {}
        self.duplicates: Counter[int] = Counter()
        self.rejected_by_source: Counter[int] = Counter()
        self.unknown_columns: list[dict[str, Any]] = []
        self.fallback_years: set[int] = set()

    # --- reading ------------------------------------------------------------------------------------

    def add_batch(self, batch: Batch) -> None:
        self.db.executemany("INSERT INTO rejects VALUES (?,?,?,?,?)", batch.rejects)
        self.rejected_rows += batch.rejected_rows
        self.rejected_by_source[batch.source_index] += batch.rejected_rows
        self.fallback_years.update(batch.fallback_years)
        if batch.adjustments:
            self.db.executemany("INSERT INTO adjustments VALUES (?,?,?,?,?,?,?)", batch.adjustments)
        insert = "INSERT INTO staged VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING"
        before = self.db.total_changes
        self.db.executemany(insert, batch.staged)  # one call per batch: the parent is the serial part
        if self.db.total_changes - before == len(batch.staged):
            return
        # Some ids were there already (or twice in this batch): find the rows that were not stored.
        where = "SELECT source, row FROM staged WHERE id = ?"
        for row in batch.staged:
            if self.db.execute(where, (row[0],)).fetchone() != (row[9], row[10]):
                self._duplicate(row)

    def _duplicate(self, row: StagedRow) -> None:
        """Two rows with the same id: the earlier (source order, row) stays, the later is rejected.

        Deciding by position rather than arrival keeps the outcome the same however workers interleave.
        """
        first_source, first_row, first_rowid = self.db.execute(
            "SELECT source, row, rowid FROM staged WHERE id = ?", (row[0],)).fetchone()
        new_pos, old_pos = (row[9], row[10]), (first_source, first_row)
        if new_pos < old_pos:
            self.db.execute("DELETE FROM staged WHERE rowid = ?", (first_rowid,))
            self.db.execute("INSERT INTO staged VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
            kept, dropped = new_pos, old_pos
        else:
            kept, dropped = old_pos, new_pos
        self.db.execute("INSERT INTO rejects VALUES (?,?,?,?,?)", (
            dropped[0], dropped[1], "row",
            f"重复记录：与第{kept[0] + 1}个来源第{kept[1]}行为同一名单、主体、文书号和日期",
            f"duplicate of source {kept[0] + 1} row {kept[1]} (same list, subject, decision number and date)"))
        self.duplicates[dropped[0]] += 1
        self.rejected_rows += 1

    def finish_source(self, done: SourceDone) -> None:
        self.reports[done.source_index] = done.report
        self.rows_read += done.report["rows"]
        if done.unknown:
            self.unknown_columns.append(done.unknown)

    # --- rules across rows --------------------------------------------------------------------------

    def apply_conflict_rule(self, catalogue: Catalogue) -> None:
        """A subject on an active black list, or on a list that excludes a red list, is withheld from it."""
        apply_exclusions(self.db, catalogue)

    def load_previous(self, previous: Path) -> None:
        insert = "INSERT OR REPLACE INTO previous VALUES (?,?,?,?)"
        rows: list[tuple[str, str | None, int, bytes]] = []
        for entry in snap.iter_entries(previous):
            del entry["source"]
            rows.append((entry["id"], content_hash(orjson.dumps(entry)), 1,
                         orjson.dumps(snap.tombstone_from_entry(entry))))
            if len(rows) >= INGEST_BATCH_ROWS:
                self.db.executemany(insert, rows)
                rows.clear()
        self.db.executemany(insert, rows)
        rows.clear()
        for tomb in snap.iter_tombstones(previous):
            rows.append((tomb["id"], None, 0, orjson.dumps(tomb)))
            if len(rows) >= INGEST_BATCH_ROWS:
                self.db.executemany("INSERT OR IGNORE INTO previous VALUES (?,?,?,?)", rows)
                rows.clear()
        self.db.executemany("INSERT OR IGNORE INTO previous VALUES (?,?,?,?)", rows)

    # --- output -------------------------------------------------------------------------------------

    def write_files(self, catalogue: Catalogue, policy: MaskingPolicy, previous: Path | None,
                    measures: dict[str, Any]) -> snap.Manifest:
        sources = []
        for index in sorted(self.reports):
            report = dict(self.reports[index])
            report["rejected"] = self.rejected_by_source[index] + self.duplicates[index]
            sources.append(report)
        rejects = snap.RejectsWriter(self.out_dir / snap.REJECTS)
        for source_index, row, field_name, zh, en in self.db.execute(
                "SELECT source, row, field, reason_zh, reason_en FROM rejects ORDER BY source, row, rowid"):
            rejects.write(self.reports[source_index]["name"], row, field_name, zh, en)
        self.db.execute("CREATE INDEX staged_order ON staged(decision_date DESC, id DESC) WHERE status IS NOT NULL")
        entries = snap.HashingWriter(self.out_dir / snap.ENTRIES)
        by_list: dict[str, Counter[str]] = defaultdict(Counter)
        status_counts: Counter[str] = Counter()
        for body, status, list_code in self.db.execute(
                "SELECT body, status, list_code FROM staged WHERE status IS NOT NULL "
                "ORDER BY decision_date DESC, id DESC"):
            entries.write_line(body + b"\n")
            status_counts[status] += 1
            by_list[list_code]["public"] += 1
        withheld_counts: Counter[str] = Counter()
        for list_code, reason, count in self.db.execute(
                "SELECT list_code, withheld, count(*) FROM staged WHERE withheld IS NOT NULL GROUP BY 1, 2"):
            withheld_counts[reason] += count
            by_list[list_code]["withheld"] += count

        tombstones = snap.HashingWriter(self.out_dir / snap.WITHDRAWN)
        for tomb in self._tombstones():
            tombstones.write_json(tomb)
        changes = snap.HashingWriter(self.out_dir / snap.CHANGES)
        change_counts = self._write_changes(changes)

        files: dict[str, snap.FileInfo] = {
            snap.ENTRIES: entries.close(), snap.WITHDRAWN: tombstones.close(), snap.CHANGES: changes.close(),
            snap.REJECTS: rejects.close(),
            snap.CATALOGUE: snap.write_catalogue(self.out_dir, catalogue.to_public()),
            snap.MEASURES: snap.write_measures(self.out_dir, measures),
        }
        published = status_counts[PublicStatus.PUBLISHED.value] + status_counts[PublicStatus.OBJECTION.value]
        counts: dict[str, Any] = {
            "rows_read": self.rows_read,
            "published": published,
            "under_notice": status_counts[PublicStatus.UNDER_NOTICE.value],
            "objection_flagged": status_counts[PublicStatus.OBJECTION.value],
            "withheld": {reason: withheld_counts.get(reason, 0) for reason in WITHHELD_REASONS},
            "rejected": self.rejected_rows,
            "by_list": {code: dict(c) for code, c in sorted(by_list.items())},
        }
        balance = counts["published"] + counts["under_notice"] + sum(counts["withheld"].values()) + self.rejected_rows
        if balance != self.rows_read:  # a bug, never a data problem: refuse to publish unbalanced books
            raise IngestError(f"账目不平：读取{self.rows_read}行，计入{balance}行",
                              f"books do not balance: {self.rows_read} rows read, {balance} accounted for")
        # matched_by: the kind of key both rows share (uscc, org_code, reg_no, name, id_number, legal_rep), never
        # the key itself.
        conflicts = [{"red_id": red_id, "black_id": by_id, "list_code": code, "by_list": by_list, "by_kind": by_kind,
                      "matched_by": MATCH_LABELS.get(key[:2], key[:2])}
                     for red_id, by_id, code, by_list, by_kind, key in self.db.execute(
                         "SELECT red_id, black_id, list_code, by_list, by_kind, matched_by FROM conflicts "
                         "ORDER BY red_id LIMIT ?", (MAX_CONFLICTS_LISTED,))]
        files[LATE_FILE], timeliness = write_report(self.db, self.out_dir, catalogue)
        return snap.new_manifest(
            previous=previous, data_as_of=self.as_of, policy_version=policy.version,
            catalogue_version=catalogue.version, measures_version=measures.get("version"),
            sources=sources, counts=counts, conflicts_total=withheld_counts.get(CONFLICT, 0), conflicts=conflicts,
            period_adjustments=self._adjustments(), timeliness=timeliness,
            unknown_columns=self.unknown_columns, calendar_fallback_years=self.fallback_years,
            changes=change_counts, files=files)

    def _adjustments(self) -> dict[str, Any]:
        """File-given periods clamped to their list's bounds, per row (rows that were published or staged)."""
        kept = """FROM adjustments a JOIN staged s ON s.id = a.id AND s.source = a.source AND s.row = a.row"""
        by_kind = dict(self.db.execute(f"SELECT a.kind, count(*) {kept} GROUP BY 1").fetchall())  # noqa: S608
        listed = [{"source": self.reports[source]["name"], "row": row, "id": entry_id, "list_code": code,
                   "kind": kind, "given": given, "applied": applied}
                  for source, row, entry_id, code, kind, given, applied in self.db.execute(
                      f"SELECT a.source, a.row, a.id, a.list_code, a.kind, a.given, a.applied {kept} "  # noqa: S608
                      "ORDER BY a.source, a.row LIMIT ?", (MAX_ADJUSTMENTS_LISTED,))]
        return {"total": sum(by_kind.values()), "by_kind": by_kind, "listed": listed}

    def _tombstones(self) -> Iterator[dict[str, Any]]:
        withdrawal_reasons = tuple(TOMBSTONE_REASON)
        marks = ",".join("?" * (len(withdrawal_reasons) + 1))
        # Withdrawn now: by an explicit withdrawal reason, or public before and withheld now for any reason.
        for body, withheld, withdrawn_on, previous_tomb, was_public in self.db.execute(f"""
                SELECT s.body, s.withheld, s.withdrawn_on, p.tomb, p.public FROM staged s
                LEFT JOIN previous p ON p.id = s.id
                WHERE s.withheld IN ({marks}) OR (s.withheld IS NOT NULL AND p.id IS NOT NULL)
                ORDER BY s.id""", (*withdrawal_reasons, OBJECTION_WITHHELD)):  # noqa: S608
            if withheld == OBJECTION_WITHHELD:  # 暂停公示（异议处理中）: a notice, kept from when it began
                if previous_tomb and orjson.loads(previous_tomb)["reason"] == WithdrawalReason.SUSPENDED.value:
                    yield orjson.loads(previous_tomb)
                else:
                    yield snap.tombstone_from_entry(orjson.loads(body), WithdrawalReason.SUSPENDED.value,
                                                    withdrawn_on or self.as_of.isoformat())
                continue
            previous_notice = orjson.loads(previous_tomb) if previous_tomb else None
            if withheld not in TOMBSTONE_REASON and not was_public and (
                    previous_notice["reason"] != WithdrawalReason.SUSPENDED.value):  # type: ignore[index]
                yield previous_notice  # type: ignore[misc] # still withheld: keep the notice it already had
                continue
            entry = orjson.loads(body)
            reason = TOMBSTONE_REASON.get(withheld, WithdrawalReason.REMOVED)
            yield snap.tombstone_from_entry(entry, reason.value, withdrawn_on or self.as_of.isoformat())
        # Gone from the sources altogether: tombstones from the previous snapshot, carried or newly made.
        for tomb_blob, was_public in self.db.execute("""
                SELECT p.tomb, p.public FROM previous p LEFT JOIN staged s ON s.id = p.id
                WHERE s.id IS NULL ORDER BY p.id"""):
            tomb = orjson.loads(tomb_blob)
            if was_public or tomb["reason"] == WithdrawalReason.SUSPENDED.value:  # a suspension ends too
                tomb["reason"] = WithdrawalReason.REMOVED.value
                tomb["withdrawn_on"] = self.as_of.isoformat()
            yield tomb

    def _write_changes(self, out: snap.HashingWriter) -> dict[str, int]:
        at = self.as_of.isoformat()
        counts: Counter[str] = Counter()
        # is_person: the public change feed leaves persons out (only API-key holders get them, docs/api.md).
        query = """
            SELECT 'added', s.id, s.list_code, json_extract(s.body, '$.is_person') FROM staged s
              LEFT JOIN previous p ON p.id = s.id
              WHERE s.status IS NOT NULL AND (p.public IS NULL OR p.public = 0)
            UNION ALL
            SELECT 'updated', s.id, s.list_code, json_extract(s.body, '$.is_person') FROM staged s
              JOIN previous p ON p.id = s.id
              WHERE s.status IS NOT NULL AND p.public = 1 AND p.content_hash != s.content_hash
            UNION ALL
            SELECT 'withdrawn', p.id, json_extract(p.tomb, '$.list_code'), json_extract(p.tomb, '$.is_person')
              FROM previous p LEFT JOIN staged s ON s.id = p.id WHERE p.public = 1 AND s.status IS NULL
            ORDER BY 2"""
        for op, entry_id, list_code, is_person in self.db.execute(query):
            out.write_json({"op": op, "id": entry_id, "list_code": list_code, "is_person": bool(is_person),
                            "at": at})
            counts[op] += 1
        return {op: counts.get(op, 0) for op in ("added", "updated", "withdrawn")}

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()


__all__ = ["IngestError", "IngestResult", "SourceSpec", "run_ingest"]
