"""Choose the engine named by the settings, and run its calls off the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from search_api.engines.base import Engine, EngineBusy
from search_api.engines.meilisearch import MeiliEngine
from search_api.engines.sqlite import SqliteEngine
from search_api.settings import Settings

Result = TypeVar("Result")


class EngineExecutor:
    """Runs engine calls for the async handlers on ``slots`` threads of its own.

    Why not FastAPI's sync handlers: they hop to anyio's shared thread pool for the whole handler (and each
    sync dependency), which cost more than a whole indexed query (one worker answered 940 USCC searches/s
    that way, 1,430 with this executor; bench/results/search.md). Why threads at all: SQLite releases the GIL
    while it works, so a second core runs queries while the event loop parses and answers requests.

    At most ``slots`` calls run at once; the others queue before their query time limit starts, so overload
    shows as latency, not as queries that time out because forty threads share two cores. A call that waited
    longer than ``queue_seconds`` for its turn is refused without running (503 busy with Retry-After).
    """

    def __init__(self, slots: int, queue_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="engine")
        self._queue_seconds = queue_seconds
        self._clock = clock  # seconds; injectable so that tests decide how long a call waited

    async def run(self, function: Callable[..., Result], /, *args: Any) -> Result:
        submitted = self._clock()

        def when_its_turn_comes() -> Result:
            if self._clock() - submitted > self._queue_seconds:
                raise EngineBusy()
            return function(*args)

        return await asyncio.get_running_loop().run_in_executor(self._pool, when_its_turn_comes)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_executor(settings: Settings) -> EngineExecutor:
    return EngineExecutor(settings.engine_slots, settings.engine_queue_seconds)


def make_engine(settings: Settings) -> Engine:
    if settings.engine == "meilisearch":
        if not settings.meili_url:
            raise ValueError("PORTAL_ENGINE=meilisearch needs MEILI_URL")
        return MeiliEngine(settings.meili_url, settings.meili_key.get_secret_value() if settings.meili_key else None,
                           index=settings.meili_index, timeout_ms=settings.query_timeout_ms)
    return SqliteEngine(settings.index_path, timeout_ms=settings.query_timeout_ms,
                        mmap_bytes=settings.sqlite_mmap_bytes)
