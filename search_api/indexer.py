"""Index building, free of any CLI: the SQLite file, and the Meilisearch indexes of a configured server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from search_api.engines.meilisearch import MeiliEngine, StagedIndex
from search_api.engines.sqlite import build_sqlite_index


class MeiliNotConfigured(ValueError):
    """PORTAL_ENGINE / --engine names Meilisearch but MEILI_URL is not set."""


def build_index(snapshot_dir: Path, index_path: Path, *, token_memo: Path | None = None) -> dict[str, Any]:
    """Build the SQLite search index of ``snapshot_dir`` and swap it into ``index_path`` atomically.

    Streams ``entries.jsonl`` (flat memory at any size); a running API picks the new file up on its next
    request. Returns stats: entries, persons, withdrawn, changes, seconds, bytes, data_as_of, version,
    sorted_on_disk (1 when entries.jsonl was not in decision order and had to be sorted first). With
    ``token_memo`` unchanged entries reuse the FTS tokens of the last build (``tokens_reused``).
    """
    return build_sqlite_index(Path(snapshot_dir), Path(index_path), token_memo=token_memo)


def meili_engine_from_env() -> MeiliEngine:
    """The Meilisearch engine of the environment's settings (``MEILI_URL``, ``MEILI_KEY``, ``PORTAL_MEILI_INDEX``)."""
    from search_api.engines.factory import make_engine
    from search_api.engines.meilisearch import MeiliEngine
    from search_api.settings import Settings

    settings = Settings(engine="meilisearch")
    if not settings.meili_url:
        raise MeiliNotConfigured("MEILI_URL is not set")
    engine = make_engine(settings)
    assert isinstance(engine, MeiliEngine)
    return engine


def build_meili_index(snapshot_dir: Path, url: str, key: str | None = None, index: str = "portal_entries") -> dict[str, Any]:
    """Build the Meilisearch index of ``snapshot_dir`` beside the live one and swap it in."""
    return MeiliEngine(url, key, index=index).index_snapshot(Path(snapshot_dir))


def meili_release_builder(engine: MeiliEngine) -> Any:
    """An index builder for ``portal.release.publish.publish`` that targets Meilisearch.

    The release still gets its SQLite file (so ``portal rollback`` and a switch back to the SQLite engine need
    no rebuild); the Meilisearch indexes are filled beside the live ones and returned staged: publish swaps
    them in at its switch step and swaps back if the switch fails.
    """

    def build(snapshot_dir: Path, index_path: Path) -> StagedIndex:
        build_index(snapshot_dir, index_path)
        return engine.stage(snapshot_dir)

    return build
