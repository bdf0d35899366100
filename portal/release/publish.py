"""``portal publish``: department files to a live portal as one transaction.

    ingest → validate → mask → snapshot ─┬─ site build ─┐
                                         └─ index build ┴─ release directory ─ switch ``current``

A release is a directory holding the site and the search index built from one snapshot. The live portal is
the symlink ``var/current``; switching it is one ``rename(2)``, so the site and the index change together
and a reader sees either the old pair or the new pair, never a mix. Every step before the switch works in
new directories only: when any step fails the new directories are removed, ``current`` and the snapshots'
``latest`` stay where they were, and the failure is recorded in the audit log with the step that failed.

**Entry slots.** The entry and list pages (100,000 one-page directories at full size) are not copied into
each release: recreating that many directories costs more than the whole rebuild. There are two entry
slots, ``var/entry-slots/a`` and ``b``; each holds ``entries/``, ``lists/`` and its own page-store index
(``store/``), and a release's ``site/entries`` and ``site/lists`` are relative symlinks into one of them.
A publish updates, in place, the slot that the live release does *not* use (rendering only the pages whose
inputs differ from what that slot holds: the changes of the last two publishes, of which the previous
publish's are hard-linked from the live slot rather than rendered), so the live release's pages are never
touched before the switch. ``slot.json`` in a slot names the *generation* of its
content: it is cleared (synced) before a build changes the slot and set after the build succeeded, and the
release records the generation it was built with. A release whose slot no longer holds its generation (a
later publish, failed or not, updated that slot) is rebuilt from its retained snapshot by ``rollback``
before it goes live again; it never serves a mix of pages.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from portal.ingest.actions import load_overrides
from portal.ingest.pipeline import IngestError, SourceSpec, run_ingest
from portal.ingest.worker import display_name
from portal.public import snapshot as snap
from portal.public.durable import fsync_path, write_durably
from portal.release.audit import AuditLog
from portal.settings import SHANGHAI, SNAPSHOTS_KEPT
from portal.site.build import ROOT, build_site
from portal.site.store import MANAGED_DIRS
from search_api.indexer import build_index

RELEASE_FILE = "release.json"
SITE_DIR = "site"
INDEX_FILE = "index.db"
INDEX_TOKEN_MEMO = "index-tokens.db"  # search_api.engines.sqlite.TokenMemo, kept between publishes
INGEST_MEMO_FILE = "ingest-memo.db"  # portal.ingest.ingest_memo, kept between publishes
CURRENT = "current"
ENTRY_SLOTS = ("a", "b")
SLOT_STATE_FILE = "slot.json"
SLOT_STORE_DIR = "store"  # the slot's page-store index (portal/site/store.py)


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
    def entry_slots(self) -> Path:
        return self.root / "entry-slots"

    def entry_slot(self, name: str) -> Path:
        if name not in ENTRY_SLOTS:
            raise ValueError(f"unknown entry slot {name!r}")
        return self.entry_slots / name

    @property
    def cache(self) -> Path:
        """Rebuild caches of the nightly run (ingest memo, index tokens): safe to delete."""
        return self.root / "cache"

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


STEP_NAMES_ZH = {"prepare": "准备", "ingest": "导入与校验", "site": "生成网站", "index": "建立检索索引", "switch": "切换上线"}

SiteBuilder = Callable[[Path, Path, Path], None]  # (snapshot dir, output dir, entry slot dir)
# (snapshot dir, index file) -> None, or a staged index of a search server (``go_live``/``undo``/``finish``,
# e.g. search_api.engines.meilisearch.StagedIndex) that goes live with the switch and is undone if the switch fails.
IndexBuilder = Callable[[Path, Path], Any]


SITE_SETTINGS_ENV = "PORTAL_SITE_SETTINGS"  # Pelican settings file; default pelicanconf.py, production publishconf.py


def default_site_builder(snapshot_dir: Path, out_dir: Path, slot: Path) -> None:
    """Build the release's site into ``out_dir``, its entry and list pages into the entry slot ``slot``.

    ``out_dir/entries`` and ``out_dir/lists`` become relative symlinks into the slot (made first, so that
    Pelican's output clean-up keeps them: they are in ``OUTPUT_RETENTION``). The plugin rewrites only the
    slot's pages whose inputs differ from what the slot's page-store index says the slot holds.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    link_entry_slot(out_dir, slot)
    settings_file = Path(os.environ.get(SITE_SETTINGS_ENV, ROOT / "pelicanconf.py"))
    # Absolute paths: Pelican resolves relative ones against the settings file, not the working directory.
    overrides = {"PORTAL_SNAPSHOT": str(snapshot_dir.resolve()), "OUTPUT_PATH": str(out_dir.resolve()),
                 "PORTAL_PAGE_ROOT": str(slot.resolve()), "PORTAL_PAGE_STORE": str((slot / SLOT_STORE_DIR).resolve())}
    # The other slot (the live one, never written here) usually holds the pages the last publish changed:
    # the store hard-links those instead of rendering them again (it ignores the sibling if it is dirty).
    sibling = slot.parent / next((name for name in ENTRY_SLOTS if name != slot.name), slot.name)
    if sibling != slot and (sibling / SLOT_STORE_DIR).is_dir():
        overrides.update(PORTAL_PAGE_SIBLING_ROOT=str(sibling.resolve()),
                         PORTAL_PAGE_SIBLING_STORE=str((sibling / SLOT_STORE_DIR).resolve()))
    build_site(overrides, settings_file)


def link_entry_slot(site_dir: Path, slot: Path) -> None:
    """Point ``site_dir/entries`` and ``site_dir/lists`` at the slot's directories (relative, atomic)."""
    for name in MANAGED_DIRS:
        (slot / name).mkdir(parents=True, exist_ok=True)
        tmp = site_dir / f".{name}-{os.getpid()}.link"
        tmp.unlink(missing_ok=True)
        os.symlink(os.path.relpath(slot / name, site_dir), tmp)
        os.replace(tmp, site_dir / name)


def read_slot_state(slot: Path) -> dict[str, Any]:
    """``{"generation": ...}`` of a slot; generation None when a build may have changed it since."""
    try:
        return orjson.loads((slot / SLOT_STATE_FILE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {"generation": None}


def _write_slot_state(slot: Path, generation: str | None) -> None:
    slot.mkdir(parents=True, exist_ok=True)
    write_durably(slot / SLOT_STATE_FILE, orjson.dumps({"generation": generation}))


def build_into_slot(site_builder: SiteBuilder, snapshot_dir: Path, out_dir: Path, slot: Path) -> str:
    """Run the site build with the slot marked as changing; returns the slot's new generation."""
    _write_slot_state(slot, None)  # before anything in the slot changes
    site_builder(snapshot_dir, out_dir, slot)
    generation = secrets.token_hex(8)
    _write_slot_state(slot, generation)
    return generation


def slot_for_next_release(layout: Layout, live: Path | None) -> Path:
    """The entry slot the live release does not use (slot ``a`` when it uses none)."""
    live_slot = release_info(live).get("entry_slot") if live is not None and (live / RELEASE_FILE).exists() else None
    return layout.entry_slot(next(name for name in ENTRY_SLOTS if name != live_slot))


def default_index_builder(snapshot_dir: Path, index_path: Path) -> None:
    # The tokens of the last build, in the deployment's cache (``Layout.cache``: var/snapshots/<version>
    # → var/cache): a nightly index build tokenizes only the entries whose text changed.
    cache = Layout(snapshot_dir.resolve().parent.parent).cache
    cache.mkdir(parents=True, exist_ok=True)
    build_index(snapshot_dir, index_path, token_memo=cache / INDEX_TOKEN_MEMO)


def publish(sources: Sequence[SourceSpec], layout: Layout, *, as_of: date, trigger: str = "manual",
            key: bytes | None = None, site_builder: SiteBuilder = default_site_builder,
            index_builder: IndexBuilder = default_index_builder,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole publish; returns the audit record. Raises PublishError with the live portal untouched."""
    with _publish_lock(layout):
        return _publish_locked(sources, layout, as_of=as_of, trigger=trigger, key=key,
                               site_builder=site_builder, index_builder=index_builder, progress=progress)


def unwritable(layout: Layout, exc: OSError) -> PublishError:
    """A var directory we cannot write to (read-only mount, permissions, full disk): one clear message."""
    reason = exc.strerror or type(exc).__name__
    return PublishError("prepare", f"运行数据目录“{layout.root}”无法写入（{reason}）。请检查目录权限、磁盘空间，"
                                   "以及是否被挂载为只读。",
                        f"cannot write to the deployment directory {layout.root} ({reason})")


@contextmanager
def _publish_lock(layout: Layout) -> Iterator[None]:
    """One publish or rollback at a time (flock: released when its process dies, however it dies)."""
    try:
        layout.root.mkdir(parents=True, exist_ok=True)
        lock = open(layout.root / ".publish.lock", "w")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise unwritable(layout, exc) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PublishError("lock", "另一个发布正在进行，请稍后再试",
                               "another publish is running; try again later") from None
        yield


def _publish_locked(sources: Sequence[SourceSpec], layout: Layout, *, as_of: date, trigger: str,
                    key: bytes | None, site_builder: SiteBuilder, index_builder: IndexBuilder,
                    progress: Callable[[str], None] | None) -> dict[str, Any]:
    started = time.monotonic()
    record: dict[str, Any] = {"trigger": trigger, "as_of": as_of.isoformat(),
                              "sources": [display_name(s.spec) for s in sources], "outcome": "failed"}
    try:
        audit = AuditLog(layout.audit)
        layout.releases.mkdir(parents=True, exist_ok=True)
        recover_interrupted(layout)
    except (OSError, sqlite3.OperationalError) as exc:
        raise unwritable(layout, exc if isinstance(exc, OSError) else OSError(str(exc))) from None
    previous_release = layout.live_release()
    staging = layout.releases / f".tmp-{os.getpid()}-{time.time_ns()}"
    version_dir: Path | None = None
    staged: Any = None
    step = "ingest"
    try:
        _say(progress, step)
        result = run_ingest(sources, layout.snapshots, as_of=as_of, key=key,
                            overrides=load_overrides(layout.actions, as_of), set_latest=False,
                            memo_path=layout.cache / INGEST_MEMO_FILE)
        version_dir = result.version_dir
        record.update(snapshot=version_dir.name, counts=result.manifest["counts"],
                      changes=result.manifest["changes"], sources_detail=result.manifest["sources"],
                      late_decisions={k: result.manifest["timeliness"][k] for k in ("public", "late", "on_time_rate")},
                      period_adjustments=result.manifest["period_adjustments"]["total"],
                      checksums={name: f["sha256"] for name, f in result.manifest["files"].items()},
                      memo=result.memo)
        step = "site"
        _say(progress, step)
        staging.mkdir()
        slot = slot_for_next_release(layout, previous_release)
        generation = build_into_slot(site_builder, version_dir, staging / SITE_DIR, slot)
        step = "index"
        _say(progress, step)
        staged = index_builder(version_dir, staging / INDEX_FILE)
        step = "switch"
        _say(progress, step)
        if staged is not None:
            staged.go_live()
        release = _commit_release(layout, staging, version_dir, as_of, trigger,
                                  {"entry_slot": slot.name, "slot_generation": generation})
        snap.point_latest(layout.snapshots, version_dir.name)
    except BaseException as exc:
        if staged is not None:
            with suppress(Exception):  # best effort: the original failure is what the operator must see
                staged.undo()
        shutil.rmtree(staging, ignore_errors=True)
        if version_dir is not None and snap.latest_version(layout.snapshots) != version_dir:
            shutil.rmtree(version_dir, ignore_errors=True)
        zh, en = _explain(exc)
        record.update(step=step, error_zh=zh, error_en=en, seconds=round(time.monotonic() - started, 2))
        # The audit log is on the same (full or read-only) disk: the cause is reported all the same.
        with contextlib.suppress(OSError, sqlite3.Error):
            audit.append(record)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        raise PublishError(step, zh, en) from exc
    if staged is not None:
        staged.finish()
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


def _commit_release(layout: Layout, staging: Path, version_dir: Path, as_of: date, trigger: str,
                    slot_info: dict[str, str]) -> Path:
    created = datetime.now(SHANGHAI)
    # Microseconds in the name keep releases in publish order when sorted, even within one second.
    name = f"r{created.strftime('%Y%m%dT%H%M%S%f')}-{version_dir.name.split('-')[-1]}"
    final = layout.releases / name
    suffix = 1
    while final.exists():
        final = layout.releases / f"{name}.{suffix}"
        suffix += 1
    info = {"release": final.name, "snapshot": version_dir.name, "created_at": created.isoformat(timespec="seconds"),
            "data_as_of": as_of.isoformat(), "trigger": trigger, **slot_info}
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
    fsync_path(layout.root)


def list_releases(layout: Layout) -> list[Path]:
    if not layout.releases.exists():
        return []
    return sorted(p for p in layout.releases.iterdir() if p.is_dir() and (p / RELEASE_FILE).exists())


def release_info(release: Path) -> dict[str, Any]:
    return orjson.loads((release / RELEASE_FILE).read_bytes())


def previous_release_snapshot(layout: Layout) -> Path:
    """The snapshot of the release ``rollback`` would make live (for rebuilding a search server's index first)."""
    live = layout.live_release()
    releases = list_releases(layout)
    if live is None or live not in releases or releases.index(live) == 0:
        raise PublishError("rollback", "没有可回退的上一版本", "there is no earlier release to roll back to")
    return layout.snapshots / release_info(releases[releases.index(live) - 1])["snapshot"]


def rollback(layout: Layout, *, trigger: str = "manual", site_builder: SiteBuilder = default_site_builder) -> Path:
    """Make the release before the live one live again (site and index together).

    If that release's entry slot no longer holds the pages it was built with (a later publish, failed or
    not, has updated the slot since), the slot is first rebuilt from the release's retained snapshot with
    the installed code and templates; the switch happens only after that build succeeded.
    """
    with _publish_lock(layout):
        live = layout.live_release()
        releases = list_releases(layout)
        if live is None or live not in releases or releases.index(live) == 0:
            raise PublishError("rollback", "没有可回退的上一版本", "there is no earlier release to roll back to")
        target = releases[releases.index(live) - 1]
        slot_rebuilt = _restore_entry_slot(layout, target, live, site_builder)
        switch_current(layout, target)
        snapshot_name = release_info(target)["snapshot"]
        if (layout.snapshots / snapshot_name).exists():
            snap.point_latest(layout.snapshots, snapshot_name)
        audit = AuditLog(layout.audit)
        audit.append({"trigger": trigger, "outcome": "rolled_back", "release": target.name,
                      "previous_release": live.name, "snapshot": snapshot_name, "entry_slot_rebuilt": slot_rebuilt})
        audit.record_publication(layout.snapshots / snapshot_name, target.name)
        # The abandoned release is removed so that the next rollback goes further back, not forward again.
        shutil.rmtree(live, ignore_errors=True)
        return target


def _restore_entry_slot(layout: Layout, target: Path, live: Path, site_builder: SiteBuilder) -> bool:
    """Make sure ``target``'s entry slot holds exactly its pages; True if the slot had to be rebuilt."""
    info = release_info(target)
    if "entry_slot" not in info:  # a release from before entry slots: its pages are its own directories
        return False
    slot = layout.entry_slot(info["entry_slot"])
    live_slot = release_info(live).get("entry_slot")
    if slot.name != live_slot and read_slot_state(slot).get("generation") == info["slot_generation"]:
        return False
    if slot.name == live_slot:  # never rebuild the slot being served: use the other one
        slot = layout.entry_slot(next(name for name in ENTRY_SLOTS if name != live_slot))
    snapshot_dir = layout.snapshots / info["snapshot"]
    if not (snapshot_dir / "manifest.json").exists():
        raise PublishError("rollback", f"上一版本的数据快照 {info['snapshot']} 已不在，无法回退",
                           f"the snapshot {info['snapshot']} of the previous release is gone; cannot roll back")
    scratch = layout.releases / f".tmp-{os.getpid()}-{time.time_ns()}"
    try:
        scratch.mkdir()
        generation = build_into_slot(site_builder, snapshot_dir, scratch / SITE_DIR, slot)
    except BaseException as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        zh, en = _explain(exc)
        raise PublishError("rollback", f"重建上一版本的条目页面失败：{zh}",
                           f"rebuilding the previous release's entry pages failed: {en}") from exc
    shutil.rmtree(scratch, ignore_errors=True)
    # The target is not live: its links and release.json can be rewritten before the switch.
    link_entry_slot(target / SITE_DIR, slot)
    updated = {**info, "entry_slot": slot.name, "slot_generation": generation}
    tmp = target / f".{RELEASE_FILE}.{os.getpid()}"
    tmp.write_bytes(orjson.dumps(updated, option=orjson.OPT_INDENT_2))
    os.replace(tmp, target / RELEASE_FILE)
    return True


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
