"""ASGI middleware: body size limit, security headers, access log without personal data."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, unquote

import orjson
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from search_api.errors import STATUS_ERRORS

access_logger = logging.getLogger("search_api.access")

# Query parameters whose values carry nothing personal and may be logged as they are; every other value
# is logged as its length only (q may hold a person's name or an ID number).
LOGGABLE_PARAMS = frozenset({"list_kind", "list_code", "subject_type", "decided_from", "decided_to", "page",
                             "per_page", "since", "limit"})

JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
# The interactive docs page loads Swagger UI from its CDN.
# The docs page loads its Swagger UI assets from this server (search_api/docs_assets.py), nothing else.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")


# Anything that may be a resident ID number (18 characters, or the legacy 15 digits) or a card number: any
# run of 11 or more digits (mobiles too), with up to three separators between two digits — spaces, tabs,
# "-", ".", "_", "/", "+" (a decoded space), middle dots and zero-width characters: people type
# "511702 19850312 123X" and paste "5117.0219.8503.1200.38" — wherever it stands (a path such as
# /subjects/{ID number}, or a "non-personal" filter such as list_code filled with a number). Logged as <id>;
# an all-digit entry id is caught too, which costs nothing.
_LOG_SEP = "[\\s\\-._/+\u00b7\u200b-\u200d\u2060\ufeff]"
DIGIT_RUN = re.compile(r"\d(?:" + _LOG_SEP + r"{0,3}\d){10,}(?:" + _LOG_SEP + r"{0,3}[Xx])?")
# Parameters of the API, whose names may be logged; any other name is logged as <param> (a stray
# "?<number>" or "?张三=1" arrives as a parameter name).
KNOWN_PARAMS = LOGGABLE_PARAMS | {"q", "authority", "region", "facets", "cursor"}


def redact_path(path: str) -> str:
    return DIGIT_RUN.sub("<id>", unquote(path))


def redact_query(query_string: str) -> str:
    parts = []
    for name, value in parse_qsl(query_string, keep_blank_values=True):
        loggable = name in LOGGABLE_PARAMS and not DIGIT_RUN.search(value)
        shown_name = name if name in KNOWN_PARAMS else "<param>"
        parts.append(f"{name}={value}" if loggable else f"{shown_name}=<{len(value)}>")
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
            too_large = False

            async def limited_receive() -> Message:
                nonlocal received, too_large
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > self.max_body_bytes:
                        too_large = True
                        raise _BodyTooLarge
                return message

            async def send_unless_too_large(message: Message) -> None:
                # FastAPI catches any exception raised while it reads the body and answers 400 itself; a
                # body cut off by the limit must still answer 413, so the app's own answer is dropped.
                if not too_large:
                    await send_with_headers(message)

            with contextlib.suppress(_BodyTooLarge):  # answered below
                await self.app(scope, limited_receive, send_unless_too_large)
            if too_large and not status_holder["status"]:
                await _send_error(send_with_headers, 413)
        finally:
            if self.access_log and access_logger.isEnabledFor(logging.INFO):  # no redaction work for nothing
                took = (time.perf_counter() - started) * 1000
                query = redact_query(scope.get("query_string", b"").decode("latin-1"))
                # Never the body, never raw query values: see LOGGABLE_PARAMS.
                access_logger.info("%s %s %s%s %d %.1fms", self.client_ip(scope), scope.get("method"), redact_path(path),
                                   "?" + query if query else "", status_holder["status"], took)


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Starlette's CORS middleware, but a refused preflight answers in the error envelope like every other
    error (Starlette's own answer is the plain text "Disallowed CORS origin")."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-type", "content-length")}
        return JSONResponse({"error": {"code": "cors_refused", "message": "不允许该来源的跨域请求"}},
                            status_code=response.status_code, headers=headers)


class RedactUvicornAccessLog(logging.Filter):
    """uvicorn's own access log prints the raw query string (a ``q`` may be an ID number): redact it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path, question, query = args[2].partition("?")
            redacted = redact_path(path) + (f"?{redact_query(query)}" if question else "")
            record.args = (*args[:2], redacted, *args[3:])
        return True


def install_uvicorn_log_redaction() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactUvicornAccessLog) for f in access.filters):
        access.addFilter(RedactUvicornAccessLog())


def forwarded_ip_getter(trust_forwarded_for: bool) -> Callable[[Scope], str]:
    def client_ip(scope: Scope) -> str:
        if trust_forwarded_for:
            # The last address is the one our proxy added (or the only one, when it overwrites the header);
            # everything before it was sent by the client and is free to forge, so the first entry would let a
            # scraper pick a fresh rate-limit bucket for every request.
            forwarded = [value for key, value in scope.get("headers", []) if key == b"x-forwarded-for"]
            if forwarded:
                last = forwarded[-1].decode("latin-1").split(",")[-1].strip()
                if last:
                    return last
        client = scope.get("client")
        return client[0] if client else "unknown"

    return client_ip


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
