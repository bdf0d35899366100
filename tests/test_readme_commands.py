"""The README's two set-up commands, checked as a newcomer would run them: in a fresh clone."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 600  # a fresh clone creates its own venv: pip install from the registry


def readme_commands() -> list[str]:
    """The commands of the README's first code block (comments stripped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README must open with a sh code block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.split("#")[0].strip()]


def test_readme_opens_with_exactly_the_run_and_test_commands() -> None:
    assert readme_commands() == ["./scripts/up.sh", "./scripts/test.sh"]
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("```sh") < text.index("\n## "), "the two commands come before any section"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, deadline: float, proc: subprocess.Popen[bytes]) -> bytes:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"up.sh exited with {proc.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read()
        except OSError:
            time.sleep(2)
    raise AssertionError(f"{url} not served within {STARTUP_SECONDS} s")


@pytest.mark.slow
def test_run_command_brings_the_portal_up_in_a_fresh_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    # The working tree under test, not only what is committed: copy uncommitted changes of tracked files.
    diff = subprocess.run(["git", "diff", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    if diff:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=clone, input=diff, check=True)
    site_port, api_port = free_port(), free_port()
    env = {**os.environ, "PORTAL_SAMPLE_ROWS": "300"}
    env.pop("VIRTUAL_ENV", None)
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(["./scripts/up.sh", "--site-port", str(site_port), "--api-port", str(api_port)],
                            cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        home = wait_for(f"http://127.0.0.1:{site_port}/", deadline, proc).decode()
        assert "信用" in home and "<html" in home
        api = wait_for(f"http://127.0.0.1:{api_port}/api/v1/search?q=%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8",
                       deadline, proc)
        assert b'"hits"' in api and b'"total"' in api
        assert (clone / "var" / "current" / "index.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
