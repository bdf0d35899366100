"""The ingest pipeline: department sources → validated, masked, lifecycle-evaluated public snapshot.

Streaming: rows flow from the readers through validation into a staging SQLite file beside the snapshot
(bounded memory at any size), where duplicates, the red/black conflict rule, ordering and the comparison
with the previous snapshot are done with indexes instead of in-memory sets.

Safety: any source that cannot be read as a whole (missing required columns, unreadable file, database
error) aborts the import before anything is published — a department file that failed to load must not make
its entries look withdrawn. Bad rows never abort: each goes to rejects.csv with its source, row and reason.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from portal import snapshot as snap
from portal.actions import Override
from portal.catalogue import Catalogue, load_catalogue
from portal.digest import Digester, load_key
from portal.headers import map_headers, require_columns
from portal.importers import SourceError, SourceTable, open_source
from portal.lifecycle import CONFLICT, TOMBSTONE_REASON, WITHHELD_REASONS, Outcome, evaluate
from portal.masking import MaskingPolicy, load_policy
from portal.records import ListKind, PublicStatus, WithdrawalReason
from portal.settings import PROGRESS_EVERY_ROWS
from portal.validate import Problem, RowValidator, ValidRow
from portal.workdays import WorkCalendar

MAX_CONFLICTS_LISTED = 1_000  # manifest lists this many conflicts; the count is always complete


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


@dataclass
class IngestResult:
    version_dir: Path
    manifest: dict[str, Any]
    calendar_fallback_years: list[int] = field(default_factory=list)


ProgressFn = Callable[[str, int], None]  # (source name, rows read so far in it)


def run_ingest(sources: Sequence[SourceSpec], snapshots_root: Path, *, as_of: date,
               catalogue: Catalogue | None = None, policy: MaskingPolicy | None = None,
               key: bytes | None = None, progress: ProgressFn | None = None,
               overrides: dict[str, Override] | None = None, set_latest: bool = True) -> IngestResult:
    """Import ``sources`` as of ``as_of`` into a new snapshot version under ``snapshots_root``.

    ``overrides`` are operator actions (objections, repairs) applied over the rows; with ``set_latest``
    false the new version is written but ``latest`` stays where it was (``portal publish`` moves it only
    once the site and the index are built too).
    """
    catalogue = catalogue or load_catalogue()
    policy = policy or load_policy()
    digester = Digester(key if key is not None else load_key())
    calendar = WorkCalendar.load()
    snapshots_root.mkdir(parents=True, exist_ok=True)
    previous = snap.latest_version(snapshots_root)
    staging_dir = snap.begin_version(snapshots_root)
    imported_at = snap.now_shanghai().isoformat()
    try:
        with tempfile.TemporaryDirectory(dir=snapshots_root, prefix=".stage-") as work:
            builder = _SnapshotBuilder(Path(work) / "stage.db", staging_dir, as_of, calendar, overrides or {})
            source_reports = []
            for source in sources:
                source_reports.append(builder.read_source(source, catalogue, policy, digester, imported_at, progress))
            builder.apply_conflict_rule()
            if previous is not None:
                builder.load_previous(previous)
            manifest = builder.write_files(catalogue, policy, source_reports, previous)
            builder.close()
        version_dir = snap.commit_version(snapshots_root, staging_dir, manifest, set_latest=set_latest)
    except BaseException:
        import shutil

        shutil.rmtree(staging_dir, ignore_errors=True)
        raise
    if set_latest:  # a publish prunes itself, together with its releases
        snap.prune_versions(snapshots_root)
    return IngestResult(version_dir, snap.read_manifest(version_dir), sorted(calendar.fallback_years))


class _SnapshotBuilder:
    def __init__(self, db_path: Path, out_dir: Path, as_of: date, calendar: WorkCalendar,
                 overrides: dict[str, Override]) -> None:
        self.out_dir = out_dir
        self.overrides = overrides
        self.as_of = as_of
        self.calendar = calendar
        self.db = sqlite3.connect(db_path, isolation_level=None)
        self.db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;
            PRAGMA cache_size = -65536;
            CREATE TABLE staged (
                id TEXT PRIMARY KEY, list_code TEXT, kind TEXT, subject_key TEXT, decision_date TEXT,
                withheld TEXT, withdrawn_on TEXT, status TEXT, content_hash TEXT, source TEXT, row INTEGER,
                body BLOB) WITHOUT ROWID;
            CREATE TABLE previous (id TEXT PRIMARY KEY, content_hash TEXT, public INTEGER, tomb BLOB) WITHOUT ROWID;
            CREATE TABLE conflicts (red_id TEXT, black_id TEXT, list_code TEXT);
        """)
        self.db.execute("BEGIN")
        self.rejects = snap.RejectsWriter(out_dir / snap.REJECTS)
        self.rows_read = 0
        self.rejected_rows = 0
        self.unknown_columns: list[dict[str, Any]] = []

    # --- reading ------------------------------------------------------------------------------------

    def read_source(self, source: SourceSpec, catalogue: Catalogue, policy: MaskingPolicy, digester: Digester,
                    imported_at: str, progress: ProgressFn | None) -> dict[str, Any]:
        try:
            table = open_source(source.spec, sheet=source.sheet, table=source.table, query=source.query,
                                fmt=source.fmt)
            mapping = map_headers(table.headers)
            require_columns(mapping, table.name)
        except SourceError as exc:
            raise IngestError(f"来源“{source.spec}”无法导入：{exc.message_zh}",
                              f"source {source.spec!r} cannot be imported: {exc.message_en}") from exc
        if mapping.unknown or mapping.duplicates:
            self.unknown_columns.append({"source": table.name, "columns": list(mapping.unknown),
                                         "duplicates": list(mapping.duplicates)})
        validator = RowValidator(catalogue=catalogue, policy=policy, digester=digester,
                                 implied_list=mapping.template,
                                 infer_subject_type="subject_type" not in mapping.columns.values())
        batch = table.sha256[:12]
        provenance = {"file": table.name, "row": 0, "batch": batch, "imported_at": imported_at}
        n_headers = len(table.headers)
        read = rejected = 0
        try:
            for row_number, values in table.rows():
                read += 1
                if progress and read % PROGRESS_EVERY_ROWS == 0:
                    progress(table.name, read)
                if len(values) > n_headers and any(v not in (None, "") for v in values[n_headers:]):
                    self._reject(table.name, row_number, [Problem("row", "该行的列数多于表头",
                                                                 "row has more cells than the header")])
                    rejected += 1
                    continue
                raw = mapping.pick(values)
                result = validator.validate(raw)
                if isinstance(result, list):
                    self._reject(table.name, row_number, result)
                    rejected += 1
                    continue
                if not self._stage(result, dict(provenance, row=row_number), table.name, row_number):
                    rejected += 1
        except SourceError as exc:
            raise IngestError(f"读取“{table.name}”第{read + table.header_row}行附近时出错：{exc.message_zh}",
                              f"reading {table.name!r} failed near row {read + table.header_row}: {exc.message_en}"
                              ) from exc
        if progress:
            progress(table.name, read)
        self.rows_read += read
        self.rejected_rows += rejected
        return {"name": table.name, "kind": table.kind, "encoding": table.encoding, "sha256": table.sha256,
                "rows": read, "rejected": rejected, "template": mapping.template, "layout": mapping.layout}

    def _reject(self, source: str, row: int, problems: list[Problem]) -> None:
        for problem in problems:
            self.rejects.write(source, row, problem.field, problem.zh, problem.en)

    def _stage(self, row: ValidRow, provenance: dict[str, Any], source: str, row_number: int) -> bool:
        override = self.overrides.get(row.entry["id"])
        if override:
            row.status = override.status or row.status
            if override.removal_date:
                row.removal_date, row.removal_reason = override.removal_date, override.removal_reason
        outcome: Outcome = evaluate(row, row.spec, self.as_of, self.calendar)
        entry = row.entry
        entry["notice_until"] = outcome.notice_until.isoformat() if outcome.notice_until else None
        entry["publish_from"] = outcome.publish_from.isoformat()
        entry["publish_until"] = outcome.publish_until.isoformat() if outcome.publish_until else None
        entry["status"] = outcome.status.value if outcome.status else None
        entry["source"] = provenance
        content = dict(entry)
        del content["source"]
        content_hash = hashlib.blake2b(orjson.dumps(content), digest_size=8).hexdigest()
        cursor = self.db.execute(
            "INSERT INTO staged VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
            (entry["id"], entry["list_code"], entry["list_kind"], row.subject_key, entry["decision_date"],
             outcome.withheld, outcome.withdrawn_on.isoformat() if outcome.withdrawn_on else None,
             entry["status"], content_hash, source, row_number, orjson.dumps(entry)))
        if cursor.rowcount == 0:
            first_source, first_row = self.db.execute(
                "SELECT source, row FROM staged WHERE id = ?", (entry["id"],)).fetchone()
            self._reject(source, row_number, [Problem(
                "row", f"重复记录：与“{first_source}”第{first_row}行为同一名单、主体、文书号和日期",
                f"duplicate of {first_source!r} row {first_row} (same list, subject, decision number and date)")])
            return False
        return True

    # --- rules across rows --------------------------------------------------------------------------

    def apply_conflict_rule(self) -> None:
        """A subject on an active black list is withheld from red lists (domain.md, conflict rule)."""
        self.db.execute("CREATE INDEX staged_subject ON staged(subject_key, kind)")
        active = (PublicStatus.PUBLISHED.value, PublicStatus.OBJECTION.value)
        self.db.execute(f"""
            INSERT INTO conflicts
            SELECT r.id, (SELECT b.id FROM staged b WHERE b.subject_key = r.subject_key AND b.kind = ?
                          AND b.status IN (?, ?) ORDER BY b.decision_date DESC LIMIT 1), r.list_code
            FROM staged r WHERE r.kind = ? AND r.status IS NOT NULL AND r.subject_key IS NOT NULL
              AND EXISTS (SELECT 1 FROM staged b WHERE b.subject_key = r.subject_key AND b.kind = ?
                          AND b.status IN (?, ?))""",  # noqa: S608 - no user input in the SQL text
            (ListKind.BLACK.value, *active, ListKind.RED.value, ListKind.BLACK.value, *active))
        self.db.execute("UPDATE staged SET withheld = ?, status = NULL WHERE id IN (SELECT red_id FROM conflicts)",
                        (CONFLICT,))

    def load_previous(self, previous: Path) -> None:
        insert = "INSERT OR REPLACE INTO previous VALUES (?,?,?,?)"
        for entry in snap.iter_entries(previous):
            content = dict(entry)
            del content["source"]
            content_hash = hashlib.blake2b(orjson.dumps(content), digest_size=8).hexdigest()
            self.db.execute(insert, (entry["id"], content_hash, 1, orjson.dumps(_tombstone_from_entry(entry))))
        for tomb in snap.iter_tombstones(previous):
            self.db.execute("INSERT OR IGNORE INTO previous VALUES (?,?,?,?)",
                            (tomb["id"], None, 0, orjson.dumps(tomb)))

    # --- output -------------------------------------------------------------------------------------

    def write_files(self, catalogue: Catalogue, policy: MaskingPolicy, sources: list[dict[str, Any]],
                    previous: Path | None) -> dict[str, Any]:
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

        catalogue_public = catalogue.to_public()
        (self.out_dir / snap.CATALOGUE).write_bytes(orjson.dumps(catalogue_public, option=orjson.OPT_INDENT_2))
        files = {
            snap.ENTRIES: entries.close(), snap.WITHDRAWN: tombstones.close(), snap.CHANGES: changes.close(),
            snap.REJECTS: self.rejects.close(),
            snap.CATALOGUE: {"sha256": snap.file_sha256(self.out_dir / snap.CATALOGUE),
                             "rows": len(catalogue_public["lists"]),
                             "bytes": (self.out_dir / snap.CATALOGUE).stat().st_size},
        }
        published = status_counts[PublicStatus.PUBLISHED.value] + status_counts[PublicStatus.OBJECTION.value]
        counts = {
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
        conflicts = [dict(zip(("red_id", "black_id", "list_code"), row, strict=True)) for row in self.db.execute(
            "SELECT red_id, black_id, list_code FROM conflicts ORDER BY red_id LIMIT ?", (MAX_CONFLICTS_LISTED,))]
        return {
            "format": 1, "version": "", "previous": previous.name if previous else None,
            "created_at": snap.now_shanghai().isoformat(), "data_as_of": self.as_of.isoformat(),
            "policy_version": policy.version, "catalogue_version": catalogue.version,
            "sources": sources, "counts": counts,
            "conflicts_total": withheld_counts.get(CONFLICT, 0), "conflicts": conflicts,
            "unknown_columns": self.unknown_columns,
            "calendar_fallback_years": sorted(self.calendar.fallback_years),
            "changes": change_counts, "files": files,
        }

    def _tombstones(self):  # type: ignore[no-untyped-def]
        withdrawal_reasons = tuple(TOMBSTONE_REASON)
        marks = ",".join("?" * len(withdrawal_reasons))
        # Withdrawn now: by an explicit withdrawal reason, or public before and withheld now for any reason.
        for body, withheld, withdrawn_on, previous_tomb, was_public in self.db.execute(f"""
                SELECT s.body, s.withheld, s.withdrawn_on, p.tomb, p.public FROM staged s
                LEFT JOIN previous p ON p.id = s.id
                WHERE s.withheld IN ({marks}) OR (s.withheld IS NOT NULL AND p.id IS NOT NULL)
                ORDER BY s.id""", withdrawal_reasons):  # noqa: S608
            if withheld not in TOMBSTONE_REASON and not was_public:
                yield orjson.loads(previous_tomb)  # still withheld: keep the notice it already had
                continue
            entry = orjson.loads(body)
            reason = TOMBSTONE_REASON.get(withheld, WithdrawalReason.REMOVED)
            yield _tombstone_from_entry(entry, reason.value, withdrawn_on or self.as_of.isoformat())
        # Gone from the sources altogether: tombstones from the previous snapshot, carried or newly made.
        for tomb_blob, was_public in self.db.execute("""
                SELECT p.tomb, p.public FROM previous p LEFT JOIN staged s ON s.id = p.id
                WHERE s.id IS NULL ORDER BY p.id"""):
            tomb = orjson.loads(tomb_blob)
            if was_public:
                tomb["reason"] = WithdrawalReason.REMOVED.value
                tomb["withdrawn_on"] = self.as_of.isoformat()
            yield tomb

    def _write_changes(self, out: snap.HashingWriter) -> dict[str, int]:
        at = self.as_of.isoformat()
        counts: Counter[str] = Counter()
        query = """
            SELECT 'added', s.id, s.list_code FROM staged s LEFT JOIN previous p ON p.id = s.id
              WHERE s.status IS NOT NULL AND (p.public IS NULL OR p.public = 0)
            UNION ALL
            SELECT 'updated', s.id, s.list_code FROM staged s JOIN previous p ON p.id = s.id
              WHERE s.status IS NOT NULL AND p.public = 1 AND p.content_hash != s.content_hash
            UNION ALL
            SELECT 'withdrawn', p.id, json_extract(p.tomb, '$.list_code') FROM previous p
              LEFT JOIN staged s ON s.id = p.id WHERE p.public = 1 AND s.status IS NULL
            ORDER BY 2"""
        for op, entry_id, list_code in self.db.execute(query):
            out.write_json({"op": op, "id": entry_id, "list_code": list_code, "at": at})
            counts[op] += 1
        return {op: counts.get(op, 0) for op in ("added", "updated", "withdrawn")}

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.close()


def _tombstone_from_entry(entry: dict[str, Any], reason: str = WithdrawalReason.REMOVED.value,
                          withdrawn_on: str = "") -> dict[str, Any]:
    return {"id": entry["id"], "list_code": entry["list_code"], "list_name": entry["list_name"],
            "list_kind": entry["list_kind"], "is_person": entry["is_person"], "withdrawn_on": withdrawn_on,
            "reason": reason}


def describe_source_error(exc: SourceError) -> str:
    return f"{exc.message_zh}\n{exc.message_en}"


__all__ = ["IngestError", "IngestResult", "SourceSpec", "SourceTable", "run_ingest"]
