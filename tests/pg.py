"""A real PostgreSQL server for tests: Debian's binaries, a throw-away cluster, a free port on 127.0.0.1.

Use the session-scoped ``postgres_url`` fixture (a SQLAlchemy URL ``postgresql+psycopg://…``) from any
test file by registering this module as a plugin, in tests/conftest.py::

    pytest_plugins = ["pg"]

or, in a single test module, ``pytest_plugins = ["pg"]`` at module level works too (pytest registers a
plugin once, however many modules name it). The cluster is created in a temporary directory, started with
``pg_ctl``, and stopped and deleted when the session ends. initdb refuses to run as root, so as root the
server runs as the ``postgres`` system user (created if missing) via ``runuser``. When the binaries are
missing the fixture fails (it does not skip): install them with ``apt-get install postgresql``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_USER = "postgres"
# TCP connections need this password (scram-sha-256), so tests exercise real authentication and can check
# that a password never leaks into messages. Local socket connections are trusted (for pg_ctl).
PG_PASSWORD = "portal-test-pw"
START_TIMEOUT_SECONDS = 60


def find_pg_bin() -> Path | None:
    """Directory holding initdb/pg_ctl: $PORTAL_PG_BIN, else the newest /usr/lib/postgresql/*/bin (15 on Debian 12)."""
    override = os.environ.get("PORTAL_PG_BIN")
    candidates = [override] if override else sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                       check=True, capture_output=True)
        return pwd.getpwnam(PG_USER)


def _runner() -> list[str]:
    """Prefix that runs a command as a non-root user when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", PG_USER, "--"]


class PostgresServer:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="portal-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()

    def _run(self, *args: str) -> None:
        result = subprocess.run([*_runner(), *args], capture_output=True, text=True, timeout=START_TIMEOUT_SECONDS)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}")

    def start(self) -> None:
        if os.geteuid() == 0:
            user = _ensure_system_user()
            os.chown(self.root, user.pw_uid, user.pw_gid)
        password_file = self.root / "password"
        password_file.write_text(PG_PASSWORD)
        if os.geteuid() == 0:
            os.chown(password_file, user.pw_uid, user.pw_gid)
        self._run(str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", f"--pwfile={password_file}", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} -c fsync=off"
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", str(START_TIMEOUT_SECONDS), "start")

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres:{PG_PASSWORD}@127.0.0.1:{self.port}/postgres"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL (with the password) of a fresh PostgreSQL server that lives for the test session."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail("PostgreSQL server binaries not found (/usr/lib/postgresql/<version>/bin/initdb). "
                    "Install them with `apt-get install postgresql` (CI does), or set PORTAL_PG_BIN.",
                    pytrace=False)
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(server.root, ignore_errors=True)
        raise
    try:
        yield server.url
    finally:
        server.stop()
