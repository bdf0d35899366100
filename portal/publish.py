"""``portal publish``: department files to a live portal as one transaction.

    ingest → validate → mask → snapshot ─┬─ site build ─┐
                                         └─ index build ┴─ release directory ─ switch ``current``

A release is a directory holding the site and the search index built from one snapshot. The live portal is
the symlink ``var/current``; switching it is one ``rename(2)``, so the site and the index change together
and a reader sees either the old pair or the new pair, never a mix. Every step before the switch works in
new directories only: when any step fails the new directories are removed, ``current`` and the snapshots'
``latest`` stay where they were, and the failure is recorded in the audit log with the step that failed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from portal import snapshot as snap
from portal.actions import load_overrides
from portal.audit import AuditLog
from portal.ingest import IngestError, SourceSpec, run_ingest
from portal.ingest_worker import display_name
from portal.settings import SHANGHAI, SNAPSHOTS_KEPT

RELEASE_FILE = "release.json"
SITE_DIR = "site"
INDEX_FILE = "index.db"
CURRENT = "current"


@dataclass(frozen=True)
class Layout:
    """Where a deployment keeps its working data (default ``var/``)."""

    root: Path

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def current(self) -> Path:
        return self.root / CURRENT

    @property
    def actions(self) -> Path:
        return self.root / "actions.jsonl"

    @property
    def audit(self) -> Path:
        return self.root / "audit.db"

    def live_release(self) -> Path | None:
        return self.current.resolve() if self.current.exists() else None


class PublishError(Exception):
    """A publish step failed; the live portal is unchanged."""

    def __init__(self, step: str, zh: str, en: str) -> None:
        super().__init__(f"[{step}] {zh} / {en}")
        self.step = step
        self.zh = zh
        self.en = en


STEP_NAMES_ZH = {"ingest": "导入与校验", "site": "生成网站", "index": "建立检索索引", "switch": "切换上线"}

SiteBuilder = Callable[[Path, Path, Path | None], None]  # (snapshot dir, output dir, previous site dir)
IndexBuilder = Callable[[Path, Path], None]  # (snapshot dir, index file)


SITE_STORE_DIR = "site-store"  # the rebuild cache's index, one per release (copied, never shared)
SITE_SETTINGS_ENV = "PORTAL_SITE_SETTINGS"  # Pelican settings file; default pelicanconf.py, production publishconf.py


def default_site_builder(snapshot_dir: Path, out_dir: Path, previous_site: Path | None) -> None:
    """Build the release's site, reusing the previous release's unchanged entry and list pages.

    The previous release's ``entries/`` and ``lists/`` are hard-linked into the new site first (no data is
    copied) and its page-store index is copied; the plugin then rewrites only pages whose inputs changed.
    It writes every page to a temporary file and renames it into place, which gives the page a new inode:
    a hard-linked file of the previous release is never modified, so rollback stays exact.
    """
    from portal.site.build import ROOT, build_site
    from portal.site.store import MANAGED_DIRS

    store = out_dir.parent / SITE_STORE_DIR
    if previous_site is not None and previous_site.exists():
        for name in MANAGED_DIRS:
            if (previous_site / name).is_dir():
                shutil.copytree(previous_site / name, out_dir / name, copy_function=os.link)
        previous_store = previous_site.parent / SITE_STORE_DIR
        if previous_store.is_dir():
            shutil.copytree(previous_store, store)
    settings_file = Path(os.environ.get(SITE_SETTINGS_ENV, ROOT / "pelicanconf.py"))
    # Absolute paths: Pelican resolves relative ones against the settings file, not the working directory.
    build_site({"PORTAL_SNAPSHOT": str(snapshot_dir.resolve()), "OUTPUT_PATH": str(out_dir.resolve()),
                "PORTAL_PAGE_STORE": str(store.resolve())},
               settings_file)


def default_index_builder(snapshot_dir: Path, index_path: Path) -> None:
    from search_api.indexer import build_index

    build_index(snapshot_dir, index_path)


def publish(sources: Sequence[SourceSpec], layout: Layout, *, as_of: date, trigger: str = "manual",
            key: bytes | None = None, site_builder: SiteBuilder = default_site_builder,
            index_builder: IndexBuilder = default_index_builder,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole publish; returns the audit record. Raises PublishError with the live portal untouched."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / ".publish.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishError("lock", "另一个发布正在进行，请稍后再试",
                               "another publish is running; try again later") from None
        return _publish_locked(sources, layout, as_of=as_of, trigger=trigger, key=key,
                               site_builder=site_builder, index_builder=index_builder, progress=progress)


def _publish_locked(sources: Sequence[SourceSpec], layout: Layout, *, as_of: date, trigger: str,
                    key: bytes | None, site_builder: SiteBuilder, index_builder: IndexBuilder,
                    progress: Callable[[str], None] | None) -> dict[str, Any]:
    audit = AuditLog(layout.audit)
    started = time.monotonic()
    record: dict[str, Any] = {"trigger": trigger, "as_of": as_of.isoformat(),
                              "sources": [display_name(s.spec) for s in sources], "outcome": "failed"}
    layout.releases.mkdir(parents=True, exist_ok=True)
    recover_interrupted(layout)
    previous_release = layout.live_release()
    staging = layout.releases / f".tmp-{os.getpid()}-{time.time_ns()}"
    version_dir: Path | None = None
    step = "ingest"
    try:
        _say(progress, step)
        result = run_ingest(sources, layout.snapshots, as_of=as_of, key=key,
                            overrides=load_overrides(layout.actions), set_latest=False)
        version_dir = result.version_dir
        record.update(snapshot=version_dir.name, counts=result.manifest["counts"],
                      changes=result.manifest["changes"], sources_detail=result.manifest["sources"],
                      checksums={name: f["sha256"] for name, f in result.manifest["files"].items()})
        step = "site"
        _say(progress, step)
        staging.mkdir()
        site_builder(version_dir, staging / SITE_DIR,
                     previous_release / SITE_DIR if previous_release else None)
        step = "index"
        _say(progress, step)
        index_builder(version_dir, staging / INDEX_FILE)
        step = "switch"
        _say(progress, step)
        release = _commit_release(layout, staging, version_dir, as_of, trigger)
        snap.point_latest(layout.snapshots, version_dir.name)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if version_dir is not None and snap.latest_version(layout.snapshots) != version_dir:
            shutil.rmtree(version_dir, ignore_errors=True)
        zh, en = _explain(exc)
        record.update(step=step, error_zh=zh, error_en=en, seconds=round(time.monotonic() - started, 2))
        audit.append(record)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise PublishError(step, zh, en) from exc
    record.update(outcome="published", release=release.name, seconds=round(time.monotonic() - started, 2),
                  previous_release=previous_release.name if previous_release else None)
    audit.append(record)
    audit.record_publication(version_dir, release.name)
    prune_releases(layout)
    return {**record, "manifest": result.manifest}  # the full manifest is for the caller, not the audit


def recover_interrupted(layout: Layout) -> list[Path]:
    """Undo what a killed publish (``kill -9``, power loss) left behind; runs under the publish lock.

    - ``snapshots/latest`` is repointed to the live release's snapshot when a kill fell between the switch of
      ``current`` and the move of ``latest``: the live release is the truth, and the next ingest must compute
      its changes against what was really public.
    - Staging directories and temporary links of dead processes (``releases/.tmp-*``, ``snapshots/.tmp-*``,
      ``snapshots/.stage-*``, ``.current-*``, ``snapshots/.latest-*``) are removed.
    - Snapshot versions newer than ``latest`` that no release was built from are removed: a publish killed after
      its ingest left them (never public), or a rollback abandoned them (their release is already gone).

    Returns what was removed (for tests and the operator's curiosity).
    """
    removed: list[Path] = []
    live = layout.live_release()
    if live is not None and (live / RELEASE_FILE).exists():
        live_snapshot = layout.snapshots / release_info(live)["snapshot"]
        if live_snapshot.is_dir() and snap.latest_version(layout.snapshots) != live_snapshot.resolve():
            snap.point_latest(layout.snapshots, live_snapshot.name)
    candidates = [*layout.releases.glob(".tmp-*"), *layout.root.glob(".current-*")]
    if layout.snapshots.is_dir():
        candidates += [*layout.snapshots.glob(".tmp-*"), *layout.snapshots.glob(".latest-*")]
    stale = [p for p in candidates if not _owner_alive(p)]
    if layout.snapshots.is_dir() and not any(p.name.startswith(".tmp-") and _owner_alive(p)
                                             for p in layout.snapshots.iterdir()):
        stale += list(layout.snapshots.glob(".stage-*"))  # an ingest's work dir; no ingest is running
    latest = snap.latest_version(layout.snapshots) if layout.snapshots.is_dir() else None
    releases = list_releases(layout)
    if latest is not None and releases:
        built = {release_info(r)["snapshot"] for r in releases}
        stale += [v for v in snap.list_versions(layout.snapshots) if v.name > latest.name and v.name not in built]
    for path in stale:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _owner_alive(path: Path) -> bool:
    """Whether the process named in ``.tmp-<pid>-…`` / ``.current-<pid>`` / ``.latest-<pid>`` still runs."""
    try:
        pid = int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _say(progress: Callable[[str], None] | None, step: str) -> None:
    if progress:
        progress(step)


def _explain(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, IngestError):
        return exc.zh, exc.en
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return f"{type(exc).__name__}：{exc}", detail


def _commit_release(layout: Layout, staging: Path, version_dir: Path, as_of: date, trigger: str) -> Path:
    created = datetime.now(SHANGHAI)
    # Microseconds in the name keep releases in publish order when sorted, even within one second.
    name = f"r{created.strftime('%Y%m%dT%H%M%S%f')}-{version_dir.name.split('-')[-1]}"
    final = layout.releases / name
    suffix = 1
    while final.exists():
        final = layout.releases / f"{name}.{suffix}"
        suffix += 1
    info = {"release": final.name, "snapshot": version_dir.name, "created_at": created.isoformat(timespec="seconds"),
            "data_as_of": as_of.isoformat(), "trigger": trigger}
    (staging / RELEASE_FILE).write_bytes(orjson.dumps(info, option=orjson.OPT_INDENT_2))
    os.rename(staging, final)
    switch_current(layout, final)
    return final


def switch_current(layout: Layout, release: Path) -> None:
    """Atomically point ``current`` at ``release`` (relative symlink, swapped by rename)."""
    tmp = layout.root / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(release, layout.root), tmp)
    os.replace(tmp, layout.current)
    fd = os.open(layout.root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_releases(layout: Layout) -> list[Path]:
    if not layout.releases.exists():
        return []
    return sorted(p for p in layout.releases.iterdir() if p.is_dir() and (p / RELEASE_FILE).exists())


def release_info(release: Path) -> dict[str, Any]:
    return orjson.loads((release / RELEASE_FILE).read_bytes())


def rollback(layout: Layout, *, trigger: str = "manual") -> Path:
    """Make the release before the live one live again (site and index together)."""
    live = layout.live_release()
    releases = list_releases(layout)
    if live is None or live not in releases or releases.index(live) == 0:
        raise PublishError("rollback", "没有可回退的上一版本", "there is no earlier release to roll back to")
    target = releases[releases.index(live) - 1]
    switch_current(layout, target)
    snapshot_name = release_info(target)["snapshot"]
    if (layout.snapshots / snapshot_name).exists():
        snap.point_latest(layout.snapshots, snapshot_name)
    audit = AuditLog(layout.audit)
    audit.append({"trigger": trigger, "outcome": "rolled_back", "release": target.name,
                  "previous_release": live.name, "snapshot": snapshot_name})
    audit.record_publication(layout.snapshots / snapshot_name, target.name)
    # The abandoned release is removed so that the next rollback goes further back, not forward again.
    shutil.rmtree(live, ignore_errors=True)
    return target


def prune_releases(layout: Layout, keep: int = SNAPSHOTS_KEPT) -> None:
    """Keep the newest ``keep`` releases (never the live one) and the snapshots they were built from."""
    live = layout.live_release()
    releases = list_releases(layout)
    for old in releases[: max(0, len(releases) - keep)]:
        if old != live:
            shutil.rmtree(old, ignore_errors=True)
    for stale in layout.releases.glob(".tmp-*"):  # left by a killed publish
        shutil.rmtree(stale, ignore_errors=True)
    snap.prune_versions(layout.snapshots, keep)
