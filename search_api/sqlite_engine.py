"""The default engine: one SQLite file with an FTS5 index, no server.

Design (numbers in /work/shared/notes/search-fts5.md and bench/results/search.md):
- FTS5 ``unicode61`` over text written as overlapping character pairs plus the last character alone
  (``text.bigram_tokens``): the phrase of the query's pairs finds every text that contains it, and a
  1-character query is a prefix query, so 1- and 2-character queries are found too (the trigram tokenizer
  misses those). Pairs are rare tokens: a 2-character name is one short doclist. The FTS table is
  contentless; the entries live in ``entries``.
- rowids are assigned newest decision first, so reading matches in rowid order *is* the tie-break ranking
  and never needs bm25 over a large match set.
- Ranking tiers: exact name through an ordinary B-tree index on the folded name, then name prefix (FTS5
  initial-token query ``^``), then the rest of the name matches, then matches in other fields; each tier is
  read in rowid order and stops at the page it needs.
- Filters, expiry, counts and facets read ``attrs``, a narrow copy of the filter columns keyed by rowid (about
  a hundred rows per page instead of five rows of ``entries`` with their JSON), with B-tree indexes whose
  implicit rowid suffix keeps filter-only queries in rowid order. Counts stop at ``MAX_COUNT``
  (``relation: "gte"``) and facets are grouped in SQL over that sample.
- Every query runs under a time limit enforced by a progress handler.
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
from search_api.text import bigram_phrase_tokens, bigram_tokens, normalise_code, search_key

SCHEMA_VERSION = "2"
# SQLite virtual-machine steps between two checks of the query deadline (a check costs one Python call).
PROGRESS_INTERVAL = 1_000
# Rows per executemany batch while building: big enough to amortise Python overhead, small enough to keep
# memory flat.
BUILD_BATCH_ROWS = 5_000
# Most names read through the B-tree for the name-prefix tier; a prefix shared by more is read from FTS5.
PREFIX_SCAN_LIMIT = 2_000

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
CREATE TABLE attrs(                     -- the filter and facet columns of entries, narrow: fast to scan
    rowid INTEGER PRIMARY KEY,
    publish_until TEXT,
    list_kind TEXT NOT NULL,
    list_code TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    region TEXT,
    authority TEXT,
    decision_date TEXT NOT NULL
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
CREATE INDEX attrs_kind ON attrs(list_kind);
CREATE INDEX attrs_code_region ON attrs(list_code, region);
CREATE INDEX attrs_region ON attrs(region);
CREATE INDEX attrs_authority ON attrs(authority);
CREATE INDEX attrs_type ON attrs(subject_type);
"""


class _Unsorted(Exception):
    """entries.jsonl is not in (decision_date desc, id desc) order; the build restarts with a sorted source."""


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


def _attrs_row(rowid: int, entry: dict[str, Any]) -> tuple[Any, ...]:
    return (rowid, entry.get("publish_until"), entry["list_kind"], entry["list_code"], entry["subject_type"],
            entry.get("region"), entry.get("authority"), entry["decision_date"])


def _fts_row(rowid: int, entry: dict[str, Any]) -> tuple[int, str, str]:
    # Fields are tokenized one by one: no pair spans the boundary between two fields.
    other = " ".join(bigram_tokens(entry.get(name)) for name in OTHER_FIELDS if entry.get(name))
    return rowid, bigram_tokens(entry["subject_name"]), other


def _sorted_from_disk(entries_path: Path, work_dir: Path) -> Iterator[dict[str, Any]]:
    """Entries in (decision_date desc, id desc) order via an on-disk SQLite sort: flat memory at any size."""
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
        for (line,) in conn.execute("SELECT line FROM s ORDER BY decision_date DESC, id DESC"):
            yield orjson.loads(line)
    finally:
        conn.close()
        sort_path.unlink(missing_ok=True)


def _load_entries(conn: sqlite3.Connection, entries: Iterable[dict[str, Any]], *, check_order: bool) -> dict[str, int]:
    counts: Counter[str] = Counter()
    entry_batch: list[tuple[Any, ...]] = []
    attrs_batch: list[tuple[Any, ...]] = []
    fts_batch: list[tuple[int, str, str]] = []
    previous: tuple[str, str] | None = None

    def flush() -> None:
        conn.executemany(f"INSERT INTO entries VALUES ({','.join('?' * 16)})", entry_batch)
        conn.executemany(f"INSERT INTO attrs VALUES ({','.join('?' * 8)})", attrs_batch)
        conn.executemany("INSERT INTO fts(rowid, name, other) VALUES (?,?,?)", fts_batch)
        entry_batch.clear()
        attrs_batch.clear()
        fts_batch.clear()

    for rowid, entry in enumerate(entries, start=1):
        if check_order:
            # The order portal.snapshot.write_snapshot writes: (decision_date, id) descending. Anything else
            # is sorted on disk first (a full extra pass over the file, so the writer's order matters).
            current = (entry["decision_date"], entry["id"])
            if previous is not None and current >= previous:
                raise _Unsorted
            previous = current
        entry_batch.append(_entry_row(rowid, entry))
        attrs_batch.append(_attrs_row(rowid, entry))
        fts_batch.append(_fts_row(rowid, entry))
        counts["entries"] += 1
        counts["persons"] += 1 if entry.get("is_person") else 0
        if len(entry_batch) >= BUILD_BATCH_ROWS:
            flush()
    flush()
    return dict(counts)


def _remove_dead_builds(index_path: Path) -> None:
    """Delete temporary index files of builds whose process is gone (a killed build leaves one as big as the
    index). The pid in the name tells whether its builder still runs."""
    for leftover in index_path.parent.glob(f".{index_path.name}.*.tmp"):
        pid_text = leftover.name[len(index_path.name) + 2:].split("-", 1)[0]
        if pid_text.isdigit() and not Path(f"/proc/{pid_text}").exists():
            leftover.unlink(missing_ok=True)


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
    _remove_dead_builds(index_path)
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
                # Statistics from a sample of each index: enough for the planner's choices, seconds instead
                # of a full pass over every index at a million rows.
                conn.execute("PRAGMA analysis_limit=1000")
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


def _phrase(key: str, column: str | None = None, *, initial: bool = False) -> str:
    """An FTS5 query for ``key`` as a substring: the phrase of its character pairs, or, for one character,
    a prefix query (every pair starting with it, and the lone last character). ``initial`` anchors the phrase
    at the start of the column. ``key`` holds letters and digits only, so nothing in it is FTS syntax."""
    phrase = '"' + bigram_phrase_tokens(key) + '"' + ("*" if len(key) == 1 else "")
    phrase = "^ " + phrase if initial else phrase
    return f"{column} : {phrase}" if column else phrase


class _Filters:
    """The WHERE clause shared by every query, on ``attrs a``: query-time expiry plus the visitor's filters."""

    def __init__(self, query: SearchQuery) -> None:
        clauses = ["(a.publish_until IS NULL OR a.publish_until >= ?)"]
        params: list[Any] = [query.today.isoformat()]
        for column in ("list_kind", "list_code", "subject_type", "authority", "region"):
            value = getattr(query, column)
            if value:
                clauses.append(f"a.{column} = ?")
                params.append(value)
        if query.decided_from:
            clauses.append("a.decision_date >= ?")
            params.append(query.decided_from.isoformat())
        if query.decided_to:
            clauses.append("a.decision_date <= ?")
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
        columns = ", ".join("a." + name for name in FACET_FIELDS)
        with self._query() as conn:
            if code and (USCC_PATTERN.match(code) or MASKED_ID_PATTERN.match(code)):
                column = "uscc" if USCC_PATTERN.match(code) else "id_number"
                base = f"FROM entries e JOIN attrs a ON a.rowid = e.rowid WHERE e.{column} = ? AND {filters.sql}"
                params = [code, *filters.params]
                rowids = self._rowids(conn, f"SELECT e.rowid {base} ORDER BY e.rowid LIMIT ?", [*params, wanted])
                sample_sql = f"SELECT {columns} {base} ORDER BY e.rowid LIMIT ?"
                sample_params = params
                key = ""
            elif key:
                rowids = self._ranked_text(conn, key, filters, wanted)
                sample_sql = (f"SELECT {columns} FROM fts JOIN attrs a ON a.rowid = fts.rowid WHERE fts MATCH ? "
                              f"AND {filters.sql} ORDER BY fts.rowid LIMIT ?")
                sample_params = [_phrase(key), *filters.params]
            elif query.q.strip() and not key:
                return SearchResult(0, "eq", [], {name: {} for name in FACET_FIELDS})
            else:
                rowids = self._rowids(conn, f"SELECT a.rowid FROM attrs a WHERE {filters.sql} ORDER BY a.rowid LIMIT ?",
                                      [*filters.params, wanted])
                sample_sql = f"SELECT {columns} FROM attrs a WHERE {filters.sql} ORDER BY a.rowid LIMIT ?"
                sample_params = filters.params
            total, relation, facets = _count_and_facets(conn, sample_sql, sample_params, query.with_facets)
            hits = self._docs(conn, rowids[query.offset:wanted])
        for hit in hits:
            hit["highlights"] = highlights_for(hit, key)
        return SearchResult(total, relation, hits, facets)

    def _ranked_text(self, conn: sqlite3.Connection, key: str, filters: _Filters, wanted: int) -> list[int]:
        """Row ids of the first ``wanted`` matches: exact name, name prefix, name substring, other fields.

        A tier is only read when the tiers before it returned all of their matches (fewer than ``wanted``),
        so the rows to leave out of it are exactly the ones already found: it reads that many more and
        drops them, which keeps every tier a plain read in rowid order.
        """
        fts_tier = (f"SELECT fts.rowid FROM fts JOIN attrs a ON a.rowid = fts.rowid WHERE fts MATCH ? "
                    f"AND {filters.sql} ORDER BY fts.rowid LIMIT ?")
        rowids = self._rowids(conn, f"SELECT e.rowid FROM entries e JOIN attrs a ON a.rowid = e.rowid "
                              f"WHERE e.name_key = ? AND {filters.sql} ORDER BY e.rowid LIMIT ?",
                              [key, *filters.params, wanted])
        if len(rowids) < wanted:
            prefixed = self._prefixed(conn, key, filters)
            if prefixed is None:  # a common prefix: its matches are dense in the FTS phrase, read them there
                self._extend(rowids, conn, fts_tier, [_phrase(key, "name", initial=True), *filters.params], wanted)
            else:
                rowids.extend(prefixed[:wanted - len(rowids)])
        for column in ("name", "other"):
            if len(rowids) < wanted:
                self._extend(rowids, conn, fts_tier, [_phrase(key, column), *filters.params], wanted)
        return rowids

    def _prefixed(self, conn: sqlite3.Connection, key: str, filters: _Filters) -> list[int] | None:
        """Names that start with ``key`` (exact names excluded) in rowid order, through the B-tree on the
        folded name, when there are at most ``PREFIX_SCAN_LIMIT`` of them; None when there are more.

        A rare prefix of a common phrase (份有限公) would make FTS5's initial-token query read the phrase's whole
        doclist to find nothing; the B-tree range answers it in a few index pages instead.
        """
        candidates = self._rowids(conn, "SELECT rowid FROM entries WHERE name_key > ? AND name_key < ? LIMIT ?",
                                  [key, key + "\U0010ffff", PREFIX_SCAN_LIMIT + 1])
        if len(candidates) > PREFIX_SCAN_LIMIT:
            return None
        if not candidates:
            return []
        marks = ",".join("?" * len(candidates))
        return self._rowids(conn, f"SELECT a.rowid FROM attrs a WHERE a.rowid IN ({marks}) AND {filters.sql} "
                            "ORDER BY a.rowid", [*candidates, *filters.params])

    def _extend(self, rowids: list[int], conn: sqlite3.Connection, sql: str, params: list[Any], wanted: int) -> None:
        """Append the rows of a tier that are not in ``rowids`` yet, up to ``wanted`` in all."""
        seen = set(rowids)
        for rowid in self._rowids(conn, sql, [*params, wanted - len(rowids) + len(seen)]):
            if rowid not in seen and len(rowids) < wanted:
                rowids.append(rowid)

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


def _count_and_facets(conn: sqlite3.Connection, sample_sql: str, params: list[Any],
                      with_facets: bool) -> tuple[int, str, dict[str, dict[str, int]]]:
    """Capped total and facets of the newest ``MAX_COUNT`` matches, in one statement.

    ``sample_sql`` selects the facet columns of the matches in rowid order and ends in ``LIMIT ?``; it is
    read once into a materialized CTE of ``MAX_COUNT + 1`` rows (one more tells "gte"), and the facets are
    grouped in SQL over its first ``MAX_COUNT`` rows, so no row crosses into Python.
    """
    parts = ["SELECT -1, NULL, count(*) FROM m"]
    if with_facets:
        parts += [f"SELECT {index}, {name}, count(*) FROM (SELECT {name} FROM m LIMIT {MAX_COUNT}) "
                  f"WHERE {name} IS NOT NULL AND {name} != '' GROUP BY 2"
                  for index, name in enumerate(FACET_FIELDS)]
    sql = f"WITH m AS MATERIALIZED ({sample_sql}) " + " UNION ALL ".join(parts)
    rows = conn.execute(sql, [*params, MAX_COUNT + 1]).fetchall()
    counted = next(count for index, _, count in rows if index == -1)
    facets: dict[str, dict[str, int]] = {name: {} for name in FACET_FIELDS} if with_facets else {}
    for index, value, count in sorted((row for row in rows if row[0] >= 0), key=lambda row: (row[0], -row[2], row[1])):
        facets[FACET_FIELDS[index]][value] = count
    return min(counted, MAX_COUNT), "gte" if counted > MAX_COUNT else "eq", facets
