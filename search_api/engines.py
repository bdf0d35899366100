"""Choose the engine named by the settings."""

from __future__ import annotations

import threading
from typing import Any

from search_api.engine import Engine, EngineBusy
from search_api.settings import Settings


class SlotLimitedEngine:
    """Lets at most ``slots`` engine calls run at once; the others wait (up to ``queue_seconds``).

    Under load, forty threads sharing two cores and the GIL stretch every query's wall time until the
    broad ones pass their time limit (503 query_timeout). Queueing before the query starts keeps each
    running query fast, so overload shows as latency, not failures; the time limit then only stops
    queries that are slow on their own.
    """

    def __init__(self, engine: Engine, slots: int, queue_seconds: float) -> None:
        self._engine = engine
        self._slots = threading.BoundedSemaphore(slots)
        self._queue_seconds = queue_seconds

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._engine, name)
        if not callable(attribute):
            return attribute

        def gated(*args: Any, **kwargs: Any) -> Any:
            if not self._slots.acquire(timeout=self._queue_seconds):
                raise EngineBusy()
            try:
                return attribute(*args, **kwargs)
            finally:
                self._slots.release()

        return gated


def gate(engine: Engine, settings: Settings) -> Engine:
    return SlotLimitedEngine(engine, settings.engine_slots, settings.engine_queue_seconds)  # type: ignore[return-value]


def make_engine(settings: Settings) -> Engine:
    if settings.engine == "meilisearch":
        from search_api.meili_engine import MeiliEngine

        if not settings.meili_url:
            raise ValueError("PORTAL_ENGINE=meilisearch needs MEILI_URL")
        return MeiliEngine(settings.meili_url, settings.meili_key.get_secret_value() if settings.meili_key else None,
                           index=settings.meili_index, timeout_ms=settings.query_timeout_ms)
    from search_api.sqlite_engine import SqliteEngine

    return SqliteEngine(settings.index_path, timeout_ms=settings.query_timeout_ms)
