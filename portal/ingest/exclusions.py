"""Red-list eligibility across lists: the red/black conflict rule and the exclusions of ``lists.toml``.

A subject active on a black list cannot be on a red list at the same time (domain.md, conflict rule); a red
list may name further lists whose subjects are not eligible (诚信示范企业: 经营异常名录, and 失信被执行人 of the
company or its 法定代表人 — 示范企业办法 第九条(十)、(七)). Subjects are matched by their identity keys
(``portal.ingest.identity``). Works on the staging database of ``portal.ingest.pipeline``: the red rows it withholds get
``withheld = conflict`` and one line each in the ``conflicts`` table (which entry, which list, matched how).
"""

from __future__ import annotations

import sqlite3

from portal.ingest.identity import LEGAL_REP_KEY, PERSON_KEY, USCC_KEY
from portal.ingest.lifecycle import CONFLICT
from portal.public.catalogue import Catalogue
from portal.public.records import ListKind, PublicStatus

ACTIVE = (PublicStatus.PUBLISHED.value, PublicStatus.OBJECTION.value)  # on the list now (not under notice)

SCHEMA = """
CREATE TABLE exclusion_rules (red_list TEXT, by_list TEXT, legal_rep INTEGER);
CREATE TABLE red_keys (id TEXT, list_code TEXT, key TEXT, is_rep INTEGER, uscc TEXT);
CREATE TABLE candidates (red_id TEXT, red_list TEXT, by_id TEXT, by_list TEXT, by_kind TEXT, key TEXT,
                         decision_date TEXT);
"""


def _uscc_of(table: str) -> str:
    """SQL: the row's USCC key (the first key when there is one), else NULL."""
    return (f"CASE WHEN json_extract({table}.subject_key, '$[0]') GLOB '{USCC_KEY}*' "
            f"THEN json_extract({table}.subject_key, '$[0]') END")


def apply_exclusions(db: sqlite3.Connection, catalogue: Catalogue) -> None:
    """Withhold every public red row whose subject is active on a list that excludes its red list.

    Cost: the red rows' keys go into a small indexed table; the other lists' rows are read once, their keys
    looked up in it (no table of every key of every row). CROSS JOIN fixes that loop order: left to itself
    the planner once scanned the staged rows for every red key (minutes at 35,000 rows).
    """
    rules = [(spec.code, other.code, int(rule.legal_rep))
             for spec in catalogue.lists if spec.kind is ListKind.RED
             for rule in spec.excluded_by for other in catalogue.lists if rule.applies_to(other)]
    if not rules:
        return
    for statement in filter(str.strip, SCHEMA.split(";")):  # executescript would commit the transaction
        db.execute(statement)
    db.executemany("INSERT INTO exclusion_rules VALUES (?,?,?)", rules)
    # A legal representative's key "r:<digest>" is stored as the person key "p:<digest>" it must meet.
    db.execute(f"""
        INSERT INTO red_keys
        SELECT s.id, s.list_code,
               CASE WHEN j.value GLOB '{LEGAL_REP_KEY}*'
                    THEN '{PERSON_KEY}' || substr(j.value, {len(LEGAL_REP_KEY) + 1}) ELSE j.value END,
               j.value GLOB '{LEGAL_REP_KEY}*', {_uscc_of("s")}
        FROM staged s, json_each(s.subject_key) j
        WHERE s.kind = ? AND s.status IS NOT NULL AND s.subject_key IS NOT NULL""",  # noqa: S608
        (ListKind.RED.value,))
    db.execute("CREATE INDEX red_keys_key ON red_keys(key)")
    marks = ",".join("?" * len(ACTIVE))
    db.execute(f"""
        INSERT INTO candidates
        SELECT r.id, r.list_code, b.id, b.list_code, b.kind,
               CASE WHEN r.is_rep THEN '{LEGAL_REP_KEY}' ELSE substr(j.value, 1, 2) END, b.decision_date
        FROM staged b CROSS JOIN json_each(b.subject_key) j CROSS JOIN red_keys r CROSS JOIN exclusion_rules x
        WHERE r.key = j.value
          AND x.red_list = r.list_code AND x.by_list = b.list_code AND (x.legal_rep OR NOT r.is_rep)
          AND b.kind != ? AND b.status IN ({marks}) AND b.subject_key IS NOT NULL
          AND b.list_code IN (SELECT by_list FROM exclusion_rules)
          AND (r.uscc IS NULL OR {_uscc_of("b")} IS NULL OR r.uscc = {_uscc_of("b")})""",  # noqa: S608
        (ListKind.RED.value, *ACTIVE))
    # One line per withheld red entry: an excluding black entry first, then the most recent one.
    db.execute("""
        INSERT INTO conflicts (red_id, black_id, list_code, by_list, by_kind, matched_by)
        SELECT red_id, by_id, red_list, by_list, by_kind, key FROM (
            SELECT *, row_number() OVER (PARTITION BY red_id ORDER BY by_kind = 'black' DESC,
                                         decision_date DESC, by_id, key) AS n FROM candidates)
        WHERE n = 1""")
    db.execute("UPDATE staged SET withheld = ?, status = NULL WHERE id IN (SELECT red_id FROM conflicts)",
               (CONFLICT,))
