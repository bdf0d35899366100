"""Atom feeds, sitemap.xml and robots.txt. Natural persons and tombstones never appear in any of them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO
from xml.sax.saxutils import escape as xml_escape

from feedgenerator import Atom1Feed

from portal.public.states import SUSPENDED
from portal.settings import SHANGHAI
from portal.site.formatting import to_date, zh_date

CHANGE_TITLES = {"added": "新增", "updated": "更新", "withdrawn": "停止公示"}


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)
    day = to_date(value)
    assert day is not None
    return datetime.combine(day, time(0, 0), tzinfo=SHANGHAI)


def notices_feed(articles: Iterable[Any], *, site_url: str, site_name: str, office: str) -> bytes:
    feed = Atom1Feed(title=f"{site_name}：曝光台与通知公告", link=f"{site_url}/notices/",
                     description="曝光台、典型案例与通知公告", language="zh-CN", author_name=office,
                     feed_url=f"{site_url}/feeds/notices.atom.xml")
    for article in articles:
        feed.add_item(title=article.title, link=f"{site_url}/{article.url}",
                      description=getattr(article, "summary", "") or "", pubdate=_as_datetime(article.date),
                      updateddate=_as_datetime(getattr(article, "modified", None) or article.date),
                      unique_id=f"{site_url}/{article.url}", author_name=office)
    return feed.writeString("utf-8").encode("utf-8")


def list_changes_feed(changes: Iterable[dict[str, Any]], *, entries_by_id: dict[str, dict[str, Any]],
                      tombstones_by_id: dict[str, dict[str, Any]], site_url: str, site_name: str,
                      office: str, data_as_of: Any) -> bytes:
    """Changes to the lists, organisations only: an entry added/updated, or an id no longer public."""
    feed = Atom1Feed(title=f"{site_name}：名单变动", link=f"{site_url}/data/",
                     description="红名单、黑名单、重点关注名单的新增、更新与停止公示（仅法人及非法人组织）",
                     language="zh-CN", author_name=office, feed_url=f"{site_url}/feeds/list-changes.atom.xml")
    for change in changes:
        record = entries_by_id.get(change["id"]) or tombstones_by_id.get(change["id"])
        if record is None or record["is_person"]:
            continue
        link = f"{site_url}/entries/{change['id']}/"
        when = change.get("at") or data_as_of
        if record.get("reason") == SUSPENDED:
            title = f"{record['list_name']}：一条信息{SUSPENDED}"
            description = f"该信息自{zh_date(record.get('withdrawn_on') or when)}起{SUSPENDED}。"
        elif change["op"] == "withdrawn" or change["id"] not in entries_by_id:
            title = f"{record['list_name']}：一条信息停止公示"
            description = f"该信息已于{zh_date(record.get('withdrawn_on') or when)}停止公示（{record.get('reason', '')}）。"
        else:
            title = f"{record['list_name']}{CHANGE_TITLES.get(change['op'], '变动')}：{record['subject_name']}"
            description = f"{record.get('authority') or ''} {record.get('decision_no') or ''}".strip()
        feed.add_item(title=title, link=link, description=description, pubdate=_as_datetime(when),
                      unique_id=f"{link}#{change['op']}-{when}", author_name=office)
    return feed.writeString("utf-8").encode("utf-8")


def sitemap_url(url: str, modified: Any, site_url: str) -> str:
    """One ``<url>`` element of the sitemap (``url`` site-relative, ``modified`` a date or None)."""
    line = f"<url><loc>{xml_escape(f'{site_url}/{url}')}</loc>"
    day = date.fromisoformat(modified) if type(modified) is str and len(modified) == 10 else to_date(modified)
    if day:
        line += f"<lastmod>{day.isoformat()}</lastmod>"
    return line + "</url>"


SITEMAP_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n')
SITEMAP_TAIL = b"</urlset>\n"


def sitemap(urls: Iterable[tuple[str, Any]], site_url: str) -> bytes:
    """``urls``: (site-relative url, last modification date or None)."""
    lines = [sitemap_url(url, modified, site_url) for url, modified in sorted(set(urls), key=lambda u: u[0])]
    return SITEMAP_HEAD + "".join(line + "\n" for line in lines).encode() + SITEMAP_TAIL


# sitemaps.org: at most 50,000 URLs in one sitemap file; a larger site gets a sitemap index.
SITEMAP_MAX_URLS = 50_000
SITEMAP_INDEX_HEAD = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
                      b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n')


def write_sitemap(path: Path, urls: Iterable[tuple[str, Any]], site_url: str, more: BinaryIO | None = None, *,
                  max_urls: int = SITEMAP_MAX_URLS) -> None:
    """Write the sitemap of ``urls`` (sorted) followed by ``more``: ``<url>`` lines already written, one a
    line (the entry pages, streamed to a temporary file in snapshot order rather than held in memory).

    Up to ``max_urls`` URLs make one ``path``; more are cut into ``<stem>-1.xml``, ``<stem>-2.xml``, … and
    ``path`` becomes the sitemap index naming them (robots.txt points at ``path`` either way).
    """
    head = [(sitemap_url(url, modified, site_url) + "\n").encode()
            for url, modified in sorted(set(urls), key=lambda u: u[0])]

    def lines() -> Iterator[bytes]:
        yield from head
        if more is not None:
            more.seek(0)
            yield from more

    parts: list[Path] = []
    out: BinaryIO | None = None
    written = 0
    try:
        for line in lines():
            if out is None or written == max_urls:
                if out is not None:
                    out.write(SITEMAP_TAIL)
                    out.close()
                parts.append(path.with_name(f"{path.stem}-{len(parts) + 1}.xml"))
                out = open(parts[-1], "wb")  # noqa: SIM115 - closed when the part is full or below
                out.write(SITEMAP_HEAD)
                written = 0
            out.write(line)
            written += 1
    finally:
        if out is not None:
            out.write(SITEMAP_TAIL)
            out.close()
    if len(parts) <= 1:
        if parts:
            parts[0].replace(path)
        else:
            path.write_bytes(SITEMAP_HEAD + SITEMAP_TAIL)
        return
    entries = "".join(f"<sitemap><loc>{xml_escape(f'{site_url}/{part.name}')}</loc></sitemap>\n" for part in parts)
    path.write_bytes(SITEMAP_INDEX_HEAD + entries.encode() + b"</sitemapindex>\n")


def robots_txt(site_url: str) -> bytes:
    # Person and tombstone pages are not blocked here on purpose: a crawler must fetch them to see their
    # noindex; they are simply never linked from the sitemap or feeds.
    return (f"User-agent: *\nAllow: /\nDisallow: /pagefind/\n\nSitemap: {site_url}/sitemap.xml\n").encode()
