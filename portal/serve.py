"""``portal serve``: the live site and the search API on loopback, from ``var/current``.

The site is static files served from the live release; the directory is resolved on every request, so a
publish or rollback (a symlink switch) takes effect at once without a restart. In production put nginx in
front of the site directory instead (docs/operations.md); this server is the embedded default.

A release's ``entries/`` and ``lists/`` are symlinks into an entry slot (portal/release/publish.py). Starlette's
``StaticFiles`` refuses files whose real path leaves the served directory unless told to follow every
symlink; :class:`ReleaseFiles` follows exactly those two links and nothing else.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from search_api.app import create_app
from search_api.server import server_config
from search_api.settings import Settings

LINKED_DIRS = ("entries", "lists", "subjects")  # the release's symlinks into its entry slot (portal.site.store.MANAGED_DIRS)

# The policy docs/hardening.md recommends for the site (Pagefind needs wasm-unsafe-eval; the theme has no
# inline script), with frame-ancestors to match X-Frame-Options.
SITE_CSP = b"script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
SITE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", SITE_CSP),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).extend(SITE_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)  # type: ignore[arg-type]


class ReleaseFiles(StaticFiles):
    """Static files of a release; files under ``entries/`` and ``lists/`` are served through the release's
    symlinks into its entry slot, and only from inside the directory each of those links points to."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        full_path, stat_result = super().lookup_path(path)
        if stat_result is not None or path.startswith(("/", "\\")) or self.directory is None:
            return full_path, stat_result
        top = path.split(os.sep, 1)[0]
        if top not in LINKED_DIRS:
            return "", None
        # ``path`` is already normalised (no ``..``); resolve the link, then stay inside its target
        linked = os.path.realpath(os.path.join(self.directory, top))
        real = os.path.realpath(os.path.join(self.directory, path))
        if os.path.commonpath([real, linked]) != linked:
            return "", None
        try:
            return real, os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            return "", None


def site_app(site_dir: Path) -> Starlette:
    """Static site from ``site_dir`` (a path through the ``current`` symlink, resolved per request)."""
    static = ReleaseFiles(directory=str(site_dir), html=True, check_dir=False)
    return Starlette(routes=[Mount("/", app=static)],
                     middleware=[Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=1024)])


def build_servers(var_dir: Path, *, host: str = "127.0.0.1", site_port: int = 8000, api_port: int = 8001,
                  settings: Any = None) -> list[uvicorn.Server]:
    """The site server and the API server (``search_api.server.server_config``: request-head limits, and the
    client address decided by ``PORTAL_TRUST_FORWARDED_FOR`` alone). ``settings`` default: the environment."""
    current = var_dir / "current"
    url_host = f"[{host}]" if ":" in host else host
    os.environ.setdefault("PORTAL_INDEX_PATH", str(current / "index.db"))
    os.environ.setdefault("PORTAL_SITE_ORIGIN", f"http://{url_host}:{site_port}")
    api = create_app(settings or Settings())
    return [uvicorn.Server(server_config(site_app(current / "site"), host=host, port=site_port)),
            uvicorn.Server(server_config(api, host=host, port=api_port))]


def serve(var_dir: Path, *, host: str = "127.0.0.1", site_port: int = 8000, api_port: int = 8001) -> None:
    """Run the site and the API in one process until interrupted."""
    servers = build_servers(var_dir, host=host, site_port=site_port, api_port=api_port)

    async def run_all() -> None:
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(run_all())
