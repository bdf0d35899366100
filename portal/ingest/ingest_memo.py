"""The ingest memo: validation outcomes of raw rows seen by the last import, so unchanged rows are not
validated again.

A nightly export repeats ~99% of yesterday's rows byte for byte. Validating, normalising, masking and
digesting a row is most of an import's cost; evaluating its lifecycle is not. So the memo keeps, per raw
row, the *masked* result of validation (the entry as the snapshot writes it, plus the dates and status
the lifecycle needs) and the import re-runs only the lifecycle (expiry never waits for a changed row)
and the operator overrides on it.

Key: a keyed BLAKE2b of the row's picked raw values together with everything else that decides the
outcome — the masking policy and catalogue versions, a digest of the validation code and its data files,
the source's implied list and subject-type inference. Keyed (with a key derived from the HMAC key), so the
memo file does not let anyone test guesses of a raw identifier against it; it never stores a raw value.
What it stores is what the snapshot stores for that row (masked fields, keyed digests). Rows that fail
validation are not memoised (they are validated again; they are few and their reasons must stay fresh).

The memo is pruned on every import to exactly the rows that import saw, so it never outgrows the sources,
and it is written in one SQLite transaction: a crash leaves the previous memo. An entry whose row was
later refused at publish is harmless: a key determines its value.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from portal.ingest.validate import ValidRow
from portal.public.catalogue import Catalogue
from portal.settings import INGEST_MEMO_LOOKUP_KEYS

MEMO_FILE = "ingest-memo.db"  # default: beside the snapshot versions; portal publish keeps it in var/cache/
MEMO_FORMAT = b"memo-1"
# Files whose change can change a row's outcome: the portal's code and data, except what runs after ingest.
_CODE_ROOT = Path(__file__).resolve().parent
_CODE_SUFFIXES = (".py", ".toml", ".json", ".yaml", ".yml", ".csv", ".txt")
_CODE_EXCLUDED = ("site", "sample", "templates", "static")


@cache
def code_digest() -> bytes:
    """Digest of the ingest's code and data files: a new release of the portal starts with an empty memo."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(_CODE_ROOT.rglob("*")):
        rel = path.relative_to(_CODE_ROOT)
        if path.suffix in _CODE_SUFFIXES and path.is_file() and rel.parts[0] not in _CODE_EXCLUDED:
            digest.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def memo_key_base(key: bytes, policy_version: str, catalogue_version: str) -> Any:
    """A keyed hasher, primed with every version that decides outcomes; ``copy()`` it per row."""
    memo_key = hashlib.blake2b(b"ingest-memo\0" + key, digest_size=32).digest()
    base = hashlib.blake2b(key=memo_key, digest_size=16)
    base.update(b"\0".join((MEMO_FORMAT, code_digest(), policy_version.encode(), catalogue_version.encode())))
    return base


# ValidRow's fields, in order; dates travel as ISO strings and the list spec as its code. Generic, so a field
# added to ValidRow is memoised too (it must be JSON-serialisable; the code digest renews the memo).
_FIELDS = tuple(f.name for f in dataclasses.fields(ValidRow))
_DATE_FIELDS = frozenset(f.name for f in dataclasses.fields(ValidRow) if "date" in str(f.type).split(" | ")[0:2])


def pack(row: ValidRow) -> bytes:
    """A valid row's masked outcome (lifecycle fields are recomputed on use). Call before the lifecycle
    or overrides change the row."""
    return orjson.dumps([row.spec.code if name == "spec" else getattr(row, name) for name in _FIELDS])


def unpack(blob: bytes, catalogue: Catalogue) -> ValidRow:
    values: dict[str, Any] = {}
    for name, value in zip(_FIELDS, orjson.loads(blob), strict=True):
        if name == "spec":
            value = catalogue.find(value)
            assert value is not None  # the catalogue version is part of the key
        elif name in _DATE_FIELDS and isinstance(value, str):
            value = date.fromisoformat(value)
        values[name] = value
    return ValidRow(**values)


class MemoReader:
    """Read side, one per worker process (opened lazily after fork: SQLite handles do not survive it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._missing = not path.exists()

    def get_many(self, keys: list[bytes]) -> dict[bytes, bytes]:
        """The packed outcomes of those ``keys`` the memo holds: one query per batch, not per row (SQLite
        walks an IN list in key order, so a batch's lookups also read the file in order)."""
        if self._missing or not keys:
            return {}
        if self._db is None:
            try:
                self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
                self._db.execute("PRAGMA query_only = ON")
            except sqlite3.Error:
                self._missing = True
                return {}
        found: dict[bytes, bytes] = {}
        try:
            for start in range(0, len(keys), INGEST_MEMO_LOOKUP_KEYS):
                chunk = keys[start:start + INGEST_MEMO_LOOKUP_KEYS]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(f"SELECT k, v FROM memo WHERE k IN ({marks})", chunk))  # noqa: S608
        except sqlite3.Error:  # a memo from an older format or damaged: validate everything
            self._missing = True
            return {}
        return found

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class MemoWriter:
    """Write side, in the import's parent: collects hits and new outcomes, then prunes and commits."""

    def __init__(self, path: Path, stage: sqlite3.Connection) -> None:
        self.path = path
        self.stage = stage  # the import's staging database holds the keys seen (temporary, with the import)
        self.stage_file = Path(stage.execute("PRAGMA database_list").fetchone()[2])
        stage.execute("CREATE TABLE memo_seen (k BLOB PRIMARY KEY) WITHOUT ROWID")
        # Appended in arrival order without an index (a keyed WITHOUT ROWID table of ~1 KB values took 19 s
        # of a 100,000-row import in the profile); duplicates of a key collapse in commit().
        stage.execute("CREATE TABLE memo_new (k BLOB NOT NULL, v BLOB NOT NULL)")
        self.hits = 0
        self.misses = 0

    def add(self, hits: list[bytes], new: list[tuple[bytes, bytes]]) -> None:
        self.hits += len(hits)
        self.misses += len(new)
        self.stage.executemany("INSERT OR IGNORE INTO memo_seen VALUES (?)", ((k,) for k in hits))
        self.stage.executemany("INSERT INTO memo_new VALUES (?, ?)", new)

    def commit(self) -> dict[str, int]:
        """After the staging database is committed and closed: make the memo hold exactly the outcomes this import used: add the new ones, drop the unused."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.executescript("""
                PRAGMA journal_mode = DELETE; PRAGMA synchronous = NORMAL;
                -- A rowid table: values are ~1 KB, too big for a WITHOUT ROWID b-tree's pages (sqlite.org/withoutrowid).
                CREATE TABLE IF NOT EXISTS memo (k BLOB PRIMARY KEY, v BLOB NOT NULL);
            """)
            db.execute("ATTACH DATABASE ? AS stage", (str(self.stage_file),))
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM memo WHERE k NOT IN (SELECT k FROM stage.memo_seen)")
            dropped = db.execute("SELECT changes()").fetchone()[0]
            db.execute("INSERT OR REPLACE INTO memo SELECT k, v FROM stage.memo_new")
            db.execute("COMMIT")
            db.execute("DETACH DATABASE stage")
        finally:
            db.close()
        return {"hits": self.hits, "validated": self.misses, "dropped": dropped}
