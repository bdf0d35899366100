"""ASGI middleware: body size limit, security headers, access log without personal data."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.errors import STATUS_ERRORS

access_logger = logging.getLogger("search_api.access")

# Query parameters whose values carry nothing personal and may be logged as they are; every other value
# is logged as its length only (q may hold a person's name or an ID number).
LOGGABLE_PARAMS = frozenset({"list_kind", "list_code", "subject_type", "decided_from", "decided_to", "page",
                             "per_page", "since", "limit"})

JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
# The interactive docs page loads Swagger UI from its CDN.
DOCS_CSP = ("default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'unsafe-inline' https://cdn.jsdelivr.net; img-src data: https://fastapi.tiangolo.com; "
            "connect-src 'self'; frame-ancestors 'none'")


def redact_query(query_string: str) -> str:
    parts = []
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        parts.append(f"{name}={value}" if name in LOGGABLE_PARAMS else f"{name}=<{len(value)}>")
    return "&".join(parts)


async def _send_error(send: Send, status: int) -> None:
    code, message = STATUS_ERRORS[status]
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class HardeningMiddleware:
    """Outermost layer: refuses oversized bodies, adds security headers, writes the access log line."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, access_log: bool, client_ip: Callable[[Scope], str]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.access_log = access_log
        self.client_ip = client_ip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 0}
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path.endswith("/docs") or path.endswith("/redoc") else JSON_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in
                           (b"x-content-type-options", b"referrer-policy", b"content-security-policy")]
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"content-security-policy", csp.encode()), (b"x-frame-options", b"DENY")]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = dict(scope.get("headers", [])).get(b"content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
                await _send_error(send_with_headers, 413)
                return
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        raise _BodyTooLarge
                return message

            try:
                await self.app(scope, limited_receive, send_with_headers)
            except _BodyTooLarge:
                if not status_holder["status"]:
                    await _send_error(send_with_headers, 413)
        finally:
            if self.access_log:
                took = (time.perf_counter() - started) * 1000
                query = redact_query(scope.get("query_string", b"").decode("latin-1"))
                # Never the body, never raw query values: see LOGGABLE_PARAMS.
                access_logger.info("%s %s %s%s %d %.1fms", self.client_ip(scope), scope.get("method"), path,
                                   "?" + query if query else "", status_holder["status"], took)


class RedactUvicornAccessLog(logging.Filter):
    """uvicorn's own access log prints the raw query string (a ``q`` may be an ID number): redact it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path, _, query = args[2].partition("?")
            record.args = (*args[:2], f"{path}?{redact_query(query)}", *args[3:])
        return True


def install_uvicorn_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactUvicornAccessLog) for f in access.filters):
        access.addFilter(RedactUvicornAccessLog())


def forwarded_ip_getter(trust_forwarded_for: bool) -> Callable[[Scope], str]:
    def client_ip(scope: Scope) -> str:
        if trust_forwarded_for:
            for key, value in scope.get("headers", []):
                if key == b"x-forwarded-for":
                    return value.decode("latin-1").split(",")[0].strip()
        client = scope.get("client")
        return client[0] if client else "unknown"

    return client_ip


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
