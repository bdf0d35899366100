"""The index build's token memo: an index built with tokens from the last build is the same index."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import orjson

from portal.ingest.pipeline import SourceSpec, run_ingest
from search_api.engines.sqlite import SqliteEngine, build_sqlite_index

KEY = b"test-only-hmac-key-0123456789abcdef"
AS_OF = date(2026, 11, 23)


def contents(index: Path) -> list[list[tuple]]:  # type: ignore[type-arg]
    conn = sqlite3.connect(index)
    try:
        tables = [conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()  # noqa: S608
                  for t in ("entries", "attrs", "withdrawn")]
        # Contentless FTS: compare what it finds for a few tokens of every kind.
        probes = ["有限", "公司", "\"市场 场监\"", "name:^达", "tags:listkindblack*"]
        tables += [conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid", (p,)).fetchall()
                   for p in probes]
        return tables
    finally:
        conn.close()


def test_index_built_from_memo_tokens_equals_a_fresh_build(tmp_path: Path) -> None:
    from portal.sample import write_samples

    files = write_samples(tmp_path / "in", 800, as_of=AS_OF, formats=("csv-utf8",))
    snapshot = run_ingest([SourceSpec(str(p)) for p in files], tmp_path / "s", as_of=AS_OF, key=KEY).version_dir
    memo = tmp_path / "tokens.db"
    fresh = build_sqlite_index(snapshot, tmp_path / "fresh.db")
    first = build_sqlite_index(snapshot, tmp_path / "first.db", token_memo=memo)
    assert first["tokens_reused"] == 0 and memo.exists()
    again = build_sqlite_index(snapshot, tmp_path / "again.db", token_memo=memo)
    assert again["tokens_reused"] == fresh["entries"] > 0
    assert contents(tmp_path / "again.db") == contents(tmp_path / "fresh.db")

    # One entry's facts change: only it is tokenized again, and the search finds the new text, not the old.
    changed = tmp_path / "changed"
    shutil.copytree(snapshot, changed)
    lines = (changed / "entries.jsonl").read_bytes().splitlines()
    entry = orjson.loads(lines[0])
    entry["facts"] = "独一无二的更正文字"
    lines[0] = orjson.dumps(entry)
    (changed / "entries.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    third = build_sqlite_index(changed, tmp_path / "third.db", token_memo=memo)
    assert third["tokens_reused"] == fresh["entries"] - 1
    conn = sqlite3.connect(tmp_path / "third.db")
    assert conn.execute("SELECT rowid FROM fts WHERE fts MATCH '\"独一 一无 无二\"'").fetchall() == [(1,)]
    conn.close()
    assert SqliteEngine(tmp_path / "third.db").ready()


def test_a_damaged_memo_is_ignored(tmp_path: Path) -> None:
    from portal.sample import write_samples

    files = write_samples(tmp_path / "in", 300, as_of=AS_OF, formats=("csv-utf8",))
    snapshot = run_ingest([SourceSpec(str(p)) for p in files], tmp_path / "s", as_of=AS_OF, key=KEY).version_dir
    memo = tmp_path / "tokens.db"
    memo.write_bytes(b"not a database")
    result = build_sqlite_index(snapshot, tmp_path / "i.db", token_memo=memo)
    assert result["tokens_reused"] == 0
    assert contents(tmp_path / "i.db") == contents(build_sqlite_index(snapshot, tmp_path / "j.db") and tmp_path / "j.db")
