"""The FastAPI application: ``create_app(settings)``, and ``app`` for ``uvicorn search_api.app:app``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime

from fastapi import FastAPI

from portal.settings import SHANGHAI
from search_api.docs_assets import install_docs
from search_api.engines.base import Engine
from search_api.engines.factory import make_engine
from search_api.errors import install_error_handlers
from search_api.middleware import (
    EnvelopeCORSMiddleware,
    HardeningMiddleware,
    forwarded_ip_getter,
    install_uvicorn_log_redaction,
)
from search_api.report_routes import ReportState, report_router
from search_api.routers.api import router
from search_api.routers.health import health_router
from search_api.settings import API_PREFIX, Settings
from search_api.state import AppState
from search_api.text import warm_folding


def today_in_shanghai() -> date:
    """Publication periods are dates in Asia/Shanghai; an entry whose publish_until has passed is gone."""
    return datetime.now(SHANGHAI).date()


DESCRIPTION = """信用门户检索接口 (public credit portal search API).

Searches the masked public snapshot: red lists, black lists, key-attention lists and 双公示 decisions.
Every error has the body `{"error": {"code": "...", "message": "中文说明"}}`.
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None,
               today: Callable[[], date] = today_in_shanghai,
               clock: Callable[[], float] = time.monotonic) -> FastAPI:
    """Build the app. ``engine``, ``today`` and the rate limiters' ``clock`` (seconds) are injectable: tests pass
    a fixed date, and a virtual clock to play an hour of rate-limited traffic in a second."""
    settings = settings or Settings()
    warm_folding()  # the folding tables take ~0.4 s to build: at start-up, not in the first visitor's request
    app = FastAPI(title="信用门户检索接口 / Credit portal search API", version="1.0.0", description=DESCRIPTION,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None)
    install_docs(app, f"{API_PREFIX}/openapi.json")  # Swagger UI from packaged assets, not a CDN
    app.state.portal = AppState(settings, engine or make_engine(settings), today, clock)
    app.state.client_ip = forwarded_ip_getter(settings.trust_forwarded_for)
    app.state.report = ReportState(settings, clock)  # production: refuses to start without a real signing key
    install_error_handlers(app)
    install_uvicorn_log_redaction()
    app.include_router(router, prefix=API_PREFIX)
    app.include_router(report_router, prefix=API_PREFIX)
    app.include_router(health_router)
    app.add_middleware(EnvelopeCORSMiddleware, allow_origins=[settings.site_origin], allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type", "X-API-Key"], expose_headers=["Retry-After"], max_age=600)
    app.add_middleware(HardeningMiddleware, max_body_bytes=settings.max_body_bytes,
                       access_log=settings.access_log, client_ip=app.state.client_ip)
    return app


def __getattr__(name: str) -> FastAPI:
    # ``app`` is built on first access, so importing this module (tests, tools) reads no environment.
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
