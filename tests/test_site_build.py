"""The static portal: an in-process Pelican build of the fixture site and what it must (not) publish.

Golden permalinks: the sorted URL list of the fixture site is compared with
tests/fixtures/site/golden_urls.txt. After an intended URL change, regenerate it with
``PORTAL_UPDATE_GOLDEN=1 pytest tests/test_site_build.py -k golden`` and review the diff.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest
import sitebuild

from portal.site.demo import demo_entries, demo_tombstones
from portal.site.downloads import defuse_cell
from portal.site.formatting import time_tag, zh_date

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> sitebuild.BuiltSite:
    return sitebuild.build_fixture_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def entries() -> list[dict]:
    return demo_entries()


def persons(entries: list[dict]) -> list[dict]:
    return [e for e in entries if e["is_person"]]


def test_golden_permalinks(site: sitebuild.BuiltSite) -> None:
    urls = "\n".join(sitebuild.site_urls(site.output)) + "\n"
    if os.environ.get("PORTAL_UPDATE_GOLDEN"):
        sitebuild.GOLDEN_URLS.write_text(urls, encoding="utf-8")
    assert urls == sitebuild.GOLDEN_URLS.read_text(encoding="utf-8")


def test_permalinks_are_ascii_and_never_use_titles_or_categories(site: sitebuild.BuiltSite) -> None:
    for url in sitebuild.site_urls(site.output):
        assert url.isascii(), url
    assert (site.output / "policies/2024/ceshi-xinyong-xiufu-banfa/index.html").exists()
    assert (site.output / "notices/2026/ceshi-qiye-tuoqian-gongzi/index.html").exists()
    assert (site.output / "yiyi-chuli/index.html").exists()


def test_every_entry_and_tombstone_has_its_page(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    for entry in entries:
        html = site.read(f"/entries/{entry['id']}/")
        if entry["is_person"]:  # the shell, filled from the API (test_person_pages_are_one_shell_without_data)
            assert 'id="person-entry"' in html
        else:
            assert entry["subject_name"] in html
    for tombstone in demo_tombstones():
        html = site.read(f"/entries/{tombstone['id']}/")
        assert "该信息已不再公示" in html
        assert '<meta name="robots" content="noindex' in html
        assert tombstone["reason"] in html


def test_entry_page_shows_masked_data_rights_and_measures(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    org = next(e for e in entries if e["list_code"] == "YZWFSX" and e["status"] == "已公布")
    html = site.read(f"/entries/{org['id']}/")
    assert "知情权" in html and "异议权" in html
    assert 'href="/yiyi-chuli/"' in html and 'href="/xinyong-xiufu/"' in html
    assert "依法限制参与政府采购活动" in html and "强制性" in html and "推荐性" in html
    day = org["decision_date"]
    assert f'<time datetime="{day}">{zh_date(day)}</time>' in html
    assert '<meta property="og:title"' in html
    assert "noindex" not in html


def test_person_pages_are_one_shell_without_data(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    """Issue 12: a person's static page holds no personal data and is the same bytes for every person, so
    fetching every person's page yields nothing; the shell's script asks the API (person rate limit)."""
    people = persons(entries)
    assert len(people) >= 3
    pages = {(site.output / "entries" / person["id"] / "index.html").read_bytes() for person in people}
    assert len(pages) == 1
    shell = pages.pop().decode("utf-8")
    for person in people:
        for value in (person["subject_name"], person["id_number"], person["id"], person["facts"], person["authority"],
                      person["decision_no"]):
            if value:
                assert value not in shell, f"{value!r} of a person is in the shared shell page"
    assert '<meta name="robots" content="noindex' in shell and "og:title" not in shell
    assert '<script src="/theme/js/person-entry.js"></script>' in shell
    assert '<meta name="portal-api" content="' in shell
    assert "知情权" in shell and "异议权" in shell  # the rights notice is static, no data needed


def test_persons_never_in_sitemap_feeds_lists_or_downloads(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    public_files = [p for p in site.output.rglob("*") if p.is_file() and not p.is_relative_to(site.output / "entries")
                    and not p.is_relative_to(site.output / "pagefind") and not p.is_relative_to(site.output / "search")]
    texts = {p: p.read_bytes().decode("utf-8", errors="ignore") for p in public_files}
    for person in persons(entries):
        for path, text in texts.items():
            assert person["id"] not in text, f"person {person['id']} appears in {path}"
    sitemap = (site.output / "sitemap.xml").read_text()
    tombstone_ids = {t["id"] for t in demo_tombstones()}
    for tid in tombstone_ids:
        assert tid not in sitemap
    orgs = [e for e in entries if not e["is_person"]]
    assert all(f"/entries/{e['id']}/" in sitemap for e in orgs)


def test_list_pages_paginate_organisations_and_point_persons_to_search(site: sitebuild.BuiltSite,
                                                                          entries: list[dict]) -> None:
    yzwfsx = [e for e in entries if e["list_code"] == "YZWFSX"]
    assert len(yzwfsx) > sitebuild.LIST_PAGE_SIZE
    first, second = site.read("/lists/yzwfsx/"), site.read("/lists/yzwfsx/page/2/")
    assert yzwfsx[0]["subject_name"] in first and yzwfsx[-1]["subject_name"] in second
    assert 'href="/lists/yzwfsx/page/2/"' in first and 'rel="prev"' in second
    assert "《严重违法失信名单管理办法》" in first and "3年" in first and "20个工作日" in first
    sxbzxr = site.read("/lists/sxbzxr/")
    assert "自然人信息不在列表中展示" in sxbzxr
    assert "noindex" not in sxbzxr  # persons are not on list pages, so list pages stay indexable


def test_notice_period_page_lists_deadline_and_how_to_object(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    html = site.read("/notice-period/")
    pending = [e for e in entries if e["status"] == "公示中" and not e["is_person"]]
    assert pending
    for entry in pending:
        assert entry["subject_name"] in html
        assert f'<time datetime="{entry["notice_until"]}">' in html
    assert "如何提出异议" in html and "/forms/" in html


def test_policy_pages_carry_metadata_and_only_editorial_pages_are_indexed(site: sitebuild.BuiltSite) -> None:
    html = site.read("/policies/2024/ceshi-xinyong-xiufu-banfa/")
    for label in ("文号", "发文机关", "成文日期", "发布日期", "层级", "效力"):
        assert f"<dt>{label}</dt>" in html
    assert "达市信用办〔2024〕3号" in html and '<time datetime="2024-02-26">2024年2月26日</time>' in html
    assert "data-pagefind-body" in html
    old = site.read("/policies/2019/ceshi-hongheimingdan-banfa-2019/")
    assert "已废止" in old and 'href="/policies/2024/ceshi-xinyong-xiufu-banfa/"' in old
    index = site.read("/policies/")
    assert 'data-year="2019"' in index and 'data-level="市"' in index and "<select" in index
    entry_pages = list((site.output / "entries").rglob("index.html"))
    assert entry_pages and not any("data-pagefind-body" in p.read_text() for p in entry_pages)
    entry = json.loads((site.output / "pagefind" / "pagefind-entry.json").read_text())
    assert sum(lang["page_count"] for lang in entry["languages"].values()) == 4  # 2 policies + 2 notices


def test_forms_page_shows_real_size_date_and_sha256(site: sitebuild.BuiltSite) -> None:
    html = site.read("/forms/")
    import hashlib
    for name in ("yiyi-shenqingbiao.docx", "xinyong-xiufu-shenqingshu.pdf"):
        data = (sitebuild.CONTENT_DIR / "forms" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() in html
        assert (site.output / "forms" / name).read_bytes() == data
    assert '<time datetime="2024-06-07">2024年6月7日</time>' in html
    assert not (site.output / "forms" / "forms.toml").exists()
    guide = site.read("/yiyi-chuli/")
    assert 'href="/forms/yiyi-shenqingbiao.docx"' in guide


def test_statistics_are_inline_svg_with_text_values(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    html = site.read("/statistics/")
    assert html.count('<svg class="chart"') == 4 and "<script" not in html.split("<footer")[0].split("<main")[1]
    assert 'role="img"' in html
    biggest = max({e["authority"] for e in entries}, key=lambda a: sum(1 for e in entries if e["authority"] == a))
    count = sum(1 for e in entries if e["authority"] == biggest)
    assert re.search(rf"<td>{re.escape(biggest)}</td><td class=\"num\">{count}</td>", html)


def test_downloads_are_masked_organisations_only_and_formula_safe(site: sitebuild.BuiltSite,
                                                                  entries: list[dict]) -> None:
    raw = (site.output / "data" / "zdsswf.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    expected = [e for e in entries if e["list_code"] == "ZDSSWF" and not e["is_person"]]
    assert rows[0][0] == "编号" and len(rows) == 1 + len(expected)
    formula_entry = next(e for e in entries if (e["facts"] or "").startswith("="))
    assert not formula_entry["is_person"]
    code = formula_entry["list_code"].lower()
    formula_rows = list(csv.reader(io.StringIO((site.output / "data" / f"{code}.csv").read_text("utf-8-sig"))))
    cells = [c for row in formula_rows for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert "'" + formula_entry["facts"] in cells
    document = orjson.loads((site.output / "data" / "zdsswf.json").read_bytes())
    assert document["count"] == len(expected)
    assert all(set(e) & {"id_digest", "uscc_digest", "source"} == set() for e in document["entries"])


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+86", "'+86"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("达州", "达州"), ("", ""), ("a=b", "a=b"),
])
def test_defuse_cell(value: str, expected: str) -> None:
    assert defuse_cell(value) == expected


def test_feeds_sitemap_and_robots_are_well_formed(site: sitebuild.BuiltSite, entries: list[dict]) -> None:
    notices = ElementTree.parse(site.output / "feeds" / "notices.atom.xml").getroot()
    titles = [t.text for t in notices.iter(f"{ATOM}title")]
    assert any(t and "测试建筑劳务有限公司" in t for t in titles)
    changes = ElementTree.parse(site.output / "feeds" / "list-changes.atom.xml").getroot()
    items = list(changes.iter(f"{ATOM}entry"))
    assert items and all("/entries/" in next(i.iter(f"{ATOM}link")).get("href") for i in items)
    ElementTree.parse(site.output / "sitemap.xml")
    robots = (site.output / "robots.txt").read_text()
    assert "Sitemap:" in robots and "Disallow: /entries" not in robots


def test_chinese_dates() -> None:
    assert zh_date("2024-03-05") == "2024年3月5日"
    assert str(time_tag("2024-03-05")) == '<time datetime="2024-03-05">2024年3月5日</time>'
    assert zh_date(None) == ""


def test_rebuild_renders_only_changed_pages_and_drops_withdrawn(tmp_path: Path) -> None:
    first = sitebuild.build_fixture_site(tmp_path, PORTAL_PAGEFIND=False)
    total = first.store_stats.rendered
    assert total > len(demo_entries())
    entries = demo_entries()
    unchanged = entries[5]
    page = first.output / "entries" / unchanged["id"] / "index.html"
    before = page.stat()

    again = sitebuild.build_fixture_site(tmp_path, PORTAL_PAGEFIND=False)
    assert again.store_stats.rendered == 0 and again.store_stats.reused == total
    after = page.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten
    assert (again.output / "index.html").exists()  # everything else was rebuilt from scratch

    changed = entries[2]
    changed["facts"] = "经复核，更正后的认定事实。"
    removed = entries.pop(7)
    third = sitebuild.build_fixture_site(tmp_path, entries=entries, PORTAL_PAGEFIND=False)
    stats = third.store_stats
    # the changed entry page, and the list pages that show the changed or the removed entry (the pages
    # after the removed one on its list shift); nothing else is rendered
    assert 2 <= stats.rendered <= 7, stats  # + lists/index.html, whose count changed
    # the removed entry's page, and its subject's page (一户一档): that organisation had no other entry
    assert not removed["is_person"] and sum(e["uscc"] == removed["uscc"] for e in entries) == 0
    assert stats.deleted == 2
    assert not (third.output / "subjects" / removed["uscc"]).exists()
    assert "更正后的认定事实" in third.read(f"/entries/{changed['id']}/")
    assert not (third.output / "entries" / removed["id"]).exists()
    assert removed["subject_name"] not in (third.output / "lists" / removed["list_code"].lower() / "index.html").read_text()


def test_a_lost_rebuild_index_cannot_leave_withdrawn_pages(tmp_path: Path) -> None:
    site = sitebuild.build_fixture_site(tmp_path, PORTAL_PAGEFIND=False)
    stray = site.output / "entries" / "ffffffffffffffff" / "index.html"  # e.g. from a build whose index was lost
    stray.parent.mkdir()
    stray.write_text("old personal data", encoding="utf-8")
    (site.output / "lists" / "gone" / "page" / "9").mkdir(parents=True)
    (site.store / "pages.sqlite3").unlink()
    rebuilt = sitebuild.build_fixture_site(tmp_path, write_snapshot=False, PORTAL_PAGEFIND=False)
    assert not stray.parent.exists() and not (rebuilt.output / "lists" / "gone").exists()
    assert rebuilt.store_stats.deleted == 1
    assert rebuilt.store_stats.reused == 0  # without its index the store trusts no existing file


def test_content_without_explicit_slug_is_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    content = tmp_path / "content"
    shutil.copytree(sitebuild.CONTENT_DIR, content)
    (content / "notices" / "no-slug.md").write_text(
        "Title: 没有别名的公告\nDate: 2026-01-02\nCategory: notices\n\n正文。\n", encoding="utf-8")
    with caplog.at_level(logging.ERROR):
        site = sitebuild.build_fixture_site(tmp_path, PATH=str(content), PORTAL_PAGEFIND=False)
    assert any("no Slug" in r.getMessage() for r in caplog.records)
    assert not any("没有别名的公告" in p.read_text() for p in (site.output / "notices").rglob("index.html")
                   if "2026" in p.as_posix() and "ceshi" not in p.as_posix())


def test_sitemap_over_the_url_limit_becomes_an_index(tmp_path: Path) -> None:
    """sitemaps.org allows 50,000 URLs per file: beyond the limit, sitemap.xml indexes numbered parts."""
    from portal.site.feeds import sitemap_url, write_sitemap

    site = "https://credit.example.gov.cn"
    streamed = io.BytesIO(b"".join((sitemap_url(f"entries/{n:04d}/", "2026-01-02", site) + "\n").encode()
                                   for n in range(7)))
    write_sitemap(tmp_path / "sitemap.xml", [("index.html", None), ("lists/a/", None)], site, streamed, max_urls=4)
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    index = ElementTree.parse(tmp_path / "sitemap.xml").getroot()
    assert index.tag == f"{namespace}sitemapindex"
    parts = [loc.text for loc in index.iter(f"{namespace}loc")]
    assert parts == [f"{site}/sitemap-{n}.xml" for n in (1, 2, 3)]
    locs = [loc.text for n in (1, 2, 3)
            for loc in ElementTree.parse(tmp_path / f"sitemap-{n}.xml").getroot().iter(f"{namespace}loc")]
    assert len(locs) == 9 and locs[0] == f"{site}/index.html" and locs[-1] == f"{site}/entries/0006/"
    write_sitemap(tmp_path / "small.xml", [("index.html", None)], site, io.BytesIO(b""), max_urls=4)
    assert ElementTree.parse(tmp_path / "small.xml").getroot().tag == f"{namespace}urlset"
    assert not (tmp_path / "small-1.xml").exists()
