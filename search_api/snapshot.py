"""Streaming readers of a public snapshot directory (docs/snapshot-format.md).

Everything is read line by line so that a million-entry snapshot costs flat memory.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

# How many earlier snapshot versions the change feed reaches back through ``manifest.previous``.
MAX_CHANGE_HISTORY_VERSIONS = 400


def read_json(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def manifest(snapshot_dir: Path) -> dict[str, Any]:
    path = snapshot_dir / "manifest.json"
    return read_json(path) if path.exists() else {}


def catalogue(snapshot_dir: Path) -> list[dict[str, Any]]:
    """The list catalogue of the snapshot, falling back to the packaged ``portal/data/lists.toml``."""
    path = snapshot_dir / "catalogue.json"
    if path.exists():
        data = read_json(path)
        if isinstance(data, dict):
            data = data.get("lists", data.get("list", []))
        return [item for item in data if isinstance(item, dict)]
    from portal.public.catalogue import load_catalogue

    return list(load_catalogue().to_public()["lists"])


def measures() -> dict[str, Any]:
    """``portal/data/measures.toml`` (joint incentive/punishment measures) when present, else empty."""
    path = Path(__file__).resolve().parent.parent / "portal" / "data" / "measures.toml"
    if not path.exists():
        return {}
    return tomllib.loads(path.read_text("utf-8"))


def change_files(snapshot_dir: Path) -> list[Path]:
    """``changes.jsonl`` of this version and its predecessors, oldest first (feed order)."""
    current = snapshot_dir.resolve()
    files: list[Path] = []
    seen: set[Path] = set()
    while current.is_dir() and current not in seen and len(files) < MAX_CHANGE_HISTORY_VERSIONS:
        seen.add(current)
        changes = current / "changes.jsonl"
        if changes.exists():
            files.append(changes)
        previous = manifest(current).get("previous")
        if not previous:
            break
        current = current.parent / str(previous)
    return list(reversed(files))
