"""The public snapshot contract (docs/snapshot-format.md): file names, the Manifest, writer, readers and
tombstones. Ingest writes through this module; the site, the index builders and the API read through it.

A version is written into a temporary directory beside the others and renamed into place; ``latest`` is a
symlink replaced with an atomic rename. A crash therefore leaves either no new version or a complete one,
and readers of ``latest`` never see a half-written directory.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, TypedDict

import orjson

from portal.public.catalogue import load_catalogue
from portal.public.durable import fsync_path
from portal.public.measures import load_measures
from portal.public.records import PUBLIC_FIELDS, TOMBSTONE_FIELDS, WithdrawalReason
from portal.settings import MAX_CHANGE_HISTORY_VERSIONS, SHANGHAI, SNAPSHOT_FORMAT, SNAPSHOTS_KEPT

ENTRIES = "entries.jsonl"
WITHDRAWN = "withdrawn.jsonl"
CHANGES = "changes.jsonl"
REJECTS = "rejects.csv"
MANIFEST = "manifest.json"
CATALOGUE = "catalogue.json"
MEASURES = "measures.json"  # since 2026-12; older versions have none (readers then find no measures)
LATE = "late.jsonl"  # 双公示 decisions first published past their deadline (portal.ingest.timeliness)
LATEST = "latest"
REJECT_COLUMNS = ("source", "row", "field", "reason_zh", "reason_en")


class FileInfo(TypedDict):
    sha256: str
    rows: int
    bytes: int


class Manifest(TypedDict):
    """manifest.json: every key is always written (docs/snapshot-format.md describes each)."""

    format: int
    version: str
    previous: str | None
    created_at: str
    data_as_of: str
    policy_version: str | None
    catalogue_version: str | None
    measures_version: str | None
    sources: list[dict[str, Any]]
    counts: dict[str, Any]
    conflicts_total: int
    conflicts: list[dict[str, Any]]
    unknown_columns: list[dict[str, Any]]
    calendar_fallback_years: list[int]
    period_adjustments: dict[str, Any]  # file-given periods clamped to their list's bounds (portal.ingest.periods)
    timeliness: dict[str, Any] | None  # 双公示 timeliness summary (portal.ingest.timeliness)
    changes: dict[str, int]
    files: dict[str, FileInfo]


def new_manifest(*, previous: Path | None, data_as_of: date, counts: dict[str, Any], files: dict[str, FileInfo],
                 sources: Sequence[dict[str, Any]] = (), policy_version: str | None = None,
                 catalogue_version: str | None = None, measures_version: str | None = None,
                 conflicts_total: int = 0, conflicts: Sequence[dict[str, Any]] = (),
                 unknown_columns: Sequence[dict[str, Any]] = (), calendar_fallback_years: Iterable[int] = (),
                 changes: dict[str, int] | None = None, period_adjustments: dict[str, Any] | None = None,
                 timeliness: dict[str, Any] | None = None) -> Manifest:
    """The one constructor of a manifest; ``version`` is filled in by ``commit_version``."""
    return {
        "format": SNAPSHOT_FORMAT, "version": "", "previous": previous.name if previous else None,
        "created_at": now_shanghai().isoformat(), "data_as_of": data_as_of.isoformat(),
        "policy_version": policy_version, "catalogue_version": catalogue_version,
        "measures_version": measures_version, "sources": list(sources), "counts": counts,
        "conflicts_total": conflicts_total, "conflicts": list(conflicts), "unknown_columns": list(unknown_columns),
        "calendar_fallback_years": sorted(calendar_fallback_years),
        "period_adjustments": period_adjustments or {"total": 0, "by_kind": {}, "listed": []},
        "timeliness": timeliness, "changes": changes or {}, "files": files,
    }


def timeliness_summary(manifest: Manifest | dict[str, Any]) -> dict[str, Any] | None:
    """The 双公示 timeliness summary of a snapshot (按时公示率), without the per-decision list."""
    section = manifest.get("timeliness")
    if not section:
        return None
    return {key: section.get(key) for key in ("rule", "public", "on_time", "late", "on_time_rate")}


class HashingWriter:
    """A binary file writer that counts lines and bytes and hashes what it writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._hash = hashlib.sha256()
        self.rows = 0
        self.bytes = 0

    def write_line(self, line: bytes) -> None:
        self._file.write(line)
        self._hash.update(line)
        self.rows += 1
        self.bytes += len(line)

    def write_json(self, obj: Any) -> None:
        self.write_line(orjson.dumps(obj) + b"\n")

    def close(self) -> FileInfo:
        self._file.close()
        return {"sha256": self._hash.hexdigest(), "rows": self.rows, "bytes": self.bytes}


class RejectsWriter:
    """rejects.csv: UTF-8 with BOM so that Excel opens it in Chinese; no raw values, only reasons."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
        self._csv = csv.writer(self._file)
        self._csv.writerow(REJECT_COLUMNS)
        self.rows = 0

    def write(self, source: str, row: int, field: str, reason_zh: str, reason_en: str) -> None:
        self._csv.writerow((source, row, field, reason_zh, reason_en))
        self.rows += 1

    def close(self) -> FileInfo:
        self._file.close()
        return {"sha256": file_sha256(self.path), "rows": self.rows, "bytes": self.path.stat().st_size}


def write_json_file(path: Path, document: dict[str, Any], rows: int) -> FileInfo:
    """A whole-document JSON file of a version (catalogue.json, measures.json) and its manifest entry."""
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    return {"sha256": file_sha256(path), "rows": rows, "bytes": path.stat().st_size}


def write_catalogue(staging: Path, catalogue: dict[str, Any]) -> FileInfo:
    return write_json_file(staging / CATALOGUE, catalogue, len(catalogue.get("lists", [])))


def write_measures(staging: Path, measures: dict[str, Any]) -> FileInfo:
    return write_json_file(staging / MEASURES, measures, sum(len(m) for m in measures.get("measures", {}).values()))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def now_shanghai() -> datetime:
    return datetime.now(SHANGHAI).replace(microsecond=0)


def new_version_name(created_at: datetime, content_hash: str) -> str:
    return f"{created_at.strftime('%Y%m%dT%H%M%S')}-{content_hash[:8]}"


def begin_version(root: Path) -> Path:
    """A fresh temporary directory inside ``root`` for a version being written."""
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".tmp-{os.getpid()}-{now_shanghai().strftime('%H%M%S%f')}"
    staging.mkdir()
    return staging


def commit_version(root: Path, staging: Path, manifest: Manifest, *, set_latest: bool = True) -> Path:
    """Write the manifest, fsync, rename the staging directory into place and repoint ``latest``."""
    content_hash = hashlib.sha256(
        orjson.dumps(manifest["files"], option=orjson.OPT_SORT_KEYS)).hexdigest()
    created_at = datetime.fromisoformat(manifest["created_at"])
    version = new_version_name(created_at, content_hash)
    final = root / version
    suffix = 1
    while final.exists():  # two imports within one second with identical output
        final = root / f"{version}.{suffix}"
        suffix += 1
    manifest["version"] = final.name
    (staging / MANIFEST).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    for path in staging.iterdir():
        fsync_path(path)
    os.rename(staging, final)
    fsync_path(root)
    if set_latest:
        point_latest(root, final.name)
    return final


def point_latest(root: Path, version: str) -> None:
    """Atomically repoint ``root/latest`` to ``version`` (symlink swap by rename)."""
    tmp_link = root / f".latest-{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(version, tmp_link)
    os.replace(tmp_link, root / LATEST)
    fsync_path(root)


def latest_version(root: Path) -> Path | None:
    link = root / LATEST
    if not link.exists():
        return None
    return link.resolve()


def list_versions(root: Path) -> list[Path]:
    """Complete versions, oldest first (temporary directories are skipped)."""
    if not root.exists():
        return []
    return sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
                  and (p / MANIFEST).exists())


def prune_versions(root: Path, keep: int = SNAPSHOTS_KEPT) -> list[Path]:
    """Delete the oldest versions beyond ``keep``, never the one ``latest`` points at."""
    current = latest_version(root)
    versions = [v for v in list_versions(root) if v != current]
    doomed = versions[: max(0, len(versions) - (keep - 1))]
    for path in doomed:
        shutil.rmtree(path)
    for stale in root.glob(".tmp-*"):  # left behind by a killed import
        shutil.rmtree(stale, ignore_errors=True)
    return doomed


def read_manifest(version_dir: Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """The manifest of a version; with ``missing_ok`` an empty dict when the version has none."""
    path = version_dir / MANIFEST
    if missing_ok and not path.exists():
        return {}
    result: dict[str, Any] = orjson.loads(path.read_bytes())
    return result


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield orjson.loads(line)


def iter_entries(version_dir: Path) -> Iterator[dict[str, Any]]:
    return iter_jsonl(version_dir / ENTRIES)


def iter_tombstones(version_dir: Path) -> Iterator[dict[str, Any]]:
    return iter_jsonl(version_dir / WITHDRAWN)


def read_catalogue(version_dir: Path) -> list[dict[str, Any]]:
    """The lists of the version's catalogue, falling back to the packaged ``portal/data/lists.toml``."""
    path = version_dir / CATALOGUE
    if path.exists():
        data = orjson.loads(path.read_bytes())
        if isinstance(data, dict):
            data = data.get("lists", data.get("list", []))
        return [item for item in data if isinstance(item, dict)]
    return list(load_catalogue().to_public()["lists"])


def read_measures(version_dir: Path) -> dict[str, Any]:
    """The version's measures (``{"version", "measures": {list_code: [...]}}``); none for older versions."""
    path = version_dir / MEASURES
    if not path.exists():
        return {"version": None, "measures": {}}
    result: dict[str, Any] = orjson.loads(path.read_bytes())
    return result


def change_files(version_dir: Path) -> list[Path]:
    """``changes.jsonl`` of this version and its predecessors, oldest first (feed order)."""
    current = version_dir.resolve()
    files: list[Path] = []
    seen: set[Path] = set()
    while current.is_dir() and current not in seen and len(files) < MAX_CHANGE_HISTORY_VERSIONS:
        seen.add(current)
        changes = current / CHANGES
        if changes.exists():
            files.append(changes)
        previous = read_manifest(current, missing_ok=True).get("previous")
        if not previous:
            break
        current = current.parent / str(previous)
    return list(reversed(files))


# --- tombstones ------------------------------------------------------------------------------------------

def tombstone_from_entry(entry: dict[str, Any], reason: str = WithdrawalReason.REMOVED.value,
                         withdrawn_on: str = "") -> dict[str, Any]:
    """The notice left at a withdrawn entry's URL: list and category only, no name, no number, no facts."""
    return {"id": entry["id"], "list_code": entry["list_code"], "list_name": entry["list_name"],
            "list_kind": entry["list_kind"], "is_person": entry["is_person"], "withdrawn_on": withdrawn_on,
            "reason": reason}


def expired_tombstone(entry: dict[str, Any]) -> dict[str, Any]:
    """The tombstone of an entry whose ``publish_until`` has passed before the next import (期满 the day after)."""
    until = date.fromisoformat(entry["publish_until"])
    return tombstone_from_entry({**entry, "is_person": bool(entry.get("is_person"))},
                                WithdrawalReason.EXPIRED.value, (until + timedelta(days=1)).isoformat())


def write_snapshot(root: Path, entries: Iterable[dict[str, Any]], tombstones: Iterable[dict[str, Any]], *,
                   data_as_of: date, changes: Iterable[dict[str, Any]] = (), counts: dict[str, Any] | None = None,
                   sources: list[dict[str, Any]] | None = None,
                   catalogue: dict[str, Any] | None = None, measures: dict[str, Any] | None = None) -> Path:
    """Write a complete snapshot version from already-public records (used by tests and tools).

    The ingest pipeline writes its own files while streaming; this helper is for callers that already hold
    public records. Every record is checked against the public field list, so nothing else can slip in.
    ``catalogue`` and ``measures`` default to the packaged list catalogue and ``PORTAL_MEASURES``.
    """
    staging = begin_version(root)
    entries_out = HashingWriter(staging / ENTRIES)
    ordered = sorted(entries, key=lambda e: (e["decision_date"], e["id"]), reverse=True)
    for entry in ordered:
        _check_keys(entry, PUBLIC_FIELDS, "entry")
        entries_out.write_json(entry)
    withdrawn_out = HashingWriter(staging / WITHDRAWN)
    for tomb in tombstones:
        _check_keys(tomb, TOMBSTONE_FIELDS, "tombstone")
        withdrawn_out.write_json(tomb)
    changes_out = HashingWriter(staging / CHANGES)
    for change in changes:
        changes_out.write_json(change)
    rejects = RejectsWriter(staging / REJECTS)
    cat = catalogue if catalogue is not None else load_catalogue().to_public()
    measures = measures if measures is not None else load_measures()
    files = {
        ENTRIES: entries_out.close(),
        WITHDRAWN: withdrawn_out.close(),
        CHANGES: changes_out.close(),
        REJECTS: rejects.close(),
        CATALOGUE: write_catalogue(staging, cat),
        MEASURES: write_measures(staging, measures),
        LATE: HashingWriter(staging / LATE).close(),  # public records carry no import history: none late
    }
    n_public = files[ENTRIES]["rows"]
    manifest = new_manifest(
        previous=latest_version(root), data_as_of=data_as_of, sources=sources or [], files=files,
        catalogue_version=cat.get("version"), measures_version=measures.get("version"),
        counts=counts or {"rows_read": n_public, "published": n_public, "under_notice": 0,
                          "withheld": {}, "rejected": 0, "by_list": {}})
    return commit_version(root, staging, manifest)


def _check_keys(record: dict[str, Any], allowed: tuple[str, ...], what: str) -> None:
    if set(record) != set(allowed):
        extra = sorted(set(record) - set(allowed))
        missing = sorted(set(allowed) - set(record))
        raise ValueError(f"{what} {record.get('id')!r}: unexpected keys {extra}, missing keys {missing}")
