"""The default engine: one SQLite file with an FTS5 index, no server.

Design (numbers in /work/shared/notes/search-fts5.md):
- FTS5 ``unicode61`` over text with a space between characters: one token per character, and a phrase
  query of the query's characters finds every name that contains it, 1- and 2-character queries included
  (the trigram tokenizer misses those). The FTS table is contentless; the entries live in ``entries``.
- rowids are assigned newest decision first, so reading matches in rowid order *is* the tie-break ranking
  and never needs bm25 over a large match set.
- Ranking tiers: exact name and name prefix through an ordinary B-tree index on the folded name, then the
  rest of the name matches, then matches in other fields; each tier is read in rowid order.
- Counts stop at ``MAX_COUNT`` (``relation: "gte"``); every query runs under a time limit enforced by a
  progress handler.
- Re-indexing builds a new file beside the live one and ``os.replace``s it into place; every request checks
  the file's inode and reopens when it changed, so readers keep the old file until they are done.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from search_api import snapshot
from search_api.engine import (
    DIGEST_FIELDS,
    FACET_FIELDS,
    OTHER_FIELDS,
    EngineError,
    Found,
    IndexMissing,
    QueryTimeout,
    SearchQuery,
    SearchResult,
    highlights_for,
    public_view,
)
from search_api.settings import MAX_COUNT
from search_api.text import char_tokens, normalise_code, search_key

SCHEMA_VERSION = "1"
# SQLite virtual-machine steps between two checks of the query deadline (a check costs one Python call).
PROGRESS_INTERVAL = 1_000
# Rows per executemany batch while building: big enough to amortise Python overhead, small enough to keep
# memory flat.
BUILD_BATCH_ROWS = 5_000

USCC_PATTERN = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
MASKED_ID_PATTERN = re.compile(r"^[0-9A-Z]{1,6}\*{2,}[0-9A-Z]{1,6}$")

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries(
    rowid INTEGER PRIMARY KEY,          -- newest decision first: rowid order is the tie-break ranking
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,             -- folded subject name, letters and digits only
    uscc TEXT,
    id_number TEXT,                     -- masked, normalised (upper case, no spaces)
    id_digest TEXT,
    legal_rep_id_digest TEXT,
    list_kind TEXT NOT NULL,
    list_code TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    is_person INTEGER NOT NULL,
    authority TEXT,
    region TEXT,
    decision_date TEXT NOT NULL,
    publish_until TEXT,
    doc BLOB NOT NULL                   -- the public entry as JSON, digests removed
);
CREATE VIRTUAL TABLE fts USING fts5(name, other, content='', columnsize=0,
                                    tokenize='unicode61 remove_diacritics 0');
CREATE TABLE withdrawn(id TEXT PRIMARY KEY, doc BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE changes(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, doc BLOB NOT NULL);
"""

_INDEXES = """
CREATE UNIQUE INDEX entries_id ON entries(id);
CREATE INDEX entries_name ON entries(name_key);
CREATE INDEX entries_uscc ON entries(uscc) WHERE uscc IS NOT NULL;
CREATE INDEX entries_id_number ON entries(id_number) WHERE id_number IS NOT NULL;
CREATE INDEX entries_id_digest ON entries(id_digest) WHERE id_digest IS NOT NULL;
CREATE INDEX entries_rep_digest ON entries(legal_rep_id_digest) WHERE legal_rep_id_digest IS NOT NULL;
CREATE INDEX changes_at ON changes(at);
"""


class _Unsorted(Exception):
    """entries.jsonl is not in (decision_date desc, id) order; the build restarts with a sorted source."""


def _entry_row(rowid: int, entry: dict[str, Any]) -> tuple[Any, ...]:
    shown = {key: value for key, value in entry.items() if key not in DIGEST_FIELDS}
    return (
        rowid, entry["id"], search_key(entry["subject_name"]),
        normalise_code(entry["uscc"]) if entry.get("uscc") else None,
        normalise_code(entry["id_number"]) if entry.get("id_number") else None,
        entry.get("id_digest"), entry.get("legal_rep_id_digest"),
        entry["list_kind"], entry["list_code"], entry["subject_type"], 1 if entry.get("is_person") else 0,
        entry.get("authority"), entry.get("region"), entry["decision_date"], entry.get("publish_until"),
        orjson.dumps(shown),
    )


def _fts_row(rowid: int, entry: dict[str, Any]) -> tuple[int, str, str]:
    other = " ".join(char_tokens(entry.get(name)) for name in OTHER_FIELDS if entry.get(name))
    return rowid, char_tokens(entry["subject_name"]), other


def _sorted_from_disk(entries_path: Path, work_dir: Path) -> Iterator[dict[str, Any]]:
    """Entries in (decision_date desc, id) order via an on-disk SQLite sort: flat memory at any size."""
    sort_path = work_dir / f".sort-{uuid.uuid4().hex}.sqlite3"
    conn = sqlite3.connect(sort_path)
    try:
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                           "CREATE TABLE s(decision_date TEXT, id TEXT, line BLOB);")
        batch: list[tuple[str, str, bytes]] = []
        for entry in snapshot.iter_jsonl(entries_path):
            batch.append((entry["decision_date"], entry["id"], orjson.dumps(entry)))
            if len(batch) >= BUILD_BATCH_ROWS:
                conn.executemany("INSERT INTO s VALUES (?,?,?)", batch)
                batch.clear()
        conn.executemany("INSERT INTO s VALUES (?,?,?)", batch)
        for (line,) in conn.execute("SELECT line FROM s ORDER BY decision_date DESC, id"):
            yield orjson.loads(line)
    finally:
        conn.close()
        sort_path.unlink(missing_ok=True)


def _load_entries(conn: sqlite3.Connection, entries: Iterable[dict[str, Any]], *, check_order: bool) -> dict[str, int]:
    counts: Counter[str] = Counter()
    entry_batch: list[tuple[Any, ...]] = []
    fts_batch: list[tuple[int, str, str]] = []
    previous: tuple[str, str] | None = None

    def flush() -> None:
        conn.executemany(f"INSERT INTO entries VALUES ({','.join('?' * 16)})", entry_batch)
        conn.executemany("INSERT INTO fts(rowid, name, other) VALUES (?,?,?)", fts_batch)
        entry_batch.clear()
        fts_batch.clear()

    for rowid, entry in enumerate(entries, start=1):
        if check_order:
            # Newest first, then id ascending: compare (decision_date desc, id asc).
            current = (entry["decision_date"], entry["id"])
            if previous is not None and (current[0] > previous[0] or (current[0] == previous[0] and current[1] < previous[1])):
                raise _Unsorted
            previous = current
        entry_batch.append(_entry_row(rowid, entry))
        fts_batch.append(_fts_row(rowid, entry))
        counts["entries"] += 1
        counts["persons"] += 1 if entry.get("is_person") else 0
        if len(entry_batch) >= BUILD_BATCH_ROWS:
            flush()
    flush()
    return dict(counts)


def build_sqlite_index(snapshot_dir: Path, index_path: Path) -> dict[str, Any]:
    """Build the SQLite index of a snapshot into a new file and swap it into ``index_path`` atomically."""
    started = time.perf_counter()
    snapshot_dir = Path(snapshot_dir)
    index_path = Path(index_path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    manifest = snapshot.manifest(snapshot_dir)
    entries_path = snapshot_dir / "entries.jsonl"
    if not entries_path.exists():
        raise FileNotFoundError(f"no entries.jsonl in {snapshot_dir}")
    temp_path = index_path.with_name(f".{index_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        counts: dict[str, int] | None = None
        for check_order in (True, False):
            temp_path.unlink(missing_ok=True)
            conn = sqlite3.connect(temp_path, isolation_level=None)
            try:
                conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536;"
                                   "PRAGMA page_size=8192;")
                conn.executescript(_SCHEMA)
                conn.execute("BEGIN")
                source = (snapshot.iter_jsonl(entries_path) if check_order
                          else _sorted_from_disk(entries_path, index_path.parent))
                try:
                    counts = _load_entries(conn, source, check_order=check_order)
                except _Unsorted:
                    conn.execute("ROLLBACK")
                    continue
                withdrawn = 0
                batch: list[tuple[str, bytes]] = []
                for tombstone in snapshot.iter_jsonl(snapshot_dir / "withdrawn.jsonl"):
                    batch.append((tombstone["id"], orjson.dumps(tombstone)))
                    withdrawn += 1
                conn.executemany("INSERT OR REPLACE INTO withdrawn VALUES (?,?)", batch)
                changes = 0
                change_batch: list[tuple[str, bytes]] = []
                for path in snapshot.change_files(snapshot_dir):
                    for change in snapshot.iter_jsonl(path):
                        change_batch.append((str(change.get("at", "")), orjson.dumps(change)))
                        changes += 1
                        if len(change_batch) >= BUILD_BATCH_ROWS:
                            conn.executemany("INSERT INTO changes(at, doc) VALUES (?,?)", change_batch)
                            change_batch.clear()
                conn.executemany("INSERT INTO changes(at, doc) VALUES (?,?)", change_batch)
                for statement in filter(str.strip, _INDEXES.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
                meta = {
                    "schema": SCHEMA_VERSION,
                    "data_as_of": str(manifest.get("data_as_of", "")),
                    "version": str(manifest.get("version", snapshot_dir.resolve().name)),
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "catalogue": orjson.dumps(snapshot.catalogue(snapshot_dir)).decode(),
                }
                conn.executemany("INSERT INTO meta VALUES (?,?)", list(meta.items()))
                conn.execute("COMMIT")
                conn.execute("ANALYZE")
            finally:
                conn.close()
            counts = {**(counts or {}), "withdrawn": withdrawn, "changes": changes,
                      "sorted_on_disk": 0 if check_order else 1}
            break
        os.replace(temp_path, index_path)
    finally:
        temp_path.unlink(missing_ok=True)
    return {**(counts or {}), "seconds": round(time.perf_counter() - started, 3),
            "bytes": index_path.stat().st_size, "data_as_of": meta["data_as_of"], "version": meta["version"]}


def _phrase(key: str, column: str | None = None) -> str:
    """An FTS5 query for the characters of ``key`` in sequence. ``key`` holds letters and digits only, so
    nothing in it can be FTS syntax."""
    phrase = '"' + " ".join(key) + '"'
    return f"{column} : {phrase}" if column else phrase


class _Filters:
    """The WHERE clause shared by every query: query-time expiry plus the visitor's filters."""

    def __init__(self, query: SearchQuery) -> None:
        clauses = ["(e.publish_until IS NULL OR e.publish_until >= ?)"]
        params: list[Any] = [query.today.isoformat()]
        for column in ("list_kind", "list_code", "subject_type", "authority", "region"):
            value = getattr(query, column)
            if value:
                clauses.append(f"e.{column} = ?")
                params.append(value)
        if query.decided_from:
            clauses.append("e.decision_date >= ?")
            params.append(query.decided_from.isoformat())
        if query.decided_to:
            clauses.append("e.decision_date <= ?")
            params.append(query.decided_to.isoformat())
        self.sql = " AND ".join(clauses)
        self.params = params


class SqliteEngine:
    """Engine over one SQLite index file; safe to share between threads (one connection per thread)."""

    def __init__(self, index_path: Path, *, timeout_ms: int = 2_000) -> None:
        self.index_path = Path(index_path)
        self.timeout_ms = timeout_ms
        self._local = threading.local()
        self._stats_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._stats_lock = threading.Lock()

    # --- connections -------------------------------------------------------------------------------
    def _identity(self) -> tuple[int, int]:
        try:
            stat = os.stat(self.index_path)
        except FileNotFoundError as exc:
            raise IndexMissing(f"no index at {self.index_path}") from exc
        return stat.st_ino, stat.st_mtime_ns

    def _conn(self) -> sqlite3.Connection:
        identity = self._identity()
        cached: tuple[tuple[int, int], sqlite3.Connection] | None = getattr(self._local, "conn", None)
        if cached and cached[0] == identity:
            return cached[1]
        if cached:
            cached[1].close()
        # immutable: the file is never written after it is swapped in, so no locking is needed; a replaced
        # file stays readable through the descriptor that is already open.
        uri = self.index_path.resolve().as_uri() + "?mode=ro&immutable=1"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._local.conn = (identity, conn)
        return conn

    @contextlib.contextmanager
    def _query(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        deadline = time.monotonic() + self.timeout_ms / 1000
        conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, PROGRESS_INTERVAL)
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc):
                raise QueryTimeout("query time limit exceeded") from exc
            raise EngineError(str(exc)) from exc
        finally:
            conn.set_progress_handler(None, 0)

    # --- index -------------------------------------------------------------------------------------
    def index_snapshot(self, snapshot_dir: Path) -> dict[str, Any]:
        return build_sqlite_index(snapshot_dir, self.index_path)

    def ready(self) -> bool:
        try:
            with self._query() as conn:
                conn.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
            return True
        except EngineError:
            return False

    def meta(self) -> dict[str, Any]:
        with self._query() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        meta["catalogue"] = orjson.loads(meta.get("catalogue", "[]"))
        return meta

    # --- search ------------------------------------------------------------------------------------
    def _docs(self, conn: sqlite3.Connection, rowids: list[int]) -> list[dict[str, Any]]:
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        found = dict(conn.execute(f"SELECT rowid, doc FROM entries WHERE rowid IN ({marks})", rowids).fetchall())
        return [public_view(orjson.loads(found[rowid])) for rowid in rowids if rowid in found]

    def _rowids(self, conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[int]:
        return [row[0] for row in conn.execute(sql, params)]

    def search(self, query: SearchQuery) -> SearchResult:
        filters = _Filters(query)
        wanted = query.offset + query.limit
        key = search_key(query.q)
        code = normalise_code(query.q) if query.q else ""
        with self._query() as conn:
            if code and (USCC_PATTERN.match(code) or MASKED_ID_PATTERN.match(code)):
                column = "uscc" if USCC_PATTERN.match(code) else "id_number"
                base = f"FROM entries e WHERE e.{column} = ? AND {filters.sql}"
                params = [code, *filters.params]
                rowids = self._rowids(conn, f"SELECT e.rowid {base} ORDER BY e.rowid LIMIT ?", [*params, wanted])
                facet_sql = f"SELECT {', '.join('e.' + f for f in FACET_FIELDS)} {base} ORDER BY e.rowid LIMIT ?"
                facet_params = params
                key = ""
            elif key:
                rowids = self._ranked_text(conn, key, filters, wanted)
                facet_sql = (f"SELECT {', '.join('e.' + f for f in FACET_FIELDS)} FROM fts JOIN entries e "
                             f"ON e.rowid = fts.rowid WHERE fts MATCH ? AND {filters.sql} ORDER BY fts.rowid LIMIT ?")
                facet_params = [_phrase(key), *filters.params]
            elif query.q.strip() and not key:
                return SearchResult(0, "eq", [], {name: {} for name in FACET_FIELDS})
            else:
                rowids = self._rowids(conn, f"SELECT e.rowid FROM entries e WHERE {filters.sql} ORDER BY e.rowid LIMIT ?",
                                      [*filters.params, wanted])
                facet_sql = (f"SELECT {', '.join('e.' + f for f in FACET_FIELDS)} FROM entries e WHERE {filters.sql} "
                             "ORDER BY e.rowid LIMIT ?")
                facet_params = filters.params
            rows = conn.execute(facet_sql, [*facet_params, MAX_COUNT + 1]).fetchall()
            hits = self._docs(conn, rowids[query.offset:wanted])
        total = min(len(rows), MAX_COUNT)
        relation = "gte" if len(rows) > MAX_COUNT else "eq"
        facets = _count_facets(rows[:MAX_COUNT]) if query.with_facets else {}
        for hit in hits:
            hit["highlights"] = highlights_for(hit, key)
        return SearchResult(total, relation, hits, facets)

    def _ranked_text(self, conn: sqlite3.Connection, key: str, filters: _Filters, wanted: int) -> list[int]:
        """Row ids of the first ``wanted`` matches: exact name, name prefix, name substring, other fields."""
        upper = key + "\U0010ffff"
        tiers: list[tuple[str, list[Any]]] = [
            (f"SELECT e.rowid FROM entries e WHERE e.name_key = ? AND {filters.sql} ORDER BY e.rowid LIMIT ?",
             [key, *filters.params]),
            (f"SELECT e.rowid FROM entries e WHERE e.name_key > ? AND e.name_key < ? AND {filters.sql} "
             "ORDER BY e.rowid LIMIT ?", [key, upper, *filters.params]),
            (f"SELECT e.rowid FROM fts JOIN entries e ON e.rowid = fts.rowid WHERE fts MATCH ? "
             f"AND substr(e.name_key, 1, ?) != ? AND {filters.sql} ORDER BY fts.rowid LIMIT ?",
             [_phrase(key, "name"), len(key), key, *filters.params]),
            (f"SELECT e.rowid FROM fts JOIN entries e ON e.rowid = fts.rowid WHERE fts MATCH ? "
             f"AND instr(e.name_key, ?) = 0 AND {filters.sql} ORDER BY fts.rowid LIMIT ?",
             [_phrase(key, "other"), key, *filters.params]),
        ]
        rowids: list[int] = []
        for sql, params in tiers:
            if len(rowids) >= wanted:
                break
            rowids.extend(self._rowids(conn, sql, [*params, wanted - len(rowids)]))
        return rowids

    def facets(self, query: SearchQuery) -> dict[str, dict[str, int]]:
        return self.search(SearchQuery(**{**query.__dict__, "offset": 0, "limit": 0})).facets

    # --- exact lookups -----------------------------------------------------------------------------
    def _exact(self, where: str, params: list[Any], today: date, limit: int) -> list[dict[str, Any]]:
        with self._query() as conn:
            rowids = self._rowids(
                conn, f"SELECT e.rowid FROM entries e WHERE ({where}) AND (e.publish_until IS NULL OR "
                "e.publish_until >= ?) ORDER BY e.rowid LIMIT ?", [*params, today.isoformat(), limit])
            return self._docs(conn, rowids)

    def by_uscc(self, uscc: str, today: date, limit: int) -> list[dict[str, Any]]:
        return self._exact("e.uscc = ?", [normalise_code(uscc)], today, limit)

    def by_masked_id(self, masked: str, today: date, limit: int) -> list[dict[str, Any]]:
        return self._exact("e.id_number = ?", [normalise_code(masked)], today, limit)

    def by_digest(self, digest: str, today: date, limit: int) -> list[dict[str, Any]]:
        return self._exact("e.id_digest = ? OR e.legal_rep_id_digest = ?", [digest, digest], today, limit)

    def by_exact_name(self, name: str, today: date, limit: int) -> list[dict[str, Any]]:
        key = search_key(name)
        return self._exact("e.name_key = ?", [key], today, limit) if key else []

    def get(self, entry_id: str, today: date) -> Found:
        with self._query() as conn:
            row = conn.execute("SELECT doc FROM entries WHERE id = ?", [entry_id]).fetchone()
            if row is not None:
                entry = orjson.loads(row[0])
                if entry.get("publish_until") is None or entry["publish_until"] >= today.isoformat():
                    return Found(entry=public_view(entry))
                # Expired since the last rebuild: gone, exactly as the next snapshot will say.
                return Found(tombstone=_expired_tombstone(entry))
            row = conn.execute("SELECT doc FROM withdrawn WHERE id = ?", [entry_id]).fetchone()
            return Found(tombstone=orjson.loads(row[0])) if row else Found()

    # --- stats and changes -------------------------------------------------------------------------
    def stats(self, today: date) -> dict[str, Any]:
        cache_key = (self._identity(), today)
        with self._stats_lock:
            if cache_key in self._stats_cache:
                return self._stats_cache[cache_key]
        live = "(publish_until IS NULL OR publish_until >= ?)"
        params = [today.isoformat()]
        result: dict[str, Any] = {}
        with self._query() as conn:
            result["total"] = conn.execute(f"SELECT count(*) FROM entries WHERE {live}", params).fetchone()[0]
            for name, expression in (("list_code", "list_code"), ("list_kind", "list_kind"),
                                     ("authority", "coalesce(authority, '')"), ("region", "coalesce(region, '')"),
                                     ("month", "substr(decision_date, 1, 7)"), ("subject_type", "subject_type")):
                rows = conn.execute(f"SELECT {expression}, count(*) FROM entries WHERE {live} GROUP BY 1 "
                                    "ORDER BY 1", params).fetchall()
                result[f"by_{name}"] = {str(value): count for value, count in rows}
        with self._stats_lock:
            self._stats_cache = {cache_key: result}
        return result

    def changes(self, since: date | None, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        params: list[Any] = [after]
        where = "seq > ?"
        if since:
            where += " AND at >= ?"
            params.append(since.isoformat())
        with self._query() as conn:
            rows = conn.execute(f"SELECT seq, doc FROM changes WHERE {where} ORDER BY seq LIMIT ?",
                                [*params, limit + 1]).fetchall()
        records = [orjson.loads(doc) for _, doc in rows[:limit]]
        next_after = rows[limit - 1][0] if len(rows) > limit else None
        return records, next_after


def _expired_tombstone(entry: dict[str, Any]) -> dict[str, Any]:
    until = date.fromisoformat(entry["publish_until"])
    return {"id": entry["id"], "list_code": entry["list_code"], "list_name": entry["list_name"],
            "list_kind": entry["list_kind"], "is_person": bool(entry.get("is_person")),
            "withdrawn_on": date.fromordinal(until.toordinal() + 1).isoformat(), "reason": "期满"}


def _count_facets(rows: list[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    facets: dict[str, dict[str, int]] = {}
    for index, name in enumerate(FACET_FIELDS):
        counter = Counter(row[index] for row in rows if row[index])
        facets[name] = dict(counter.most_common())
    return facets
