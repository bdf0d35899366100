"""``portal serve`` on real sockets: client address, request-head limits, CSP, IPv6 grouping (issue 12).

Both servers come from ``portal.serve.build_servers`` (the same objects ``portal serve`` runs), bound to
free ports on loopback, IPv4 and IPv6 ([::1]).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from portal.serve import SITE_CSP, build_servers
from search_api.indexer import build_index
from search_api.ratelimit import NETWORK_RATE_FACTOR, RateLimiter
from search_api.server import MAX_HEADER_COUNT, MAX_REQUEST_HEAD_BYTES, MAX_REQUEST_LINE_BYTES
from search_api.settings import Settings
from search_api.testing import PERSON_ID, TEST_HMAC_KEY, write_test_snapshot


@pytest.fixture(scope="module")
def var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A deployment directory as ``portal serve`` expects it: current -> a release with site/ and index.db."""
    root = tmp_path_factory.mktemp("serve")
    release = root / "releases" / "r1"
    (release / "site").mkdir(parents=True)
    (release / "site" / "index.html").write_text("<!DOCTYPE html><title>信用门户</title><h1>首页</h1>", encoding="utf-8")
    build_index(write_test_snapshot(root / "snapshots"), release / "index.db")
    (root / "current").symlink_to(release)
    return root


@dataclass
class Running:
    site: str
    api: str
    servers: list[uvicorn.Server]

    @property
    def app(self) -> Any:
        return self.servers[1].config.app


def url_of(server: uvicorn.Server) -> str:
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@pytest.fixture
def serve(var: Path, tmp_path: Path) -> Iterator[Any]:
    """Start ``portal serve``'s two servers with the given settings; stopped after the test."""
    started: list[tuple[list[uvicorn.Server], threading.Thread]] = []

    def start(host: str = "127.0.0.1", **overrides: Any) -> Running:
        settings = Settings(**{"index_path": var / "current" / "index.db", "snapshot_dir": var / "snapshots" / "latest",
                               "hmac_key": TEST_HMAC_KEY, "api_keys_db": tmp_path / "keys.sqlite3",
                               "access_log": False, **overrides})
        servers = build_servers(var, host=host, site_port=0, api_port=0, settings=settings)
        for server in servers:
            server.config.lifespan = "off"

        async def run_all() -> None:
            await asyncio.gather(*(server.serve() for server in servers))

        thread = threading.Thread(target=asyncio.run, args=(run_all(),), daemon=True)
        thread.start()
        started.append((servers, thread))
        deadline = time.monotonic() + 15
        while not all(server.started for server in servers):
            assert time.monotonic() < deadline, "portal serve did not start"
            time.sleep(0.02)
        return Running(url_of(servers[0]), url_of(servers[1]), servers)

    yield start
    for servers, thread in started:
        for server in servers:
            server.should_exit = True
        thread.join(timeout=10)


# --- client address (issue 12, item 3) ------------------------------------------------------------------

def test_forged_forwarded_for_gets_no_fresh_bucket(serve: Any) -> None:
    """PORTAL_TRUST_FORWARDED_FOR=false: the client is the socket address, whatever X-Forwarded-For says.
    (uvicorn's default proxy_headers trusted the header from 127.0.0.1: 20 of 20 answered 200.)"""
    running = serve(trust_forwarded_for=False, rate_person_per_minute=20, rate_burst_factor=0.25)
    with httpx.Client(base_url=running.api, timeout=10) as http:
        statuses = [http.post("/api/v1/lookup", json={"id_number": PERSON_ID},
                              headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code for n in range(20)]
    assert statuses == [200] * 5 + [429] * 15


def test_trusted_forwarded_for_takes_the_last_address(serve: Any) -> None:
    running = serve(trust_forwarded_for=True, rate_person_per_minute=1, rate_burst_factor=1.0)
    with httpx.Client(base_url=running.api, timeout=10) as http:
        def lookup(forwarded: str) -> int:
            return http.post("/api/v1/lookup", json={"id_number": PERSON_ID},
                             headers={"X-Forwarded-For": forwarded}).status_code
        assert lookup("10.0.0.1, 203.0.113.7") == 200
        assert lookup("10.0.0.2, 203.0.113.7") == 429  # the forged prefix changes nothing
        assert lookup("203.0.114.8") == 200  # another client in another /24


# --- request heads (issue 12, item 4) -------------------------------------------------------------------

def raw_request(base: str, head: bytes, *, chunk: int = 64 * 1024) -> bytes:
    """Send ``head`` on a fresh connection (in chunks, stopping if the server closes) and read the answer."""
    host, port = base.rsplit(":", 1)
    host = host.removeprefix("http://").strip("[]")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        try:
            for start in range(0, len(head), chunk):
                connection.sendall(head[start:start + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := connection.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


@pytest.mark.parametrize("server", ["site", "api"])
def test_oversized_request_heads_are_refused_on_both_servers(serve: Any, server: str) -> None:
    running = serve()
    base = getattr(running, server)
    path = b"/" if server == "site" else b"/healthz"
    host = b"Host: 127.0.0.1\r\n"
    cases = {
        "40 MB header": (b"GET " + path + b" HTTP/1.1\r\n" + host + b"X-Big: " + b"a" * (40 * 1024 * 1024) + b"\r\n\r\n", 431),
        "many headers": (b"GET " + path + b" HTTP/1.1\r\n" + host
                         + b"".join(b"X-H%d: 1\r\n" % n for n in range(MAX_HEADER_COUNT + 1)) + b"\r\n", 431),
        "long request line": (b"GET " + path + b"?" + b"q" * MAX_REQUEST_LINE_BYTES + b" HTTP/1.1\r\n" + host + b"\r\n", 414),
        "head of many mid-size headers": (b"GET " + path + b" HTTP/1.1\r\n" + host
                                          + b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 4000) for n in range(10)) + b"\r\n", 431),
    }
    assert MAX_REQUEST_HEAD_BYTES < 10 * 4000
    for name, (head, expected) in cases.items():
        answer = raw_request(base, head)
        assert status_of(answer) == expected, (name, answer[:200])
        assert b'"error"' in answer
    # What browsers send stays fine: a 6 KB cookie and the usual headers, on a kept-alive connection.
    with httpx.Client(base_url=base, timeout=10) as http:
        for _ in range(3):
            assert http.get(path.decode(), headers={"Cookie": "c=" + "x" * 6000}).status_code == 200
    # And both servers still answer.
    assert httpx.get(running.api + "/healthz", timeout=10).status_code == 200
    assert httpx.get(running.site + "/", timeout=10).status_code == 200


def test_a_refused_head_does_not_grow_the_server(serve: Any) -> None:
    """The bytes beyond the limit never reach the parser: the connection is closed after about one read."""
    running = serve()
    host, port = running.api.removeprefix("http://").rsplit(":", 1)
    sent = 0
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(400):  # up to 400 MB, as in the report
                connection.sendall(b"a" * (1024 * 1024))
                sent += 1
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert sent < 400, "the server kept reading a 400 MB header"


# --- CSP of the embedded site server (issue 12, item 5) -----------------------------------------------------

def test_site_server_sends_the_documented_csp(serve: Any) -> None:
    running = serve()
    response = httpx.get(running.site + "/", timeout=10)
    assert response.headers["content-security-policy"] == SITE_CSP.decode()
    hardening = (Path(__file__).resolve().parents[1] / "docs" / "hardening.md").read_text(encoding="utf-8")
    recommended = "script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'self'"
    assert recommended in hardening and response.headers["content-security-policy"].startswith(recommended)


# --- IPv6 and network grouping (issue 12, item 5) -------------------------------------------------------------

def test_ipv6_loopback_is_grouped_by_64_and_48(serve: Any) -> None:
    running = serve(host="::1", rate_person_per_minute=1, rate_burst_factor=1.0)
    assert running.api.startswith("http://[::1]:")
    with httpx.Client(base_url=running.api, timeout=10) as http:
        first = http.post("/api/v1/lookup", json={"id_number": PERSON_ID})
        second = http.post("/api/v1/lookup", json={"id_number": PERSON_ID}, headers={"X-Forwarded-For": "2001:db8::1"})
    assert (first.status_code, second.status_code) == (200, 429)
    limiter = running.app.state.portal.person_limiter
    assert set(limiter.clients.table) == {"::/64"} and set(limiter.networks.table) == {"::/48"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_24_or_a_48_gets_the_network_factor_not_one_bucket_per_address() -> None:
    limiter = RateLimiter(60, 1.0, Clock())  # 60 a minute, bucket of 60 per client; 240 per network
    allowed_v4 = sum(limiter.allow(f"203.0.113.{n}") is None for n in range(256) for _ in range(10))
    assert allowed_v4 == 60 * NETWORK_RATE_FACTOR
    assert limiter.allow("203.0.114.1") is None  # the next /24 has its own
    allowed_v6 = sum(limiter.allow(f"2001:db8:7:{n:x}::1") is None for n in range(1000))  # 1,000 /64s of one /48
    assert allowed_v6 == 60 * NETWORK_RATE_FACTOR


def test_rotating_more_64s_than_the_table_holds_cannot_refill_the_48() -> None:
    clock = Clock()
    limiter = RateLimiter(60, 1.0, clock, max_tracked=100)
    allowed = 0
    for second in range(600):  # ten minutes, a fresh /64 for every request, 5 requests a second
        clock.now = float(second)
        allowed += sum(limiter.allow(f"2001:db8:9:{second * 5 + k:x}::1") is None for k in range(5))
    capacity, rate = 60 * NETWORK_RATE_FACTOR, 60 * NETWORK_RATE_FACTOR / 60
    assert allowed <= capacity + rate * 600
    assert len(limiter.clients.table) == 100  # client buckets were evicted all along …
    assert "2001:db8:9::/48" in limiter.networks.table  # … the /48's never
