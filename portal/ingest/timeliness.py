"""双公示 timeliness: decisions are to be published within 7 working days of the decision.

七星关 制度 第十六条 and the 云南 plan: a 行政许可/行政处罚 decision is published within ``publish_within`` of
its decision date (``lists.toml``; 7 working days on the official calendar). A late decision is still
published; lateness is a figure the office reports. A decision is judged once, by the import that first
brings it: its *first import* day is the day the portal could first publish it (the ``--as-of`` day of that
import). Later imports carry the verdict in ``late.jsonl`` of the snapshot; decisions already public before
this rule was in force count as on time (nothing says otherwise).

Works on the staging database of ``portal.ingest.pipeline`` (tables ``staged`` and ``previous``).
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from portal.ingest.lifecycle import add_span
from portal.ingest.workdays import WorkCalendar
from portal.public import snapshot as snap
from portal.public.catalogue import Catalogue

LATE_FILE = snap.LATE  # one line per late decision still in the sources: id, list, dates
MAX_LATE_LISTED = 1_000  # the manifest lists this many late decisions; counts and late.jsonl are complete

SCHEMA = """
CREATE TABLE deadlines (list_code TEXT, decision_date TEXT, deadline TEXT, PRIMARY KEY (list_code, decision_date))
    WITHOUT ROWID;
CREATE TABLE previous_late (id TEXT PRIMARY KEY, first_imported TEXT, deadline TEXT) WITHOUT ROWID;
CREATE TABLE late (id TEXT PRIMARY KEY, list_code TEXT, decision_date TEXT, deadline TEXT, first_imported TEXT)
    WITHOUT ROWID;
"""


def apply_timeliness(db: sqlite3.Connection, catalogue: Catalogue, as_of: date, previous: Path | None,
                     calendar: WorkCalendar) -> None:
    """Fill table ``late``: public decisions first imported after their deadline (now or earlier)."""
    for statement in filter(str.strip, SCHEMA.split(";")):  # executescript would commit the staging transaction
        db.execute(statement)
    timed = {spec.code: spec.publish_within for spec in catalogue.lists if spec.publish_within}
    if not timed:
        return
    marks = ",".join("?" * len(timed))
    pairs = db.execute(f"SELECT DISTINCT list_code, decision_date FROM staged WHERE status IS NOT NULL "  # noqa: S608
                       f"AND list_code IN ({marks})", tuple(timed)).fetchall()
    db.executemany("INSERT INTO deadlines VALUES (?,?,?)", (
        (code, day, add_span(date.fromisoformat(day), timed[code], calendar).isoformat())
        for code, day in pairs))
    if previous is not None:
        db.executemany("INSERT OR IGNORE INTO previous_late VALUES (?,?,?)", (
            (line["id"], line["first_imported"], line["deadline"])
            for line in snap.iter_jsonl(previous / LATE_FILE)) if (previous / LATE_FILE).exists() else ())
    # New decisions (in no earlier snapshot) are judged today; known ones keep the verdict they had.
    db.execute("""
        INSERT INTO late
        SELECT s.id, s.list_code, s.decision_date, d.deadline, ? FROM staged s
        JOIN deadlines d ON d.list_code = s.list_code AND d.decision_date = s.decision_date
        LEFT JOIN previous p ON p.id = s.id
        WHERE s.status IS NOT NULL AND p.id IS NULL AND d.deadline < ?""", (as_of.isoformat(), as_of.isoformat()))
    db.execute("""
        INSERT OR IGNORE INTO late
        SELECT s.id, s.list_code, s.decision_date, pl.deadline, pl.first_imported FROM staged s
        JOIN previous_late pl ON pl.id = s.id WHERE s.status IS NOT NULL""")


def write_report(db: sqlite3.Connection, out_dir: Path, catalogue: Catalogue) -> tuple[snap.FileInfo, dict[str, Any]]:
    """Write ``late.jsonl``; return (its files entry, the manifest's ``timeliness`` section)."""
    writer = snap.HashingWriter(out_dir / LATE_FILE)
    for row in db.execute("SELECT id, list_code, decision_date, deadline, first_imported FROM late ORDER BY id"):
        writer.write_json(dict(zip(("id", "list_code", "decision_date", "deadline", "first_imported"), row,
                                   strict=True)))
    timed = [spec.code for spec in catalogue.lists if spec.publish_within]
    marks = ",".join("?" * len(timed))
    public_by = dict(db.execute(f"SELECT list_code, count(*) FROM staged WHERE status IS NOT NULL "  # noqa: S608
                                f"AND list_code IN ({marks}) GROUP BY 1", tuple(timed)).fetchall())
    late_by = dict(db.execute("SELECT list_code, count(*) FROM late GROUP BY 1").fetchall())
    by_list = {code: {"public": public_by.get(code, 0), "late": late_by.get(code, 0),
                      "on_time": public_by.get(code, 0) - late_by.get(code, 0)} for code in timed}
    public = sum(v["public"] for v in by_list.values())
    late = sum(v["late"] for v in by_list.values())
    listed = [dict(zip(("id", "list_code", "decision_date", "deadline", "first_imported"), row, strict=True))
              for row in db.execute("SELECT id, list_code, decision_date, deadline, first_imported FROM late "
                                    "ORDER BY first_imported DESC, id LIMIT ?", (MAX_LATE_LISTED,))]
    section = {
        "rule": {code: spec.publish_within.describe_zh() for code in timed
                 if (spec := catalogue.by_code(code)).publish_within},
        "public": public, "late": late, "on_time": public - late,
        "on_time_rate": round((public - late) / public, 4) if public else None,
        "by_list": by_list, "late_listed": listed,
    }
    return writer.close(), section
