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
- Filters never make a query read rows one by one: equality filters are also FTS tokens (column ``tags``, so
  FTS5 intersects doclists), the decision-date range is a rowid range (rowids follow the date), and expiry
  is a per-connection ``temp.expired`` table of the few rowids whose period ended since the build. Counts
  read at most ``MAX_COUNT + 1`` rowids (``relation: "gte"``); facets join that sample to ``attrs``, a
  narrow copy of the filter columns keyed by rowid, and are grouped in SQL.
- Every query runs under a time limit enforced by a progress handler.
- Re-indexing builds a new file beside the live one and ``os.replace``s it into place; every request checks
  the file's inode and reopens when it changed, so readers keep the old file until they are done.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
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

from portal.public import faults, snapshot
from portal.public.codes import MASKED_ID_RE, USCC_RE, normalise_code
from search_api.engines.base import (
    DIGEST_FIELDS,
    FACET_FIELDS,
    OTHER_FIELDS,
    EngineError,
    Found,
    IndexMissing,
    QueryTimeout,
    SearchQuery,
    SearchResult,
    entry_url,
    highlights_for,
    public_view,
)
from search_api.settings import MAX_COUNT
from search_api.text import bigram_phrase_tokens, bigram_tokens, search_key

SCHEMA_VERSION = "4"  # 4: column uscc holds reg_no when there is no USCC
# SQLite virtual-machine steps between two checks of the query deadline (a check costs one Python call).
PROGRESS_INTERVAL = 1_000
# Rows per executemany batch while building: big enough to amortise Python overhead, small enough to keep
# memory flat.
BUILD_BATCH_ROWS = 5_000
# Equality filters that are also FTS tokens (``tags``): a text query with a selective filter intersects
# doclists inside FTS5 instead of probing ``attrs`` for every match of a broad fragment.
TAG_COLUMNS = ("list_kind", "list_code", "subject_type", "authority", "region")
# Above every rowid: the open upper end of a rowid range.
MAX_ROWID = 2**62
# The matches of an FTS5 query in rowid order (newest decision first), live ones in the rowid range only.
_FTS_MATCHES = "SELECT rowid FROM fts WHERE fts MATCH ? AND {rowids} ORDER BY rowid"
# Most names read through the B-tree for the name-prefix tier; a prefix shared by more is read from FTS5.
PREFIX_SCAN_LIMIT = 2_000


_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries(
    rowid INTEGER PRIMARY KEY,          -- newest decision first: rowid order is the tie-break ranking
    id TEXT NOT NULL,
    name_key TEXT NOT NULL,             -- folded subject name, letters and digits only
    uscc TEXT,                          -- the USCC, else the registration number
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
CREATE VIRTUAL TABLE fts USING fts5(name, other, tags, content='', columnsize=0,
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
CREATE INDEX attrs_decision ON attrs(decision_date);
CREATE INDEX attrs_until ON attrs(publish_until) WHERE publish_until IS NOT NULL;
"""


class _Unsorted(Exception):
    """entries.jsonl is not in (decision_date desc, id desc) order; the build restarts with a sorted source."""


def _entry_row(rowid: int, entry: dict[str, Any], name_key: str) -> tuple[Any, ...]:
    shown = {key: value for key, value in entry.items() if key not in DIGEST_FIELDS}
    return (
        rowid, entry["id"], name_key,
        # a subject without a USCC is found by its registration number (by_uscc, the credit report)
        normalise_code(code) if (code := entry.get("uscc") or entry.get("reg_no")) else None,
        normalise_code(entry["id_number"]) if entry.get("id_number") else None,
        entry.get("id_digest"), entry.get("legal_rep_id_digest"),
        entry["list_kind"], entry["list_code"], entry["subject_type"], 1 if entry.get("is_person") else 0,
        entry.get("authority"), entry.get("region"), entry["decision_date"], entry.get("publish_until"),
        orjson.dumps(shown),
    )


def _attrs_row(rowid: int, entry: dict[str, Any]) -> tuple[Any, ...]:
    return (rowid, entry.get("publish_until"), entry["list_kind"], entry["list_code"], entry["subject_type"],
            entry.get("region"), entry.get("authority"), entry["decision_date"])


def filter_token(column: str, value: str) -> str:
    """The FTS token that stands for ``column = value`` in the ``tags`` column: ASCII letters and digits only,
    so no value (Chinese, spaces, FTS syntax) can split it or be read as query syntax."""
    return column.replace("_", "") + hashlib.blake2b(value.encode(), digest_size=8).hexdigest()


# Values that repeat across many entries (an authority, a legal representative's masked name, the tag
# columns) are tokenized once per build: the profile of a 70,000-entry build spent 45% of its CPU in
# ``_fts_row``, much of it folding and pairing the same few thousand strings again.
TOKEN_CACHE_VALUES = 200_000  # distinct values kept per build (cleared when full: memory stays flat)
_REPEATED_FIELDS = frozenset({"authority", "legal_rep"})


class _Tokens:
    """Per-build caches of field tokens and filter tokens."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.tags: dict[tuple[str, str], str] = {}

    def field(self, value: str) -> str:
        found = self.fields.get(value)
        if found is None:
            if len(self.fields) >= TOKEN_CACHE_VALUES:
                self.fields.clear()
            found = self.fields[value] = bigram_tokens(value)
        return found

    def tag(self, column: str, value: str) -> str:
        found = self.tags.get((column, value))
        if found is None:
            found = self.tags[(column, value)] = filter_token(column, value)
        return found


def _fts_row(rowid: int, entry: dict[str, Any], name_key: str, tokens: _Tokens) -> tuple[int, str, str, str]:
    # Fields are tokenized one by one: no pair spans the boundary between two fields.
    other = " ".join(tokens.field(value) if name in _REPEATED_FIELDS else bigram_tokens(value)
                     for name in OTHER_FIELDS if (value := entry.get(name)))
    tags = " ".join(tokens.tag(column, value) for column in TAG_COLUMNS if (value := entry.get(column)))
    return rowid, bigram_phrase_tokens(name_key, final=True), other, tags


def _insert_batched(conn: sqlite3.Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
    """``executemany`` in batches of BUILD_BATCH_ROWS; returns the number of rows.

    In batches, not one call over a generator and not one list: each bytes object from orjson.dumps holds a
    ~4 KB allocation, so 375,885 tombstones of one list held in a list took 1.5 GB (the build's peak RSS).
    """
    count = 0
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= BUILD_BATCH_ROWS:
            conn.executemany(sql, batch)
            batch.clear()
    conn.executemany(sql, batch)
    return count


def _sorted_from_disk(entries_path: Path, work_dir: Path) -> Iterator[dict[str, Any]]:
    """Entries in (decision_date desc, id desc) order via an on-disk SQLite sort: flat memory at any size."""
    sort_path = work_dir / f".sort-{uuid.uuid4().hex}.sqlite3"
    conn = sqlite3.connect(sort_path)
    try:
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                           "CREATE TABLE s(decision_date TEXT, id TEXT, line BLOB);")
        _insert_batched(conn, "INSERT INTO s VALUES (?,?,?)", (
            (entry["decision_date"], entry["id"], orjson.dumps(entry)) for entry in snapshot.iter_jsonl(entries_path)))
        for (line,) in conn.execute("SELECT line FROM s ORDER BY decision_date DESC, id DESC"):
            yield orjson.loads(line)
    finally:
        conn.close()
        sort_path.unlink(missing_ok=True)


class TokenMemo:
    """FTS tokens of entries from the last build, keyed by the fields they are made of (a nightly snapshot
    repeats ~99% of its entries, and tokenizing them is about half of a build's CPU).

    The key is a digest of the name, the other text fields and the tag columns (all public, masked values
    from the snapshot) with ``SCHEMA_VERSION`` and a digest of the tokenizer's source, so a new tokenizer
    starts from an empty memo. Each build writes a new memo file holding exactly the tokens it used and
    swaps it in after the index: a failed build leaves the previous memo, which is still correct.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.old: sqlite3.Connection | None = None
        if path.exists():
            try:
                self.old = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
                self.old.execute("SELECT k, v FROM tokens LIMIT 1").fetchall()
            except sqlite3.Error:
                self.old = None
        self.new_path = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
        self.new = sqlite3.connect(self.new_path, isolation_level=None)
        self.new.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                               "CREATE TABLE tokens (k BLOB PRIMARY KEY, v BLOB NOT NULL); BEGIN;")
        self.base = hashlib.blake2b(SCHEMA_VERSION.encode() + b"\0" + _tokenizer_digest(), digest_size=16)
        self.hits = 0

    def key(self, entry: dict[str, Any]) -> bytes:
        hasher = self.base.copy()
        hasher.update(orjson.dumps([entry["subject_name"], *(entry.get(f) for f in OTHER_FIELDS),
                                    *(entry.get(c) for c in TAG_COLUMNS)]))
        return hasher.digest()

    def get_many(self, keys: list[bytes]) -> dict[bytes, bytes]:
        found: dict[bytes, bytes] = {}
        if self.old is not None:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                found.update(self.old.execute(
                    f"SELECT k, v FROM tokens WHERE k IN ({','.join('?' * len(chunk))})", chunk))  # noqa: S608
        self.hits += len(found)
        return found

    def keep(self, rows: list[tuple[bytes, bytes]]) -> None:
        self.new.executemany("INSERT OR IGNORE INTO tokens VALUES (?, ?)", rows)

    def commit(self) -> None:
        """After the index is in place: the new memo replaces the old one."""
        self.new.execute("COMMIT")
        self.close()
        os.replace(self.new_path, self.path)

    def close(self) -> None:
        for conn in (self.old, self.new):
            if conn is not None:
                conn.close()
        self.old = None


def _tokenizer_digest() -> bytes:
    from search_api import text

    return hashlib.blake2b(Path(text.__file__).read_bytes() + Path(__file__).read_bytes(), digest_size=16).digest()


def _load_entries(conn: sqlite3.Connection, entries: Iterable[dict[str, Any]], *, check_order: bool,
                  memo: TokenMemo | None = None) -> dict[str, int]:
    counts: Counter[str] = Counter()
    pending: list[dict[str, Any]] = []
    previous: tuple[str, str] | None = None
    tag_values: dict[str, set[str]] = {column: set() for column in TAG_COLUMNS}
    tokens = _Tokens()
    next_rowid = 1

    def flush() -> None:
        nonlocal next_rowid
        keys = [memo.key(entry) for entry in pending] if memo is not None else []
        known = memo.get_many(keys) if memo is not None else {}
        entry_batch, attrs_batch, fts_batch, kept = [], [], [], []
        for n, entry in enumerate(pending):
            rowid = next_rowid + n
            packed = known.get(keys[n]) if memo is not None else None
            if packed is not None:
                name_key, name_tokens, other, tags = orjson.loads(packed)
                fts = (rowid, name_tokens, other, tags)
            else:
                name_key = search_key(entry["subject_name"])  # once: the name column and its FTS tokens
                fts = _fts_row(rowid, entry, name_key, tokens)
            if memo is not None:
                kept.append((keys[n], packed or orjson.dumps([name_key, *fts[1:]])))
            entry_batch.append(_entry_row(rowid, entry, name_key))
            attrs_batch.append(_attrs_row(rowid, entry))
            fts_batch.append(fts)
        next_rowid += len(pending)
        pending.clear()
        conn.executemany(f"INSERT INTO entries VALUES ({','.join('?' * 16)})", entry_batch)
        conn.executemany(f"INSERT INTO attrs VALUES ({','.join('?' * 8)})", attrs_batch)
        conn.executemany("INSERT INTO fts(rowid, name, other, tags) VALUES (?,?,?,?)", fts_batch)
        if memo is not None:
            memo.keep(kept)

    for entry in entries:
        if check_order:
            # The order portal.public.snapshot.write_snapshot writes: (decision_date, id) descending. Anything else
            # is sorted on disk first (a full extra pass over the file, so the writer's order matters).
            current = (entry["decision_date"], entry["id"])
            if previous is not None and current >= previous:
                raise _Unsorted
            previous = current
        pending.append(entry)
        for column in TAG_COLUMNS:
            if entry.get(column):
                tag_values[column].add(entry[column])
        counts["entries"] += 1
        counts["persons"] += 1 if entry.get("is_person") else 0
        if len(pending) >= BUILD_BATCH_ROWS:
            flush()
    flush()
    for column, values in tag_values.items():
        # Filtered queries trust the tag tokens alone; two values sharing a 64-bit token would mix their rows.
        if len({filter_token(column, value) for value in values}) != len(values):
            raise EngineError(f"two values of {column} share a filter token; change filter_token's digest size")
    return dict(counts)


def _remove_dead_builds(index_path: Path) -> None:
    """Delete temporary index files of builds whose process is gone (a killed build leaves one as big as the
    index). The pid in the name tells whether its builder still runs."""
    for leftover in index_path.parent.glob(f".{index_path.name}.*.tmp"):
        pid_text = leftover.name[len(index_path.name) + 2:].split("-", 1)[0]
        if pid_text.isdigit() and not Path(f"/proc/{pid_text}").exists():
            leftover.unlink(missing_ok=True)


def build_sqlite_index(snapshot_dir: Path, index_path: Path, *, token_memo: Path | None = None) -> dict[str, Any]:
    """Build the SQLite index of a snapshot into a new file and swap it into ``index_path`` atomically.

    With ``token_memo`` (a file kept between builds, see :class:`TokenMemo`) entries whose text fields are
    unchanged since the last build reuse their FTS tokens."""
    started = time.perf_counter()
    snapshot_dir = Path(snapshot_dir)
    index_path = Path(index_path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    manifest = snapshot.read_manifest(snapshot_dir, missing_ok=True)
    entries_path = snapshot_dir / snapshot.ENTRIES
    if not entries_path.exists():
        raise FileNotFoundError(f"no {snapshot.ENTRIES} in {snapshot_dir}")
    _remove_dead_builds(index_path)
    temp_path = index_path.with_name(f".{index_path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        counts: dict[str, int] | None = None
        memo: TokenMemo | None = None
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
                if memo is not None:
                    memo.close()
                    memo.new_path.unlink(missing_ok=True)
                memo = TokenMemo(token_memo) if token_memo is not None else None
                try:
                    counts = _load_entries(conn, source, check_order=check_order, memo=memo)
                except _Unsorted:
                    conn.execute("ROLLBACK")
                    continue
                faults.reached("index")
                withdrawn = _insert_batched(conn, "INSERT OR REPLACE INTO withdrawn VALUES (?,?)", (
                    (tombstone["id"], orjson.dumps(tombstone)) for tombstone in snapshot.iter_tombstones(snapshot_dir)))
                changes = _insert_batched(conn, "INSERT INTO changes(at, doc) VALUES (?,?)", (
                    (str(change.get("at", "")), orjson.dumps(change))
                    for path in snapshot.change_files(snapshot_dir) for change in snapshot.iter_jsonl(path)))
                for statement in filter(str.strip, _INDEXES.split(";")):
                    conn.execute(statement)
                conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")
                meta = {
                    "schema": SCHEMA_VERSION,
                    "data_as_of": str(manifest.get("data_as_of", "")),
                    "version": str(manifest.get("version", snapshot_dir.resolve().name)),
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "catalogue": orjson.dumps(snapshot.read_catalogue(snapshot_dir)).decode(),
                    "measures": orjson.dumps(snapshot.read_measures(snapshot_dir)).decode(),
                    "timeliness": orjson.dumps(snapshot.timeliness_summary(manifest)).decode(),
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
        if memo is not None:
            counts = {**(counts or {}), "tokens_reused": memo.hits}
            memo.commit()
    finally:
        temp_path.unlink(missing_ok=True)
        if memo is not None:
            memo.close()
            memo.new_path.unlink(missing_ok=True)
    return {**(counts or {}), "seconds": round(time.perf_counter() - started, 3),
            "bytes": index_path.stat().st_size, "data_as_of": meta["data_as_of"], "version": meta["version"]}


def _match(key: str, filters: _Filters, column: str = "{name other}", *, initial: bool = False) -> str:
    """An FTS5 query for ``key`` as a substring of ``column`` (name and other fields by default, never
    ``tags``), intersected with the filters' tag tokens.

    ``key`` becomes the phrase of its character pairs or, for one character, a prefix query (every pair
    starting with it, and the lone last character); ``initial`` anchors it at the start of the column. ``key``
    holds letters and digits only and tag tokens are hex, so nothing in the query is FTS syntax.
    """
    phrase = '"' + bigram_phrase_tokens(key) + '"' + ("*" if len(key) == 1 else "")
    phrase = "^ " + phrase if initial else phrase
    return " AND ".join([f"{column} : {phrase}", *(f"tags : {token}" for token in filters.tokens)])


class _Filters:
    """The visitor's filters and query-time expiry, in the forms the queries need; no query reads ``attrs``
    row by row for a broad match any more:

    - ``tokens``: the equality filters as ``tags`` tokens, intersected with the text inside FTS5;
    - ``low``/``high``: the decision-date range as a rowid range (rowids follow the decision date, newest
      first), which FTS5 and every B-tree seek to;
    - expiry: the connection's ``temp.expired`` table, the rowids whose period has ended by ``today``;
    - ``attrs_sql``/``attrs_params``: the equality filters on ``attrs a`` again, for the few-row tiers read
      through B-trees on ``entries`` (exact name, name prefix, codes).
    """

    def __init__(self, query: SearchQuery, low: int, high: int) -> None:
        self.low = low
        self.high = high
        self.tokens: list[str] = []
        clauses = ["1"]
        self.attrs_params: list[Any] = []
        for column in TAG_COLUMNS:
            value = getattr(query, column)
            if value:
                clauses.append(f"a.{column} = ?")
                self.attrs_params.append(value)
                self.tokens.append(filter_token(column, value))
        self.attrs_sql = " AND ".join(clauses)

    def rowids(self, column: str) -> str:
        """Date range and expiry on a rowid column (the bounds are integers computed here, not input)."""
        return f"{column} BETWEEN {int(self.low)} AND {int(self.high)} AND {column} NOT IN temp.expired"


class SqliteEngine:
    """Engine over one SQLite index file; safe to share between threads (one connection per thread)."""

    name = "sqlite"

    def __init__(self, index_path: Path, *, timeout_ms: int = 2_000, mmap_bytes: int = 2**31) -> None:
        self.index_path = Path(index_path)
        self.timeout_ms = timeout_ms
        self.mmap_bytes = mmap_bytes
        self._local = threading.local()
        self._stats_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._stats_lock = threading.Lock()
        self._meta_cache: tuple[tuple[int, int], dict[str, Any]] | None = None

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
        # Autocommit: the only writes are to this connection's temp.expired table (see _expiry).
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        try:
            found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise IndexMissing(f"{self.index_path} is not a search index: {exc}") from exc
        if found is None or found[0] != SCHEMA_VERSION:
            conn.close()
            # An index built by an older version: answer 503 and say what to do, not fail on a missing column.
            raise IndexMissing(f"index schema {found[0] if found else '?'} at {self.index_path}, this version reads "
                               f"schema {SCHEMA_VERSION}: rebuild it with `portal index`")
        # Read the file through a shared memory map rather than copying pages into each connection's cache:
        # 10-25% less time per query at a million entries (bench/results/search.md), and the pages are
        # the kernel's page cache, shared by every thread and worker.
        conn.execute(f"PRAGMA mmap_size={int(self.mmap_bytes)}")
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
        # Every response carries data_as_of: read the meta table once per index file, not once per request.
        identity = self._identity()
        cached = self._meta_cache
        if cached is not None and cached[0] == identity:
            return cached[1]
        with self._query() as conn:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        meta["catalogue"] = orjson.loads(meta.get("catalogue", "[]"))
        meta["measures"] = orjson.loads(meta.get("measures", "{}"))  # absent in indexes built before 2026-12
        meta["timeliness"] = orjson.loads(meta.get("timeliness", "null"))
        self._meta_cache = (identity, meta)
        return meta

    # --- search ------------------------------------------------------------------------------------
    def _docs(self, conn: sqlite3.Connection, rowids: list[int]) -> list[dict[str, Any]]:
        if not rowids:
            return []
        marks = ",".join("?" * len(rowids))
        found = dict(conn.execute(f"SELECT rowid, doc FROM entries WHERE rowid IN ({marks})", rowids).fetchall())
        hits = [orjson.loads(found[rowid]) for rowid in rowids if rowid in found]
        for hit in hits:  # public_view() without its copy: the stored doc has no digest (see _entry_row)
            hit["url"] = entry_url(hit["id"])
        return hits

    def _rowids(self, conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[int]:
        return [row[0] for row in conn.execute(sql, params)]

    def _expiry(self, conn: sqlite3.Connection, today: date) -> None:
        """Fill this connection's ``temp.expired`` with the rowids whose publication ended before ``today``:
        entries that expired since the index was built, usually a few hundred, read once a day per
        connection. Every query then excludes them by rowid instead of reading ``publish_until`` per match."""
        key = (self._local.conn[0], today)
        if getattr(self._local, "expired_for", None) == key:
            return
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS expired(rowid INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.expired")
        conn.execute("INSERT INTO temp.expired SELECT rowid FROM attrs WHERE publish_until < ?", [today.isoformat()])
        self._local.expired_for = key

    def _rowid_range(self, conn: sqlite3.Connection, query: SearchQuery) -> tuple[int, int] | None:
        """The rowids of decisions from ``decided_from`` to ``decided_to``; None when no decision is in range.

        Rows are numbered by (decision_date, id) descending, so each date holds one run of rowids: decisions
        on or before ``decided_to`` start at the first rowid of the latest such date, and decisions on or after
        ``decided_from`` end at the last rowid of the earliest such date.
        """
        low, high = 1, MAX_ROWID
        if query.decided_to:
            (day,) = conn.execute("SELECT max(decision_date) FROM attrs WHERE decision_date <= ?",
                                  [query.decided_to.isoformat()]).fetchone()
            if day is None:
                return None
            low = conn.execute("SELECT min(rowid) FROM attrs WHERE decision_date = ?", [day]).fetchone()[0]
        if query.decided_from:
            (day,) = conn.execute("SELECT min(decision_date) FROM attrs WHERE decision_date >= ?",
                                  [query.decided_from.isoformat()]).fetchone()
            if day is None:
                return None
            high = conn.execute("SELECT max(rowid) FROM attrs WHERE decision_date = ?", [day]).fetchone()[0]
        return (low, high) if low <= high else None

    def search(self, query: SearchQuery) -> SearchResult:
        wanted = query.offset + query.limit
        key = search_key(query.q)
        code = normalise_code(query.q) if query.q else ""
        empty = SearchResult(0, "eq", [], {name: {} for name in FACET_FIELDS} if query.with_facets else {})
        if query.q.strip() and not key and not code:
            return empty
        with self._query() as conn:
            self._expiry(conn, query.today)
            span = self._rowid_range(conn, query)
            if span is None:
                return empty
            filters = _Filters(query, *span)
            params: list[Any]
            if code and (USCC_RE.match(code) or MASKED_ID_RE.match(code)):
                column = "uscc" if USCC_RE.match(code) else "id_number"
                matches = (f"SELECT e.rowid AS rowid FROM entries e JOIN attrs a ON a.rowid = e.rowid "
                           f"WHERE e.{column} = ? AND {filters.rowids('e.rowid')} AND {filters.attrs_sql} "
                           "ORDER BY e.rowid")
                params = [code, *filters.attrs_params]
                rowids = self._rowids(conn, f"{matches} LIMIT ?", [*params, wanted])
                key = ""
            elif key:
                rowids = self._ranked_text(conn, key, filters, wanted)
                matches = _FTS_MATCHES.format(rowids=filters.rowids("rowid"))
                params = [_match(key, filters)]
            elif not query.q.strip():
                if filters.tokens:  # filters only: the intersection of their tag doclists
                    matches = _FTS_MATCHES.format(rowids=filters.rowids("rowid"))
                    params = [" AND ".join(f"tags : {token}" for token in filters.tokens)]
                else:  # no filter but dates at most: every live entry, newest first
                    matches = f"SELECT rowid FROM attrs WHERE {filters.rowids('rowid')} ORDER BY rowid"
                    params = []
                rowids = self._rowids(conn, f"{matches} LIMIT ?", [*params, wanted])
            else:
                return empty
            total, relation, facets = _count_and_facets(conn, matches, params, query.with_facets)
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
        fts_tier = _FTS_MATCHES.format(rowids=filters.rowids("rowid")) + " LIMIT ?"
        rowids = self._rowids(conn, f"SELECT e.rowid FROM entries e JOIN attrs a ON a.rowid = e.rowid "
                              f"WHERE e.name_key = ? AND {filters.rowids('e.rowid')} AND {filters.attrs_sql} "
                              "ORDER BY e.rowid LIMIT ?", [key, *filters.attrs_params, wanted])
        if len(rowids) < wanted:
            prefixed = self._prefixed(conn, key, filters)
            if prefixed is None:  # a common prefix: its matches are dense in the FTS phrase, read them there
                self._extend(rowids, conn, fts_tier, [_match(key, filters, "name", initial=True)], wanted)
            else:
                rowids.extend(prefixed[:wanted - len(rowids)])
        for column in ("name", "other"):
            if len(rowids) < wanted:
                self._extend(rowids, conn, fts_tier, [_match(key, filters, column)], wanted)
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
        return self._rowids(conn, f"SELECT a.rowid FROM attrs a WHERE a.rowid IN ({marks}) AND "
                            f"{filters.rowids('a.rowid')} AND {filters.attrs_sql} ORDER BY a.rowid",
                            [*candidates, *filters.attrs_params])

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
                return Found(tombstone=snapshot.expired_tombstone(entry))
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


def _count_and_facets(conn: sqlite3.Connection, matches: str, params: list[Any],
                      with_facets: bool) -> tuple[int, str, dict[str, dict[str, int]]]:
    """Capped total of ``matches`` (rowids in rowid order), and facets of its newest ``MAX_COUNT`` rows.

    Counting reads ``MAX_COUNT + 1`` rowids (one more tells "gte") and nothing else; facets join those rows
    to ``attrs`` in one statement, so no row crosses into Python.
    """
    if not with_facets:
        (counted,) = conn.execute(f"SELECT count(*) FROM ({matches} LIMIT ?)", [*params, MAX_COUNT + 1]).fetchone()
        return min(counted, MAX_COUNT), "gte" if counted > MAX_COUNT else "eq", {}
    columns = ", ".join("a." + name for name in FACET_FIELDS)
    parts = ["SELECT -1, NULL, count(*) FROM m"]
    parts += [f"SELECT {index}, {name}, count(*) FROM f WHERE {name} IS NOT NULL AND {name} != '' GROUP BY 2"
              for index, name in enumerate(FACET_FIELDS)]
    sql = (f"WITH m AS MATERIALIZED ({matches} LIMIT ?), "
           f"f AS MATERIALIZED (SELECT {columns} FROM (SELECT rowid FROM m LIMIT {MAX_COUNT}) s "
           "JOIN attrs a ON a.rowid = s.rowid) " + " UNION ALL ".join(parts))
    rows = conn.execute(sql, [*params, MAX_COUNT + 1]).fetchall()
    counted = next(count for index, _, count in rows if index == -1)
    facets: dict[str, dict[str, int]] = {name: {} for name in FACET_FIELDS}
    for index, value, count in sorted((row for row in rows if row[0] >= 0), key=lambda row: (row[0], -row[2], row[1])):
        facets[FACET_FIELDS[index]][value] = count
    return min(counted, MAX_COUNT), "gte" if counted > MAX_COUNT else "eq", facets
