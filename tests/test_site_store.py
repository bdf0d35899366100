"""The page store's rebuild path on real files, and the streaming snapshot view and downloads.

What production relies on (portal.publish.default_site_builder): the previous release's ``entries/`` and
``lists/`` are hard-linked into the new release and the index is copied; a changed page must then get a
new inode (the previous release's file is never modified), and every file the build did not produce is
swept, including from directories the store skips listing because their mtime vouches for them.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from portal.site.demo import DATA_AS_OF, demo_entries, write_demo_snapshot
from portal.site.downloads import ListDownload, downloadable, to_csv, to_json
from portal.site.snapshot_view import load_snapshot
from portal.site.store import INDEX_FILE, PageStore

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
    """What default_site_builder does with the previous release (same calls)."""
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
