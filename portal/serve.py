"""``portal serve``: the live site and the search API on loopback, from ``var/current``.

The site is static files served from the live release; the directory is resolved on every request, so a
publish or rollback (a symlink switch) takes effect at once without a restart. In production put nginx in
front of the site directory instead (docs/operations.md); this server is the embedded default.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

SITE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(SITE_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]


def site_app(site_dir: Path) -> Starlette:
    """Static site from ``site_dir`` (a path through the ``current`` symlink, resolved per request)."""
    static = StaticFiles(directory=str(site_dir), html=True, check_dir=False)
    return Starlette(routes=[Mount("/", app=static)],
                     middleware=[Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=1024)])


def serve(var_dir: Path, *, host: str = "127.0.0.1", site_port: int = 8000, api_port: int = 8001) -> None:
    """Run the site and the API in one process until interrupted."""
    current = var_dir / "current"
    os.environ.setdefault("PORTAL_INDEX_PATH", str(current / "index.db"))
    os.environ.setdefault("PORTAL_SNAPSHOT_DIR", str(var_dir / "snapshots" / "latest"))
    os.environ.setdefault("PORTAL_SITE_ORIGIN", f"http://{host}:{site_port}")
    from search_api.app import create_app
    from search_api.settings import Settings

    api = create_app(Settings())
    servers = [
        uvicorn.Server(uvicorn.Config(site_app(current / "site"), host=host, port=site_port, log_level="warning")),
        uvicorn.Server(uvicorn.Config(api, host=host, port=api_port, log_level="warning")),
    ]

    async def run_all() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(run_all())
