"""The subject-centred journeys in Debian Chromium, on the real search API (uvicorn search_api.app:app):

- checking yourself by full ID number: typed with spaces, full-width digits or in its 15-digit form, it is
  sent to POST /lookup in the body and the result is shown; it never appears in the address, the history or
  any request URL;
- an organisation found by name: its hits are one card that leads to its subject page (一户一档), and a hit
  found through its legal representative says so;
- phone widths (320, 360, 390 px) in normal and 适老化 mode: no page type scrolls sideways.

Screenshots are left in var/artifacts/ (journey-*.png) for people to look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sitebuild

from portal.ingest.identifiers import ric_check_digit  # noqa: E402
from portal.site.demo import SHARED_SUBJECT, demo_entries, demo_tombstones  # noqa: E402
from search_api.digests import digest_number  # noqa: E402

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "artifacts"
WIDTHS = (320, 360, 390)


def full_id_for(masked: str) -> str:
    """A valid 18-digit ID number whose masked form (first 4, last 4 kept) is ``masked`` (5117**********123X).

    The birth date is fixed; the two free digits after 5117 are chosen so that the check character comes out
    as the masked form's last character (the demo's masked numbers all end in X).
    """
    for region in range(100):
        body = f"{masked[:4]}{region:02d}19850312{masked[-4:-1]}"
        if ric_check_digit(body) == masked[-1]:
            return body + masked[-1]
    raise AssertionError(f"no ID number masks to {masked}")


@pytest.fixture(scope="module")
def person_with_id() -> tuple[dict[str, Any], str, list[dict[str, Any]]]:
    entries = demo_entries()
    person = next(e for e in entries if e["is_person"] and e["list_kind"] == "black" and e["status"] == "已公布")
    number = full_id_for(person["id_number"])
    person["id_digest"] = digest_number(number, os.environ["PORTAL_HMAC_KEY"])
    return person, number, entries


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory, person_with_id: Any) -> Iterator[dict[str, str]]:
    from search_api.indexer import build_index

    _person, _number, entries = person_with_id
    work = tmp_path_factory.mktemp("journeys")
    api_port = sitebuild.free_port()
    api = f"http://127.0.0.1:{api_port}/api/v1"
    site = sitebuild.build_fixture_site(work, entries=entries, PORTAL_API_URL=api, PORTAL_PAGEFIND=False)
    index = work / "index.sqlite3"
    build_index(site.snapshot, index)
    with sitebuild.StaticServer(site.output) as server:
        env = {**os.environ, "PORTAL_INDEX_PATH": str(index), "PORTAL_SNAPSHOT_DIR": str(site.snapshot),
               "PORTAL_SITE_ORIGIN": server.url, "PORTAL_ENGINE": "sqlite", "PORTAL_ACCESS_LOG": "false"}
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "search_api.app:app", "--host", "127.0.0.1",
                                    "--port", str(api_port), "--log-level", "warning"], env=env,
                                   cwd=Path(__file__).resolve().parents[1])
        try:
            sitebuild.wait_until_up(f"{api}/search?q=%E6%B5%8B%E8%AF%95", process)
            yield {"site": server.url, "api": api}
        finally:
            process.terminate()
            process.wait(timeout=10)


def phone(browser: Any, width: int = 390, elder: bool = False) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    if elder:
        context.add_init_script("localStorage.setItem('portal-prefs', JSON.stringify({elder: true, font: 'large'}))")
    return context


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@pytest.mark.parametrize("typed", ["spaced", "full-width", "fifteen"])
def test_checking_yourself_by_id_number_shows_the_entry_and_keeps_the_number_out_of_urls(
        portal: dict[str, str], browser: Any, person_with_id: Any, typed: str) -> None:
    person, number, _ = person_with_id
    text = {"spaced": f"{number[:6]} {number[6:14]} {number[14:]}", "full-width": full_width(number),
            "fifteen": number[:6] + number[8:17]}[typed]  # 15-digit form: no century, no check digit
    context = phone(browser)
    page = context.new_page()
    requests: list[tuple[str, str, str]] = []
    page.on("request", lambda r: requests.append((r.method, r.url, r.post_data or "")))
    page.goto(portal["site"] + "/search/")
    history_before = page.evaluate("history.length")
    page.get_by_label("查询内容").fill(text)
    page.get_by_role("button", name="查询", exact=True).click()
    result = page.locator("#search-results li.result").filter(has_text=person["id_number"])
    result.first.wait_for(timeout=10_000)
    assert "按证件号码找到 1 条" in page.locator("#search-status").inner_text()
    assert person["list_name"] in result.first.inner_text()
    # the number (in any of its forms) is in no URL: not the address, not the history, not a request
    forms = {number, number[:17], number[6:14], text, number[:6] + number[8:17]}
    assert page.url == portal["site"] + "/search/" and page.evaluate("history.length") == history_before
    assert page.evaluate("location.search + location.hash") == ""
    for _method, url, _body in requests:
        assert not any(form in url for form in forms), url
    lookups = [(m, body) for m, url, body in requests if url.endswith("/api/v1/lookup")]
    assert lookups and all(m == "POST" for m, _ in lookups)
    assert not [url for _m, url, _b in requests if "/search?" in url]  # never sent to GET /search
    if typed == "spaced":
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "journey-id-lookup-phone.png"), full_page=True)
    context.close()


def test_an_id_number_in_an_old_link_is_taken_out_of_the_address(portal: dict[str, str], browser: Any,
                                                                 person_with_id: Any) -> None:
    person, number, _ = person_with_id
    context = phone(browser)
    page = context.new_page()
    page.goto(portal["site"] + "/search/?q=" + number)
    page.locator("#search-results li.result").filter(has_text=person["id_number"]).first.wait_for(timeout=10_000)
    assert number not in page.url and page.url.endswith("/search/")
    context.close()


def test_an_id_number_typed_on_the_home_page_never_reaches_a_url(portal: dict[str, str], browser: Any,
                                                                  person_with_id: Any) -> None:
    person, number, _ = person_with_id
    context = phone(browser)
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(portal["site"] + "/")
    page.get_by_label("主体名称、统一社会信用代码或身份证号码").fill(full_width(number))
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url("**/search/")
    page.locator("#search-results li.result").filter(has_text=person["id_number"]).first.wait_for(timeout=10_000)
    assert not [url for url in urls if number in url or number[:17] in url]
    assert page.evaluate("sessionStorage.length") == 0  # handed over once, then gone
    # a name from the home page still goes the usual way, in the address
    page.goto(portal["site"] + "/")
    page.get_by_label("主体名称、统一社会信用代码或身份证号码").fill("建材")
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url("**/search/?q=*")
    context.close()


def test_an_id_number_with_a_wrong_check_digit_is_called_invalid(portal: dict[str, str], browser: Any,
                                                                 person_with_id: Any) -> None:
    _person, number, _ = person_with_id
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    page = browser.new_page()
    page.goto(portal["site"] + "/search/")
    page.get_by_label("查询内容").fill(wrong)
    page.get_by_role("button", name="查询", exact=True).click()
    page.locator("#search-status").filter(has_text="校验位不符").wait_for(timeout=5_000)
    assert "没有找到" not in page.locator("#search-status").inner_text() and wrong not in page.url
    page.close()


def shared_subject(entries: list[dict[str, Any]]) -> dict[str, Any]:
    (code, index), _others = SHARED_SUBJECT
    return [e for e in entries if e["list_code"] == code and not e["is_person"]][index]


def test_an_organisation_found_by_name_is_one_card_leading_to_its_subject_page(portal: dict[str, str],
                                                                               browser: Any) -> None:
    entries = demo_entries()
    owner = shared_subject(entries)
    own = [e for e in entries if e["uscc"] == owner["uscc"]]
    assert len(own) >= 3  # the demo puts this company on several lists
    context = phone(browser)
    page = context.new_page()
    page.goto(portal["site"] + "/search/")
    page.get_by_label("查询内容").fill(owner["subject_name"])
    page.get_by_role("button", name="查询", exact=True).click()
    card = page.locator("#search-results > li").filter(has_text=owner["uscc"])
    card.first.wait_for(timeout=10_000)
    assert card.count() == 1  # one card for the company, not one per entry
    # the API answers what is public today (an entry whose period ended since the snapshot is gone)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    public_now = [e for e in own if e["publish_until"] is None or e["publish_until"] >= today]
    assert card.locator(".result-group-hits > li").count() == len(public_now) >= 2
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journey-grouped-results-phone.png"), full_page=True)
    card.get_by_role("link", name="查看该主体全部公示信息（一户一档）").click()
    page.wait_for_url(f"**/subjects/{owner['uscc']}/")
    assert page.get_by_role("heading", level=1).inner_text() == owner["subject_name"]
    for entry in own:  # every entry of the subject, linked
        assert page.locator(f'a[href$="/entries/{entry["id"]}/"]').count() >= 1
    report = page.get_by_role("link", name="下载公共信用信息报告")
    assert report.get_attribute("href") == f"{portal['api']}/subjects/{owner['uscc']}/report"
    page.screenshot(path=str(ARTIFACTS / "journey-subject-phone.png"), full_page=True)
    context.close()


def test_a_hit_found_through_its_legal_representative_says_why(portal: dict[str, str], browser: Any) -> None:
    entries = demo_entries()
    rep = next(e["legal_rep"] for e in entries if e["legal_rep"]
               and not any(e["legal_rep"] in x["subject_name"] for x in entries))
    page = browser.new_page()
    page.goto(portal["site"] + "/search/")
    page.get_by_label("查询内容").fill(rep)
    page.get_by_role("button", name="查询", exact=True).click()
    why = page.locator("#search-results .result-why").first
    why.wait_for(timeout=10_000)
    assert why.inner_text().startswith("匹配内容：法定代表人") and why.locator("mark").inner_text() == rep
    page.close()


def page_types() -> list[str]:
    entries = demo_entries()
    org = shared_subject(entries)
    decision = next(e for e in entries if e["list_code"] == "XZCF" and not e["is_person"])
    licence = next(e for e in entries if e["list_code"] == "XZXK" and not e["is_person"])
    person = next(e for e in entries if e["is_person"])
    return ["/", "/search/", "/lists/", "/lists/yzwfsx/", "/lists/xzcf/", f"/entries/{org['id']}/",
            f"/entries/{decision['id']}/", f"/entries/{licence['id']}/", f"/entries/{person['id']}/",
            f"/entries/{demo_tombstones()[0]['id']}/", f"/subjects/{org['uscc']}/", "/notice-period/",
            "/measures/", "/forms/", "/statistics/", "/data/", "/policies/", "/notices/", "/sitemap/",
            "/yiyi-chuli/", "/404.html"]


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_type_scrolls_sideways_on_a_phone(portal: dict[str, str], browser: Any, width: int,
                                                   elder: bool) -> None:
    context = phone(browser, width, elder)
    page = context.new_page()
    wide = []
    for path in page_types():
        page.goto(portal["site"] + path)
        if elder:
            assert page.evaluate("document.documentElement.dataset.elder") == "on"
        overflow = page.evaluate("document.documentElement.scrollWidth")
        if overflow > width:
            culprits = page.evaluate("""(w) => [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > w + 1).slice(0, 3)
                .map(el => el.tagName + '.' + el.className)""", width)
            wide.append((path, overflow, culprits))
    if width == 390 and elder:
        page.goto(portal["site"] + "/")
        # the search box is on the first screen in 适老化 mode too
        box = page.locator("input[type=search]").first.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 844
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "journey-home-elder-390.png"))
    context.close()
    assert wide == [], "\n".join(map(str, wide))
