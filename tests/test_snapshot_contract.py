"""The public snapshot contract has one owner (portal.public.snapshot): both writers produce the same
manifest, and the measures catalogue travels inside the snapshot into the site and the API."""

from __future__ import annotations

import csv
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import uscc

from portal.ingest.pipeline import SourceSpec, run_ingest
from portal.public import snapshot as snap
from portal.public.catalogue import load_catalogue
from portal.public.codes import normalise_code
from portal.public.measures import measures_file
from search_api.app import create_app
from search_api.indexer import build_index
from search_api.settings import Settings
from search_api.testing import TEST_HMAC_KEY, TEST_TODAY, sample_entries, sample_tombstones

KEY = b"test-only-hmac-key-0123456789abcdef"
MEASURES_TOML = """
version = "2099.1.1"

[[measures.YZWFSX]]
text = "依法限制参与政府采购活动"
type = "punishment"
mandatory = true
basis = "《中华人民共和国政府采购法》第二十二条"
department = "市财政局"

[[measures.YZWFSX]]
text = "列为重点监管对象"
type = "punishment"

[[measures.CXSFQY]]
text = "在行政审批中给予绿色通道"
type = "incentive"
mandatory = false
department = "市政务服务中心"
"""


def expected_measures(toml_text: str) -> dict[str, list[dict[str, Any]]]:
    """What the rule says a list shows: the file's items, mandatory false and basis/department empty when
    the file leaves them out."""
    raw = tomllib.loads(toml_text)
    return {code: [{"text": item["text"], "type": item["type"], "mandatory": item.get("mandatory", False),
                    "basis": item.get("basis", ""), "department": item.get("department", "")} for item in items]
            for code, items in raw["measures"].items()}


@pytest.fixture
def measures_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "measures.toml"
    path.write_text(MEASURES_TOML, encoding="utf-8")
    monkeypatch.setenv("PORTAL_MEASURES", str(path))
    return path


def department_csv(path: Path) -> Path:
    body = "91511700MA6200001"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([
            ["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "认定部门", "认定文书号"],
            ["达州市甲建筑工程有限公司", "法人及非法人组织", body + uscc.calc_check_digit(body), "严重违法失信企业名单",
             "2025-03-05", "达州市市场监督管理局", "达市监〔2025〕1号"]])
    return path


def test_both_writers_write_every_manifest_key_and_the_same_files(tmp_path: Path, measures_path: Path) -> None:
    ingested = run_ingest([SourceSpec(str(department_csv(tmp_path / "dept.csv")))], tmp_path / "a",
                          as_of=date(2026, 11, 23), key=KEY, workers=1)
    written = snap.write_snapshot(tmp_path / "b", sample_entries(), sample_tombstones(), data_as_of=TEST_TODAY)
    for version_dir in (ingested.version_dir, written):
        manifest = snap.read_manifest(version_dir)
        assert set(manifest) == set(snap.Manifest.__required_keys__)
        assert manifest["format"] == 1 and manifest["measures_version"] == "2099.1.1"
        files = {snap.ENTRIES, snap.WITHDRAWN, snap.CHANGES, snap.REJECTS, snap.CATALOGUE, snap.MEASURES, snap.LATE}
        assert set(manifest["files"]) == files
        assert {p.name for p in version_dir.iterdir()} == files | {snap.MANIFEST}
        for name, info in manifest["files"].items():
            assert info["sha256"] == snap.file_sha256(version_dir / name)
        assert snap.read_measures(version_dir)["measures"] == expected_measures(MEASURES_TOML)
        assert [c["code"] for c in snap.read_catalogue(version_dir)] == [
            spec["code"] for spec in load_catalogue().to_public()["lists"]]


def test_lists_endpoint_shows_the_snapshots_measures(tmp_path: Path, measures_path: Path) -> None:
    written = snap.write_snapshot(tmp_path / "snapshots", sample_entries(), sample_tombstones(), data_as_of=TEST_TODAY)
    build_index(written, tmp_path / "index.sqlite3")
    measures_path.write_text("", encoding="utf-8")  # the API must not read the file: the index carries them
    app = create_app(Settings(index_path=tmp_path / "index.sqlite3", api_keys_db=tmp_path / "keys.sqlite3",
                              hmac_key=TEST_HMAC_KEY), today=lambda: TEST_TODAY)
    with TestClient(app) as client:
        body = client.get("/api/v1/lists").json()
    expected = expected_measures(MEASURES_TOML)
    shown = {item["code"]: item["measures"] for item in body["lists"]}
    assert set(shown) == {spec["code"] for spec in load_catalogue().to_public()["lists"]}
    for code, measures in shown.items():
        assert measures == expected.get(code, [])


def test_measures_file_defaults_to_the_packaged_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTAL_MEASURES", raising=False)
    assert measures_file() == Path(__file__).resolve().parents[1] / "portal" / "data" / "measures.toml"


def test_expired_tombstone_is_the_day_after_publish_until_with_the_expiry_category() -> None:
    entry = {**sample_entries()[0], "publish_until": "2026-02-28"}
    tomb = snap.expired_tombstone(entry)
    assert set(tomb) == set(snap.TOMBSTONE_FIELDS)
    assert (tomb["withdrawn_on"], tomb["reason"]) == ("2026-03-01", "期满")
    assert tomb["id"] == entry["id"] and tomb["list_code"] == entry["list_code"]


@pytest.mark.parametrize("typed, code", [("９１５１１７００ＭＡ６２００００１X", "91511700MA6200001X"),
                                         (" 5101 **** 123x ", "5101****123X")])
def test_one_code_normaliser_for_ingest_and_api(typed: str, code: str) -> None:
    # Full-width digits and letters fold, whitespace goes, case goes up: as a visitor may type a code.
    assert normalise_code(typed) == code
    assert normalise_code(code) == code  # idempotent: the index stores the normalised form
