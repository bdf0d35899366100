"""Crash safety: ``kill -9`` in the middle of ``portal publish`` and of ``portal index``.

A publish is started as a subprocess (its own process group, so its ingest workers die with it) on the
sample data with ``PORTAL_FAULT_KILL=<step>`` (``portal.public.faults``): on reaching that step it kills its
process group with SIGKILL, as the OOM killer would. No timing: the kill happens at that point, every run.
Then the deployment is "restarted":

- ``var/current`` serves one consistent version, never a mix: the release's ``release.json`` snapshot, the
  search index's data version and ``snapshots/latest`` name the same snapshot (here: the previous one);
- the API started on it answers;
- the next publish succeeds without waiting for the dead publish's lock (flock locks die with their
  process; the lock *file* stays) and removes the leftovers.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from stdnum.cn import uscc as stdnum_uscc

from portal.ingest.pipeline import SourceSpec
from portal.public import faults
from portal.public import snapshot as snap
from portal.release.publish import (
    Layout,
    PublishError,
    default_site_builder,
    list_releases,
    publish,
    release_info,
)
from search_api.app import create_app
from search_api.settings import Settings

pytestmark = pytest.mark.slow

AS_OF_FIRST = "2026-11-23"
AS_OF_SECOND = "2026-12-01"  # a week later: entries expire, notices end, so the new version differs
SAMPLE_ROWS = 2_000
PHASE_TIMEOUT_S = 300


def portal_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "portal.cli", *args]


def cli_env(**extra: str) -> dict[str, str]:
    inherited = {name: value for name, value in os.environ.items() if name != faults.FAULT_ENV}
    return {**inherited, "COLUMNS": "200", "PYTHONWARNINGS": "ignore", **extra}


def run_portal(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(portal_command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)


@dataclass
class Work:
    root: Path
    inputs: list[Path]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Work:
    """Sample files and a deployment with one live release (the 'previous version' of every test)."""
    root = tmp_path_factory.mktemp("crash")
    sample = run_portal("sample", "--out", str(root / "inbox"), "--rows", str(SAMPLE_ROWS), "--as-of",
                        AS_OF_FIRST, cwd=root)
    assert sample.returncode == 0, sample.stderr
    inputs = sorted(p for p in (root / "inbox").iterdir() if p.suffix in (".csv", ".xlsx"))
    first = run_portal("publish", *map(str, inputs), "--var", str(root / "base-var"), "--as-of", AS_OF_FIRST,
                       cwd=root)
    assert first.returncode == 0, first.stdout + first.stderr
    return Work(root, inputs)


@pytest.fixture
def layout(work: Work, tmp_path: Path) -> Layout:
    shutil.copytree(work.root / "base-var", tmp_path / "var", symlinks=True)
    return Layout(tmp_path / "var")


# --- the invariants ------------------------------------------------------------------------------------


def index_meta(index: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT key, value FROM meta").fetchall())
    finally:
        db.close()


def live_version(layout: Layout) -> str:
    """The one snapshot the live portal serves; fails when the site, the index and ``latest`` disagree."""
    release = layout.live_release()
    assert release is not None and release.is_dir(), "var/current does not point at a release"
    assert (release / "site" / "index.html").is_file()
    site_snapshot = release_info(release)["snapshot"]
    meta = index_meta(release / "index.db")
    latest = (layout.snapshots / "latest").resolve().name
    assert site_snapshot == meta["version"] == latest, \
        f"mixed versions: release.json {site_snapshot}, index {meta['version']}, snapshots/latest {latest}"
    manifest = snap.read_manifest(layout.snapshots / "latest")
    assert manifest["data_as_of"] == meta["data_as_of"]
    return latest


def assert_api_answers(layout: Layout) -> None:
    release = layout.live_release()
    assert release is not None
    entry = next(snap.iter_entries(layout.snapshots / "latest"))
    settings = Settings(index_path=release / "index.db", access_log=False)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        found = client.get("/api/v1/search", params={"q": "有限公司"})
        assert found.status_code == 200 and found.json()["hits"]
        assert client.get(f"/api/v1/entries/{entry['id']}").json()["id"] == entry["id"]


def leftovers(layout: Layout) -> list[Path]:
    found = [*layout.releases.glob(".tmp-*"), *layout.root.glob(".current-*"), *layout.snapshots.glob(".tmp-*"),
             *layout.snapshots.glob(".stage-*"), *layout.snapshots.glob(".latest-*")]
    built = {release_info(r)["snapshot"] for r in list_releases(layout)}
    found += [v for v in snap.list_versions(layout.snapshots) if v.name not in built]  # never-published versions
    return found


def assert_next_publish_recovers(layout: Layout, work: Work, previous: str) -> None:
    assert (layout.root / ".publish.lock").exists()  # the dead publish's lock file is still there …
    started = time.monotonic()
    result = run_portal("publish", *map(str, work.inputs), "--var", str(layout.root), "--as-of", AS_OF_SECOND,
                        cwd=layout.root.parent)
    assert result.returncode == 0, result.stdout + result.stderr  # … and does not block
    assert time.monotonic() - started < 120
    version = live_version(layout)
    assert version != previous
    assert snap.read_manifest(layout.snapshots / version)["previous"] == previous
    assert leftovers(layout) == []
    assert_api_answers(layout)


# --- killing a publish -----------------------------------------------------------------------------


def killed_at(step: str, *args: str, cwd: Path) -> None:
    """Run ``portal <args>`` with the fault hook armed at ``step``; it must die of SIGKILL there."""
    process = subprocess.run(portal_command(*args), cwd=cwd, env=cli_env(**{faults.FAULT_ENV: step}),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                             timeout=PHASE_TIMEOUT_S)
    assert process.returncode == -signal.SIGKILL, \
        f"portal {args[0]} was not killed at {step}: {process.stderr.decode()[-2000:]}"


def kill_publish_at(layout: Layout, work: Work, step: str) -> None:
    killed_at(step, "publish", *map(str, work.inputs), "--var", str(layout.root), "--as-of", AS_OF_SECOND,
              cwd=layout.root.parent)


def file_digests(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, following the release's links into its entry slot."""
    found = {}
    for directory, _dirs, names in os.walk(root, followlinks=True):
        for name in names:
            path = Path(directory) / name
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def assert_served_pages_match_a_fresh_build(layout: Layout, tmp_path: Path) -> None:
    """The live entry and list pages are exactly what a build from scratch of the live snapshot gives."""
    fresh_slot = tmp_path / "fresh-slot"
    default_site_builder(layout.snapshots / "latest", tmp_path / "fresh" / "site", fresh_slot)
    for name in ("entries", "lists"):
        assert file_digests(layout.current / "site" / name) == file_digests(fresh_slot / name), name


@pytest.mark.parametrize("phase", faults.STEPS)
def test_kill_9_during_publish_leaves_the_previous_version_live_and_the_next_publish_cleans_up(
        layout: Layout, work: Work, phase: str, tmp_path: Path) -> None:
    previous = live_version(layout)
    before = file_digests(layout.live_release())  # type: ignore[arg-type]
    assert any(name.startswith("site/entries/") for name in before)
    kill_publish_at(layout, work, phase)

    assert live_version(layout) == previous  # restart: the old version, whole
    assert file_digests(layout.live_release()) == before  # type: ignore[arg-type]
    assert_api_answers(layout)
    assert leftovers(layout), "the kill should have left a staging directory behind (else it came too late)"
    assert_next_publish_recovers(layout, work, previous)
    if phase == "slot":  # the half-written slot was repaired, not trusted
        assert_served_pages_match_a_fresh_build(layout, tmp_path)


def test_a_publish_killed_between_switching_current_and_moving_latest_is_repaired(layout: Layout,
                                                                                   work: Work) -> None:
    """The one window where two renames disagree: the next publish takes the live release as the truth."""
    first = live_version(layout)
    second = run_portal("publish", *map(str, work.inputs), "--var", str(layout.root), "--as-of", "2026-11-24",
                        cwd=layout.root.parent)
    assert second.returncode == 0, second.stdout + second.stderr
    live = live_version(layout)
    # What the kill leaves: current already on the new release, latest still on the old snapshot, and a
    # half-made temporary link of the dead process.
    snap.point_latest(layout.snapshots, first)
    (layout.root / ".current-4194999").symlink_to("releases")
    with pytest.raises(AssertionError, match="mixed versions"):
        live_version(layout)
    assert_next_publish_recovers(layout, work, live)


# --- killing a standalone index build --------------------------------------------------------------


def test_kill_9_during_portal_index_keeps_the_old_index_and_a_rebuild_succeeds(layout: Layout, tmp_path: Path) -> None:
    snapshot = layout.snapshots / "latest"
    index = tmp_path / "search" / "index.sqlite3"
    built = run_portal("index", str(snapshot), "--out", str(index), cwd=tmp_path)
    assert built.returncode == 0, built.stdout + built.stderr
    old_bytes = index.read_bytes()

    killed_at("index", "index", str(snapshot), "--out", str(index), cwd=tmp_path)
    assert index.read_bytes() == old_bytes  # the live index was never touched
    assert index_meta(index)["version"] == snapshot.resolve().name
    stale = [p for p in index.parent.iterdir() if p != index]
    assert stale, "the kill should have left the temporary index behind"

    rebuilt = run_portal("index", str(snapshot), "--out", str(index), cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert index_meta(index)["version"] == snapshot.resolve().name
    db = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
    try:
        assert db.execute("SELECT count(*) FROM entries").fetchone()[0] == snap.read_manifest(snapshot)[
            "files"]["entries.jsonl"]["rows"]
    finally:
        db.close()
    remaining = [p.name for p in index.parent.iterdir() if p != index]
    assert remaining == [], f"the killed build's temporary index was not removed: {remaining}"


# --- the publish lock --------------------------------------------------------------------------------


def test_a_live_lock_blocks_and_a_killed_holder_does_not(tmp_path: Path) -> None:
    """flock: held while its process lives, gone with it; the lock file left behind blocks nothing."""
    body = "91511700MA6300001"
    source = tmp_path / "dept.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期"],
                                 ["达州市锁测试有限公司", "法人及非法人组织", body + stdnum_uscc.calc_check_digit(body),
                                  "严重违法失信企业名单", "2026-01-05"]])
    layout = Layout(tmp_path / "var")
    layout.root.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time\n"
                               "f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True)\n"
                               "time.sleep(120)", str(layout.root / ".publish.lock")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(PublishError) as blocked:
            publish([SourceSpec(str(source))], layout, as_of=date(2026, 11, 23))
        assert blocked.value.step == "lock" and "另一个发布正在进行" in blocked.value.zh
    finally:
        holder.kill()
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()
    assert (layout.root / ".publish.lock").exists()
    record = publish([SourceSpec(str(source))], layout, as_of=date(2026, 11, 23))
    assert record["outcome"] == "published" and live_version(layout) == record["snapshot"]
