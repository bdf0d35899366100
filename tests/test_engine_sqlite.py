"""What only the SQLite engine has: atomic file swap, on-disk sort, capped counts, time limits."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import orjson
import pytest

from search_api import sqlite_engine
from search_api.engine import IndexMissing, QueryTimeout, SearchQuery
from search_api.indexer import build_index
from search_api.sqlite_engine import SqliteEngine
from search_api.testing import TEST_TODAY, make_entry, sample_entries, write_test_snapshot


def many_entries(count: int, name: str = "达州市某某商贸有限公司") -> list[dict[str, object]]:
    return [make_entry(f"{name}{index}", decision_date=f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}",
                       decision_no=f"第{index}号") for index in range(count)]


def test_reindex_swaps_atomically_while_searching(tmp_path: Path) -> None:
    index_path = tmp_path / "index.sqlite3"
    first = write_test_snapshot(tmp_path / "a")
    build_index(first, index_path)
    engine = SqliteEngine(index_path)
    second = write_test_snapshot(tmp_path / "b", [*sample_entries(), make_entry("新增王伟贸易公司")])
    errors: list[BaseException] = []
    totals: set[int] = set()
    stop = threading.Event()

    def search_in_a_loop() -> None:
        while not stop.is_set():
            try:
                totals.add(engine.search(SearchQuery(q="王伟", today=TEST_TODAY)).total)
            except BaseException as exc:  # noqa: BLE001 - any failure during the swap is the defect
                errors.append(exc)
                return

    worker = threading.Thread(target=search_in_a_loop)
    worker.start()
    try:
        for round_number in range(6):
            build_index(second if round_number % 2 == 0 else first, index_path)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert errors == []
    assert totals <= {5, 6} and totals  # only complete old or complete new indexes were ever seen
    build_index(second, index_path)
    assert engine.search(SearchQuery(q="王伟", today=TEST_TODAY)).total == 6
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unsorted_entries_are_sorted_on_disk(tmp_path: Path) -> None:
    snapshot_dir = write_test_snapshot(tmp_path / "snap")
    lines = (snapshot_dir / "entries.jsonl").read_bytes().splitlines()
    unsorted = snapshot_dir.parent / "unsorted"
    unsorted.mkdir()
    for name in ("manifest.json", "catalogue.json", "withdrawn.jsonl", "changes.jsonl"):
        (unsorted / name).write_bytes((snapshot_dir / name).read_bytes())
    (unsorted / "entries.jsonl").write_bytes(b"\n".join(reversed(lines)) + b"\n")
    stats = build_index(unsorted, tmp_path / "unsorted.sqlite3")
    assert stats["sorted_on_disk"] == 1
    sorted_stats = build_index(snapshot_dir, tmp_path / "sorted.sqlite3")
    assert sorted_stats["sorted_on_disk"] == 0
    query = SearchQuery(q="达州", today=TEST_TODAY, limit=50)
    assert ([h["id"] for h in SqliteEngine(tmp_path / "unsorted.sqlite3").search(query).hits]
            == [h["id"] for h in SqliteEngine(tmp_path / "sorted.sqlite3").search(query).hits])


def test_count_is_capped_with_gte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot_dir = write_test_snapshot(tmp_path / "snap", many_entries(150))
    build_index(snapshot_dir, tmp_path / "index.sqlite3")
    engine = SqliteEngine(tmp_path / "index.sqlite3")
    assert engine.search(SearchQuery(q="商贸", today=TEST_TODAY)).total == 150
    monkeypatch.setattr(sqlite_engine, "MAX_COUNT", 100)
    result = engine.search(SearchQuery(q="商贸", today=TEST_TODAY))
    assert (result.total, result.relation) == (100, "gte")
    assert sum(result.facets["list_code"].values()) == 100
    exact = engine.search(SearchQuery(q="达州市某某商贸有限公司7", today=TEST_TODAY))
    assert exact.relation == "eq" and exact.hits[0]["subject_name"] == "达州市某某商贸有限公司7"


def test_query_time_limit_raises_timeout(tmp_path: Path) -> None:
    snapshot_dir = write_test_snapshot(tmp_path / "snap", many_entries(400))
    build_index(snapshot_dir, tmp_path / "index.sqlite3")
    slow = SqliteEngine(tmp_path / "index.sqlite3", timeout_ms=0)
    with pytest.raises(QueryTimeout):
        slow.stats(TEST_TODAY)
    # The connection is usable again afterwards with a normal limit.
    slow.timeout_ms = 2_000
    assert slow.stats(TEST_TODAY)["total"] == 400


def test_missing_index_is_reported(tmp_path: Path) -> None:
    engine = SqliteEngine(tmp_path / "nothing.sqlite3")
    with pytest.raises(IndexMissing):
        engine.search(SearchQuery(q="王伟", today=TEST_TODAY))
    assert engine.ready() is False


def test_substring_tier_reads_matches_in_rowid_order_without_sorting(tmp_path: Path) -> None:
    build_index(write_test_snapshot(tmp_path / "snap"), tmp_path / "index.sqlite3")
    conn = sqlite3.connect(tmp_path / "index.sqlite3")
    plan = " | ".join(row[3] for row in conn.execute(
        "EXPLAIN QUERY PLAN SELECT e.rowid FROM fts JOIN entries e ON e.rowid = fts.rowid WHERE fts MATCH ? "
        "AND e.list_kind = ? ORDER BY fts.rowid LIMIT 20", ['name : "王 伟"', "black"]))
    assert "SCAN fts VIRTUAL TABLE" in plan and "TEMP B-TREE" not in plan


def test_index_holds_no_digest_in_documents(tmp_path: Path) -> None:
    build_index(write_test_snapshot(tmp_path / "snap"), tmp_path / "index.sqlite3")
    conn = sqlite3.connect(tmp_path / "index.sqlite3")
    for (doc,) in conn.execute("SELECT doc FROM entries"):
        assert not {"id_digest", "legal_rep_id_digest", "uscc_digest"} & set(orjson.loads(doc))


def test_change_feed_reaches_back_through_previous_versions(tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    write_test_snapshot(root)
    later = write_test_snapshot(root, [*sample_entries(), make_entry("第二批公司")])
    build_index(later, tmp_path / "index.sqlite3")
    records, _ = SqliteEngine(tmp_path / "index.sqlite3").changes(None, 0, 1_000)
    first_batch = len(sample_entries()) + 1
    assert len(records) == first_batch + len(sample_entries()) + 2  # both versions, oldest first


def test_engine_slots_queue_calls_instead_of_running_them_all_at_once() -> None:
    import threading

    from search_api.engine import EngineBusy
    from search_api.engines import SlotLimitedEngine

    class Probe:
        """Counts how many calls run at the same time; each waits until released."""

        def __init__(self) -> None:
            self.running = self.most = 0
            self.lock = threading.Lock()
            self.release = threading.Event()

        def search(self) -> str:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            self.release.wait(5)
            with self.lock:
                self.running -= 1
            return "done"

    probe = Probe()
    gated = SlotLimitedEngine(probe, slots=2, queue_seconds=5)  # type: ignore[arg-type]
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(gated.search())) for _ in range(6)]
    for thread in threads:
        thread.start()
    probe.release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["done"] * 6 and probe.most <= 2

    blocked = Probe()
    impatient = SlotLimitedEngine(blocked, slots=1, queue_seconds=0.2)  # type: ignore[arg-type]
    holder = threading.Thread(target=impatient.search)
    holder.start()
    while blocked.running == 0:
        pass
    with pytest.raises(EngineBusy):
        impatient.search()
    blocked.release.set()
    holder.join(10)
