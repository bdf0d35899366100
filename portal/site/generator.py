"""The Pelican generator that renders everything that comes from the public snapshot.

Small, few pages (home, search, section indexes, statistics, downloads) go through Pelican's writer. Entry,
tombstone and list pages can number in the hundreds of thousands, so they are rendered with one compiled
Jinja2 template each and written by :class:`portal.site.store.PageStore`, which skips pages whose inputs
did not change and hard-links the store into the freshly emptied output directory.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from pelican.generators import Generator

from portal.site import charts
from portal.site.catalogues import Measure, forms_by_page, load_forms, load_measures
from portal.site.downloads import downloadable, to_csv, to_json
from portal.site.feeds import list_changes_feed, notices_feed, robots_txt, sitemap
from portal.site.formatting import KIND_DESCRIPTIONS, KIND_ORDER
from portal.site.snapshot_view import ListView, SnapshotView, load_snapshot
from portal.site.store import PageStore

logger = logging.getLogger(__name__)

# Bump when code (not templates) changes what a stored page looks like; templates are hashed themselves.
RENDER_VERSION = "1"
# Settings that appear on stored pages; a change to any of them re-renders every stored page.
FINGERPRINT_SETTINGS = ("SITEURL", "SITENAME", "SITE_SUBTITLE", "PORTAL_API_URL", "PORTAL_OFFICE",
                        "PORTAL_OFFICE_ADDRESS", "PORTAL_GUIDE_OBJECTION", "PORTAL_GUIDE_REPAIR",
                        "PORTAL_LIST_PAGE_SIZE", "DEFAULT_LANG")
SECTION_LABELS = {"notices": "曝光台与典型案例", "cases": "典型案例", "policies": "政策法规"}
# A content page with this slug is shown as the introduction of the downloads page at the same URL.
DATA_PAGE_SLUG = "data"
FEED_SECTIONS = ("notices", "cases")


def _sections(articles: list[Any], *names: str) -> list[Any]:
    return [a for a in articles if getattr(a, "section", None) in names]


def page_numbers(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def list_page_url(list_view: ListView, number: int) -> str:
    return list_view.url if number == 1 else f"{list_view.url}page/{number}/"


class PortalGenerator(Generator):
    """Lists, entries, tombstones, statistics, downloads, feeds and sitemap from the snapshot."""

    snapshot: SnapshotView
    measures: dict[str, list[Measure]]

    def generate_context(self) -> None:
        self.snapshot = load_snapshot(Path(self.settings["PORTAL_SNAPSHOT"]))
        self.measures = load_measures(Path(self.settings["PORTAL_MEASURES"]))
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
        store = PageStore(Path(self.settings["PORTAL_PAGE_STORE"]), output, self._fingerprint())
        self._write_entries(store)
        self._write_lists(store)
        stats = store.finish()
        logger.info("portal: snapshot pages: %d rendered, %d unchanged, %d deleted", stats.rendered,
                    stats.reused, stats.deleted)

        data_as_of = self.snapshot.data_as_of
        feed_articles = _sections(articles, *FEED_SECTIONS)
        self._page(writer, "index.html", "index", "", latest_articles=feed_articles[:6])
        self._page(writer, "search/index.html", "search", "search/",
                   regions=sorted({e["region"] for e in self.snapshot.entries if e.get("region")}))
        self._page(writer, "notice-period/index.html", "notice_period", "notice-period/",
                   entries=[e for e in self.snapshot.under_notice() if not e["is_person"]],
                   person_count=sum(1 for e in self.snapshot.under_notice() if e["is_person"]))
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
                   issuers=sorted({getattr(p, "issuer", "") for p in policies} - {""}))
        self._page(writer, "site-search/index.html", "site_search", "site-search/")
        self._page(writer, "measures/index.html", "measures", "measures/")
        self._page(writer, "forms/index.html", "forms", "forms/")
        self._write_statistics(writer)
        self._write_downloads(writer, output)
        self._page(writer, "404.html", "404", None)

        site_url = self.settings["SITEURL"]
        office = self.settings["PORTAL_OFFICE"]
        (output / "feeds").mkdir(parents=True, exist_ok=True)
        (output / "feeds" / "notices.atom.xml").write_bytes(notices_feed(
            feed_articles, site_url=site_url, site_name=self.settings["SITENAME"], office=office))
        (output / "feeds" / "list-changes.atom.xml").write_bytes(list_changes_feed(
            self.snapshot.changes, entries_by_id={e["id"]: e for e in self.snapshot.entries},
            tombstones_by_id={t["id"]: t for t in self.snapshot.tombstones}, site_url=site_url,
            site_name=self.settings["SITENAME"], office=office, data_as_of=data_as_of))
        for content in [*articles, *self.context.get("pages", [])]:
            if getattr(content, "robots", "") != "noindex":
                self.sitemap_urls.append((content.url, getattr(content, "modified", None) or content.date
                                          if hasattr(content, "date") else None))
        (output / "sitemap.xml").write_bytes(sitemap(self.sitemap_urls, site_url))
        (output / "robots.txt").write_bytes(robots_txt(site_url))

    def _page(self, writer: Any, save_as: str, template: str, url: str | None, **kwargs: Any) -> None:
        """A small page through Pelican's writer; ``url`` None keeps it out of the sitemap."""
        writer.write_file(save_as, self.get_template(template), self.context, page_url=url or "", **kwargs)
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
    def _render_context(self, **kwargs: Any) -> dict[str, Any]:
        context = dict(self.context)
        context.update(kwargs)
        return context

    def _write_entries(self, store: PageStore) -> None:
        entry_template = self.get_template("entry")
        tombstone_template = self.get_template("tombstone")
        lists = self.snapshot.lists
        for entry in self.snapshot.entries:
            list_view = lists[entry["list_code"]]
            measures = self.measures.get(entry["list_code"], [])
            path = f"entries/{entry['id']}/index.html"
            store.put(path, orjson.dumps(entry, option=orjson.OPT_SORT_KEYS),
                      lambda e=entry, lv=list_view, m=measures: entry_template.render(self._render_context(
                          entry=e, list_view=lv, measures=m, page_url=f"entries/{e['id']}/")))
            if not entry["is_person"]:
                self.sitemap_urls.append((f"entries/{entry['id']}/", entry["publish_from"]))
        live = {e["id"] for e in self.snapshot.entries}
        for tombstone in self.snapshot.tombstones:
            if tombstone["id"] in live:  # re-listed since: the live page wins
                continue
            store.put(f"entries/{tombstone['id']}/index.html",
                      b"tombstone\0" + orjson.dumps(tombstone, option=orjson.OPT_SORT_KEYS),
                      lambda t=tombstone: tombstone_template.render(self._render_context(
                          tombstone=t, page_url=f"entries/{t['id']}/")))

    def _list_pages(self, list_view: ListView) -> Iterator[tuple[int, int, list[dict[str, Any]]]]:
        size = int(self.settings["PORTAL_LIST_PAGE_SIZE"])
        shown = list_view.organisations
        total_pages = page_numbers(len(shown), size)
        for number in range(1, total_pages + 1):
            yield number, total_pages, shown[(number - 1) * size: number * size]

    def _write_lists(self, store: PageStore) -> None:
        index_template = self.get_template("lists")
        summary = [(lv.code, lv.kind, lv.name, lv.period, len(lv.entries)) for lv in self.snapshot.lists.values()]
        store.put("lists/index.html", orjson.dumps({"lists": summary, "as_of": str(self.snapshot.data_as_of)}),
                  lambda: index_template.render(self._render_context(page_url="lists/")))
        self.sitemap_urls.append(("lists/", self.snapshot.data_as_of))
        template = self.get_template("list")
        for list_view in self.snapshot.lists.values():
            measures = self.measures.get(list_view.code, [])
            for number, total_pages, rows in self._list_pages(list_view):
                url = list_page_url(list_view, number)
                pagination = {"number": number, "total": total_pages,
                              "previous": list_page_url(list_view, number - 1) if number > 1 else None,
                              "next": list_page_url(list_view, number + 1) if number < total_pages else None,
                              "pages": [(n, list_page_url(list_view, n)) for n in range(1, total_pages + 1)]}
                inputs = orjson.dumps({"rows": rows, "pagination": pagination, "count": len(list_view.entries),
                                       "persons": list_view.person_count, "list": list_view.code,
                                       "meta": [list_view.name, list_view.basis, list_view.period,
                                                list_view.notice, list_view.subjects]},
                                      option=orjson.OPT_SORT_KEYS)
                store.put(f"{url}index.html", inputs, lambda lv=list_view, r=rows, p=pagination, u=url, m=measures:
                          template.render(self._render_context(list_view=lv, rows=r, pagination=p,
                                                               measures=m, page_url=u)))
                self.sitemap_urls.append((url, None))

    # --- statistics and downloads -------------------------------------------------------------------------
    def _write_statistics(self, writer: Any) -> None:
        snap = self.snapshot
        by_list = [(lv.name, len(lv.entries)) for lv in snap.lists.values()]
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
                   total=len(snap.entries), under_notice=len(snap.under_notice()))

    def _write_downloads(self, writer: Any, output: Path) -> None:
        site_url = self.settings["SITEURL"]
        data_dir = output / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for list_view in self.snapshot.lists.values():
            records = downloadable(list_view.entries)
            csv_bytes = to_csv(records, site_url)
            json_bytes = to_json(records, list_code=list_view.code,
                                 data_as_of=self.snapshot.data_as_of.isoformat(), site_url=site_url)
            (data_dir / f"{list_view.slug}.csv").write_bytes(csv_bytes)
            (data_dir / f"{list_view.slug}.json").write_bytes(json_bytes)
            files.append({"list_view": list_view, "count": len(records),
                          "csv": {"url": f"data/{list_view.slug}.csv", "size": len(csv_bytes),
                                  "sha256": hashlib.sha256(csv_bytes).hexdigest()},
                          "json": {"url": f"data/{list_view.slug}.json", "size": len(json_bytes),
                                   "sha256": hashlib.sha256(json_bytes).hexdigest()}})
        self._page(writer, "data/index.html", "data", "data/", files=files, intro_page=self.data_page)
