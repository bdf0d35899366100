"""Liveness and readiness, outside /api/v1 (for the process supervisor and the load balancer)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from search_api.engines.base import EngineError, IndexMissing
from search_api.errors import ApiError
from search_api.models import ErrorResponse, Health, Readiness
from search_api.state import StateDep, data_as_of

health_router = APIRouter()


@health_router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@health_router.get("/readyz", response_model=Readiness, summary="Readiness: the index can be queried",
                   responses={503: {"model": ErrorResponse, "description": "Index not ready (with engine and state)"}})
async def readyz(app: StateDep) -> dict[str, Any]:
    engine = getattr(app.engine, "name", app.settings.engine)

    def readiness() -> tuple[str, str | None]:
        try:
            return "ready", data_as_of(app)
        except IndexMissing:
            return "index_missing", None
        except EngineError:  # e.g. the Meilisearch server is down or refuses the key
            return "unavailable", None

    state_, as_of = await app.run(readiness)
    if as_of is None:
        raise ApiError(503, "not_ready", "检索索引尚未就绪", extra={"engine": engine, "state": state_})
    return {"status": "ready", "engine": engine, "data_as_of": as_of}
