"""The page store: the rebuild cache for the pages rendered from the snapshot.

Pelican empties the output directory on every build (``DELETE_OUTPUT_DIRECTORY``) so that nothing
withdrawn can linger there. Deleting and recreating ~100,000 entry directories on every build costs more
than rendering them, so the directories that hold snapshot pages (``entries/``, ``lists/``) are kept out of
Pelican's clean-up (``OUTPUT_RETENTION``) and this store manages them instead, with the same guarantee:

- a small SQLite index (in ``PORTAL_PAGE_STORE``) maps each page path to the hash of its inputs (the
  record, the template sources and the settings that show on the page);
- a page whose input hash is unchanged and whose file exists is neither rendered nor rewritten; a changed
  page is written to a new temporary file and renamed over the old one, so it gets a new inode (readers
  never see half a page, and a hard-linked file of an earlier release is never modified);
- at the end of a build every file in the managed directories that this build did not produce is deleted
  (a sweep of the directory tree, not only of the index, so a lost index cannot leave withdrawn pages).

Listing 100,000 one-page directories costs more than the rest of an unchanged rebuild, so the sweep
lists only directories it cannot vouch for. The index also records the modification time of each
directory that held nothing but its page at the end of the last build; a directory whose mtime is
still the same has had no file added, removed or renamed in it since (the kernel updates a directory's
mtime on each of those, and ``shutil.copytree``, which the publish step uses to hard-link the previous
release, copies it), so it still holds only that page and is not listed. Every other directory is
listed and swept. A directory of a page this build no longer produces is removed either way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

INDEX_FILE = "pages.sqlite3"
REPORT_FILE = "last-build.json"  # what the last build rendered, reused and deleted (for operators, tests)
MANAGED_DIRS = ("entries", "lists")  # top-level output directories whose files only this store writes
PAGE_FILE = "index.html"  # only directories whose single file is this can skip the sweep's listing
_SCHEMA = "CREATE TABLE pages (path TEXT PRIMARY KEY, input_hash BLOB NOT NULL, dir_mtime_ns INTEGER)"
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


@dataclass
class StoreStats:
    rendered: int = 0  # pages whose inputs changed (or were new): rendered and written
    reused: int = 0  # pages whose inputs were unchanged: neither rendered nor written
    deleted: int = 0  # files in the managed directories that this build no longer produces


def write_new_file(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a new temporary file renamed into place (a new inode)."""
    directory, name = path.rsplit("/", 1)
    tmp = f"{directory}/.{name}.tmp"
    try:
        fd = os.open(tmp, _WRITE_FLAGS, 0o666)
    except FileExistsError:  # left by a crashed build; may be a hard link into an earlier release
        os.unlink(tmp)
        fd = os.open(tmp, _WRITE_FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
    os.replace(tmp, path)


class _BackgroundWriter:
    """Does the file-system calls of page writes in a thread, in order.

    Creating a directory and a file costs more than rendering the page on a busy disk; the calls release
    the GIL, so the next pages render meanwhile. The queue is bounded: memory stays flat. The first error
    stops further writes and is raised by :meth:`check` or :meth:`close`.
    """

    def __init__(self, depth: int = 256) -> None:
        self._queue: queue.Queue[tuple[str | None, str, bytes] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="portal-page-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if self._error is not None:
                continue
            make_dir, path, data = job
            try:
                if make_dir is not None:
                    _make_dirs(make_dir)
                write_new_file(path, data)
            except BaseException as exc:  # noqa: BLE001 - handed to the building thread
                self._error = exc

    def write(self, make_dir: str | None, path: str, data: bytes) -> None:
        self.check()
        self._queue.put((make_dir, path, data))

    def check(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self.check()


def _make_dirs(path: str) -> None:
    try:
        os.mkdir(path)
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        pass


class PageStore:
    """Render-if-changed writing of generated pages into ``output``; see the module docstring."""

    def __init__(self, index_dir: Path, output: Path, fingerprint: str,
                 managed_dirs: Iterable[str] = MANAGED_DIRS) -> None:
        self.index_dir = index_dir
        self.output = output
        self._root = str(output)
        self.managed_dirs = tuple(managed_dirs)
        self._fingerprint = fingerprint.encode() + b"\0"
        self.stats = StoreStats()
        index_dir.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(index_dir / INDEX_FILE)
        self._known = self._load_index()
        self._live: set[str] = set()
        self._changed: dict[str, bytes] = {}  # page → new input hash (rendered, or reused without a row)
        # what the scan found: files in listed directories, pages in vouched-for directories, listed dirs
        self._files: set[str] = set()
        self._vouched: set[str] = set()
        self._listed_dirs: list[str] = []
        self._own_dirs: set[str] = set()  # directories that hold (or will hold) only their page
        self._existing_dirs: set[str] = set()
        for top in self.managed_dirs:
            self._scan(top)
        self._writer = _BackgroundWriter()

    def _load_index(self) -> dict[str, tuple[bytes, int | None]]:
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(pages)")]
        if columns != ["path", "input_hash", "dir_mtime_ns"]:
            # no index, or one from an older version of this module: start afresh (one full render)
            with self._db:
                self._db.execute("DROP TABLE IF EXISTS pages")
                self._db.execute(_SCHEMA)
        return {path: (digest, mtime) for path, digest, mtime in
                self._db.execute("SELECT path, input_hash, dir_mtime_ns FROM pages")}

    def _scan(self, rel_dir: str) -> None:
        """Find what the managed directory ``rel_dir`` holds, listing only what mtimes cannot vouch for."""
        try:
            scanner = os.scandir(f"{self._root}/{rel_dir}")
        except (FileNotFoundError, NotADirectoryError):
            return
        self._listed_dirs.append(rel_dir)
        self._existing_dirs.add(rel_dir)
        subdirs = []
        with scanner:
            for item in scanner:
                rel = f"{rel_dir}/{item.name}"
                if not item.is_dir(follow_symlinks=False):
                    self._files.add(rel)
                    continue
                page = f"{rel}/{PAGE_FILE}"
                known = self._known.get(page)
                if known is not None and known[1] is not None and \
                        item.stat(follow_symlinks=False).st_mtime_ns == known[1]:
                    self._vouched.add(page)
                    self._existing_dirs.add(rel)
                    self._own_dirs.add(rel)
                else:
                    subdirs.append(rel)
        for rel in subdirs:
            self._scan(rel)

    def input_hash(self, inputs: bytes) -> bytes:
        return hashlib.sha256(self._fingerprint + inputs).digest()

    def produced(self, rel_path: str) -> bool:
        """Whether this build already produced the page ``rel_path``."""
        return rel_path in self._live

    def put(self, rel_path: str, inputs: bytes, render: Callable[[], str]) -> bool:
        """Make sure ``rel_path`` holds ``render()``; render only if ``inputs`` changed. True if rendered."""
        if rel_path.split("/", 1)[0] not in self.managed_dirs:
            raise ValueError(f"{rel_path} is outside the managed directories {self.managed_dirs}")
        if rel_path in self._live:
            raise ValueError(f"page {rel_path} produced twice in one build")
        self._live.add(rel_path)
        input_hash = self.input_hash(inputs)
        known = self._known.get(rel_path)
        if known is not None and known[0] == input_hash:
            if rel_path in self._vouched:  # its row, directory mtime included, stays as it is
                self.stats.reused += 1
                return False
            if rel_path in self._files:
                self._changed[rel_path] = input_hash  # its directory's mtime is recorded at the end
                self.stats.reused += 1
                return False
        directory = rel_path.rsplit("/", 1)[0]
        make_dir = None
        if directory not in self._existing_dirs:
            self._note_new_dir(directory)
            self._own_dirs.add(directory)
            make_dir = f"{self._root}/{directory}"
        self._writer.write(make_dir, f"{self._root}/{rel_path}", render().encode())
        self._changed[rel_path] = input_hash
        self.stats.rendered += 1
        return True

    def _note_new_dir(self, directory: str) -> None:
        """Book-keeping for a directory the writer is about to create (with its missing parents)."""
        self._existing_dirs.add(directory)
        parent = directory
        while "/" in parent:  # a directory that now has a subdirectory no longer holds only its page
            parent = parent.rsplit("/", 1)[0]
            self._own_dirs.discard(parent)
            self._existing_dirs.add(parent)

    def finish(self) -> StoreStats:
        """Delete every managed file this build did not produce, then save the index and a report."""
        self._writer.close()
        self._sweep()
        gone = [(path,) for path in self._known if path not in self._live]
        rows = []
        for path, input_hash in self._changed.items():
            rows.append((path, input_hash, self._dir_mtime_if_only_page(path)))
        with self._db:
            self._db.executemany("DELETE FROM pages WHERE path = ?", gone)
            self._db.executemany("INSERT OR REPLACE INTO pages (path, input_hash, dir_mtime_ns) VALUES (?, ?, ?)",
                                 rows)
        self._db.close()
        (self.index_dir / REPORT_FILE).write_text(json.dumps(dataclasses.asdict(self.stats)) + "\n")
        return self.stats

    def _sweep(self) -> None:
        """Remove what this build did not produce; prune directories left empty."""
        for rel in self._files:
            if rel not in self._live:
                try:
                    os.unlink(f"{self._root}/{rel}")
                except FileNotFoundError:  # a crashed build's temporary file, renamed into place by this one
                    continue
                self.stats.deleted += 1
        for page in self._vouched:
            if page not in self._live:  # its directory held only this page; anything else was added since
                directory = page.rsplit("/", 1)[0]
                self.stats.deleted += _remove_page_dir(f"{self._root}/{directory}")
                self._own_dirs.discard(directory)
        for rel_dir in reversed(self._listed_dirs):  # deepest first
            if rel_dir not in self.managed_dirs:
                with contextlib.suppress(OSError):  # not empty: it holds a page of this build
                    os.rmdir(f"{self._root}/{rel_dir}")

    def _dir_mtime_if_only_page(self, page: str) -> int | None:
        """The page directory's mtime, if the directory holds the page and nothing else (else None)."""
        directory, name = page.rsplit("/", 1)
        if name != PAGE_FILE:
            return None
        path = f"{self._root}/{directory}"
        if directory not in self._own_dirs and os.listdir(path) != [PAGE_FILE]:
            return None
        return os.stat(path).st_mtime_ns


def _remove_page_dir(path: str) -> int:
    """Delete a page directory and everything in it; returns how many files were removed."""
    removed = 0
    try:
        os.unlink(f"{path}/{PAGE_FILE}")
        removed = 1
    except FileNotFoundError:
        pass
    try:
        os.rmdir(path)
    except OSError:  # something besides the page after all: remove the whole tree, counting its files
        removed += sum(len(names) for _root, _dirs, names in os.walk(path))
        shutil.rmtree(path)
    return removed


def read_report(index_dir: Path) -> StoreStats:
    """The statistics the last build left in ``index_dir``."""
    return StoreStats(**json.loads((index_dir / REPORT_FILE).read_text()))
