"""One conformance suite for every engine: SQLite FTS5 always, Meilisearch when MEILI_URL is set."""

from __future__ import annotations

import os
import uuid
from datetime import date
from pathlib import Path

import pytest

from search_api.engines.base import Engine, SearchQuery
from search_api.testing import (
    PERSON_ID,
    REP_ID,
    TEST_TODAY,
    USCC_A,
    WITHDRAWN_ID,
    sample_digest,
    sample_entries,
    write_test_snapshot,
)

ENGINES = ["sqlite", pytest.param("meilisearch", marks=pytest.mark.skipif(
    not os.environ.get("MEILI_URL"), reason="MEILI_URL not set: no Meilisearch server to test against"))]


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    root = tmp_path_factory.mktemp("snapshots")
    snapshot_dir = write_test_snapshot(root)
    if request.param == "sqlite":
        from search_api.engines.sqlite import SqliteEngine

        built: Engine = SqliteEngine(Path(tmp_path_factory.mktemp("index")) / "index.sqlite3")
    else:
        from search_api.engines.meilisearch import MeiliEngine

        built = MeiliEngine(os.environ["MEILI_URL"], os.environ.get("MEILI_KEY"),
                            index=f"test_{uuid.uuid4().hex[:8]}", timeout_ms=10_000)
    stats = built.index_snapshot(snapshot_dir)
    assert stats["entries"] == len(sample_entries())
    return built


def names(engine: Engine, q: str, **filters: object) -> list[str]:
    options: dict[str, object] = {"today": TEST_TODAY, **filters}
    result = engine.search(SearchQuery(q=q, **options))  # type: ignore[arg-type]
    return [hit["subject_name"] for hit in result.hits]


def test_two_character_person_name_finds_every_name_containing_it_ranked(engine: Engine) -> None:
    # Exact name, then prefix, then substring (newest first), then other fields (facts mention 王伟).
    assert names(engine, "王伟") == ["王伟", "王伟东", "达州市王伟建材经营部", "<script>alert(1)</script>王伟商行",
                                    "達州市某某建築工程有限公司"]


def test_single_character_query_has_full_recall(engine: Engine) -> None:
    found = names(engine, "王")
    assert {"王伟", "王伟东", "达州市王伟建材经营部", "<script>alert(1)</script>王伟商行"} <= set(found)
    # Prefix tier (王伟东 is newer than 王伟) before substring tier.
    assert found[:2] == ["王伟东", "王伟"]


def test_traditional_and_simplified_fold_both_ways(engine: Engine) -> None:
    assert names(engine, "台湾") == ["臺灣某某貿易有限公司"]
    assert names(engine, "臺灣") == ["臺灣某某貿易有限公司"]
    simplified = names(engine, "达州市某某建筑")
    assert simplified == names(engine, "達州市某某建築")
    assert set(simplified) == {"達州市某某建築工程有限公司", "达州市某某建筑工程有限公司"}


def test_full_width_and_case_fold(engine: Engine) -> None:
    assert names(engine, "abc科技")[0] == "ＡＢＣ科技（达州）有限公司"
    assert names(engine, "ＡＢＣ")[0] == "ＡＢＣ科技（达州）有限公司"


def test_uscc_is_an_exact_match(engine: Engine) -> None:
    assert sorted(names(engine, USCC_A.lower())) == ["达州市某某建筑工程有限公司", "達州市某某建築工程有限公司"]
    assert names(engine, USCC_A[:-1] + "0") == []


def test_masked_id_is_an_exact_match(engine: Engine) -> None:
    masked = PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
    assert names(engine, masked) == ["王伟"]
    assert names(engine, " " + masked.lower() + " ") == ["王伟"]


@pytest.mark.parametrize("q", ['"', "*", "NEAR(a b)", "-王伟", "王伟 AND 达州", "(王伟", "^王", "王伟\"*", "a:b", "{name}:x"])
def test_fts_syntax_is_plain_text(engine: Engine, q: str) -> None:
    result = engine.search(SearchQuery(q=q, today=TEST_TODAY))
    assert result.total >= 0 and isinstance(result.hits, list)


def test_fts_operators_are_searched_as_words(engine: Engine) -> None:
    assert names(engine, "NEAR(x)") == ["ＡＢＣ科技（达州）有限公司"]


def test_expired_entry_is_gone_at_query_time(engine: Engine) -> None:
    assert names(engine, "过期公司") == []
    assert names(engine, "今日到期公司") == ["今日到期公司"]
    assert names(engine, "今日到期公司", today=date(2026, 11, 24)) == []
    assert names(engine, "过期公司", today=date(2026, 11, 22)) == ["过期公司"]


def test_filters_combine(engine: Engine) -> None:
    assert names(engine, "王伟", subject_type="自然人") == ["王伟", "王伟东"]
    assert names(engine, "王伟", list_kind="watch") == ["达州市王伟建材经营部"]
    assert names(engine, "", list_code="XZCF") == ["臺灣某某貿易有限公司"]
    assert names(engine, "", region="达川区") == ["达州市王伟建材经营部"]
    assert names(engine, "王伟", decided_from=date(2026, 4, 1), decided_to=date(2026, 5, 31)) == ["王伟东"]


def test_empty_query_lists_newest_first(engine: Engine) -> None:
    result = engine.search(SearchQuery(q="", today=TEST_TODAY, limit=50))
    dates = [hit["decision_date"] for hit in result.hits]
    assert dates == sorted(dates, reverse=True)
    assert result.total == len(sample_entries()) - 1  # the expired one is not counted


def test_paging_is_consistent(engine: Engine) -> None:
    everything = names(engine, "达州", limit=50)
    pages = [names(engine, "达州", offset=offset, limit=3) for offset in range(0, len(everything), 3)]
    assert [name for page in pages for name in page] == everything


def test_facets_and_total(engine: Engine) -> None:
    result = engine.search(SearchQuery(q="王伟", today=TEST_TODAY))
    assert result.total == 5 and result.relation == "eq"
    assert result.facets["list_kind"] == {"black": 4, "watch": 1}
    assert result.facets["list_code"]["SXBZXR"] == 2
    assert engine.facets(SearchQuery(q="王伟", today=TEST_TODAY)) == result.facets


def test_highlights_are_escaped_with_marks_only(engine: Engine) -> None:
    result = engine.search(SearchQuery(q="王伟商行", today=TEST_TODAY))
    marked = result.hits[0]["highlights"]["subject_name"]
    assert marked == "&lt;script&gt;alert(1)&lt;/script&gt;<mark>王伟商行</mark>"
    traditional = engine.search(SearchQuery(q="达州市某某建筑", today=TEST_TODAY)).hits
    assert {hit["highlights"]["subject_name"] for hit in traditional} == {
        "<mark>達州市某某建築</mark>工程有限公司", "<mark>达州市某某建筑</mark>工程有限公司"}


def test_hits_carry_no_digest(engine: Engine) -> None:
    for hit in engine.search(SearchQuery(q="", today=TEST_TODAY, limit=50)).hits:
        assert not {"id_digest", "legal_rep_id_digest", "uscc_digest"} & set(hit)
        assert hit["url"] == f"/entries/{hit['id']}/"


def test_get_entry_tombstone_expired_unknown(engine: Engine) -> None:
    entry = next(e for e in sample_entries() if e["subject_name"] == "王伟")
    found = engine.get(entry["id"], TEST_TODAY)
    assert found.entry is not None and found.entry["subject_name"] == "王伟" and "id_digest" not in found.entry
    tomb = engine.get(WITHDRAWN_ID, TEST_TODAY)
    assert tomb.entry is None and tomb.tombstone is not None and tomb.tombstone["reason"] == "信用修复"
    expired = next(e for e in sample_entries() if e["subject_name"] == "过期公司")
    gone = engine.get(expired["id"], TEST_TODAY)
    assert gone.entry is None and gone.tombstone == {
        "id": expired["id"], "list_code": "YZWFSX", "list_name": "严重违法失信企业名单", "list_kind": "black",
        "is_person": False, "withdrawn_on": "2026-11-23", "reason": "期满"}
    unknown = engine.get("ffffffffffffffff", TEST_TODAY)
    assert unknown.entry is None and unknown.tombstone is None


def test_exact_lookups(engine: Engine) -> None:
    assert [e["subject_name"] for e in engine.by_digest(sample_digest(PERSON_ID), TEST_TODAY, 10)] == ["王伟"]
    assert [e["subject_name"] for e in engine.by_digest(sample_digest(REP_ID), TEST_TODAY, 10)] == ["達州市某某建築工程有限公司"]
    assert engine.by_digest(sample_digest("110101199003070000"), TEST_TODAY, 10) == []
    assert {e["list_kind"] for e in engine.by_uscc(USCC_A, TEST_TODAY, 10)} == {"black", "red"}
    assert [e["subject_name"] for e in engine.by_exact_name("王伟", TEST_TODAY, 10)] == ["王伟"]
    masked = PERSON_ID[:4] + "*" * 10 + PERSON_ID[-4:]
    assert [e["subject_name"] for e in engine.by_masked_id(masked, TEST_TODAY, 10)] == ["王伟"]
    assert engine.by_uscc("91511700MA62EXP01K", TEST_TODAY, 10) == []  # expired


def test_stats(engine: Engine) -> None:
    stats = engine.stats(TEST_TODAY)
    assert stats["total"] == len(sample_entries()) - 1
    assert stats["by_list_code"]["YZWFSX"] == 4
    assert stats["by_region"]["达川区"] == 1
    assert stats["by_month"]["2026-03"] == 1
    assert sum(stats["by_list_kind"].values()) == stats["total"]


def test_changes_keyset_paging(engine: Engine) -> None:
    seen: list[dict[str, object]] = []
    after = 0
    while True:
        records, next_after = engine.changes(None, after, 5)
        seen.extend(records)
        if next_after is None:
            break
        after = next_after
    assert len(seen) == len(sample_entries()) + 1
    assert seen[-1] == {"op": "withdrawn", "id": WITHDRAWN_ID, "list_code": "YZWFSX", "at": "2026-11-23"}
    assert engine.changes(date(2026, 11, 24), 0, 5) == ([], None)


def test_meta_and_ready(engine: Engine) -> None:
    meta = engine.meta()
    assert meta["data_as_of"] == TEST_TODAY.isoformat()
    assert any(item["code"] == "YZWFSX" for item in meta["catalogue"])
    assert engine.ready()
