"""API keys for machine clients (/check): issued, listed and revoked by the operator (``portal apikey``).

Only the SHA-256 of a key is stored; the key itself is shown once, when issued. A key looks like
``pk_<8 hex prefix>_<43 url-safe chars>``; the prefix identifies it in lists and revocations.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from portal.settings import SHANGHAI
from search_api.settings import Settings

KEY_PREFIX = "pk_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys(
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
"""


@dataclass(frozen=True)
class KeyCheck:
    """Outcome of checking a presented key: valid (with its id and name), revoked, or unknown."""

    status: str  # "valid" | "revoked" | "unknown"
    key_id: int | None = None
    name: str | None = None


def _db(db_path: Path | None) -> Path:
    return Path(db_path) if db_path is not None else Settings().api_keys_db


def _connect(db_path: Path | None) -> sqlite3.Connection:
    path = _db(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=5)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(_SCHEMA)
    return conn


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now(SHANGHAI).isoformat(timespec="seconds")


def issue_key(name: str, *, db_path: Path | None = None) -> str:
    """Create a key for the client ``name`` (e.g. 市政务服务中心窗口); returns the key, shown only once."""
    if not name.strip():
        raise ValueError("key name must not be empty")
    with closing(_connect(db_path)) as conn, conn:
        while True:
            prefix = secrets.token_hex(4)
            key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
            try:
                conn.execute("INSERT INTO api_keys(name, prefix, sha256, created_at) VALUES (?,?,?,?)",
                             (name.strip(), prefix, _hash(key), _now()))
                return key
            except sqlite3.IntegrityError:
                continue  # prefix collision: draw again


def revoke_key(prefix_or_id: str | int, *, db_path: Path | None = None) -> bool:
    """Revoke a key by its prefix (``pk_1a2b3c4d`` or ``1a2b3c4d``) or numeric id; False when none matched."""
    text = str(prefix_or_id).strip()
    prefix = text.removeprefix(KEY_PREFIX).split("_", 1)[0]
    with closing(_connect(db_path)) as conn, conn:
        cursor = conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE revoked_at IS NULL AND (prefix = ? OR CAST(id AS TEXT) = ?)",
            (_now(), prefix, text))
        return cursor.rowcount > 0


def list_keys(*, db_path: Path | None = None) -> list[dict[str, object]]:
    """All keys, without hashes: id, name, prefix, created_at, revoked_at."""
    with closing(_connect(db_path)) as conn:
        rows = conn.execute("SELECT id, name, prefix, created_at, revoked_at FROM api_keys ORDER BY id").fetchall()
    return [{"id": row[0], "name": row[1], "prefix": KEY_PREFIX + row[2], "created_at": row[3],
             "revoked_at": row[4]} for row in rows]


def check_key(key: str, *, db_path: Path | None = None) -> KeyCheck:
    if not key.startswith(KEY_PREFIX):
        return KeyCheck("unknown")
    with closing(_connect(db_path)) as conn:
        row = conn.execute("SELECT id, name, revoked_at FROM api_keys WHERE sha256 = ?", (_hash(key),)).fetchone()
    if row is None:
        return KeyCheck("unknown")
    return KeyCheck("revoked" if row[2] else "valid", row[0], row[1])
