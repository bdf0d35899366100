"""Pelican plugin of the credit portal: our generator, date filters, explicit-slug check and Pagefind.

Enable with ``PLUGINS = ["portal.site"]`` (pelicanconf.py does). Public entry points:

- :func:`register` — called by Pelican.
- :func:`portal.site.build.build_site` — build the site in-process from a settings file and overrides.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import nh3
from pelican import signals

from portal.site import forked, pagefind
from portal.site.formatting import JINJA_FILTERS
from portal.site.generator import PortalGenerator
from portal.site.store import MANAGED_DIRS, scan_for_store, scan_key

logger = logging.getLogger(__name__)

ASCII_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ExplicitSlugError(ValueError):
    """Content without an explicit ASCII slug: its URL would depend on its title."""


def configure(pelican: Any) -> None:
    """Add our Jinja filters; keep the store-managed directories out of Pelican's output clean-up."""
    pelican.settings.setdefault("JINJA_FILTERS", {}).update(JINJA_FILTERS)
    retention = list(pelican.output_retention or [])
    for directory in MANAGED_DIRS:
        if directory not in retention:
            retention.append(directory)
    pelican.output_retention = retention
    # The page store's directory scan reads only what no build step changes before the store opens, so it
    # runs in a forked process beside Pelican's reading of the content and the counting pass
    # (portal/site/forked.py). (Forking the counting pass too was measured slower on 2 busy cores: three
    # processes competed and its result had to be unpickled.)
    store_dir = pelican.settings.get("PORTAL_PAGE_STORE")
    if store_dir:
        page_root = Path(pelican.settings.get("PORTAL_PAGE_ROOT") or pelican.output_path)
        forked.start(scan_key(Path(store_dir), page_root), scan_for_store, Path(store_dir), page_root)


def get_generators(pelican: Any) -> type[PortalGenerator]:
    return PortalGenerator


def require_explicit_slug(content: Any) -> None:
    """Refuse articles and pages whose slug is not written in the file, or is not lower-case ASCII."""
    if type(content).__name__ not in ("Article", "Page"):
        return
    slug = content.metadata.get("slug")
    source = getattr(content, "source_path", "?")
    problem = None
    if not slug:
        problem = f"{source}: no Slug: metadata; permalinks must not come from titles"
    elif not ASCII_SLUG.match(slug):
        problem = f"{source}: slug {slug!r} is not lower-case ASCII words joined by '-'"
    if problem:
        # Pelican swallows the exception's text unless DEBUG is on, so say it here first.
        logger.error("%s (the file is not published)", problem)
        raise ExplicitSlugError(problem)


# Content is trusted for formatting, never for script (docs/hardening.md, "Editorial content"): the HTML
# that Markdown produces is cleaned with an allow-list before any template sees it.
CONTENT_ATTRIBUTES = {"*": {"id", "class", "title", "lang"}, "a": {"href"}, "img": {"src", "alt", "width", "height"},
                      "td": {"colspan", "rowspan", "align"}, "th": {"colspan", "rowspan", "align", "scope"},
                      "ol": {"start"}, "abbr": {"title"}, "time": {"datetime"}}
CONTENT_URL_SCHEMES = {"http", "https", "mailto", "tel"}  # relative links and {filename} placeholders are kept


def sanitise_content(content: Any) -> None:
    """Drop scripts, event handlers, styles and ``javascript:`` links from a page's rendered Markdown."""
    raw = getattr(content, "_content", None)
    if raw:
        content._content = nh3.clean(raw, attributes=CONTENT_ATTRIBUTES, url_schemes=CONTENT_URL_SCHEMES)


def run_pagefind(pelican: Any) -> None:
    """Wait for the Pagefind run the generator started (or run it now); setting PORTAL_PAGEFIND."""
    pagefind.finish(Path(pelican.output_path), pelican.settings)


def register() -> None:
    signals.initialized.connect(configure)
    signals.get_generators.connect(get_generators)
    signals.content_object_init.connect(require_explicit_slug)
    signals.content_object_init.connect(sanitise_content)
    signals.finalized.connect(run_pagefind)
