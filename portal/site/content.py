"""Checks and clean-up applied to every article and page as Pelican reads it (signal content_object_init).

Explicit ASCII slugs, so that permalinks never depend on titles; and an allow-list clean-up of the HTML
that Markdown produces, because content is trusted for formatting, never for script.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import nh3

logger = logging.getLogger("portal.site")

ASCII_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class ExplicitSlugError(ValueError):
    """Content without an explicit ASCII slug: its URL would depend on its title."""



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
