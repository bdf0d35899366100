"""Hostile content: markup and formulas in every text field are data, never code.

A department CSV carries HTML and script in subject names, facts, basis, authority, decision numbers, the
legal representative and the address; a content directory carries a notice whose title and body hold the
same. Both go through the real ``portal publish`` (site settings: pelicanconf.py with the content directory
pointed at the fixture, via ``PORTAL_SITE_SETTINGS``). Then:

- the site in headless Chromium (entry, list, statistics, home pages; the search page rendered by
  ``theme/static/js/search.js`` against the real API under uvicorn): no script runs (``window.__xss`` stays
  undefined, no dialog opens) and the payloads are visible as text;
- the API's JSON: highlights contain no markup but ``<mark>``;
- CSV downloads: cells starting with ``=``, ``+``, ``-``, ``@``, tab or CR are neutralised;
- the Atom feed stays well-formed XML with the payload as text;
- Markdown content: see docs/hardening.md ("Editorial content") for the decision and its status.
"""

from __future__ import annotations

import csv
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sitebuild
from stdnum.cn import uscc as stdnum_uscc

from portal.ingest.identifiers import ric_check_digit
from portal.ingest.pipeline import SourceSpec
from portal.public import snapshot as snap
from portal.release.publish import SITE_SETTINGS_ENV, Layout, publish

REPO = Path(__file__).resolve().parents[1]
KEY = b"test-only-hmac-key-0123456789abcdef"
AS_OF = date(2026, 11, 23)

IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = "<script>window.__xss=1</script>"
ATTRIBUTE_BREAK = '"><svg onload="window.__xss=1">'  # breaks out of content="…" (og:title) when unescaped
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

HEADER = ["主体名称", "主体类别", "统一社会信用代码", "证件类型", "证件号码", "名单名称", "认定日期", "认定部门", "认定文书号",
          "认定事实", "认定依据", "法定代表人", "住所"]


def uscc(n: int) -> str:
    body = f"91511700MA63{n:05d}"
    return body + stdnum_uscc.calc_check_digit(body)


def person_id(n: int) -> str:
    body = f"51170219850307{n:03d}"
    return body + ric_check_digit(body)


@dataclass(frozen=True)
class HostileRow:
    name: str
    facts: str
    basis: str
    authority: str
    decision_no: str
    legal_rep: str
    address: str
    person: bool = False


HOSTILE_ROWS = [
    HostileRow(f"达州{IMG}建材有限公司", f"事实{SCRIPT}经查属实", f"依据{ATTRIBUTE_BREAK}第十条", f"达州市{IMG}市场监督管理局",
               f"达市监{SCRIPT}〔2026〕1号", f"张{IMG}三", f"达州市通川区{SCRIPT}路1号"),
    HostileRow(f"达州{SCRIPT}商贸有限公司", f"<b>加粗</b>{IMG}", SCRIPT, "达州市市场监督管理局", f"达市监〔2026〕2号{IMG}",
               f"李{SCRIPT}四", f"达州市{IMG}"),
    HostileRow(f"达州{ATTRIBUTE_BREAK}物流有限公司", "事实", "依据", "达州市市场监督管理局", "达市监〔2026〕3号", "王五", "达州市"),
    HostileRow(f"王{IMG}伟", f"拒不履行{SCRIPT}", "《民事诉讼法》", f"达州市{SCRIPT}中级人民法院", "（2026）川17执1号", "", "",
               person=True),
]
# Formula injection: a spreadsheet opening the CSV download must not evaluate any of these.
FORMULA_ROWS = [
    HostileRow('=HYPERLINK("http://evil.example/","点击查看")', "+1+1", "-2+3", "@SUM(1+1)", "=cmd|' /C calc'!A0",
               "+张三", "-达州市"),
    HostileRow("+达州建材有限公司", "=1+1", "@A1", "-达州市市场监督管理局", "+达市监〔2026〕5号", "@李四", "=A1"),
    HostileRow("-达州商贸有限公司", "\t=1+1", "\r=1+1", "达州市市场监督管理局", "@达市监〔2026〕6号", "-王五", "+达州市"),
    HostileRow("@达州物流有限公司", "事实", "依据", "=达州市市场监督管理局", "达市监〔2026〕7号", "=赵六", "@达州市"),
]


def department_csv(path: Path) -> Path:
    rows: list[list[str]] = [HEADER]
    for n, row in enumerate(HOSTILE_ROWS + FORMULA_ROWS, start=1):
        if row.person:
            identity = ["", "自然人", "", "居民身份证", person_id(n), "失信被执行人名单"]
        else:
            identity = ["", "法人及非法人组织", uscc(n), "", "", "严重违法失信企业名单"]
        identity[0] = row.name
        rows.append([*identity, "2026-01-05", row.authority, row.decision_no, row.facts, row.basis, row.legal_rep,
                     row.address])
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


NOTICE_TITLE = f"曝光{IMG}典型案例"
HOSTILE_NOTICE = f"""Title: {NOTICE_TITLE}
Date: 2026-11-20 09:00
Slug: eyi-neirong-ceshi
Summary: 摘要{IMG}

正文第一段。

{SCRIPT}

<p>内嵌 HTML{IMG}</p>

[点此链接](javascript:window.__xss=1)

<a id="js-link" href="javascript:window.__xss=1">另一个链接</a>
"""


def site_settings(path: Path, content: Path, api_url: str) -> Path:
    """pelicanconf.py with the content directory and API URL of this test (what an operator's settings do)."""
    path.write_text(f"""import runpy as _runpy

globals().update({{k: v for k, v in _runpy.run_path({str(REPO / "pelicanconf.py")!r}).items() if k.isupper()}})
PATH = {str(content)!r}
PORTAL_FORMS = {str(content / "forms" / "forms.toml")!r}
PORTAL_API_URL = {api_url!r}
PORTAL_PAGEFIND = False
""", encoding="utf-8")
    return path


@dataclass
class Portal:
    layout: Layout
    site: Path
    api_url: str
    api_port: int

    def entries(self) -> list[dict[str, Any]]:
        return list(snap.iter_entries(self.layout.snapshots / "latest"))

    def entry_named(self, name: str) -> dict[str, Any]:
        (entry,) = [e for e in self.entries() if e["subject_name"] == name]
        return entry


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    work = tmp_path_factory.mktemp("hostile-content")
    content = work / "content"
    shutil.copytree(sitebuild.CONTENT_DIR, content)
    (content / "notices" / "eyi-neirong-ceshi.md").write_text(HOSTILE_NOTICE, encoding="utf-8")
    api_port = sitebuild.free_port()
    api_url = f"http://127.0.0.1:{api_port}/api/v1"
    settings = site_settings(work / "settings.py", content, api_url)
    layout = Layout(work / "var")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SITE_SETTINGS_ENV, str(settings))
        record = publish([SourceSpec(str(department_csv(work / "hostile.csv")))], layout, as_of=AS_OF, key=KEY)
    counts = record["counts"]
    assert counts["rejected"] == 0, (layout.snapshots / "latest" / "rejects.csv").read_text(encoding="utf-8-sig")
    assert counts["published"] + counts["under_notice"] == len(HOSTILE_ROWS) + len(FORMULA_ROWS)
    yield Portal(layout, (layout.current / "site").resolve(), api_url, api_port)


# --- API JSON ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(portal: Portal) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from search_api.app import create_app
    from search_api.settings import Settings

    release = portal.layout.live_release()
    assert release is not None
    settings = Settings(index_path=release / "index.db", snapshot_dir=portal.layout.snapshots / "latest",
                        access_log=False)
    with TestClient(create_app(settings, today=lambda: AS_OF)) as client:
        yield client


def markup_outside_mark(text: str) -> str:
    return text.replace("<mark>", "").replace("</mark>", "")


@pytest.mark.parametrize("query", ["建材", "商贸", "物流", "市场监督管理局", "王", "经查属实"])
def test_api_highlights_hold_no_markup_but_mark(api: Any, query: str) -> None:
    response = api.get("/api/v1/search", params={"q": query})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    hits = response.json()["hits"]
    assert hits, query
    highlighted = [value for hit in hits for value in hit["highlights"].values()]
    assert any("<mark>" in value for value in highlighted)
    for value in highlighted:
        stripped = markup_outside_mark(value)
        assert "<" not in stripped and ">" not in stripped, f"raw markup in a highlight: {value!r}"
    if query == "建材":
        assert any("&lt;img src=x onerror=" in value for value in highlighted)


def test_api_returns_hostile_text_as_json_data(api: Any, portal: Portal) -> None:
    entry = portal.entry_named(HOSTILE_ROWS[0].name)
    response = api.get(f"/api/v1/entries/{entry['id']}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["subject_name"] == HOSTILE_ROWS[0].name and body["facts"] == HOSTILE_ROWS[0].facts


# --- bulk downloads and feeds --------------------------------------------------------------------------


def test_csv_downloads_neutralise_formulas(portal: Portal) -> None:
    path = portal.site / "data" / "yzwfsx.csv"
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    cells = [cell for row in rows[1:] for cell in row]
    dangerous = [cell for cell in cells if cell.startswith(FORMULA_PREFIXES)]
    assert dangerous == [], f"formula cells in {path.name}: {dangerous}"
    joined = "\n".join(cells)
    for row in FORMULA_ROWS:  # the values are kept, only made inert
        assert "'" + row.name in joined
    assert f"'{FORMULA_ROWS[0].decision_no}" in joined and "'+1+1" in joined
    assert IMG in joined  # markup stays as text in a CSV: it is data there


def test_atom_feed_is_well_formed_with_markup_as_text(portal: Portal) -> None:
    tree = ET.parse(portal.site / "feeds" / "list-changes.atom.xml")
    titles = [el.text or "" for el in tree.iter("{http://www.w3.org/2005/Atom}title")]
    assert any(HOSTILE_ROWS[0].name in title for title in titles)
    assert not [el for el in tree.iter() if el.tag.split("}")[-1] in ("script", "img", "svg")]


def test_static_pages_escape_every_field(portal: Portal) -> None:
    """Without a browser: the raw payloads never appear in HTML, their escaped forms do."""
    for row in HOSTILE_ROWS:
        entry = portal.entry_named(row.name)
        html = (portal.site / "entries" / entry["id"] / "index.html").read_text(encoding="utf-8")
        for payload in (IMG, SCRIPT, ATTRIBUTE_BREAK):
            assert payload not in html, f"raw {payload!r} on the page of {entry['id']}"
        if row.person:  # the shared shell holds no data at all (tests/test_site_build.py)
            assert 'id="person-entry"' in html and row.name not in html
        else:
            assert "&lt;" in html
    for page in ("index.html", "lists/yzwfsx/index.html", "statistics/index.html", "search/index.html"):
        html = (portal.site / page).read_text(encoding="utf-8")
        assert IMG not in html and SCRIPT not in html and ATTRIBUTE_BREAK not in html, page


# --- the site in Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(portal: Portal) -> Iterator[str]:
    """The release's site on a static server and the search API (uvicorn) on the release's index."""
    release = portal.layout.live_release()
    assert release is not None
    with sitebuild.StaticServer(portal.site) as server, \
            sitebuild.api_server(release / "index.db", server.url, portal.api_port, "/search?q=%E5%BB%BA%E6%9D%90"):
        yield server.url


@dataclass
class Visit:
    page: Any
    dialogs: list[str]

    def executed(self) -> bool:
        return self.page.evaluate("() => window.__xss !== undefined") or bool(self.dialogs)

    def handler_attributes(self) -> int:
        return int(self.page.evaluate("() => document.querySelectorAll('[onerror], [onload]').length"))

    def main_text(self) -> str:
        return str(self.page.locator("main").inner_text())


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    pages: list[Visit] = []

    def open_page(url: str) -> Visit:
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url)
        page.wait_for_load_state("load")
        visit = Visit(page, dialogs)
        pages.append(visit)
        return visit

    yield open_page
    context.close()


@pytest.mark.browser
def test_entry_pages_show_markup_as_text_and_run_no_script(served: str, portal: Portal, visit: Any) -> None:
    for row in HOSTILE_ROWS:
        entry = portal.entry_named(row.name)
        page = visit(f"{served}/entries/{entry['id']}/")
        if row.person:  # the shared shell: the entry arrives from the API
            page.page.locator('#person-entry[data-state="ready"]').wait_for(timeout=15_000)
        assert not page.executed(), f"script ran on the page of {row.name!r}"
        assert page.handler_attributes() == 0
        assert page.page.get_by_role("heading", level=1).inner_text() == row.name
        text = page.main_text()
        for value in (row.facts, row.basis, row.authority, row.decision_no):
            assert value in text, f"{value!r} not shown as text"
        assert page.page.locator("main img, main script, main svg:not(.chart)").count() == 0


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/", "/lists/yzwfsx/", "/statistics/", "/lists/", "/data/"])
def test_list_and_overview_pages_run_no_script(served: str, visit: Any, path: str) -> None:
    page = visit(served + path)
    assert not page.executed() and page.handler_attributes() == 0
    if path == "/lists/yzwfsx/":
        text = page.main_text()
        for row in HOSTILE_ROWS[:3]:
            assert row.name in text


@pytest.mark.browser
def test_search_page_renders_api_results_as_text(served: str, visit: Any) -> None:
    page = visit(f"{served}/search/?q=%E5%BB%BA%E6%9D%90")  # 建材
    results = page.page.locator("#search-results li")
    results.first.wait_for(timeout=15_000)
    assert not page.executed() and page.handler_attributes() == 0
    assert HOSTILE_ROWS[0].name in page.page.locator("#search-results").inner_text()
    assert page.page.locator("#search-results img, #search-results script").count() == 0
    assert page.page.locator("#search-results mark").count() >= 1
    # the person, found by typing the hostile name itself into the search box (the query is markup too)
    page.page.get_by_label("查询内容").fill(HOSTILE_ROWS[3].name)
    page.page.get_by_role("button", name="查询", exact=True).click()
    page.page.locator("#search-results li").filter(has_text=HOSTILE_ROWS[3].name).first.wait_for(timeout=15_000)
    assert not page.executed() and page.handler_attributes() == 0


@pytest.mark.browser
def test_notice_title_and_summary_are_text(served: str, visit: Any) -> None:
    page = visit(f"{served}/notices/2026/eyi-neirong-ceshi/")
    assert page.page.get_by_role("heading", level=1).inner_text() == NOTICE_TITLE
    assert NOTICE_TITLE in page.page.title()
    listing = visit(f"{served}/notices/")
    assert not listing.executed() and listing.handler_attributes() == 0
    assert NOTICE_TITLE in listing.main_text()


@pytest.mark.browser
def test_notice_body_cannot_run_script_or_javascript_links(served: str, visit: Any) -> None:
    page = visit(f"{served}/notices/2026/eyi-neirong-ceshi/")
    assert "正文第一段" in page.main_text()
    ran_on_load = page.executed()
    javascript_links = page.page.locator("main a[href^='javascript:' i]")
    for index in range(javascript_links.count()):
        javascript_links.nth(index).click()
    assert not ran_on_load and not page.executed(), "script from Markdown content ran"
    assert javascript_links.count() == 0 and page.handler_attributes() == 0
