"""Choose the engine named by the settings."""

from __future__ import annotations

from search_api.engine import Engine
from search_api.settings import Settings


def make_engine(settings: Settings) -> Engine:
    if settings.engine == "meilisearch":
        from search_api.meili_engine import MeiliEngine

        if not settings.meili_url:
            raise ValueError("PORTAL_ENGINE=meilisearch needs MEILI_URL")
        return MeiliEngine(settings.meili_url, settings.meili_key.get_secret_value() if settings.meili_key else None,
                           index=settings.meili_index, timeout_ms=settings.query_timeout_ms)
    from search_api.sqlite_engine import SqliteEngine

    return SqliteEngine(settings.index_path, timeout_ms=settings.query_timeout_ms)
