"""The interactive API docs (Swagger UI) from a packaged copy of its assets, never from a CDN.

FastAPI's default docs page loads Swagger UI from cdn.jsdelivr.net: blank offline and unreliable in
mainland China. The ``swagger-ui-bundle`` package ships the same files; they are served under
``/api/v1/docs-assets/`` and the docs page at ``/api/v1/docs`` points at them (FastAPI's "self-hosting
JavaScript and CSS for docs" recipe). ``/docs`` (the root path people guess, and older banners gave)
redirects there.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from search_api.settings import API_PREFIX

DOCS_PATH = f"{API_PREFIX}/docs"
ASSETS_PATH = f"{API_PREFIX}/docs-assets"


def install_docs(app: FastAPI, openapi_url: str) -> None:
    """Mount the packaged Swagger UI assets and the docs page that uses them (call with docs_url=None)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=openapi_url, title=f"{app.title} – 接口文档",
                                   oauth2_redirect_url=f"{DOCS_PATH}/oauth2-redirect",
                                   swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png")

    @app.get(f"{DOCS_PATH}/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/docs", include_in_schema=False)
    async def docs_redirect() -> RedirectResponse:
        return RedirectResponse(DOCS_PATH, status_code=308)
