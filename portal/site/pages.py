"""Rendering of the stored pages (entries, tombstones, lists) with as little work per page as possible.

A site of 100,000 entries renders 100,000 pages, so what Jinja's ``Template.render`` does around the
template itself counts: it copies the whole Pelican context (a few hundred settings) into a new dict for
every page. :class:`StoredPageRenderer` builds that dict once and only sets the page's own variables.
:class:`ListPager` cuts a list's organisations into pages as they stream by, holding one page of rows.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import orjson
from jinja2 import Template

from portal.site.catalogues import Measure
from portal.site.snapshot_view import ListView
from portal.site.store import PageStore


class StoredPageRenderer:
    """Render one template again and again with the same site context and different page variables.

    The template sees what ``template.render(context, **page_vars)`` would give it. Page variables must
    be passed on every call (a value from the previous page would otherwise remain visible).
    """

    def __init__(self, template: Template, context: dict[str, Any]) -> None:
        self.template = template
        self._variables: dict[str, Any] = {**template.globals, **context}

    def __call__(self, **page_vars: Any) -> str:
        variables = self._variables
        variables.update(page_vars)
        # shared=True: Jinja uses our dict as the context's parent instead of copying it; template-level
        # {% set %} writes go to the context's own vars, never into this dict
        context = self.template.new_context(variables, shared=True)
        try:
            return "".join(self.template.root_render_func(context))
        except Exception:
            return self.template.environment.handle_exception()


def list_page_url(list_view: ListView, number: int) -> str:
    return list_view.url if number == 1 else f"{list_view.url}page/{number}/"


class ListPager:
    """The pages of one list, produced as its organisations stream by in snapshot order.

    The number of pages is known beforehand (the snapshot view counted the organisations), so each page
    is complete, with its pagination, as soon as its last row has been added.
    """

    def __init__(self, list_view: ListView, page_size: int, measures: list[Measure], store: PageStore,
                 render: Callable[..., str] | None = None,
                 on_block: Callable[[bytes, list[dict[str, Any]]], None] | None = None) -> None:
        self.list_view = list_view
        self.page_size = page_size
        self.total_pages = max(1, math.ceil(list_view.organisation_count / page_size))
        self.measures = measures
        self.store = store
        self.render = render  # None: pages go to the store's render worker as ("list", code, rows, …) jobs
        # called with (hash of the page's raw lines, its rows) for every page: bulk downloads and sitemap
        self.on_block = on_block
        self.urls: list[str] = []
        self._page_links = [(n, list_page_url(list_view, n)) for n in range(1, self.total_pages + 1)]
        self._lines: list[bytes] = []
        self._rows: list[dict[str, Any]] = []
        # what every page shows of the list besides its rows
        meta = [list_view.code, list_view.name, list_view.basis, list_view.period, list_view.notice,
                list_view.subjects, list_view.kind, list_view.count, list_view.person_count]
        self._meta = orjson.dumps(meta)

    def add(self, line: bytes, entry: dict[str, Any]) -> None:
        """Add the next organisation (``line`` is its raw snapshot line, which is what the cache hashes)."""
        self._lines.append(line)
        self._rows.append(entry)
        if len(self._rows) == self.page_size:
            self._flush()

    def close(self) -> None:
        """Write the last page (and page 1 of a list without organisations)."""
        if self._rows or len(self.urls) < self.total_pages:
            self._flush()
        if len(self.urls) != self.total_pages:
            raise ValueError(f"list {self.list_view.code}: {len(self.urls)} pages written, "
                             f"{self.total_pages} expected from the snapshot's counts")

    def _flush(self) -> None:
        number = len(self.urls) + 1
        list_view, total = self.list_view, self.total_pages
        url = list_page_url(list_view, number)
        pagination = {"number": number, "total": total,
                      "previous": list_page_url(list_view, number - 1) if number > 1 else None,
                      "next": list_page_url(list_view, number + 1) if number < total else None,
                      "pages": self._page_links}
        rows = self._rows
        lines_digest = hashlib.sha256(b"".join(self._lines)).digest()
        inputs = self._meta + orjson.dumps([number, total]) + lines_digest
        render = self.render
        if render is None:
            self.store.put(f"{url}index.html", inputs, ("list", list_view.code, rows, pagination, url))
        else:
            self.store.put(f"{url}index.html", inputs, lambda: render(
                list_view=list_view, rows=rows, pagination=pagination, measures=self.measures, page_url=url))
        if self.on_block is not None:
            self.on_block(lines_digest, rows)
        self.urls.append(url)
        self._lines, self._rows = [], []
