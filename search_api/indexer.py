"""Index building, free of any CLI (``portal index`` and ``portal publish`` call it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search_api.engines.meilisearch import MeiliEngine
from search_api.engines.sqlite import build_sqlite_index


def build_index(snapshot_dir: Path, index_path: Path) -> dict[str, Any]:
    """Build the SQLite search index of ``snapshot_dir`` and swap it into ``index_path`` atomically.

    Streams ``entries.jsonl`` (flat memory at any size); a running API picks the new file up on its next
    request. Returns stats: entries, persons, withdrawn, changes, seconds, bytes, data_as_of, version,
    sorted_on_disk (1 when entries.jsonl was not in decision order and had to be sorted first).
    """
    return build_sqlite_index(Path(snapshot_dir), Path(index_path))


def build_meili_index(snapshot_dir: Path, url: str, key: str | None = None, index: str = "portal_entries") -> dict[str, Any]:
    """Build the Meilisearch index of ``snapshot_dir`` beside the live one and swap it in."""
    return MeiliEngine(url, key, index=index).index_snapshot(Path(snapshot_dir))
