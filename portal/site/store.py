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

A build can die half-way (``kill -9``, an exception): then some pages are rewritten while the index still
describes the files as they were. So a build marks the store dirty (the file ``dirty`` beside the index,
synced) before it changes anything and removes the mark only after the index is committed. A build that
finds the mark trusts an index row only where the page's directory mtime vouches for it (a rewritten page
was renamed into its directory, which changed the mtime); every other page is rendered again.

The store also keeps **artefacts**: byte strings keyed by the hash of their inputs (content-addressed, so
a stale one cannot be served), such as the bulk-download rows and sitemap lines of one list page's
organisations. An artefact not used by a build is deleted at its end.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import signal
import sqlite3
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from portal.durable import fsync_path, write_durably

INDEX_FILE = "pages.sqlite3"
DIRTY_FILE = "dirty"  # present while a build may have changed pages that the index does not describe yet
REPORT_FILE = "last-build.json"  # what the last build rendered, reused and deleted (for operators, tests)
MANAGED_DIRS = ("entries", "lists")  # top-level output directories whose files only this store writes
PAGE_FILE = "index.html"  # only directories whose single file is this can skip the sweep's listing
_SCHEMA = "CREATE TABLE pages (path TEXT PRIMARY KEY, input_hash BLOB NOT NULL, dir_mtime_ns INTEGER)"
_ARTEFACT_SCHEMA = "CREATE TABLE IF NOT EXISTS artefacts (key BLOB PRIMARY KEY, value BLOB NOT NULL)"
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


@dataclass
class StoreStats:
    rendered: int = 0  # pages whose inputs changed (or were new): rendered and written
    reused: int = 0  # pages whose inputs were unchanged: neither rendered nor written
    deleted: int = 0  # files in the managed directories that this build no longer produces
    linked: int = 0  # pages whose inputs changed but the sibling store already held them: hard-linked
    artefacts_made: int = 0  # artefacts computed by this build (the others came from the store or sibling)
    after_interrupted_build: bool = False  # the store was dirty: only mtime-vouched pages were trusted


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


def link_new_file(path: str, source: str) -> None:
    """Make ``path`` another name of the file ``source`` (a hard link), placed by rename like a write.

    Safe across the two entry slots because no build ever writes into an existing file: a page is always
    replaced by renaming a new file over it, so the other slot's name keeps the old content.
    """
    directory, name = path.rsplit("/", 1)
    tmp = f"{directory}/.{name}.tmp"
    try:
        os.link(source, tmp)
    except FileExistsError:  # left by a crashed build
        os.unlink(tmp)
        os.link(source, tmp)
    os.replace(tmp, path)
    # rename(2) does nothing when both names are links to one file (POSIX): a crashed build had already
    # linked this very page, and the temporary name would stay beside it.
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)


class _BackgroundWriter:
    """Does the file-system calls of page writes in a thread, in order.

    Creating a directory and a file costs more than rendering the page on a busy disk; the calls release
    the GIL, so the next pages render meanwhile. The queue is bounded: memory stays flat. The first error
    stops further writes and is raised by :meth:`check` or :meth:`close`.
    """

    def __init__(self, depth: int = 256) -> None:
        self._queue: queue.Queue[tuple[str | None, str, bytes | str] | None] = queue.Queue(maxsize=depth)
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
                if isinstance(data, str):  # the path of an identical page to link
                    link_new_file(path, data)
                else:
                    write_new_file(path, data)
            except BaseException as exc:  # noqa: BLE001 - handed to the building thread
                self._error = exc

    def write(self, make_dir: str | None, path: str, data: bytes | str) -> None:
        """Write ``data`` (bytes) to ``path``, or link the file named by ``data`` (str) there."""
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


def _read_dir_mtimes(db: sqlite3.Connection) -> dict[str, int]:
    """page path → mtime of its directory when it held only that page (empty for an older index format)."""
    columns = [row[1] for row in db.execute("PRAGMA table_info(pages)")]
    if columns != ["path", "input_hash", "dir_mtime_ns"]:
        return {}
    return dict(db.execute("SELECT path, dir_mtime_ns FROM pages WHERE dir_mtime_ns IS NOT NULL"))


@dataclass
class ScanResult:
    """What the managed directories hold, as far as a build needs to know (see :func:`scan_managed`)."""

    dir_mtimes: dict[str, int]  # the index state the scan was made against
    managed_dirs: tuple[str, ...] = MANAGED_DIRS
    files: set[str] = dataclasses.field(default_factory=set)  # files in the directories that were listed
    vouched: set[str] = dataclasses.field(default_factory=set)  # pages whose directory mtime vouches for them
    listed_dirs: list[str] = dataclasses.field(default_factory=list)
    own_dirs: set[str] = dataclasses.field(default_factory=set)  # directories holding only their page
    existing_dirs: set[str] = dataclasses.field(default_factory=set)


def scan_managed(root: str, managed_dirs: Iterable[str], dir_mtimes: dict[str, int]) -> ScanResult:
    """Find what the managed directories under ``root`` hold, listing only what mtimes cannot vouch for."""
    found = ScanResult(dir_mtimes, tuple(managed_dirs))

    def scan(rel_dir: str) -> None:
        try:
            scanner = os.scandir(f"{root}/{rel_dir}")
        except (FileNotFoundError, NotADirectoryError):
            return
        found.listed_dirs.append(rel_dir)
        found.existing_dirs.add(rel_dir)
        subdirs = []
        with scanner:
            for item in scanner:
                rel = f"{rel_dir}/{item.name}"
                if not item.is_dir(follow_symlinks=False):
                    found.files.add(rel)
                    continue
                page = f"{rel}/{PAGE_FILE}"
                known_mtime = dir_mtimes.get(page)
                if known_mtime is not None and item.stat(follow_symlinks=False).st_mtime_ns == known_mtime:
                    found.vouched.add(page)
                    found.existing_dirs.add(rel)
                    found.own_dirs.add(rel)
                else:
                    subdirs.append(rel)
        for rel in subdirs:
            scan(rel)

    for top in managed_dirs:
        scan(top)
    return found


def scan_for_store(index_dir: Path, output: Path, managed_dirs: tuple[str, ...] = MANAGED_DIRS) -> ScanResult:
    """:func:`scan_managed` against the index state on disk (what :class:`PageStore` will load), without
    changing anything: run in a forked process while Pelican reads content (portal/site/forked.py)."""
    dir_mtimes: dict[str, int] = {}
    index_file = index_dir / INDEX_FILE
    if index_file.exists():
        db = sqlite3.connect(f"file:{index_file}?mode=ro", uri=True)
        try:
            dir_mtimes = _read_dir_mtimes(db)
        finally:
            db.close()
    return scan_managed(str(output), managed_dirs, dir_mtimes)


def scan_key(index_dir: Path, output: Path) -> tuple[str, ...]:
    return ("page-store-scan", str(index_dir.resolve()), str(output.resolve()))


RenderJob = tuple[Any, ...]  # a picklable description of a page, rendered by a RenderWorker's function


class RenderWorker:
    """Renders and writes pages in a forked process, so that rendering runs on the other core while the
    build hashes, pages and assembles downloads. Jobs are small picklable tuples (an entry page's job is
    its raw snapshot line); the worker renders each with ``render(job)`` (inherited by the fork, with the
    build's templates and context) and writes it like :func:`write_new_file`, in the order given.

    The worker dies with the build (``PR_SET_PDEATHSIG``); :meth:`close` waits for every page and raises
    the worker's error, if any.
    """

    def __init__(self, render: Callable[[RenderJob], str], batch: int = 64) -> None:
        context = multiprocessing.get_context("fork")
        jobs_out, self._jobs = context.Pipe(duplex=False)
        self._done, done_in = context.Pipe(duplex=False)
        self._process = context.Process(target=_render_worker_main, args=(jobs_out, done_in, render),
                                        name="portal-page-renderer", daemon=True)
        self._process.start()
        jobs_out.close()
        done_in.close()
        self._batch: list[tuple[str | None, str, RenderJob]] = []
        self._batch_size = batch

    def submit(self, make_dir: str | None, path: str, job: RenderJob) -> None:
        self._batch.append((make_dir, path, job))
        if len(self._batch) >= self._batch_size:
            self._send()

    def _send(self) -> None:
        try:
            self._jobs.send(self._batch)
        except (BrokenPipeError, ConnectionResetError):
            self._raise_worker_error()
        self._batch = []

    def close(self) -> None:
        """Wait until every submitted page is written; raise what went wrong in the worker."""
        if self._batch:
            self._send()
        try:
            self._jobs.send(None)
            error = self._done.recv()
        except (BrokenPipeError, ConnectionResetError, EOFError):
            self._raise_worker_error()
        finally:
            self._jobs.close()
        self._process.join()
        self._done.close()
        if error is not None:
            raise RuntimeError(f"rendering pages failed:\n{error}")

    def _raise_worker_error(self) -> None:
        error = self._done.recv() if self._done.poll(5) else None
        self.abort()
        raise RuntimeError(f"the page renderer stopped (exit code {self._process.exitcode}):\n{error or ''}")

    def abort(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        for connection in (self._jobs, self._done):
            connection.close()


def _render_worker_main(jobs: Any, done: Any, render: Callable[[RenderJob], str]) -> None:
    _die_with_parent()
    writer = _BackgroundWriter()
    try:
        while (batch := jobs.recv()) is not None:
            for make_dir, path, job in batch:
                writer.write(make_dir, path, render(job).encode())
        writer.close()
        done.send(None)
    except BaseException:  # noqa: BLE001 - reported to the build, which raises it
        done.send(traceback.format_exc())


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (``kill -9`` of a publish kills its workers)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class PageStore:
    """Render-if-changed writing of generated pages into ``output``; see the module docstring."""

    def __init__(self, index_dir: Path, output: Path, fingerprint: str,
                 managed_dirs: Iterable[str] = MANAGED_DIRS, scan: ScanResult | None = None,
                 worker: RenderWorker | None = None, render_job: Callable[[RenderJob], str] | None = None,
                 sibling: tuple[Path, Path] | None = None) -> None:
        self.index_dir = index_dir
        self.output = output
        self._root = str(output)
        self.managed_dirs = tuple(managed_dirs)
        self._fingerprint = fingerprint.encode() + b"\0"
        self.stats = StoreStats()
        index_dir.mkdir(parents=True, exist_ok=True)
        self._dirty_file = index_dir / DIRTY_FILE
        self.stats.after_interrupted_build = self._dirty_file.exists()
        write_durably(self._dirty_file, b"a build is changing these pages\n")  # before anything changes
        self._db = sqlite3.connect(index_dir / INDEX_FILE)
        self._known = self._load_index()
        self._artefacts_known = {key for (key,) in self._db.execute("SELECT key FROM artefacts")}
        self._artefacts_used: set[bytes] = set()
        self._sibling_root, self._sibling_known, self._sibling_db = self._open_sibling(sibling)
        self._live: set[str] = set()
        self._changed: dict[str, bytes] = {}  # page → new input hash (rendered, or reused without a row)
        # what the scan found: files in listed directories, pages in vouched-for directories, listed dirs
        # a scan made beforehand (in a forked process) is used only if made against this very index state
        found = scan
        if found is None or found.dir_mtimes != self._dir_mtimes or found.managed_dirs != self.managed_dirs:
            found = scan_managed(self._root, self.managed_dirs, self._dir_mtimes)
        self._files = found.files
        self._vouched = found.vouched
        self._listed_dirs = found.listed_dirs
        self._own_dirs = found.own_dirs  # directories that hold (or will hold) only their page
        self._existing_dirs = found.existing_dirs
        self._writer = _BackgroundWriter()
        self._worker = worker  # renders and writes the pages given as jobs (see put) …
        self._render_job = render_job  # … or, without a worker, this renders them here

    def _open_sibling(self, sibling: tuple[Path, Path] | None) -> tuple[str, dict[str, bytes], sqlite3.Connection | None]:
        """A clean store of the same pages (the other entry slot): its index, read-only, to link its pages
        and reuse its artefacts instead of making them again. A dirty or missing sibling is not used."""
        if sibling is None:
            return "", {}, None
        index_dir, root = sibling
        index_file = index_dir / INDEX_FILE
        if (index_dir / DIRTY_FILE).exists() or not index_file.exists() or index_dir == self.index_dir:
            return "", {}, None
        db = sqlite3.connect(f"file:{index_file}?mode=ro", uri=True)
        try:
            columns = [row[1] for row in db.execute("PRAGMA table_info(pages)")]
            tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if columns != ["path", "input_hash", "dir_mtime_ns"] or "artefacts" not in tables:
                raise sqlite3.DatabaseError("an index of another format")
            known = dict(db.execute("SELECT path, input_hash FROM pages"))
        except sqlite3.DatabaseError:
            db.close()
            return "", {}, None
        return str(root), known, db

    def _load_index(self) -> dict[str, bytes]:
        """path → input hash; also fills ``self._dir_mtimes`` (path → mtime of its page-only directory)."""
        columns = [row[1] for row in self._db.execute("PRAGMA table_info(pages)")]
        if columns != ["path", "input_hash", "dir_mtime_ns"]:
            # no index, or one from an older version of this module: start afresh (one full render)
            with self._db:
                self._db.execute("DROP TABLE IF EXISTS pages")
                self._db.execute(_SCHEMA)
        with self._db:
            self._db.execute(_ARTEFACT_SCHEMA)
        # C-level dict() builds: much faster than a comprehension over 100,000 rows
        self._dir_mtimes = _read_dir_mtimes(self._db)
        return dict(self._db.execute("SELECT path, input_hash FROM pages"))

    def input_hash(self, inputs: bytes) -> bytes:
        return hashlib.sha256(self._fingerprint + inputs).digest()

    def produced(self, rel_path: str) -> bool:
        """Whether this build already produced the page ``rel_path``."""
        return rel_path in self._live

    def put(self, rel_path: str, inputs: bytes, render: Callable[[], str] | RenderJob) -> bool:
        """Make sure ``rel_path`` holds the page; render only if ``inputs`` changed. True if rendered.

        ``render`` is a function that returns the page, or a job for the store's :class:`RenderWorker`
        or, without one, for ``render_job`` (all pages of one directory must go the same way: each way writes
        in its own order).
        """
        if rel_path.split("/", 1)[0] not in self.managed_dirs:
            raise ValueError(f"{rel_path} is outside the managed directories {self.managed_dirs}")
        if rel_path in self._live:
            raise ValueError(f"page {rel_path} produced twice in one build")
        self._live.add(rel_path)
        input_hash = self.input_hash(inputs)
        if self._known.get(rel_path) == input_hash:
            if rel_path in self._vouched:  # its row, directory mtime included, stays as it is
                self.stats.reused += 1
                return False
            if rel_path in self._files and not self.stats.after_interrupted_build:
                self._changed[rel_path] = input_hash  # its directory's mtime is recorded at the end
                self.stats.reused += 1
                return False
        directory = rel_path.rsplit("/", 1)[0]
        make_dir = None
        if directory not in self._existing_dirs:
            self._note_new_dir(directory)
            self._own_dirs.add(directory)
            make_dir = f"{self._root}/{directory}"
        if self._sibling_known.get(rel_path) == input_hash:  # the other slot holds this very page: link it
            self._writer.write(make_dir, f"{self._root}/{rel_path}", f"{self._sibling_root}/{rel_path}")
            self._changed[rel_path] = input_hash
            self.stats.linked += 1
            return True
        if callable(render):
            self._writer.write(make_dir, f"{self._root}/{rel_path}", render().encode())
        elif self._worker is not None:
            self._worker.submit(make_dir, f"{self._root}/{rel_path}", render)
        elif self._render_job is not None:
            self._writer.write(make_dir, f"{self._root}/{rel_path}", self._render_job(render).encode())
        else:
            raise ValueError(f"page {rel_path} given as a job, but the store cannot render jobs")
        self._changed[rel_path] = input_hash
        self.stats.rendered += 1
        return True

    def artefact(self, inputs: bytes, make: Callable[[], bytes]) -> bytes:
        """The artefact made from ``inputs``: from the store if an earlier build made it, else ``make()``.

        New artefacts are written in the transaction that :meth:`finish` commits (not held in memory).
        """
        key = self.input_hash(b"artefact\0" + inputs)
        self._artefacts_used.add(key)
        if key in self._artefacts_known:
            row = self._db.execute("SELECT value FROM artefacts WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return bytes(row[0])
        row = None
        if self._sibling_db is not None:
            row = self._sibling_db.execute("SELECT value FROM artefacts WHERE key = ?", (key,)).fetchone()
        if row is not None:
            value = bytes(row[0])
        else:
            value = make()
            self.stats.artefacts_made += 1
        self._db.execute("INSERT OR REPLACE INTO artefacts (key, value) VALUES (?, ?)", (key, value))
        self._artefacts_known.add(key)
        return value

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
        if self._worker is not None:
            self._worker.close()  # every page is written before the sweep and the directory mtimes
        self._sweep()
        gone = [(path,) for path in self._known if path not in self._live]
        rows = []
        for path, input_hash in self._changed.items():
            rows.append((path, input_hash, self._dir_mtime_if_only_page(path)))
        unused = [(key,) for key in self._artefacts_known - self._artefacts_used]
        with self._db:  # one transaction, with the artefacts inserted during the build
            self._db.executemany("DELETE FROM pages WHERE path = ?", gone)
            self._db.executemany("INSERT OR REPLACE INTO pages (path, input_hash, dir_mtime_ns) VALUES (?, ?, ?)",
                                 rows)
            self._db.executemany("DELETE FROM artefacts WHERE key = ?", unused)
        self._db.close()
        if self._sibling_db is not None:
            self._sibling_db.close()
        self._dirty_file.unlink()  # the index now describes the pages exactly
        fsync_path(self.index_dir)
        (self.index_dir / REPORT_FILE).write_text(json.dumps(dataclasses.asdict(self.stats)) + "\n")
        return self.stats

    def abort(self) -> None:
        """After a failed build: stop writing, drop the uncommitted index changes, release the database.

        The dirty mark stays: pages may have changed that the index does not describe.
        """
        with contextlib.suppress(BaseException):
            self._writer.close()
        if self._worker is not None:
            self._worker.abort()
        with contextlib.suppress(sqlite3.Error):
            self._db.rollback()
        self._db.close()
        if self._sibling_db is not None:
            self._sibling_db.close()

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
