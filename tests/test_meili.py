"""The Meilisearch engine against a real server (tests/meili.py): atomic re-index, failed builds, masked
documents, the operator command, /readyz, publish, and the master key kept out of every output.

The search behaviour itself is in the shared conformance suite (tests/test_engine_conformance.py)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import meilisearch
import orjson
import pytest
from fastapi.testclient import TestClient

from search_api.app import create_app
from search_api.engines.base import EngineError, SearchQuery
from search_api.engines.meilisearch import BUILD_SUFFIX, MeiliEngine
from search_api.settings import Settings
from search_api.testing import PERSON_ID, REP_ID, TEST_TODAY, make_entry, sample_entries, write_test_snapshot

ROOT = Path(__file__).resolve().parent.parent
# The raw ID numbers behind the sample's masked ones (search_api.testing): none may reach the server.
RAW_IDS = (PERSON_ID, REP_ID, "511702199001011111", "511702199202022222")


@pytest.fixture
def index_name() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def engine(meili_server: Any, index_name: str) -> MeiliEngine:
    return MeiliEngine(meili_server.url, meili_server.key, index=index_name, timeout_ms=10_000)


def indexes(server: Any) -> set[str]:
    return {index["uid"] for index in meilisearch.Client(server.url, server.key).get_raw_indexes({"limit": 1000})["results"]}


def names(engine: MeiliEngine, q: str) -> list[str]:
    return [hit["subject_name"] for hit in engine.search(SearchQuery(q=q, today=TEST_TODAY)).hits]


def test_rebuild_swaps_new_data_in_and_drops_the_companions(engine: MeiliEngine, meili_server: Any,
                                                            tmp_path: Path) -> None:
    engine.index_snapshot(write_test_snapshot(tmp_path / "a"))
    assert names(engine, "王伟东") == ["王伟东"]
    renamed = [make_entry("王伟东改名科技有限公司", decision_date="2026-09-01")]
    stats = engine.index_snapshot(write_test_snapshot(tmp_path / "b", renamed))
    assert stats["entries"] == 1
    assert names(engine, "王伟东") == ["王伟东改名科技有限公司"]
    assert not {name + BUILD_SUFFIX for name in engine.names.values()} & indexes(meili_server)
    assert set(engine.names.values()) <= indexes(meili_server)


def test_a_failed_build_leaves_the_live_index_serving(engine: MeiliEngine, meili_server: Any, tmp_path: Path) -> None:
    engine.index_snapshot(write_test_snapshot(tmp_path / "good"))
    before = engine.search(SearchQuery(q="王伟", today=TEST_TODAY))
    broken = write_test_snapshot(tmp_path / "broken")
    lines = (broken / "entries.jsonl").read_bytes().splitlines()
    # An entry without its subject name, half-way through the file: the build fails after sending documents.
    damaged = orjson.loads(lines[5])
    del damaged["subject_name"]
    (broken / "entries.jsonl").write_bytes(b"\n".join([*lines[:5], orjson.dumps(damaged), *lines[6:]]) + b"\n")
    with pytest.raises(KeyError):
        engine.index_snapshot(broken)
    after = engine.search(SearchQuery(q="王伟", today=TEST_TODAY))
    assert [h["id"] for h in after.hits] == [h["id"] for h in before.hits] and after.total == before.total == 5
    assert engine.meta(fresh=True)["data_as_of"] == TEST_TODAY.isoformat()
    assert not {name + BUILD_SUFFIX for name in engine.names.values()} & indexes(meili_server)


def test_documents_hold_masked_data_only(engine: MeiliEngine, meili_server: Any, tmp_path: Path) -> None:
    engine.index_snapshot(write_test_snapshot(tmp_path / "s"))
    admin = meilisearch.Client(meili_server.url, meili_server.key)
    stored = b""
    for uid in engine.names.values():
        documents = admin.http.get(f"indexes/{uid}/documents?limit=1000")["results"]
        assert documents, uid
        stored += orjson.dumps(documents)
    text = stored.decode()
    assert not [raw for raw in RAW_IDS if raw in text or raw.lower() in text]
    entries = admin.http.get(f"indexes/{engine.names['entries']}/documents?limit=1000")["results"]
    assert len(entries) == len(sample_entries())
    for document in entries:  # the shown entry carries no digest; digests are filter fields only
        assert not {"id_digest", "legal_rep_id_digest", "uscc_digest"} & set(document["entry"])


def run_portal(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portal.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=300)


def test_portal_index_command_and_readyz(meili_server: Any, index_name: str, tmp_path: Path) -> None:
    snapshot_dir = write_test_snapshot(tmp_path / "s")
    env = {"MEILI_URL": meili_server.url, "MEILI_KEY": meili_server.key, "PORTAL_MEILI_INDEX": index_name}
    result = run_portal("index", str(snapshot_dir), "--engine", "meilisearch", env=env)
    assert result.returncode == 0, result.stderr
    assert "'entries': 11" in result.stdout and meili_server.key not in result.stdout + result.stderr
    settings = Settings(engine="meilisearch", meili_url=meili_server.url, meili_key=meili_server.key,
                        meili_index=index_name)
    with TestClient(create_app(settings, today=lambda: TEST_TODAY)) as client:
        assert client.get("/readyz").json() == {"status": "ready", "engine": "meilisearch", "data_as_of": "2026-11-23"}
        found = client.get("/api/v1/search", params={"q": "王伟"}).json()
        assert [hit["subject_name"] for hit in found["hits"]][:2] == ["王伟", "王伟东"]
    # The API only searches: the server's default search key (no write right) serves every endpoint.
    keys = meilisearch.Client(meili_server.url, meili_server.key).http.get("keys")["results"]
    search_key = next(key["key"] for key in keys if key["actions"] == ["search"])
    read_only = Settings(engine="meilisearch", meili_url=meili_server.url, meili_key=search_key, meili_index=index_name)
    with TestClient(create_app(read_only, today=lambda: TEST_TODAY)) as client:
        assert client.get("/readyz").status_code == 200
        first = client.get("/api/v1/search", params={"q": "王伟"}).json()["hits"][0]
        assert client.get(f"/api/v1/entries/{first['id']}").status_code == 200
        assert client.get("/api/v1/changes").status_code == 200 and client.get("/api/v1/stats").status_code == 200
    missing = Settings(engine="meilisearch", meili_url=meili_server.url, meili_key=meili_server.key,
                       meili_index=index_name + "_none")
    with TestClient(create_app(missing, today=lambda: TEST_TODAY)) as client:
        body = client.get("/readyz").json()
        assert (body["error"]["code"], body["engine"], body["state"]) == ("not_ready", "meilisearch", "index_missing")
        assert client.get("/api/v1/search", params={"q": "王伟"}).status_code == 503
    wrong_key = Settings(engine="meilisearch", meili_url=meili_server.url, meili_key="not-the-key-" + "x" * 20,
                         meili_index=index_name)
    with TestClient(create_app(wrong_key, today=lambda: TEST_TODAY)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["state"] == "unavailable"


def test_the_key_never_reaches_output_or_logs(meili_server: Any, index_name: str, tmp_path: Path) -> None:
    snapshot_dir = write_test_snapshot(tmp_path / "s")
    unreachable = run_portal("index", str(snapshot_dir), "--engine", "meilisearch",
                             env={"MEILI_URL": "http://127.0.0.1:9", "MEILI_KEY": meili_server.key})
    assert unreachable.returncode == 2 and "线上索引保持不变" in unreachable.stderr
    assert meili_server.key not in unreachable.stdout + unreachable.stderr
    unset = run_portal("index", str(snapshot_dir), "--engine", "meilisearch", env={"MEILI_URL": ""})
    assert unset.returncode == 2 and "MEILI_URL" in unset.stderr
    engine = MeiliEngine("http://127.0.0.1:9", meili_server.key, index=index_name)
    with pytest.raises(EngineError) as exc:
        engine.meta()
    assert meili_server.key not in str(exc.value) + repr(engine)
    if meili_server.log is not None:  # the server we started: its own log never shows the key
        assert meili_server.key not in meili_server.log.read_text(errors="replace")
    settings_dump = json.dumps(Settings(meili_url=meili_server.url, meili_key=meili_server.key).model_dump(mode="json"))
    assert meili_server.key not in settings_dump


@pytest.mark.slow
def test_publish_targets_meilisearch_and_a_failed_switch_swaps_back(engine: MeiliEngine, tmp_path: Path) -> None:
    from test_publish import HEADER, KEY, ROWS  # the department file of the publish tests

    from portal.ingest.pipeline import SourceSpec
    from portal.release.publish import Layout, PublishError, publish
    from search_api.indexer import meili_release_builder

    source = tmp_path / "inbox" / "dept.csv"
    source.parent.mkdir()
    with open(source, "w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows([HEADER, *ROWS])
    layout = Layout(tmp_path / "var")
    builder = meili_release_builder(engine)
    publish([SourceSpec(str(source))], layout, as_of=date(2026, 11, 23), key=KEY, index_builder=builder)
    release = layout.live_release()
    assert release is not None and (release / "index.db").exists()  # the release keeps its SQLite file
    first_version = engine.meta(fresh=True)["version"]
    assert names(engine, "乙商贸") == ["达州市乙商贸有限公司"]

    def build_then_freeze(snapshot_dir: Path, index_path: Path) -> Any:
        staged = builder(snapshot_dir, index_path)
        subprocess.run(["chattr", "+i", str(layout.releases)], check=True)  # the switch's rename will fail
        return staged

    try:
        with pytest.raises(PublishError) as exc:
            publish([SourceSpec(str(source))], layout, as_of=date(2026, 12, 1), key=KEY, index_builder=build_then_freeze)
    finally:
        subprocess.run(["chattr", "-i", str(layout.releases)], check=True)
    assert exc.value.step == "switch"
    assert layout.live_release() == release
    assert engine.meta(fresh=True)["version"] == first_version  # swapped back: the live index is the first publish's
    assert names(engine, "乙商贸") == ["达州市乙商贸有限公司"]
