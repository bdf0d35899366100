"""Pagefind (static full-text search over policies and notices), run beside the build.

Pagefind indexes only editorial pages (``PAGEFIND_GLOB``); list entries are searched through the API.
Those pages are all written before our generator writes the snapshot pages (Pelican's article and page
generators run first, and the generator writes the section indexes before anything else), so Pagefind is
started then, as a subprocess on the other core, and waited for when Pelican has finished.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

PAGEFIND_GLOB = "{notices,cases,policies}/**/*.html"

_running: dict[str, subprocess.Popen[bytes]] = {}  # output directory → its Pagefind process


def start(output: Path, settings: dict[str, Any]) -> None:
    """Start indexing ``output`` in the background (setting ``PORTAL_PAGEFIND``, default on)."""
    if not settings.get("PORTAL_PAGEFIND", True):
        return
    key = str(output.resolve())
    if key in _running:  # a previous build into the same directory that never reached ``finish``
        _running.pop(key).kill()
    _running[key] = subprocess.Popen(
        [sys.executable, "-m", "pagefind", "--site", str(output), "--glob", PAGEFIND_GLOB,
         "--force-language", "zh", "--silent"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(output: Path, settings: dict[str, Any]) -> None:
    """Wait for the Pagefind run of ``output``; start one first if none was started. Raises on failure."""
    if not settings.get("PORTAL_PAGEFIND", True):
        return
    key = str(output.resolve())
    if key not in _running:
        start(output, settings)
    process = _running.pop(key)
    message, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pagefind failed ({process.returncode}): {message.decode(errors='replace')}")


def cancel(output: Path) -> None:
    """Stop the Pagefind run of ``output`` (the build failed; its output directory is about to go)."""
    process = _running.pop(str(output.resolve()), None)
    if process is not None:
        process.kill()
        process.communicate()
