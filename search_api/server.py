"""How the API and the embedded site server are run: one uvicorn configuration for both.

- **Client address.** uvicorn's own ``proxy_headers`` (on by default) rewrites the client address from
  ``X-Forwarded-For`` for requests from 127.0.0.1, whatever the portal's settings say, so a forged header
  chose a fresh rate-limit bucket per request. It is off here: the app alone decides, from
  ``PORTAL_TRUST_FORWARDED_FOR`` (``search_api.middleware.forwarded_ip_getter``). False: the socket address.
- **Request heads.** uvicorn's default HTTP implementation (httptools) buffers a request line and headers of
  any size: one connection sending 400 MB of header took 688 MB and stalled both servers. The protocol
  below counts the bytes of each request head before the parser sees them and refuses, as nginx does, a
  request line longer than ``MAX_REQUEST_LINE_BYTES`` (414), a header line longer than
  ``MAX_HEADER_LINE_BYTES`` or a head larger than ``MAX_REQUEST_HEAD_BYTES`` (431), and more than
  ``MAX_HEADER_COUNT`` header lines (431); then it closes the connection. With h11 (when httptools is
  missing) its own ``h11_max_incomplete_event_size`` bounds the head.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import uvicorn

# nginx: large_client_header_buffers 4 8k — a request line or one header line of at most 8 KiB (414 / 400
# beyond), the whole head in 4 such buffers.
MAX_REQUEST_LINE_BYTES = 8 * 1024
MAX_HEADER_LINE_BYTES = 8 * 1024
MAX_REQUEST_HEAD_BYTES = 32 * 1024
# Apache's LimitRequestFields default; browsers send 10-20 headers.
MAX_HEADER_COUNT = 100

_REFUSALS = {
    414: (b"URI Too Long", "uri_too_long", "请求地址过长"),
    431: (b"Request Header Fields Too Large", "headers_too_large", "请求头过大或过多"),
}


def _refusal(status: int) -> bytes:
    reason, code, message = _REFUSALS[status]
    body = orjson.dumps({"error": {"code": code, "message": message}})
    return (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
            % (status, reason, len(body))) + body


class HeadLimits:
    """Counts the lines of each request head as the bytes arrive; refuses and closes past the limits.

    A mixin for uvicorn's HTTP protocols: ``data_received`` measures, the parser only gets bytes that are
    within the limits. After a head ends, bytes are not looked at until the message is complete (bodies are
    bounded by the app's ``PORTAL_MAX_BODY_BYTES``); pipelined heads in the same read are at most one read
    buffer (64 KiB) beyond the limit.
    """

    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.Transport) -> None:
        self._reset_head()
        super().connection_made(transport)  # type: ignore[misc]

    def _reset_head(self) -> None:
        self._in_head = True
        self._line_bytes = 0  # bytes of the current line so far
        self._head_bytes = 0
        self._lines = 0  # lines of this head completed, the request line included

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            refused = self._measure(data)
            if refused:
                self.transport.write(_refusal(refused))
                self.transport.close()
                return
        super().data_received(data)  # type: ignore[misc]

    def on_message_complete(self) -> None:
        super().on_message_complete()  # type: ignore[misc]
        self._reset_head()

    def _measure(self, data: bytes) -> int | None:
        position = 0
        while self._in_head:
            newline = data.find(b"\n", position)
            end = len(data) if newline == -1 else newline + 1
            self._line_bytes += end - position
            self._head_bytes += end - position
            refused = self._over_limit()
            if refused or newline == -1:
                return refused
            if self._line_bytes <= 2 and self._lines:  # the empty line that ends the head
                self._in_head = False
            elif self._line_bytes > 2:
                self._lines += 1
                if self._lines - 1 > MAX_HEADER_COUNT:
                    return 431
            self._line_bytes = 0
            position = end
        return None

    def _over_limit(self) -> int | None:
        if self._lines == 0:
            return 414 if self._line_bytes > MAX_REQUEST_LINE_BYTES else None
        if self._line_bytes > MAX_HEADER_LINE_BYTES or self._head_bytes > MAX_REQUEST_HEAD_BYTES:
            return 431
        return None


def _http_protocol() -> Any:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # no httptools: h11, bounded by h11_max_incomplete_event_size
        return "h11"

    class LimitedHttpToolsProtocol(HeadLimits, HttpToolsProtocol):  # type: ignore[misc]  # transport: asyncio.Transport
        pass

    return LimitedHttpToolsProtocol


def server_config(app: Any, *, host: str, port: int, log_level: str = "warning", **options: Any) -> uvicorn.Config:
    """The uvicorn configuration of both servers (see the module doc)."""
    return uvicorn.Config(app, host=host, port=port, log_level=log_level, http=_http_protocol(),
                          proxy_headers=False, server_header=False,
                          h11_max_incomplete_event_size=MAX_REQUEST_HEAD_BYTES, **options)
