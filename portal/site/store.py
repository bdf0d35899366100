"""The page store: the rebuild cache for the pages rendered from the snapshot.

Pelican empties the output directory on every build (``DELETE_OUTPUT_DIRECTORY``) so that nothing
withdrawn can linger there. Deleting and recreating ~100,000 entry directories on every build costs more
than rendering them (measured: 10,000 pages → 2.8 s of rmdir plus 1.8 s of mkdir, against 0.3 s to check
them), so the directories that hold snapshot pages (``entries/``, ``lists/``) are kept out of Pelican's
clean-up (``OUTPUT_RETENTION``) and this store manages them instead, with the same guarantee:

- a small SQLite index (in ``PORTAL_PAGE_STORE``) maps each page path to the hash of its inputs (the
  record, the template sources and the settings that show on the page);
- a page whose input hash is unchanged and whose file exists is neither rendered nor rewritten; a changed
  page is written to a temporary file and renamed over the old one (readers never see half a page);
- at the end of a build every file in the managed directories that this build did not produce is deleted
  (a sweep of the directory tree, not only of the index, so a lost index cannot leave withdrawn pages).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

INDEX_FILE = "pages.sqlite3"
REPORT_FILE = "last-build.json"  # what the last build rendered, reused and deleted (for operators, tests)
MANAGED_DIRS = ("entries", "lists")  # top-level output directories whose files only this store writes


@dataclass
class StoreStats:
    rendered: int = 0  # pages whose inputs changed (or were new): rendered and written
    reused: int = 0  # pages whose inputs were unchanged: neither rendered nor written
    deleted: int = 0  # files in the managed directories that this build no longer produces


class PageStore:
    """Render-if-changed writing of generated pages into ``output``; see the module docstring."""

    def __init__(self, index_dir: Path, output: Path, fingerprint: str,
                 managed_dirs: Iterable[str] = MANAGED_DIRS) -> None:
        self.index_dir = index_dir
        self.output = output
        self.managed_dirs = tuple(managed_dirs)
        self.fingerprint = fingerprint
        self.stats = StoreStats()
        index_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(index_dir / INDEX_FILE)
        self._db.execute("CREATE TABLE IF NOT EXISTS pages (path TEXT PRIMARY KEY, input_hash TEXT NOT NULL)")
        self._known: dict[str, str] = dict(self._db.execute("SELECT path, input_hash FROM pages"))
        self._live: dict[str, str] = {}

    def put(self, rel_path: str, inputs: bytes, render: Callable[[], str]) -> bool:
        """Make sure ``rel_path`` holds ``render()``; render only if ``inputs`` changed. True if rendered."""
        if rel_path.split("/", 1)[0] not in self.managed_dirs:
            raise ValueError(f"{rel_path} is outside the managed directories {self.managed_dirs}")
        if rel_path in self._live:
            raise ValueError(f"page {rel_path} produced twice in one build")
        input_hash = hashlib.sha256(self.fingerprint.encode() + b"\0" + inputs).hexdigest()
        self._live[rel_path] = input_hash
        target = self.output / rel_path
        if self._known.get(rel_path) == input_hash and target.is_file():
            self.stats.reused += 1
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(render(), encoding="utf-8")
        os.replace(tmp, target)
        self.stats.rendered += 1
        return True

    def finish(self) -> StoreStats:
        """Delete every managed file this build did not produce, then save the index and a report."""
        for top in self.managed_dirs:
            self.stats.deleted += self._sweep(self.output / top)
        with self._db:
            self._db.execute("DELETE FROM pages")
            self._db.executemany("INSERT INTO pages (path, input_hash) VALUES (?, ?)", self._live.items())
        self._db.close()
        (self.index_dir / REPORT_FILE).write_text(json.dumps(dataclasses.asdict(self.stats)) + "\n")
        return self.stats

    def _sweep(self, directory: Path) -> int:
        """Remove files not produced by this build below ``directory``; returns how many; prunes empty dirs."""
        if not directory.is_dir():
            return 0
        removed = 0
        for current, _dirs, files in os.walk(directory, topdown=False):
            rel_dir = Path(current).relative_to(self.output).as_posix()
            for name in files:
                if f"{rel_dir}/{name}" not in self._live:
                    os.unlink(os.path.join(current, name))
                    removed += 1
            if current != str(directory) and not os.listdir(current):
                os.rmdir(current)
        return removed


def read_report(index_dir: Path) -> StoreStats:
    """The statistics the last build left in ``index_dir``."""
    return StoreStats(**json.loads((index_dir / REPORT_FILE).read_text()))
