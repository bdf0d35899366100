"""The audit trail: every publish, rollback and failure, and when each entry was public.

Kept in ``var/audit.db`` (SQLite), which outlives pruned releases and snapshots:

- ``events``: one row per publish attempt or rollback (when, trigger, sources, counts, checksums, outcome).
- ``intervals``: per entry, the spans of time during which it was live on the portal. Opened when a
  release containing the entry goes live, closed when one without it does. Together with the entry's own
  ``publish_until`` (the API stops returning it at that date even before the next publish) this answers
  "was entry X public on day D?" for any day, long after the snapshot of that day is gone.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import orjson

from portal.public import snapshot as snap
from portal.settings import SHANGHAI

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, outcome TEXT NOT NULL, trigger TEXT, release TEXT,
    snapshot TEXT, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS intervals (
    entry_id TEXT NOT NULL, live_from TEXT NOT NULL, live_until TEXT, publish_until TEXT, status TEXT,
    list_code TEXT, release TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS intervals_entry ON intervals(entry_id, live_from);
CREATE INDEX IF NOT EXISTS intervals_open ON intervals(entry_id) WHERE live_until IS NULL;
"""


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode = WAL")
        return db

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        record = {"at": snap.now_shanghai().isoformat(), **record}
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO events (at, outcome, trigger, release, snapshot, record) VALUES (?,?,?,?,?,?)",
                       (record["at"], record["outcome"], record.get("trigger"), record.get("release"),
                        record.get("snapshot"), orjson.dumps(record)))
        return record

    def events(self, limit: int = 50) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT record FROM events ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def record_publication(self, version_dir: Path, release: str) -> None:
        """The snapshot in ``version_dir`` went live now: open and close entry intervals accordingly."""
        now = snap.now_shanghai().isoformat()
        with closing(self._connect()) as db, db:
            db.execute("CREATE TEMP TABLE live (entry_id TEXT PRIMARY KEY, publish_until TEXT, status TEXT, "
                       "list_code TEXT) WITHOUT ROWID")
            db.executemany("INSERT OR IGNORE INTO temp.live VALUES (?,?,?,?)",
                           ((e["id"], e["publish_until"], e["status"], e["list_code"])
                            for e in snap.iter_entries(version_dir)))
            # Close what is no longer live, or live with a changed status/period (a new interval follows).
            db.execute("""UPDATE intervals SET live_until = ? WHERE live_until IS NULL AND NOT EXISTS (
                            SELECT 1 FROM temp.live l WHERE l.entry_id = intervals.entry_id
                              AND l.status IS intervals.status AND l.publish_until IS intervals.publish_until)""",
                       (now,))
            db.execute("""INSERT INTO intervals (entry_id, live_from, live_until, publish_until, status, list_code,
                            release)
                          SELECT l.entry_id, ?, NULL, l.publish_until, l.status, l.list_code, ? FROM temp.live l
                          WHERE NOT EXISTS (SELECT 1 FROM intervals i WHERE i.entry_id = l.entry_id
                                            AND i.live_until IS NULL)""", (now, release))
            db.execute("DROP TABLE temp.live")

    def public_on(self, entry_id: str, day: date) -> list[dict[str, Any]]:
        """The spans during ``day`` (Asia/Shanghai) when the entry was public; empty = not public that day."""
        start = datetime.combine(day, time.min, SHANGHAI)
        end = start + timedelta(days=1)
        with closing(self._connect()) as db:
            rows = db.execute("""SELECT live_from, live_until, publish_until, status, list_code, release
                                 FROM intervals WHERE entry_id = ? AND live_from < ?
                                   AND (live_until IS NULL OR live_until > ?) ORDER BY live_from""",
                              (entry_id, end.isoformat(), start.isoformat())).fetchall()
        spans = []
        for live_from, live_until, publish_until, status, list_code, release in rows:
            if publish_until and day > date.fromisoformat(publish_until):
                continue  # expired at query time although the release was still live
            spans.append({"live_from": live_from, "live_until": live_until, "publish_until": publish_until,
                          "status": status, "list_code": list_code, "release": release})
        return spans
