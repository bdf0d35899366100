"""The private store of issued reports (SQLite under var/, never published, never pruned).

Each row keeps what the report said when it was issued (the masked entry list included), the SHA-256 of
the verification code (never the code) and of the signed PDF. Publishes, rollbacks and snapshot pruning do
not touch it, so a report verifies as issued for as long as the file is kept (back it up: docs/operations.md).
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports(
    report_no TEXT PRIMARY KEY,
    code_digest TEXT NOT NULL,        -- sha256 of "report_no:code"; the code itself is never stored
    subject_code TEXT NOT NULL,       -- USCC or registration number
    subject_name TEXT,
    issued_at TEXT NOT NULL,          -- ISO, Asia/Shanghai
    data_as_of TEXT NOT NULL,
    snapshot_version TEXT,
    content BLOB NOT NULL,            -- ReportContent.as_record() as JSON: what the report said
    pdf_sha256 TEXT NOT NULL,
    signer_fingerprint TEXT NOT NULL, -- sha256 of the signing certificate
    test_key INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS reports_subject ON reports(subject_code, issued_at);
"""


def code_digest(report_no: str, code: str) -> str:
    return hashlib.sha256(f"{report_no}:{code}".encode()).hexdigest()


class ReportRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with closing(self._open()) as conn, conn:
            conn.executescript(_SCHEMA)

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a report handed to a visitor must still verify after a power cut.
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def record(self, record: dict[str, Any], *, code: str, pdf_sha256: str, signer_fingerprint: str,
               snapshot_version: str | None) -> None:
        """Store an issued report; committed before the PDF leaves the server."""
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO reports(report_no, code_digest, subject_code, subject_name, issued_at, data_as_of, "
                "snapshot_version, content, pdf_sha256, signer_fingerprint, test_key) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [record["report_no"], code_digest(record["report_no"], code), record["subject_code"],
                 record["subject_name"], record["issued_at"], record["data_as_of"], snapshot_version,
                 orjson.dumps(record), pdf_sha256, signer_fingerprint, 1 if record["test_key"] else 0])

    def verify(self, report_no: str, code: str) -> dict[str, Any] | None:
        """What the report said, with its PDF digest and signer; None for an unknown number or a wrong code
        (the two are not told apart: a refusal must not confirm that a number exists)."""
        row = self._conn().execute("SELECT code_digest, content, pdf_sha256, signer_fingerprint FROM reports "
                                   "WHERE report_no = ?", [report_no]).fetchone()
        expected = row[0] if row else code_digest("", "")
        if not hmac.compare_digest(expected, code_digest(report_no, code)) or row is None:
            return None
        return {**orjson.loads(row[1]), "pdf_sha256": row[2], "signer_fingerprint": row[3]}

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM reports").fetchone()[0])
