"""A real Meilisearch server for tests: a throw-away database directory, a free port on 127.0.0.1, a master key.

The binary is ``$MEILI_BIN`` or ``meilisearch`` on PATH (the project does not build or ship it: operators
install the official release binary or package, see README). Without one, the ``meili_server`` fixture
skips the test with that reason. ``MEILI_URL`` (with ``MEILI_KEY``) points the tests at an already running
server instead, e.g. one started by hand.

Register as a plugin (tests/conftest.py: ``pytest_plugins = ["pg", "meili"]``); the server is started once
per session, on first use, and killed and deleted when the session ends. The master key is passed through
the environment (never on the command line, where ``ps`` would show it) and is random per session.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_SECONDS = 60
# Keep the test server small on a shared machine: indexing memory and threads are capped.
TEST_INDEXING_MEMORY = "512MiB"
TEST_INDEXING_THREADS = "2"


@dataclass(frozen=True)
class MeiliServer:
    url: str
    key: str
    log: Path | None  # the server's own log (None for an external server)
    version: str


def find_meili_bin() -> str | None:
    """``$MEILI_BIN`` if set (and executable), else ``meilisearch`` on PATH, else None."""
    named = os.environ.get("MEILI_BIN")
    if named:
        return named if os.access(named, os.X_OK) else None
    return shutil.which("meilisearch")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, key: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return bytes(response.read())


def _version(url: str, key: str) -> str:
    import json

    return str(json.loads(_get(url + "/version", key)).get("pkgVersion", "?"))


def start_meili(binary: str, root: Path, *, indexing_memory: str = TEST_INDEXING_MEMORY,
                indexing_threads: str = TEST_INDEXING_THREADS) -> tuple[subprocess.Popen[bytes], MeiliServer]:
    """Start ``binary`` on a free loopback port with its database under ``root``; wait until healthy.
    (bench/bench_meili.py starts its server through this too, with larger indexing limits.)"""
    key = secrets.token_urlsafe(24)
    port = _free_port()
    log = root / "meilisearch.log"
    env = {**os.environ, "MEILI_MASTER_KEY": key, "MEILI_DB_PATH": str(root / "data.ms"),
           "MEILI_HTTP_ADDR": f"127.0.0.1:{port}", "MEILI_ENV": "development", "MEILI_NO_ANALYTICS": "true",
           "MEILI_DUMP_DIR": str(root / "dumps"), "MEILI_SNAPSHOT_DIR": str(root / "snapshots"),
           "MEILI_MAX_INDEXING_MEMORY": indexing_memory, "MEILI_MAX_INDEXING_THREADS": indexing_threads,
           "MEILI_LOG_LEVEL": "INFO"}
    process = subprocess.Popen([binary], env=env, cwd=root, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"meilisearch exited with {process.returncode}: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        try:
            _get(url + "/health")
            return process, MeiliServer(url, key, log, _version(url, key))
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    stop_meili(process)
    raise RuntimeError(f"meilisearch not healthy within {START_TIMEOUT_SECONDS} s")


def stop_meili(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="session")
def meili_server() -> Iterator[MeiliServer]:
    external = os.environ.get("MEILI_URL")
    if external:
        key = os.environ.get("MEILI_KEY", "")
        yield MeiliServer(external.rstrip("/"), key, None, _version(external.rstrip("/"), key))
        return
    binary = find_meili_bin()
    if binary is None:
        pytest.skip("no Meilisearch server: install the official meilisearch binary on PATH, or set MEILI_BIN "
                    "(or MEILI_URL for a running server)")
    root = Path(tempfile.mkdtemp(prefix="portal-meili-"))
    process, server = start_meili(binary, root)
    try:
        yield server
    finally:
        stop_meili(process)
        shutil.rmtree(root, ignore_errors=True)
