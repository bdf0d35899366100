"""Red-list eligibility across lists: the red/black conflict rule and the exclusions of ``lists.toml``.

A subject active on a black list cannot be on a red list at the same time (domain.md, conflict rule); a red
list may name further lists whose subjects are not eligible (诚信示范企业: 经营异常名录, and 失信被执行人 of the
company or its 法定代表人 — 示范企业办法 第九条(十)、(七)). Subjects are matched by their identity keys
(``portal.identity``). Works on the staging database of ``portal.ingest``: the red rows it withholds get
``withheld = conflict`` and one line each in the ``conflicts`` table (which entry, which list, matched how).
"""

from __future__ import annotations

import sqlite3

from portal.catalogue import Catalogue
from portal.identity import LEGAL_REP_KEY, PERSON_KEY, USCC_KEY
from portal.lifecycle import CONFLICT
from portal.records import ListKind, PublicStatus

ACTIVE = (PublicStatus.PUBLISHED.value, PublicStatus.OBJECTION.value)  # on the list now (not under notice)

SCHEMA = """
CREATE TABLE idkeys (id TEXT, kind TEXT, list_code TEXT, key TEXT, uscc TEXT, decision_date TEXT);
CREATE TABLE candidates (red_id TEXT, red_list TEXT, by_id TEXT, by_list TEXT, by_kind TEXT, key TEXT,
                         decision_date TEXT);
"""


def apply_exclusions(db: sqlite3.Connection, catalogue: Catalogue) -> None:
    """Withhold every public red row whose subject is active on a list that excludes its red list."""
    red_lists = [spec for spec in catalogue.lists if spec.kind is ListKind.RED and spec.excluded_by]
    if not red_lists:
        return
    for statement in filter(str.strip, SCHEMA.split(";")):  # executescript would commit the staging transaction
        db.execute(statement)
    marks = ",".join("?" * len(ACTIVE))
    # Red rows that are public (under notice or published), and rows of other lists that are active.
    db.execute(f"""
        INSERT INTO idkeys
        SELECT s.id, s.kind, s.list_code, j.value,
               CASE WHEN json_extract(s.subject_key, '$[0]') GLOB '{USCC_KEY}*'
                    THEN json_extract(s.subject_key, '$[0]') END, s.decision_date
        FROM staged s, json_each(s.subject_key) j
        WHERE s.subject_key IS NOT NULL
          AND ((s.kind = ? AND s.status IS NOT NULL) OR (s.kind IN (?, ?) AND s.status IN ({marks})))""",  # noqa: S608
        (ListKind.RED.value, ListKind.BLACK.value, ListKind.WATCH.value, *ACTIVE))
    db.execute("CREATE INDEX idkeys_key ON idkeys(key)")
    for spec in red_lists:
        for rule in spec.excluded_by:
            codes = [s.code for s in catalogue.lists if rule.applies_to(s)]
            if not codes:
                continue
            code_marks = ",".join("?" * len(codes))
            # A legal representative's key "r:<digest>" meets the person key "p:<digest>" of the other list.
            db.execute(f"""
                INSERT INTO candidates
                SELECT r.id, r.list_code, b.id, b.list_code, b.kind, r.key, b.decision_date
                FROM idkeys r JOIN idkeys b
                  ON b.key = CASE WHEN r.key GLOB '{LEGAL_REP_KEY}*'
                                  THEN '{PERSON_KEY}' || substr(r.key, {len(LEGAL_REP_KEY) + 1}) ELSE r.key END
                WHERE r.kind = ? AND r.list_code = ? AND b.kind != ? AND b.list_code IN ({code_marks})
                  AND (? OR r.key NOT GLOB '{LEGAL_REP_KEY}*')
                  AND (r.uscc IS NULL OR b.uscc IS NULL OR r.uscc = b.uscc)""",  # noqa: S608
                (ListKind.RED.value, spec.code, ListKind.RED.value, *codes, int(rule.legal_rep)))
    # One line per withheld red entry: the most recent excluding entry, matched by its strongest key.
    db.execute("""
        INSERT INTO conflicts (red_id, black_id, list_code, by_list, by_kind, matched_by)
        SELECT red_id, by_id, red_list, by_list, by_kind, key FROM (
            SELECT *, row_number() OVER (PARTITION BY red_id ORDER BY by_kind = 'black' DESC,
                                         decision_date DESC, by_id, key) AS n FROM candidates)
        WHERE n = 1""")
    db.execute("UPDATE staged SET withheld = ?, status = NULL WHERE id IN (SELECT red_id FROM conflicts)",
               (CONFLICT,))
