"""What only the SQLite engine has: atomic file swap, on-disk sort, capped counts, time limits."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import orjson
import pytest

from search_api.engines import sqlite as sqlite_engine
from search_api.engines.base import EngineBusy, IndexMissing, QueryTimeout, SearchQuery
from search_api.engines.factory import EngineExecutor
from search_api.engines.sqlite import SqliteEngine
from search_api.indexer import build_index
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


def test_engine_executor_runs_few_calls_at_once_and_refuses_stale_ones() -> None:
    """No sleeps: calls block on events the test releases, and the executor's clock is the test's."""
    running = most = 0
    lock = threading.Lock()
    two_running = threading.Event()
    release = threading.Event()

    def query() -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                two_running.set()
        release.wait(timeout=30)
        with lock:
            running -= 1
        return threading.current_thread().name

    now = [1_000.0]  # the executor's clock, in seconds; only the test moves it

    def clock() -> float:
        return now[0]

    ran_late: list[str] = []

    async def scenario() -> None:
        executor = EngineExecutor(slots=2, queue_seconds=5, clock=clock)
        calls = [asyncio.ensure_future(executor.run(query)) for _ in range(6)]
        assert await asyncio.to_thread(two_running.wait, 30)
        assert running == 2  # four calls wait for a slot
        release.set()
        names = await asyncio.gather(*calls)
        assert most == 2 and all(name.startswith("engine") for name in names)  # never on the event loop

        release.clear()
        impatient = EngineExecutor(slots=1, queue_seconds=0.2, clock=clock)
        first = asyncio.ensure_future(impatient.run(query))
        late = asyncio.ensure_future(impatient.run(lambda: ran_late.append("ran") or "ran"))
        await asyncio.sleep(0)  # both submitted at the same clock reading
        await asyncio.sleep(0)
        now[0] += 0.21  # the second has now waited longer than queue_seconds for its turn
        release.set()
        with pytest.raises(EngineBusy):
            await late
        assert ran_late == []  # refused, not run
        assert (await first).startswith("engine")
        on_time = await impatient.run(lambda: "ok")  # submitted and run at the same reading: runs
        assert on_time == "ok"
        executor.shutdown()
        impatient.shutdown()

    asyncio.run(scenario())


def test_filters_are_fts_tokens_that_queries_can_never_match(tmp_path: Path) -> None:
    entries = [make_entry(f"通川商贸{index}", region="通川区" if index % 3 else "达川区") for index in range(30)]
    entries.append(make_entry("无关单位", region="达川区"))
    build_index(write_test_snapshot(tmp_path / "snap", entries), tmp_path / "index.sqlite3")
    engine = SqliteEngine(tmp_path / "index.sqlite3")
    found = engine.search(SearchQuery(q="商贸", region="达川区", today=TEST_TODAY, limit=50))
    assert found.total == 10 and {hit["region"] for hit in found.hits} == {"达川区"}
    # The tag tokens are ASCII: one-letter queries are prefix queries, and must not match them.
    for letter in ("r", "l", "s", "a", "b", "e", "f"):
        assert engine.search(SearchQuery(q=letter, today=TEST_TODAY)).total == 0, letter
    conn = sqlite3.connect(tmp_path / "index.sqlite3")
    token = sqlite_engine.filter_token("region", "达川区")
    assert conn.execute("SELECT count(*) FROM fts WHERE fts MATCH ?", [f"tags : {token}"]).fetchone()[0] == 11


def test_index_of_another_schema_is_reported_not_queried(tmp_path: Path) -> None:
    build_index(write_test_snapshot(tmp_path / "snap"), tmp_path / "index.sqlite3")
    with sqlite3.connect(tmp_path / "index.sqlite3") as conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
    engine = SqliteEngine(tmp_path / "index.sqlite3")
    with pytest.raises(IndexMissing, match="portal index"):
        engine.search(SearchQuery(q="王伟", today=TEST_TODAY))
    assert engine.ready() is False


def test_filters_dates_and_expiry_agree_with_a_plain_scan(tmp_path: Path) -> None:
    """Tags, the decision-date rowid range and temp.expired replace per-row reads of attrs: compare them with a
    plain Python filter over the entries, for random filter combinations and query dates."""
    import random
    from datetime import date, timedelta

    rng = random.Random(7)
    codes = ["YZWFSX", "SXBZXR", "ZDGZ", "XZCF"]
    regions = ["通川区", "达川区", "宣汉县", None]
    entries = []
    for index in range(400):
        decided = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 500))
        until = decided + timedelta(days=rng.randrange(200, 900))
        entries.append(make_entry(f"{rng.choice(['达州', '通川', '宣汉'])}商贸{index}", list_code=rng.choice(codes),
                                  decision_date=decided.isoformat(), region=rng.choice(regions),
                                  publish_until=until.isoformat(), decision_no=f"第{index}号"))
    build_index(write_test_snapshot(tmp_path / "snap", entries), tmp_path / "index.sqlite3")
    engine = SqliteEngine(tmp_path / "index.sqlite3")
    newest_first = sorted(entries, key=lambda e: (e["decision_date"], e["id"]), reverse=True)
    for _ in range(150):
        today = date(2025, 6, 1) + timedelta(days=rng.randrange(0, 700))
        filters = {"list_code": rng.choice([*codes, None]), "region": rng.choice([*regions[:3], None])}
        first, second = sorted(date(2025, 1, 1) + timedelta(days=rng.randrange(-20, 520)) for _ in range(2))
        dates = rng.choice([{}, {"decided_from": first}, {"decided_to": second},
                            {"decided_from": first, "decided_to": second}])
        q = rng.choice(["", "商贸", "通川"])
        expected = [e["id"] for e in newest_first
                    if e["publish_until"] >= today.isoformat()
                    and all(e[name] == value for name, value in filters.items() if value)
                    and ("decided_from" not in dates or e["decision_date"] >= dates["decided_from"].isoformat())
                    and ("decided_to" not in dates or e["decision_date"] <= dates["decided_to"].isoformat())
                    and q in e["subject_name"]]
        query = SearchQuery(q=q, today=today, limit=50, **filters, **dates)  # type: ignore[arg-type]
        result = engine.search(query)
        assert result.total == len(expected), (query, result.total, len(expected))
        # Every 通川 name starts with it (one prefix tier) and 商贸 is in every name: rank is rowid order.
        assert [hit["id"] for hit in result.hits] == expected[:50], query


def test_fold_table_covers_every_character_that_folds() -> None:
    import unicodedata

    from search_api.text import FOLD_TABLE_SIZE, _t2s_table, fold

    t2s = _t2s_table()
    for code in range(FOLD_TABLE_SIZE, 0x110000):
        char = chr(code)
        assert unicodedata.normalize("NFKC", char).casefold().translate(t2s) == char, hex(code)
    assert fold("ＡＢＣ達州臺灣①Ⅻ") == "abc达州台湾1xii"


@pytest.mark.parametrize("seed", range(3))
def test_may_contain_never_rules_out_a_real_match(seed: int) -> None:
    import random

    from search_api.text import may_contain, search_key

    rng = random.Random(seed)
    alphabet = "達州达州臺灣台湾ＡＢＣabcABC①１2３Ⅻﬁ㈱株市場市场有限公司 ,，-（）"
    for _ in range(2_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        folded = search_key(text)
        for start in range(len(folded)):
            key = folded[start:start + rng.randint(1, 3)]
            assert may_contain(text, key), (text, key)
    assert not may_contain("达州市应急管理局", "王伟")
