"""Pelican plugin of the credit portal: our generator, date filters, explicit-slug check and Pagefind.

Enable with ``PLUGINS = ["portal.site"]`` (pelicanconf.py does). Public entry points:

- :func:`register` — called by Pelican.
- :func:`portal.site.build.build_site` — build the site in-process from a settings file and overrides.

The plugin only wires Pelican's signals; the work is in modules: ``generator`` (snapshot pages, feeds,
downloads), ``content`` (slug check, HTML clean-up), ``store`` (render-if-changed pages), ``pagefind``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pelican import signals

from portal.site import forked, pagefind
from portal.site.content import ExplicitSlugError, require_explicit_slug, sanitise_content
from portal.site.formatting import JINJA_FILTERS
from portal.site.generator import PortalGenerator
from portal.site.store import MANAGED_DIRS, scan_for_store, scan_key


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


def run_pagefind(pelican: Any) -> None:
    """Wait for the Pagefind run the generator started (or run it now); setting PORTAL_PAGEFIND."""
    pagefind.finish(Path(pelican.output_path), pelican.settings)


def register() -> None:
    signals.initialized.connect(configure)
    signals.get_generators.connect(get_generators)
    signals.content_object_init.connect(require_explicit_slug)
    signals.content_object_init.connect(sanitise_content)
    signals.finalized.connect(run_pagefind)


__all__ = ["ExplicitSlugError", "register", "require_explicit_slug", "sanitise_content"]
