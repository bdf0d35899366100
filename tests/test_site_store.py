"""The page store's rebuild path on real files, and the streaming snapshot view and downloads.

What production relies on (portal.release.publish: each entry slot is updated in place by the next-but-one
publish): every file the build did not produce is swept, including from directories the store skips
listing because their mtime vouches for them; a build that died half-way leaves the store marked dirty and
the next build trusts only what directory mtimes vouch for; a changed page gets a new inode (readers never
see half a page, and a hard-linked copy of a tree is never modified through the store).
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from portal.site.demo import DATA_AS_OF, demo_entries, write_demo_snapshot
from portal.site.downloads import ListDownload, downloadable, to_csv, to_json
from portal.site.forked import ForkedCall
from portal.site.snapshot_view import load_snapshot
from portal.site.store import (
    DIRTY_FILE,
    INDEX_FILE,
    MANAGED_DIRS,
    PageStore,
    link_new_file,
    scan_for_store,
    scan_managed,
)

PAGES = {f"entries/{i:016x}/index.html": f"<p>entry {i}</p>" for i in range(20)}
PAGES["lists/x/index.html"] = "<p>list x, page 1</p>"
PAGES["lists/x/page/2/index.html"] = "<p>list x, page 2</p>"


def build(output: Path, store_dir: Path, pages: dict[str, str]) -> PageStore:
    store = PageStore(store_dir, output, "fingerprint")
    for path, html in pages.items():
        store.put(path, html.encode(), lambda html=html: html)
    store.finish()
    return store


def link_release(previous: Path, new: Path) -> None:
    """A hard-linked copy of a built tree and its index (how releases shared pages before entry slots)."""
    for name in ("entries", "lists"):
        shutil.copytree(previous / "site" / name, new / "site" / name, copy_function=os.link)
    shutil.copytree(previous / "store", new / "store")


def test_rebuild_over_a_hard_linked_release_never_modifies_the_previous_one(tmp_path: Path) -> None:
    first, second = tmp_path / "r1", tmp_path / "r2"
    build(first / "site", first / "store", PAGES)
    link_release(first, second)
    changed = dict(PAGES)
    changed["entries/0000000000000003/index.html"] = "<p>entry 3, corrected</p>"
    del changed["entries/0000000000000005/index.html"]
    stats = build(second / "site", second / "store", changed).stats
    assert (stats.rendered, stats.reused, stats.deleted) == (1, len(PAGES) - 2, 1)

    old_page = first / "site/entries/0000000000000003/index.html"
    new_page = second / "site/entries/0000000000000003/index.html"
    assert old_page.read_text() == "<p>entry 3</p>" and new_page.read_text() == "<p>entry 3, corrected</p>"
    assert old_page.stat().st_ino != new_page.stat().st_ino
    assert old_page.stat().st_nlink == 1
    reused_old, reused_new = (r / "site/entries/0000000000000004/index.html" for r in (first, second))
    assert reused_old.stat().st_ino == reused_new.stat().st_ino  # still the shared hard link
    assert (first / "site/entries/0000000000000005/index.html").exists()  # rollback target intact
    assert not (second / "site/entries/0000000000000005").exists()


def test_unchanged_rebuild_skips_listing_but_still_sweeps_added_files(tmp_path: Path) -> None:
    site, store = tmp_path / "site", tmp_path / "store"
    build(site, store, PAGES)
    again = build(site, store, PAGES)
    assert again.stats.rendered == 0 and again.stats.reused == len(PAGES)
    assert len(again._vouched) == len(PAGES) - 1  # lists/x/ holds page/ too: always listed
    stray = site / "entries/0000000000000007/notes.txt"  # adding it changes the directory's mtime
    stray.write_text("not produced by any build")
    leftover = site / "entries/0000000000000008/.index.html.tmp"  # as a crashed build would leave it
    leftover.write_text("half a page")
    (site / "lists/x/page/9").mkdir()
    third = build(site, store, PAGES)
    assert third.stats.deleted == 2 and third.stats.rendered == 0
    assert not stray.exists() and not leftover.exists() and not (site / "lists/x/page/9").exists()
    assert (site / "entries/0000000000000007/index.html").read_text() == "<p>entry 7</p>"


def test_a_removed_page_file_is_written_again(tmp_path: Path) -> None:
    site, store = tmp_path / "site", tmp_path / "store"
    build(site, store, PAGES)
    (site / "entries/0000000000000002/index.html").unlink()
    stats = build(site, store, PAGES).stats
    assert stats.rendered == 1
    assert (site / "entries/0000000000000002/index.html").read_text() == "<p>entry 2</p>"


def test_a_stale_temporary_file_linked_from_a_release_is_replaced_not_truncated(tmp_path: Path) -> None:
    first, second = tmp_path / "r1", tmp_path / "r2"
    build(first / "site", first / "store", PAGES)
    stale = first / "site/entries/0000000000000001/.index.html.tmp"
    stale.write_text("left by a crash")
    link_release(first, second)
    changed = {**PAGES, "entries/0000000000000001/index.html": "<p>entry 1, new</p>"}
    build(second / "site", second / "store", changed)
    assert stale.read_text() == "left by a crash"
    assert (second / "site/entries/0000000000000001/index.html").read_text() == "<p>entry 1, new</p>"
    assert not (second / "site/entries/0000000000000001/.index.html.tmp").exists()


def test_an_index_from_the_older_format_is_replaced(tmp_path: Path) -> None:
    import sqlite3

    store = tmp_path / "store"
    store.mkdir()
    with sqlite3.connect(store / INDEX_FILE) as db:
        db.execute("CREATE TABLE pages (path TEXT PRIMARY KEY, input_hash TEXT NOT NULL)")
        db.execute("INSERT INTO pages VALUES ('entries/0000000000000000/index.html', 'abc')")
    stats = build(tmp_path / "site", store, PAGES).stats
    assert stats.rendered == len(PAGES)


def test_snapshot_view_streams_counts_without_holding_entries(tmp_path: Path) -> None:
    entries = demo_entries()
    view = load_snapshot(write_demo_snapshot(tmp_path / "snapshots"))
    assert view.total == len(entries)
    for code, count in Counter(e["list_code"] for e in entries).items():
        assert len(view.lists[code].entries) == view.lists[code].count == count
        assert view.lists[code].person_count == sum(1 for e in entries if e["list_code"] == code and e["is_person"])
    with pytest.raises(TypeError, match="streamed"):
        list(view.lists["YZWFSX"].entries)
    assert [e["id"] for e in view.under_notice()] == [
        e["id"] for e in sorted(entries, key=lambda e: (e["decision_date"], e["id"]), reverse=True)
        if e["status"] == "公示中"]
    assert dict(view.counts_by("region")) == dict(Counter(e["region"] for e in entries))
    lines = list(view.iter_entry_lines())
    assert len(lines) == len(entries) and all(line.endswith(b"\n") for line, _ in lines)


def test_streamed_downloads_are_byte_identical_to_whole_documents(tmp_path: Path) -> None:
    entries = demo_entries()
    for code in sorted({e["list_code"] for e in entries}):
        members = [e for e in entries if e["list_code"] == code]
        records = downloadable(members)
        download = ListDownload(tmp_path / f"{code}.csv", tmp_path / f"{code}.json", list_code=code,
                                data_as_of=DATA_AS_OF.isoformat(), count=len(records), site_url="https://x.test")
        for entry in members:
            if not entry["is_person"]:
                download.add(entry)
        facts = download.close()
        assert (tmp_path / f"{code}.csv").read_bytes() == to_csv(records, "https://x.test")
        assert (tmp_path / f"{code}.json").read_bytes() == to_json(
            records, list_code=code, data_as_of=DATA_AS_OF.isoformat(), site_url="https://x.test")
        assert facts["csv"]["size"] == (tmp_path / f"{code}.csv").stat().st_size
    person = next(e for e in entries if e["is_person"])
    download = ListDownload(tmp_path / "p.csv", tmp_path / "p.json", list_code="X", data_as_of="2026-01-01", count=1)
    with pytest.raises(ValueError, match="persons"):
        download.add(person)


def test_a_build_that_died_half_way_is_repaired_not_trusted(tmp_path: Path) -> None:
    site, store_dir = tmp_path / "site", tmp_path / "store"
    build(site, store_dir, PAGES)
    newer = {**PAGES, "entries/0000000000000003/index.html": "<p>entry 3, newer</p>",
             "entries/0000000000000004/index.html": "<p>entry 4, newer</p>"}
    dying = PageStore(store_dir, site, "fingerprint")
    for path, html in newer.items():
        dying.put(path, html.encode(), lambda html=html: html)
    dying._writer.close()  # the pages are on disk; the process dies before finish() saves the index
    dying._db.close()
    assert (store_dir / DIRTY_FILE).exists()
    assert (site / "entries/0000000000000003/index.html").read_text() == "<p>entry 3, newer</p>"

    again = build(site, store_dir, PAGES)  # e.g. the rollback target's pages, which the index still names
    assert again.stats.after_interrupted_build
    # the two rewritten pages (their directories' mtimes changed) and lists/x/index.html, whose directory
    # also holds page/ and so is never vouched for by its mtime
    assert again.stats.rendered == 3
    assert again.stats.reused == len(PAGES) - 3
    for path, html in PAGES.items():
        assert (site / path).read_text() == html
    assert not (store_dir / DIRTY_FILE).exists()
    assert not build(site, store_dir, PAGES).stats.after_interrupted_build


def test_artefacts_are_made_once_kept_while_used_and_dropped_when_not(tmp_path: Path) -> None:
    site, store_dir = tmp_path / "site", tmp_path / "store"
    made: list[bytes] = []

    def run(inputs: list[bytes]) -> list[bytes]:
        store = PageStore(store_dir, site, "fingerprint")
        values = [store.artefact(key, lambda key=key: made.append(key) or key.upper()) for key in inputs]
        store.finish()
        return values

    assert run([b"a", b"b"]) == [b"A", b"B"] and made == [b"a", b"b"]
    assert run([b"a", b"c"]) == [b"A", b"C"] and made == [b"a", b"b", b"c"]  # a came from the store
    assert run([b"b"]) == [b"B"] and made[-1] == b"b"  # b was dropped when a build did not use it


def test_forked_scan_finds_what_an_inline_scan_finds_and_is_used(tmp_path: Path) -> None:
    site, store_dir = tmp_path / "site", tmp_path / "store"
    build(site, store_dir, PAGES)
    (site / "entries/0000000000000007/notes.txt").write_text("stray")
    forked = ForkedCall(scan_for_store, store_dir, site).result()
    assert forked is not None
    store = PageStore(store_dir, site, "fingerprint", scan=forked)
    assert store._vouched is forked.vouched  # used as it came, not scanned again
    inline = scan_managed(str(site), MANAGED_DIRS, store._dir_mtimes)
    store.abort()
    assert forked == inline and "entries/0000000000000007/notes.txt" in inline.files
    assert len(inline.vouched) == len(PAGES) - 2  # lists/x/ holds page/; entry 7's directory changed


def test_a_scan_of_another_index_state_is_not_used(tmp_path: Path) -> None:
    site, store_dir = tmp_path / "site", tmp_path / "store"
    build(site, store_dir, PAGES)
    stale = scan_for_store(store_dir, site)
    stale.dir_mtimes = {**stale.dir_mtimes, "entries/0000000000000001/index.html": 1}
    store = PageStore(store_dir, site, "fingerprint", scan=stale)
    assert store._vouched is not stale.vouched
    store.abort()


def test_forked_call_failure_yields_none() -> None:
    assert ForkedCall(int, "not a number").result() is None
    assert ForkedCall(int, "42").result() == 42


def test_pages_the_clean_sibling_store_holds_are_linked_and_stay_independent(tmp_path: Path) -> None:
    a_site, a_store, b_site, b_store = tmp_path / "a", tmp_path / "a-store", tmp_path / "b", tmp_path / "b-store"
    build(a_site, a_store, PAGES)
    changed = {**PAGES, "entries/0000000000000003/index.html": "<p>entry 3, corrected</p>"}
    build(b_site, b_store, changed)  # the live slot, one publish ahead
    store = PageStore(a_store, a_site, "fingerprint", sibling=(b_store, b_site))
    for path, html in changed.items():
        store.put(path, html.encode(), lambda: pytest.fail("a page the sibling holds was rendered"))
    stats = store.finish()
    assert (stats.linked, stats.rendered) == (1, 0)
    page_a, page_b = (root / "entries/0000000000000003/index.html" for root in (a_site, b_site))
    assert page_a.read_text() == "<p>entry 3, corrected</p>" and page_a.stat().st_ino == page_b.stat().st_ino
    build(b_site, b_store, {**changed, "entries/0000000000000003/index.html": "<p>entry 3, again</p>"})
    assert page_a.read_text() == "<p>entry 3, corrected</p>"  # b replaced its name; a's file is untouched
    (b_store / "dirty").write_text("")  # a sibling a build died in is never used
    dirty = PageStore(a_store, a_site, "fingerprint", sibling=(b_store, b_site))
    dirty.put("entries/0000000000000003/index.html", b"<p>entry 3, again</p>", lambda: "<p>entry 3, again</p>")
    assert dirty.finish().linked == 0


def failing_render(job: tuple) -> str:  # module level: inherited by the forked worker
    if job[0] == "bad":
        raise KeyError("no template for this page")
    return f"<p>{job[1]}</p>"


def test_render_worker_writes_jobs_in_order_and_reports_its_errors(tmp_path: Path) -> None:
    from portal.site.store import RenderWorker

    site, store_dir = tmp_path / "site", tmp_path / "store"
    store = PageStore(store_dir, site, "fingerprint", worker=RenderWorker(failing_render, batch=3))
    for i in range(10):
        store.put(f"entries/{i:016x}/index.html", str(i).encode(), ("ok", i))
    stats = store.finish()
    assert stats.rendered == 10
    assert (site / "entries/0000000000000007/index.html").read_text() == "<p>7</p>"

    broken = PageStore(store_dir, site, "fingerprint", worker=RenderWorker(failing_render))
    broken.put("entries/00000000000000ff/index.html", b"new", ("bad", 0))
    with pytest.raises(RuntimeError, match="no template for this page"):
        broken.finish()
    broken.abort()
    assert (store_dir / DIRTY_FILE).exists()  # the index was not saved: the next build will not trust it


def test_relinking_a_page_to_the_file_it_already_is_leaves_no_spare_name(tmp_path: Path) -> None:
    """A killed build may have linked a page from the other slot already; linking it again must not leave
    the temporary name behind (rename(2) is a no-op between two links to one file)."""
    source = tmp_path / "a" / "index.html"
    page = tmp_path / "b" / "index.html"
    source.parent.mkdir()
    page.parent.mkdir()
    source.write_bytes(b"<html>page</html>")
    link_new_file(str(page), str(source))
    link_new_file(str(page), str(source))  # the rebuild after the crash
    assert sorted(p.name for p in page.parent.iterdir()) == ["index.html"]
    assert page.read_bytes() == b"<html>page</html>" and page.stat().st_ino == source.stat().st_ino
def test_linking_a_page_that_already_is_that_link_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A crashed build had linked the page from the other slot and left its temporary name; the next build
    links the same page again. rename() between two links of one file does nothing, so the temporary name
    must be removed explicitly (found by tests/test_crash_safety.py with the persons' shared shell page)."""
    from portal.site.store import link_new_file

    source = tmp_path / "other-slot" / "index.html"
    source.parent.mkdir()
    source.write_text("page")
    page_dir = tmp_path / "slot" / "entries" / "0123456789abcdef"
    page_dir.mkdir(parents=True)
    os.link(source, page_dir / "index.html")
    os.link(source, page_dir / ".index.html.tmp")  # what the killed build left
    link_new_file(str(page_dir / "index.html"), str(source))
    assert sorted(os.listdir(page_dir)) == ["index.html"]
    assert os.path.samefile(page_dir / "index.html", source)
