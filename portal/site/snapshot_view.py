"""The site's read-only view of one public snapshot version (docs/snapshot-format.md).

A snapshot can hold a million entries, so the view never keeps them: :func:`load_snapshot` makes one
streaming pass over ``entries.jsonl`` and keeps only what the small pages need (counts by list,
authority, region and month, the regions, the entries under pre-publication notice and the records
named in ``changes.jsonl``). The pages of single entries and lists are produced by a second streaming
pass, :meth:`SnapshotView.iter_entry_lines`, which yields each raw line with its parsed record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from portal.public.snapshot import (
    CHANGES,
    ENTRIES,
    MANIFEST,
    WITHDRAWN,
    iter_jsonl,
    read_catalogue,
    read_manifest,
)

# Fields never shown or offered for download: keyed digests exist for exact lookup in the API only, and
# the provenance file name may be an internal path or database URL.
HIDDEN_FIELDS = frozenset({"id_digest", "legal_rep_id_digest", "uscc_digest", "source"})
# What the notice-period page and the home page figure need of an entry under notice (entries_table).
NOTICE_FIELDS = ("id", "list_code", "list_name", "list_kind", "subject_name", "is_person", "uscc", "reg_no",
                 "id_number", "authority", "decision_date", "notice_until", "status")
# What the list-changes feed needs of an entry or a tombstone named in changes.jsonl.
CHANGE_FIELDS = ("id", "list_name", "subject_name", "is_person", "authority", "decision_no", "withdrawn_on",
                 "reason")
MISSING = "未填报"


class EntryCount:
    """Stands in for a list's entries where only their number is wanted (``lv.entries | length``).

    Entries are streamed, never held; iterating this is a programming error and says so.
    """

    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("list entries are streamed (SnapshotView.iter_entry_lines); use the count only")


@dataclass
class ListView:
    """One list of the catalogue with the number of public entries the snapshot holds for it."""

    code: str
    kind: str
    name: str
    basis: str
    notice: str | None
    period: str
    subjects: list[str]
    objection_visible: bool
    count: int = 0
    person_count: int = 0

    @property
    def slug(self) -> str:
        return self.code.lower()

    @property
    def url(self) -> str:
        return f"lists/{self.slug}/"

    @property
    def entries(self) -> EntryCount:
        return EntryCount(self.count)

    @property
    def organisation_count(self) -> int:
        return self.count - self.person_count

    @property
    def admits_persons(self) -> bool:
        return "自然人" in self.subjects


@dataclass
class SnapshotView:
    path: Path
    manifest: dict[str, Any]
    lists: dict[str, ListView]
    changes: list[dict[str, Any]]
    total: int = 0
    under_notice_entries: list[dict[str, Any]] = field(default_factory=list)
    changed_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    changed_tombstones: dict[str, dict[str, Any]] = field(default_factory=dict)
    regions: list[str] = field(default_factory=list)
    by_authority: Counter[str] = field(default_factory=Counter)
    by_region: Counter[str] = field(default_factory=Counter)
    by_month: Counter[str] = field(default_factory=Counter)

    @property
    def data_as_of(self) -> date:
        return date.fromisoformat(self.manifest["data_as_of"])

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    def under_notice(self) -> list[dict[str, Any]]:
        """Entries under pre-publication notice (公示中), with the fields the pages show."""
        return self.under_notice_entries

    def counts_by(self, key: str) -> list[tuple[str, int]]:
        """Public entries counted by ``authority`` or ``region``, largest first (missing: 未填报)."""
        counter = {"authority": self.by_authority, "region": self.by_region}[key]
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))

    def counts_by_month(self, last: int = 12) -> list[tuple[str, int]]:
        """Entries by decision month for the ``last`` months up to data_as_of (zero months included)."""
        end = self.data_as_of
        months: list[str] = []
        year, month = end.year, end.month
        for _ in range(last):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return [(m, self.by_month.get(m, 0)) for m in reversed(months)]

    def iter_entry_lines(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Every public entry in file order (decision date descending): its raw line and its record."""
        with open(self.path / ENTRIES, "rb") as f:
            for line in f:
                if line.strip():
                    yield line, orjson.loads(line)

    def iter_tombstones(self) -> Iterator[dict[str, Any]]:
        return iter_jsonl(self.path / WITHDRAWN)


def public_record(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without the fields that never leave the API (digests, provenance)."""
    return {k: v for k, v in entry.items() if k not in HIDDEN_FIELDS}


def _list_view(spec: dict[str, Any]) -> ListView:
    return ListView(code=spec["code"], kind=spec["kind"], name=spec["name"], basis=spec.get("basis", ""),
                    notice=spec.get("notice"), period=spec.get("period") or "至移出之日",
                    subjects=list(spec.get("subjects", [])),
                    objection_visible=bool(spec.get("objection_visible", True)))


def load_snapshot(path: Path) -> SnapshotView:
    """Read a snapshot directory (or the ``latest`` symlink) in one streaming pass; a missing one is a
    clear error. Memory does not grow with the number of entries, except for the few kept in full
    (under notice, or named in changes.jsonl)."""
    version_dir = path.resolve()
    if not (version_dir / MANIFEST).exists():
        raise FileNotFoundError(
            f"no public snapshot at {path} (manifest.json missing): run `portal ingest` first or set "
            "PORTAL_SNAPSHOT to a snapshot directory")
    manifest = read_manifest(version_dir)
    lists = {spec["code"]: _list_view(spec) for spec in read_catalogue(version_dir)}
    view = SnapshotView(path=version_dir, manifest=manifest, lists=lists,
                        changes=list(iter_jsonl(version_dir / CHANGES)))
    changed_ids = {c["id"] for c in view.changes}
    regions: set[str] = set()
    by_authority, by_region, by_month = view.by_authority, view.by_region, view.by_month
    for _line, entry in view.iter_entry_lines():
        code = entry["list_code"]
        list_view = lists.get(code)
        if list_view is None:  # an entry of a list the catalogue lost: still shown, never dropped silently
            list_view = lists[code] = ListView(code=code, kind=entry["list_kind"], name=entry["list_name"],
                                               basis="", notice=None, period="", subjects=[],
                                               objection_visible=True)
        list_view.count += 1
        if entry["is_person"]:
            list_view.person_count += 1
        region = entry.get("region")
        if region:
            regions.add(region)
        by_region[str(region or MISSING)] += 1
        by_authority[str(entry.get("authority") or MISSING)] += 1
        by_month[entry["decision_date"][:7]] += 1
        if entry["status"] == "公示中":
            view.under_notice_entries.append({k: entry.get(k) for k in NOTICE_FIELDS})
        if entry["id"] in changed_ids:
            view.changed_entries[entry["id"]] = {k: entry.get(k) for k in CHANGE_FIELDS}
    view.total = sum(lv.count for lv in lists.values())
    view.regions = sorted(regions)
    if changed_ids:
        for tombstone in view.iter_tombstones():
            if tombstone["id"] in changed_ids:
                view.changed_tombstones[tombstone["id"]] = {k: tombstone.get(k) for k in CHANGE_FIELDS}
    return view
