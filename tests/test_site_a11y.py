"""Accessibility and behaviour of the built site in headless Debian Chromium (Playwright).

axe-core (vendored: tests/fixtures/site/vendor/axe.min.js) must find no serious or critical WCAG 2.1 A/AA
violation on the page types people use; the reading preferences persist; the search page explains when
the API cannot be reached.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sitebuild

from portal.site.demo import demo_entries, demo_tombstones

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # an API address where nothing listens: the search page must say so clearly
    site = sitebuild.build_fixture_site(tmp_path_factory.mktemp("site"),
                                        PORTAL_API_URL=f"http://127.0.0.1:{sitebuild.free_port()}/api/v1")
    with sitebuild.StaticServer(site.output) as server:
        yield server.url


def _pages() -> list[tuple[str, str]]:
    entries = demo_entries()
    org = next(e for e in entries if not e["is_person"])
    person = next(e for e in entries if e["is_person"])
    return [
        ("home", "/"), ("search", "/search/"), ("list", "/lists/yzwfsx/"),
        ("entry", f"/entries/{org['id']}/"), ("entry-person", f"/entries/{person['id']}/"),
        ("tombstone", f"/entries/{demo_tombstones()[0]['id']}/"),
        ("policy", "/policies/2024/ceshi-xinyong-xiufu-banfa/"), ("forms", "/forms/"),
        ("statistics", "/statistics/"), ("notice-period", "/notice-period/"),
        ("subject", f"/subjects/{shared_subject_uscc()}/"), ("list-decision", "/lists/xzcf/"),
        ("entry-penalty", f"/entries/{first_org('XZCF')['id']}/"),
        ("entry-licence", f"/entries/{first_org('XZXK')['id']}/"), ("lists", "/lists/"), ("measures", "/measures/"),
        ("data", "/data/"), ("sitemap", "/sitemap/"), ("404", "/404.html"), ("guide", "/yiyi-chuli/"),
    ]


def first_org(code: str) -> dict[str, Any]:
    return next(e for e in demo_entries() if e["list_code"] == code and not e["is_person"])


def shared_subject_uscc() -> str:
    """The demo company with entries on several lists (its subject page has every section filled)."""
    from collections import Counter

    counts = Counter(e["uscc"] for e in demo_entries() if not e["is_person"])
    return counts.most_common(1)[0][0]


@pytest.fixture(scope="module")
def phone_page(browser: Any) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 390, "height": 900})
    yield page
    page.close()




@pytest.mark.parametrize("name, path", _pages())
def test_no_serious_axe_violations_on_a_phone(served: str, phone_page: Any, name: str, path: str) -> None:
    response = phone_page.goto(served + path)
    assert response is not None and response.ok
    assert sitebuild.axe_problems(phone_page) == [], name
    # body text is never below 16px
    assert phone_page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 16


def test_no_serious_axe_violations_on_a_desktop_in_elder_mode(served: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script("localStorage.setItem('portal-prefs', JSON.stringify({elder: true, font: 'large'}))")
    page = context.new_page()
    for path in ("/", _pages()[3][1], f"/subjects/{shared_subject_uscc()}/", "/search/"):
        page.goto(served + path)
        assert page.evaluate("document.documentElement.dataset.elder") == "on"
        assert sitebuild.axe_problems(page) == [], path
    context.close()


def test_font_size_and_elder_mode_persist(served: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800})
    page = context.new_page()
    page.goto(served + "/")
    base = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.get_by_role("button", name="适老化模式").click()
    page.get_by_role("button", name="特大").click()
    page.goto(served + "/lists/")
    assert page.evaluate("document.documentElement.dataset.elder") == "on"
    assert page.get_by_role("button", name="适老化模式").get_attribute("aria-pressed") == "true"
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > base * 1.3
    context.close()


def test_without_javascript_the_default_mode_and_full_policy_list_show(served: str, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(served + "/policies/")
    assert not page.locator("#prefs").is_visible()
    assert not page.locator("#policy-filters").is_visible()
    assert page.locator("#policy-list li").count() == 2
    context.close()


def test_policy_filter_by_year(served: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(served + "/policies/")
    page.select_option("#f-year", "2019")
    assert page.locator("#policy-list li:visible").count() == 1
    assert "共 1 件" in page.locator("#policy-count").inner_text()
    page.close()


def test_search_page_says_when_the_api_is_unreachable(served: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(served + "/search/?q=" + "王伟")
    status = page.locator("#search-status")
    status.filter(has_text="无法连接").wait_for(timeout=10_000)
    assert page.locator("#search-results li").count() == 0
    # it tells people whom to call, with the number the footer gives (PORTAL_OFFICE_PHONE)
    phone = page.locator("#office-contact").get_attribute("data-office-phone")
    assert phone and phone in status.inner_text()
    page.close()


def test_policy_filters_are_in_the_address_and_match_joint_issuers(served: str, browser: Any) -> None:
    """The 2024 policy is issued jointly by the credit office and the city government's office: filtering by
    the government's office finds both policies; the filter is in the address, and a shared link restores it."""
    page = browser.new_page()
    page.goto(served + "/policies/")
    issuers = page.locator("#f-issuer option").all_inner_texts()
    assert "达州市人民政府办公室" in issuers and not [i for i in issuers if "、" in i]  # joint issuers split
    page.select_option("#f-issuer", "达州市人民政府办公室")
    assert page.locator("#policy-list li:visible").count() == 2
    page.select_option("#f-year", "2024")
    assert page.locator("#policy-list li:visible").count() == 1
    shared = page.url
    assert "year=2024" in shared and "issuer=" in shared
    other = browser.new_page()
    other.goto(shared)
    assert other.locator("#f-year").input_value() == "2024"
    assert other.locator("#policy-list li:visible").count() == 1 and "共 1 件" in other.locator("#policy-count").inner_text()
    other.close()
    page.close()
