"""The site's read-only view of one public snapshot version (docs/snapshot-format.md)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from portal.snapshot import CATALOGUE, CHANGES, MANIFEST, iter_entries, iter_jsonl, iter_tombstones

# Fields never shown or offered for download: keyed digests exist for exact lookup in the API only, and
# the provenance file name may be an internal path or database URL.
HIDDEN_FIELDS = frozenset({"id_digest", "legal_rep_id_digest", "uscc_digest", "source"})


@dataclass
class ListView:
    """One list of the catalogue with the public entries the snapshot holds for it."""

    code: str
    kind: str
    name: str
    basis: str
    notice: str | None
    period: str
    subjects: list[str]
    objection_visible: bool
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.code.lower()

    @property
    def url(self) -> str:
        return f"lists/{self.slug}/"

    @property
    def organisations(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if not e["is_person"]]

    @property
    def person_count(self) -> int:
        return sum(1 for e in self.entries if e["is_person"])

    @property
    def admits_persons(self) -> bool:
        return "自然人" in self.subjects


@dataclass
class SnapshotView:
    path: Path
    manifest: dict[str, Any]
    entries: list[dict[str, Any]]
    tombstones: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    lists: dict[str, ListView]

    @property
    def data_as_of(self) -> date:
        return date.fromisoformat(self.manifest["data_as_of"])

    @property
    def version(self) -> str:
        return str(self.manifest.get("version", ""))

    def under_notice(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["status"] == "公示中"]

    def counts_by(self, key: str) -> list[tuple[str, int]]:
        """Public entries counted by one field, largest first (missing values counted as 未填报)."""
        counter = Counter(str(e.get(key) or "未填报") for e in self.entries)
        return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))

    def counts_by_month(self, last: int = 12) -> list[tuple[str, int]]:
        """Entries by decision month for the ``last`` months up to data_as_of (zero months included)."""
        counter = Counter(e["decision_date"][:7] for e in self.entries)
        end = self.data_as_of
        months: list[str] = []
        year, month = end.year, end.month
        for _ in range(last):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return [(m, counter.get(m, 0)) for m in reversed(months)]


def public_record(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without the fields that never leave the API (digests, provenance)."""
    return {k: v for k, v in entry.items() if k not in HIDDEN_FIELDS}


def load_snapshot(path: Path) -> SnapshotView:
    """Read a snapshot directory (or the ``latest`` symlink); a missing one is a clear error."""
    version_dir = path.resolve()
    if not (version_dir / MANIFEST).exists():
        raise FileNotFoundError(
            f"no public snapshot at {path} (manifest.json missing): run `portal ingest` first or set "
            "PORTAL_SNAPSHOT to a snapshot directory")
    manifest = orjson.loads((version_dir / MANIFEST).read_bytes())
    catalogue = orjson.loads((version_dir / CATALOGUE).read_bytes())
    lists: dict[str, ListView] = {}
    for spec in catalogue["lists"]:
        lists[spec["code"]] = ListView(
            code=spec["code"], kind=spec["kind"], name=spec["name"], basis=spec.get("basis", ""),
            notice=spec.get("notice"), period=spec.get("period") or "至移出之日",
            subjects=list(spec.get("subjects", [])), objection_visible=bool(spec.get("objection_visible", True)))
    entries = list(iter_entries(version_dir))
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        grouped[entry["list_code"]].append(entry)
    for code, members in grouped.items():
        if code not in lists:  # an entry of a list the catalogue lost: still shown, never dropped silently
            first = members[0]
            lists[code] = ListView(code=code, kind=first["list_kind"], name=first["list_name"], basis="",
                                   notice=None, period="", subjects=[], objection_visible=True)
        lists[code].entries = members
    return SnapshotView(path=version_dir, manifest=manifest, entries=entries,
                        tombstones=list(iter_tombstones(version_dir)),
                        changes=list(iter_jsonl(version_dir / CHANGES)), lists=lists)
