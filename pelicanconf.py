"""Pelican settings for the credit portal (development build).

URLs never depend on a category name or a title: articles use the ASCII ``section`` taken from their
directory (``content/notices``, ``content/cases``, ``content/policies``), their publication year and an
explicit ``Slug``; pages use their explicit ``Slug``. Everything from the public snapshot (lists, entries,
tombstones, statistics, downloads, feeds, sitemap) is written by our plugin ``portal.site``.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent

AUTHOR = "达州市社会信用体系建设领导小组办公室"
SITENAME = "信用达州"
SITE_SUBTITLE = "达州市公共信用信息公示平台"
SITEURL = ""
PATH = "content"
THEME = str(ROOT / "theme")
OUTPUT_PATH = "output"

# Every value from the snapshot is escaped in templates: department data may hold markup (a department's
# "<script>" must show as text). Pelican's own rendered content is marked `| safe` where templates show it;
# that HTML is cleaned by the plugin (portal.site.content.sanitise_content).
JINJA_ENVIRONMENT = {"trim_blocks": True, "lstrip_blocks": True, "extensions": [], "autoescape": True}

DEFAULT_LANG = "zh-CN"
TIMEZONE = "Asia/Shanghai"
DEFAULT_DATE_FORMAT = "%Y年%-m月%-d日"
DATE_FORMATS = {"zh-CN": "%Y年%-m月%-d日"}

# Nothing withdrawn may linger from an earlier build. entries/ and lists/ are kept out of Pelican's
# clean-up: the plugin's page store (index in PORTAL_PAGE_STORE) rewrites only changed pages there and
# deletes every file there that the build did not produce (see docs/site.md, "Rebuild cache"). subjects/
# holds the subject pages (一户一档), managed the same way.
DELETE_OUTPUT_DIRECTORY = True
OUTPUT_RETENTION = ["entries", "lists", "subjects"]

# --- permalinks: ASCII, explicit slug, never the category or the title -------------------------------
ARTICLE_PATHS = ["notices", "cases", "policies"]
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["forms", "images"]
# The forms register is read by the plugin, never published as a file.
IGNORE_FILES = [".#*", "*.toml", "README.md"]
# The directory an article lives in gives its section; content/README.md documents the layout.
PATH_METADATA = r"(?P<section>notices|cases|policies)/.*"
ARTICLE_URL = "{section}/{date:%Y}/{slug}/"
ARTICLE_SAVE_AS = "{section}/{date:%Y}/{slug}/index.html"
ARTICLE_LANG_URL = "{section}/{date:%Y}/{slug}/{lang}/"
ARTICLE_LANG_SAVE_AS = "{section}/{date:%Y}/{slug}/{lang}/index.html"
DRAFT_URL = "drafts/{slug}/"
DRAFT_SAVE_AS = "drafts/{slug}/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
PAGE_LANG_SAVE_AS = "{slug}/{lang}/index.html"
# Slugs must be given in the content (the plugin refuses content without one), never derived from titles.
SLUGIFY_SOURCE = "basename"

# Pelican's own archives, taxonomies and feeds are off: the plugin writes the section indexes and feeds.
DIRECT_TEMPLATES: list[str] = []
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
TAG_SAVE_AS = ""
TAGS_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""
FEED_ALL_ATOM = None
FEED_ALL_RSS = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
DISPLAY_PAGES_ON_MENU = False
DISPLAY_CATEGORIES_ON_MENU = False
RELATIVE_URLS = False

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        "markdown.extensions.toc": {"permalink": False},
    },
    "output_format": "html5",
}

# --- our plugin ----------------------------------------------------------------------------------------
PLUGIN_PATHS: list[str] = []
PLUGINS = ["portal.site"]

PORTAL_SNAPSHOT = os.environ.get("PORTAL_SNAPSHOT", str(ROOT / "var" / "snapshots" / "latest"))
PORTAL_API_URL = os.environ.get("PORTAL_API_URL", "http://127.0.0.1:8001/api/v1")
# The private applications service (portal/applications/): the /apply/ form posts there.
PORTAL_APPLY_URL = os.environ.get("PORTAL_APPLY_URL", "http://127.0.0.1:8002/apply/v1")
from portal.applications.settings import RETENTION_YEARS as PORTAL_APPLY_RETENTION_YEARS  # noqa: E402  (shown on /apply/)
PORTAL_MEASURES = str(ROOT / "portal" / "data" / "measures.toml")
PORTAL_FORMS = str(ROOT / PATH / "forms" / "forms.toml")
PORTAL_PAGE_STORE = os.environ.get("PORTAL_PAGE_STORE", str(ROOT / "var" / "site-store"))
PORTAL_PAGEFIND = True
# Entry, tombstone and list pages are rendered in a forked worker process on the second core (portal/site/store.py
# RenderWorker); PORTAL_RENDER_WORKER=0 renders them in the build process (single-core hosts do so anyway).
PORTAL_RENDER_WORKER = os.environ.get("PORTAL_RENDER_WORKER", "1") != "0"
PORTAL_LIST_PAGE_SIZE = 50
PORTAL_OFFICE = "达州市社会信用体系建设领导小组办公室"
PORTAL_OFFICE_ADDRESS = "四川省达州市通川区"
# The office's contact in every page footer: the search page sends people there when the API is down.
PORTAL_OFFICE_PHONE = os.environ.get("PORTAL_OFFICE_PHONE", "12345")
PORTAL_OFFICE_EMAIL = os.environ.get("PORTAL_OFFICE_EMAIL", "xinyongban@dazhou.example.gov.cn")
PORTAL_OFFICE_HOURS = os.environ.get("PORTAL_OFFICE_HOURS", "工作日9:00—17:00，政务服务便民热线转信用服务")
# Absolute address of the public site, for sitemap.xml, robots.txt, the Atom feeds and the download files
# (machines read them elsewhere, so relative links are useless there). Pages themselves use SITEURL.
PORTAL_PUBLIC_URL = os.environ.get("PORTAL_SITEURL", "http://127.0.0.1:8000")
# Entries in the list-changes Atom feed (the newest ones); the complete history is the API's /changes.
PORTAL_CHANGES_FEED_LIMIT = 200
PORTAL_GUIDE_OBJECTION = "yiyi-chuli/"
PORTAL_GUIDE_REPAIR = "xinyong-xiufu/"
