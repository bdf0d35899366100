"""End to end in Chromium: the search page on the real search API (uvicorn search_api.app:app).

A visitor on a phone types a 2-character person name, sees the masked result, and follows it to the entry
page. A phone-sized screenshot is left as a CI artefact in var/artifacts/search-phone.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sitebuild

from portal.site.demo import demo_entries

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "artifacts"


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from search_api.indexer import build_index

    work = tmp_path_factory.mktemp("portal")
    api_port = sitebuild.free_port()
    api = f"http://127.0.0.1:{api_port}/api/v1"
    site = sitebuild.build_fixture_site(work, PORTAL_API_URL=api, PORTAL_PAGEFIND=False)
    index = work / "index.sqlite3"
    build_index(site.snapshot, index)
    with sitebuild.StaticServer(site.output) as server, \
            sitebuild.api_server(index, server.url, api_port, "/search?q=%E6%B5%8B%E8%AF%95"):
        yield {"site": server.url, "api": api}


def test_phone_search_for_a_two_character_name_leads_to_the_masked_entry(portal: dict[str, str],
                                                                           browser: Any) -> None:
    entries = demo_entries()
    person_names = [e["subject_name"] for e in entries if e["is_person"]]
    person = next(e for e in entries if e["is_person"] and e["list_code"] == "SXBZXR"
                  and len(e["subject_name"]) == 2 and person_names.count(e["subject_name"]) == 1)
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(portal["site"] + "/search/")
    page.get_by_label("查询内容").fill(person["subject_name"])
    page.get_by_role("button", name="查询", exact=True).click()
    result = page.locator("#search-results li.result").filter(has_text=person["id_number"])
    result.first.wait_for(timeout=10_000)
    assert page.locator("#search-results mark").filter(has_text=person["subject_name"]).count() >= 1
    text = result.first.inner_text()
    assert person["id_number"] in text and "**********" in person["id_number"]
    assert "?q=" in page.url  # the query is in the address, so back/forward and sharing work
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-phone.png"), full_page=True)
    result.first.get_by_role("link", name=person["subject_name"]).click()
    page.wait_for_url(f"**/entries/{person['id']}/")
    # A person's page is the shared shell; its script fetches the entry from the API (person rate limit).
    page.locator('#person-entry[data-state="ready"]').wait_for(timeout=10_000)
    assert page.get_by_role("heading", level=1).inner_text() == person["subject_name"]
    assert page.locator('meta[name="robots"]').get_attribute("content").startswith("noindex")
    main = page.locator("main").inner_text()
    assert person["id_number"] in main and person["list_name"] in main and "知情权" in main
    assert person["subject_name"] in page.title()
    context.close()


def answer_with(status: int, body: dict[str, Any], headers: dict[str, str]) -> Any:
    def handler(route: Any) -> None:
        route.fulfill(status=status, json=body, headers={"Access-Control-Allow-Origin": "*",
                                                         "Access-Control-Expose-Headers": "Retry-After", **headers})
    return handler


def test_person_shell_explains_rate_limits_and_withdrawn_entries(portal: dict[str, str], browser: Any) -> None:
    """The shell's other answers: 429 (wait and reload), 410 (tombstone without personal data), 404; and
    data from the API is inserted as text."""
    person = next(e for e in demo_entries() if e["is_person"])
    answers = {
        "limited": (429, {"error": {"code": "rate_limited", "message": "请求过于频繁"}}, {"Retry-After": "42"}),
        "gone": (410, {"error": {"code": "withdrawn", "message": "该信息已停止公示"},
                       "tombstone": {"id": person["id"], "list_name": "失信被执行人名单", "withdrawn_on": "2026-10-01",
                                     "reason": "信用修复", "is_person": True}}, {}),
        "missing": (404, {"error": {"code": "not_found", "message": "未找到该信息"}}, {}),
        "ready": (200, {**person, "subject_name": "<img src=x onerror=alert(1)>张三", "facts": "<b>事实</b>"}, {}),
    }
    for state, (status, body, headers) in answers.items():
        page = browser.new_page()
        page.route(f"{portal['api']}/entries/*", answer_with(status, body, headers))
        page.goto(f"{portal['site']}/entries/{person['id']}/")
        page.locator(f'#person-entry[data-state="{state}"]').wait_for(timeout=10_000)
        text = page.locator("main").inner_text()
        if state == "limited":
            assert "42 秒后刷新" in text
        elif state == "gone":
            assert "该信息已不再公示" in text and "2026年10月1日" in text and person["subject_name"] not in text
        elif state == "missing":
            assert "未找到该信息" in text
        else:
            assert page.locator("main img, main b").count() == 0
            assert page.get_by_role("heading", level=1).inner_text() == "<img src=x onerror=alert(1)>张三"
            assert "<b>事实</b>" in text
        page.close()


def test_results_are_built_as_text_never_as_html(portal: dict[str, str], browser: Any) -> None:
    """A name holding markup arrives from the API escaped; the page must show it as text."""
    page = browser.new_page()
    page.goto(portal["site"] + "/search/")
    # render a crafted response through the page's own code path by routing the API call
    hostile = {"total": {"value": 1, "relation": "eq"}, "page": 1, "per_page": 20, "data_as_of": "2026-11-20",
               "took_ms": 1.0, "facets": {},
               "hits": [{"id": "0123456789abcdef", "url": "javascript:alert(1)", "subject_name": "<img src=x onerror=alert(1)>",
                         "subject_type": "法人及非法人组织", "is_person": False, "uscc": "<b>x</b>", "id_number": None,
                         "list_code": "YZWFSX", "list_name": "严重违法失信企业名单", "list_kind": "black",
                         "status": "已公布", "decision_date": "2026-01-02", "publish_until": None,
                         "authority": "达州市市场监督管理局", "region": "通川区", "decision_no": None,
                         "highlights": {"subject_name": "&lt;img src=x onerror=alert(1)&gt;<mark>公司</mark>"}}]}
    page.route(f"{portal['api']}/search?*", lambda route: route.fulfill(json=hostile,
                                                                         headers={"Access-Control-Allow-Origin": "*"}))
    page.get_by_label("查询内容").fill("公司")
    page.get_by_role("button", name="查询", exact=True).click()
    page.locator("#search-results li").first.wait_for()
    assert page.locator("#search-results img").count() == 0 and page.locator("#search-results b").count() == 0
    assert "<img src=x onerror=alert(1)>" in page.locator("#search-results h2").inner_text()
    assert page.locator("#search-results mark").inner_text() == "公司"
    assert page.locator("#search-results a").get_attribute("href") == "/entries/0123456789abcdef/"
    page.close()
