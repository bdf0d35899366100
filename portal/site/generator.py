"""The Pelican generator that renders everything that comes from the public snapshot.

Small, few pages (home, search, section indexes, statistics, downloads) go through Pelican's writer. Entry,
tombstone and list pages can number in the hundreds of thousands, so they are rendered with one compiled
Jinja2 template each and written by :class:`portal.site.store.PageStore`, which skips pages whose inputs
did not change. They go to ``PORTAL_PAGE_ROOT`` (default: the output directory); the publish step points it
at an entry slot that the release's ``entries/`` and ``lists/`` symlink to (portal/release/publish.py).

The bulk downloads and the entry sitemap are cut into the same blocks as the list pages (one page of a
list's organisations); a block's CSV rows, JSON records and sitemap lines are kept in the page store as an
artefact keyed by the hash of its raw lines, so a rebuild formats only the blocks whose records changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pelican.generators import Generator

from portal.public import faults
from portal.site import charts, forked, pagefind
from portal.site.catalogues import Measure, forms_by_page, load_forms, snapshot_measures
from portal.site.downloads import BackgroundCalls, ListDownload, csv_rows, json_records
from portal.site.feeds import list_changes_feed, notices_feed, robots_txt, sitemap_url, write_sitemap
from portal.site.formatting import KIND_DESCRIPTIONS, KIND_ORDER, split_issuers
from portal.site.pages import ListPager, StoredPageRenderer
from portal.site.snapshot_view import SnapshotView, load_snapshot
from portal.site.store import PageStore, RenderJob, RenderWorker, scan_key
from portal.site.subjects import SubjectCollector, subject_url, subject_view, unpack

logger = logging.getLogger(__name__)

# Bump when code (not templates) changes what a stored page looks like; templates are hashed themselves.
# It also versions the cached download and sitemap blocks (their format is code, not templates).
RENDER_VERSION = "4"
# Settings that appear on stored pages; a change to any of them re-renders every stored page.
FINGERPRINT_SETTINGS = ("SITEURL", "SITENAME", "SITE_SUBTITLE", "PORTAL_API_URL", "PORTAL_OFFICE",
                        "PORTAL_OFFICE_ADDRESS", "PORTAL_GUIDE_OBJECTION", "PORTAL_GUIDE_REPAIR",
                        "PORTAL_LIST_PAGE_SIZE", "DEFAULT_LANG", "PORTAL_PUBLIC_URL", "PORTAL_OFFICE_PHONE",
                        "PORTAL_OFFICE_EMAIL", "PORTAL_OFFICE_HOURS")
# The list-changes feed shows the newest changes only (a feed reader fetches it whole every time); the full
# history is the API's keyset-paged /changes. Setting PORTAL_CHANGES_FEED_LIMIT overrides it.
CHANGES_FEED_LIMIT = 200
SECTION_LABELS = {"notices": "曝光台与典型案例", "cases": "典型案例", "policies": "政策法规"}
# A content page with this slug is shown as the introduction of the downloads page at the same URL.
DATA_PAGE_SLUG = "data"
FEED_SECTIONS = ("notices", "cases")
# The page of every natural person's entry is this one shell (theme/templates/person_entry.html): no data of
# the person, and nothing that differs between persons (not even the URL), so that the static site cannot
# be harvested; the shell's script reads the entry from the API under the person rate limit.
PERSON_SHELL_INPUTS = b"person-entry-shell"
PERSON_SHELL_URL = "entries/"


def _sections(articles: list[Any], *names: str) -> list[Any]:
    return [a for a in articles if getattr(a, "section", None) in names]


class PortalGenerator(Generator):
    """Lists, entries, tombstones, statistics, downloads, feeds and sitemap from the snapshot."""

    snapshot: SnapshotView
    measures: dict[str, list[Measure]]

    def generate_context(self) -> None:
        self.snapshot = load_snapshot(Path(self.settings["PORTAL_SNAPSHOT"]))
        self.measures = snapshot_measures(self.snapshot.path, Path(self.settings["PORTAL_MEASURES"]))
        self.forms = load_forms(Path(self.settings["PORTAL_FORMS"]))
        lists_by_kind = {kind: [lv for lv in self.snapshot.lists.values() if lv.kind == kind]
                         for kind in KIND_ORDER}
        self.context.update(
            portal_snapshot=self.snapshot,
            portal_data_as_of=self.snapshot.data_as_of,
            portal_lists=self.snapshot.lists,
            portal_lists_by_kind=lists_by_kind,
            portal_kind_descriptions=KIND_DESCRIPTIONS,
            portal_measures=self.measures,
            portal_forms=self.forms,
            portal_forms_by_page=forms_by_page(self.forms),
            portal_section_labels=SECTION_LABELS,
        )
        self.data_page = self._take_page(DATA_PAGE_SLUG)

    def _take_page(self, slug: str) -> Any:
        """Remove a content page from Pelican's page output so that our page at its URL replaces it."""
        pages = self.context.get("pages", [])
        for page in pages:
            if page.slug == slug:
                pages.remove(page)  # the PagesGenerator writes from this very list
                return page
        return None

    # --- output -----------------------------------------------------------------------------------------
    def generate_output(self, writer: Any) -> None:
        output = Path(self.output_path)
        self.sitemap_urls: list[tuple[str, Any]] = []
        articles = self.context.get("articles", [])
        # Templates do not change during a build: skip Jinja's per-render mtime check of every template an
        # entry page extends or imports (two stat calls a page).
        self.env.auto_reload = False
        # The section indexes are the last editorial pages: once they are written, Pagefind can index
        # in the background while the snapshot pages are written (portal/site/pagefind.py).
        feed_articles = _sections(articles, *FEED_SECTIONS)
        self._write_sections(writer, articles)
        faults.reached("site")
        pagefind.start(output, self.settings)
        try:
            self._write_generated(writer, output, articles, feed_articles)
        except BaseException:
            pagefind.cancel(output)
            raise

    def _write_generated(self, writer: Any, output: Path, articles: list[Any], feed_articles: list[Any]) -> None:
        """Snapshot pages into the page store, then the small pages, feeds, sitemap and robots.txt."""
        page_root = Path(self.settings.get("PORTAL_PAGE_ROOT") or output)
        store_dir = Path(self.settings["PORTAL_PAGE_STORE"])
        self._stored_pages = {name: self._renderer(name)
                              for name in ("entry", "person_entry", "list", "tombstone", "lists", "subject")}
        fingerprint, scan = self._fingerprint(), forked.take(scan_key(store_dir, page_root))
        # forked before the store starts its writer thread: the worker renders with these very templates
        worker = RenderWorker(self._render_job) if _use_render_worker(self.settings) else None
        try:
            sibling_root = self.settings.get("PORTAL_PAGE_SIBLING_ROOT")
            sibling = (Path(self.settings["PORTAL_PAGE_SIBLING_STORE"]), Path(sibling_root)) if sibling_root else None
            store = PageStore(store_dir, page_root, fingerprint, scan=scan, worker=worker,
                              render_job=self._render_job, sibling=sibling)
        except BaseException:
            if worker is not None:
                worker.abort()
            raise
        with tempfile.TemporaryFile() as entry_sitemap:
            try:
                downloads = self._write_snapshot_pages(store, output, entry_sitemap)
                self._write_subjects(store)
                self._write_tombstones(store)
                self._write_lists_index(store)
                stats = store.finish()
            except BaseException:
                store.abort()  # frees the index at once: a rollback in the same process can rebuild
                raise
            logger.info("portal: snapshot pages: %d rendered (%d of them linked from the other slot), %d unchanged, "
                        "%d deleted; %d download blocks formatted", stats.rendered, stats.linked, stats.reused,
                        stats.deleted, stats.artefacts_made)

            data_as_of = self.snapshot.data_as_of
            self._page(writer, "index.html", "index", "", latest_articles=feed_articles[:6])
            self._page(writer, "search/index.html", "search", "search/", regions=self.snapshot.regions)
            under_notice = self.snapshot.under_notice()
            self._page(writer, "notice-period/index.html", "notice_period", "notice-period/",
                       entries=[e for e in under_notice if not e["is_person"]],
                       person_count=sum(1 for e in under_notice if e["is_person"]))
            self._page(writer, "site-search/index.html", "site_search", "site-search/")
            self._page(writer, "verify/index.html", "verify", "verify/")  # credit report verification
            self._page(writer, "measures/index.html", "measures", "measures/")
            self._page(writer, "forms/index.html", "forms", "forms/")
            # Online application pages (portal/applications): noindex, so written past _page and the sitemap.
            for slug, template in (("apply", "apply"), ("apply-status", "apply_status")):
                writer.write_file(f"{slug}/index.html", self.get_template(template), self.context, page_url=f"{slug}/")
            self._write_statistics(writer)
            self._page(writer, "data/index.html", "data", "data/", files=downloads, intro_page=self.data_page)
            self._page(writer, "404.html", "404", None)
            self._page(writer, "sitemap/index.html", "sitemap", "sitemap/", articles=articles)

            # Feeds, sitemap and robots.txt are read by machines elsewhere: always absolute URLs, even when
            # the pages themselves are built with a root-relative SITEURL (scripts/up.sh, previews).
            site_url = public_url(self.settings)
            office = self.settings["PORTAL_OFFICE"]
            (output / "feeds").mkdir(parents=True, exist_ok=True)
            (output / "feeds" / "notices.atom.xml").write_bytes(notices_feed(
                feed_articles, site_url=site_url, site_name=self.settings["SITENAME"], office=office))
            (output / "feeds" / "list-changes.atom.xml").write_bytes(list_changes_feed(
                newest_changes(self.snapshot.changes, changes_feed_limit(self.settings)), entries_by_id=self.snapshot.changed_entries,
                tombstones_by_id=self.snapshot.changed_tombstones, site_url=site_url,
                site_name=self.settings["SITENAME"], office=office, data_as_of=data_as_of))
            for content in [*articles, *self.context.get("pages", [])]:
                if getattr(content, "robots", "") != "noindex":
                    self.sitemap_urls.append((content.url, getattr(content, "modified", None) or content.date
                                              if hasattr(content, "date") else None))
            write_sitemap(output / "sitemap.xml", self.sitemap_urls, site_url, entry_sitemap)
        (output / "robots.txt").write_bytes(robots_txt(site_url))
        # read by print.js: stored entry and subject pages do not change when only the data date does
        (output / "data-as-of.json").write_bytes(orjson.dumps({"data_as_of": self.snapshot.data_as_of.isoformat()}))
        # browsers ask for /favicon.ico whatever the page says
        favicon = Path(self.settings["THEME"]) / "static" / "images" / "favicon.ico"
        if favicon.is_file():
            (output / "favicon.ico").write_bytes(favicon.read_bytes())

    def _write_sections(self, writer: Any, articles: list[Any]) -> None:
        """The section indexes of notices, cases and policies (the editorial pages Pagefind reads)."""
        for section, label in SECTION_LABELS.items():
            items = _sections(articles, section)
            if section != "policies" and (items or section == "notices"):  # notices/ is in the menu
                self._page(writer, f"{section}/index.html", "section", f"{section}/",
                           section=section, section_label=label, items=items)
        policies = _sections(articles, "policies")
        self._page(writer, "policies/index.html", "policies", "policies/", items=policies,
                   years=sorted({p.date.year for p in policies}, reverse=True),
                   levels=[lv for lv in ("国家", "省", "市", "县") if any(
                       getattr(p, "level", None) == lv for p in policies)],
                   # a jointly issued document is found under each of its issuers
                   issuers=sorted({name for p in policies for name in split_issuers(getattr(p, "issuer", ""))}))

    def _page(self, writer: Any, save_as: str, template: str, url: str | None, **kwargs: Any) -> None:
        """A small page through Pelican's writer; ``url`` None keeps it out of the sitemap."""
        # page_url None (the 404 page, served at every missing URL) marks no menu item as the current page
        writer.write_file(save_as, self.get_template(template), self.context, page_url=url, **kwargs)
        if url is not None:
            self.sitemap_urls.append((url, self.snapshot.data_as_of))

    def _fingerprint(self) -> str:
        """Everything besides a page's own data that can change a stored page."""
        digest = hashlib.sha256(RENDER_VERSION.encode())
        for template_dir in self._templates_path:
            for path in sorted(Path(template_dir).rglob("*")):
                if path.is_file():
                    digest.update(str(path.relative_to(template_dir)).encode() + b"\0" + path.read_bytes())
        digest.update(orjson.dumps({k: self.settings.get(k) for k in FINGERPRINT_SETTINGS},
                                   option=orjson.OPT_SORT_KEYS, default=str))
        digest.update(orjson.dumps({code: [m.__dict__ for m in items] for code, items in self.measures.items()},
                                   option=orjson.OPT_SORT_KEYS))
        return digest.hexdigest()

    # --- stored pages -----------------------------------------------------------------------------------
    def _renderer(self, name: str) -> StoredPageRenderer:
        return StoredPageRenderer(self.get_template(name), self.context)

    def _write_snapshot_pages(self, store: PageStore, output: Path, entry_sitemap: BinaryIO) -> list[dict[str, Any]]:
        """One streaming pass over entries.jsonl: entry pages, list pages, bulk downloads, sitemap lines.

        Memory stays flat: at most one page of rows per list is held. Returns the downloads' facts.
        """
        snapshot = self.snapshot
        site_url = public_url(self.settings)
        data_dir = output / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        downloads = {code: ListDownload(data_dir / f"{lv.slug}.csv", data_dir / f"{lv.slug}.json",
                                        list_code=code, data_as_of=snapshot.data_as_of.isoformat(),
                                        count=lv.organisation_count, site_url=site_url)
                     for code, lv in snapshot.lists.items()}
        write_sitemap_lines = entry_sitemap.write
        background = BackgroundCalls()  # the blocks' file writes and hashing, in order

        def block_writer(download: ListDownload) -> Any:
            def on_block(lines_digest: bytes, rows: list[dict[str, Any]]) -> None:
                block = store.artefact(b"list-block\0" + lines_digest, lambda: _pack_block(rows, site_url))
                csv_bytes, json_bytes, sitemap_bytes = _unpack_block(block)
                background.call(download.add_block, csv_bytes, json_bytes, len(rows))
                background.call(write_sitemap_lines, sitemap_bytes)
            return on_block

        pagers = {code: ListPager(lv, int(self.settings["PORTAL_LIST_PAGE_SIZE"]), self.measures.get(code, []),
                                  store, on_block=block_writer(downloads[code]))
                  for code, lv in snapshot.lists.items()}
        self.subjects = subjects = SubjectCollector()
        try:
            put = store.put
            for line, entry in snapshot.iter_entry_lines():
                code = entry["list_code"]
                url = f"entries/{entry['id']}/"
                if entry["is_person"]:
                    # Natural persons: the one shell page, the same bytes for everyone (PERSON_SHELL_INPUTS);
                    # its script asks the rate-limited API for the entry.
                    put(f"{url}index.html", PERSON_SHELL_INPUTS, ("person_entry",))
                    continue
                shown = page_inputs(line, entry)
                put(f"{url}index.html", shown, ("entry", line, code, url))  # rendered by the worker
                pagers[code].add(shown, entry)
                subjects.add(entry)
            for pager in pagers.values():
                pager.close()
        finally:
            background.close()  # waits for the queued writes; raises the first write error
        files = []
        for code, pager in pagers.items():
            self.sitemap_urls.extend((url, None) for url in pager.urls)
            list_view = snapshot.lists[code]
            facts = downloads[code].close()
            files.append({"list_view": list_view, "count": list_view.organisation_count,
                          "csv": {"url": f"data/{list_view.slug}.csv", **facts["csv"]},
                          "json": {"url": f"data/{list_view.slug}.json", **facts["json"]}})
        return files

    def _write_subjects(self, store: PageStore) -> None:
        """One page per organisation subject (一户一档), in the sitemap like its entries."""
        for key, inputs, packed in self.subjects.pages():
            url = subject_url(key)
            store.put(f"{url}index.html", inputs, ("subject", key, packed, url))
            # the subject pages are in the sitemap with the snapshot's date (as the other snapshot pages)
            self.sitemap_urls.append((url, self.snapshot.data_as_of))
        if self.subjects.skipped:
            logger.warning("portal: %d organisation entries have an identifier that cannot be a URL: no subject "
                           "page for them", self.subjects.skipped)

    def _write_tombstones(self, store: PageStore) -> None:
        for tombstone in self.snapshot.iter_tombstones():
            path = f"entries/{tombstone['id']}/index.html"
            if store.produced(path):  # re-listed since: the live page wins
                continue
            store.put(path, b"tombstone\0" + orjson.dumps(tombstone, option=orjson.OPT_SORT_KEYS),
                      ("tombstone", tombstone, f"entries/{tombstone['id']}/"))

    def _write_lists_index(self, store: PageStore) -> None:
        summary = [(lv.code, lv.kind, lv.name, lv.period, lv.count) for lv in self.snapshot.lists.values()]
        store.put("lists/index.html", orjson.dumps({"lists": summary, "as_of": str(self.snapshot.data_as_of)}),
                  ("lists", "lists/"))
        self.sitemap_urls.append(("lists/", self.snapshot.data_as_of))

    def _render_job(self, job: RenderJob) -> str:
        """Render one stored page from its job (runs in the render worker, a fork of this build)."""
        kind = job[0]
        pages = self._stored_pages
        if kind == "entry":
            _, line, code, url = job
            return pages["entry"](entry=orjson.loads(line), measures=self.measures.get(code, []), page_url=url)
        if kind == "person_entry":
            return pages["person_entry"](page_url=PERSON_SHELL_URL)
        if kind == "list":
            _, code, rows, pagination, url = job
            return pages["list"](list_view=self.snapshot.lists[code], rows=rows, pagination=pagination,
                                  measures=self.measures.get(code, []), page_url=url)
        if kind == "tombstone":
            _, tombstone, url = job
            return pages["tombstone"](tombstone=tombstone, page_url=url)
        if kind == "lists":
            return pages["lists"](page_url=job[1])
        if kind == "subject":
            _, key, packed, url = job
            return pages["subject"](subject=subject_view(key, unpack(packed)), page_url=url)
        raise ValueError(f"unknown page job {kind!r}")

    # --- statistics and downloads -------------------------------------------------------------------------
    def _write_statistics(self, writer: Any) -> None:
        snap = self.snapshot
        by_list = [(lv.name, lv.count) for lv in snap.lists.values()]
        by_list.sort(key=lambda kv: -kv[1])
        tables = {
            "by_list": ("按名单统计", "名单", by_list),
            "by_authority": ("按认定部门统计", "认定部门", snap.counts_by("authority")),
            "by_region": ("按所属区域统计", "所属区域", snap.counts_by("region")),
            "by_month": ("按认定月份统计（近12个月）", "月份",
                         [(f"{m[:4]}年{int(m[5:])}月", n) for m, n in snap.counts_by_month()]),
        }
        sections = [
            {"id": key, "title": title, "column": column, "rows": rows,
             "chart": charts.bar_chart([charts.Bar(label, value) for label, value in rows],
                                       title=title, chart_id=f"chart-{key}")}
            for key, (title, column, rows) in tables.items()]
        self._page(writer, "statistics/index.html", "statistics", "statistics/", sections=sections,
                   total=snap.total, under_notice=len(snap.under_notice()),
                   timeliness=snap.manifest.get("timeliness"))


_BLOCK_HEADER = struct.Struct("<QQ")


def _pack_block(rows: list[dict[str, Any]], site_url: str) -> bytes:
    """The CSV rows, JSON records and sitemap lines of one list page's organisations, in one byte string."""
    csv_bytes = csv_rows(rows, site_url)
    json_bytes = json_records(rows, site_url)
    sitemap_bytes = "".join(sitemap_url(f"entries/{e['id']}/", e["publish_from"], site_url) + "\n"
                            for e in rows).encode()
    return _BLOCK_HEADER.pack(len(csv_bytes), len(json_bytes)) + csv_bytes + json_bytes + sitemap_bytes


def _unpack_block(block: bytes) -> tuple[bytes, bytes, bytes]:
    csv_size, json_size = _BLOCK_HEADER.unpack_from(block)
    start = _BLOCK_HEADER.size
    return (block[start:start + csv_size], block[start + csv_size:start + csv_size + json_size],
            block[start + csv_size + json_size:])


def public_url(settings: dict[str, Any]) -> str:
    """The absolute origin (and path) of the public site: PORTAL_PUBLIC_URL, else SITEURL when absolute."""
    url = str(settings.get("PORTAL_PUBLIC_URL") or settings.get("SITEURL") or "")
    if not url.startswith(("http://", "https://")):
        raise ValueError("PORTAL_PUBLIC_URL (or SITEURL) must be an absolute http(s) URL: sitemap.xml, robots.txt "
                         f"and the Atom feeds need absolute links, got {url!r}")
    return url.rstrip("/")


def changes_feed_limit(settings: dict[str, Any]) -> int:
    return int(settings.get("PORTAL_CHANGES_FEED_LIMIT") or CHANGES_FEED_LIMIT)


def newest_changes(changes: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The ``limit`` most recent changes, newest first (changes.jsonl is in feed order, oldest first)."""
    return list(reversed(changes[-limit:])) if limit > 0 else []


def _use_render_worker(settings: dict[str, Any]) -> bool:
    """Render stored pages in a forked worker (setting PORTAL_RENDER_WORKER) when there is a core for it."""
    return bool(settings.get("PORTAL_RENDER_WORKER", True)) and (os.cpu_count() or 1) > 1


_PROVENANCE = b',"source":'


def page_inputs(line: bytes, entry: dict[str, Any]) -> bytes:
    """What the pages show of an entry: its snapshot line without the provenance (no page shows it).

    The provenance holds the import time, new on every publish: hashing the whole line made every entry
    page, list page and download block look changed on every nightly run (profile of a 1% nightly publish:
    the site step took as long as a cold build). The ingest writes ``source`` as the last key, so cutting
    the line there is exact (a quote inside a JSON string is escaped, so the key cannot occur in a value);
    any other order is serialised again without it.
    """
    if next(reversed(entry), None) == "source":
        cut = line.rfind(_PROVENANCE)
        if cut > 0:
            return line[:cut]
    return orjson.dumps({key: value for key, value in entry.items() if key != "source"})
