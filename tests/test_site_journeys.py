"""Subject pages (一户一档) and the site defects of issue 14, on the built fixture site (no browser).

Expected values come from the rules: the demo snapshot says which entries exist, headers.toml gives the
Chinese labels, the 双公示 templates give their own terms.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest
import sitebuild

from portal.site.demo import demo_entries  # noqa: E402
from portal.site.generator import newest_changes  # noqa: E402
from portal.site.terms import detail_labels  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
API = "http://127.0.0.1:9/api/v1"
PUBLIC = "https://credit.example.gov.cn"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> sitebuild.BuiltSite:
    # SITEURL stays root-relative (as scripts/up.sh builds); machines get PORTAL_PUBLIC_URL
    return sitebuild.build_fixture_site(tmp_path_factory.mktemp("site"), PORTAL_API_URL=API,
                                        PORTAL_PUBLIC_URL=PUBLIC, PORTAL_PAGEFIND=False,
                                        PORTAL_OFFICE_PHONE="0818-2370000")


@pytest.fixture(scope="module")
def by_subject() -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for entry in demo_entries():
        if not entry["is_person"]:
            grouped[entry["uscc"] or entry["reg_no"]].append(entry)
    return dict(grouped)


def test_every_organisation_has_one_subject_page_with_all_its_entries(site: sitebuild.BuiltSite,
                                                                      by_subject: dict[str, list[dict]]) -> None:
    pages = sorted(p.name for p in (site.output / "subjects").iterdir())
    assert pages == sorted(by_subject)
    assert max(len(v) for v in by_subject.values()) >= 3  # the demo has a company on several lists
    for key, own in by_subject.items():
        assert key.isascii() and re.fullmatch(r"[0-9A-Z]{18}", key)
        html = site.read(f"/subjects/{key}/")
        assert html.count('class="subject-entry"') == len(own)
        for entry in own:
            assert f'href="/entries/{entry["id"]}/"' in html and entry["status"] in html
            # and the entry page links back to its subject page
            assert f'href="/subjects/{key}/"' in site.read(f"/entries/{entry['id']}/")
        assert f'href="{API}/subjects/{key}/report"' in html and "下载公共信用信息报告" in html
        assert "信息主体的权利" in html and "知情权" in html


def test_a_subject_page_shows_the_measures_of_its_lists(site: sitebuild.BuiltSite,
                                                         by_subject: dict[str, list[dict]]) -> None:
    import tomllib

    measures = tomllib.loads((sitebuild.FIXTURE_DIR / "measures.toml").read_text("utf-8"))["measures"]
    key, own = max(by_subject.items(), key=lambda kv: len(kv[1]))
    html = site.read(f"/subjects/{key}/")
    for code in {e["list_code"] for e in own if e["list_kind"] != "decision"}:
        for item in measures.get(code, []):
            assert item["text"] in html


def test_persons_get_no_subject_page_and_no_link_to_one(site: sitebuild.BuiltSite) -> None:
    persons = [e for e in demo_entries() if e["is_person"]]
    subject_html = "".join(p.read_text("utf-8") for p in (site.output / "subjects").rglob("index.html"))
    for person in persons:
        assert person["id"] not in subject_html
        assert "/subjects/" not in site.read(f"/entries/{person['id']}/").split("<footer")[0].split("<main")[1]
    sitemap = (site.output / "sitemap.xml").read_text()
    assert all(f"{PUBLIC}/subjects/{p.name}/" in sitemap for p in (site.output / "subjects").iterdir())


def first(code: str) -> dict:
    return next(e for e in demo_entries() if e["list_code"] == code and not e["is_person"])


def test_penalty_and_licence_pages_use_their_own_terms_and_chinese_labels(site: sitebuild.BuiltSite) -> None:
    penalty = site.read(f"/entries/{first('XZCF')['id']}/")
    for term in ("处罚机关", "处罚决定书文号", "处罚决定日期", "违法事实", "处罚依据", "处罚类别"):
        assert f"<dt>{term}</dt>" in penalty or f"<h2>{term}</h2>" in penalty, term
    fine = first("XZCF")["details"]["fine_amount"]
    assert f"<dt>罚款金额</dt><dd>{fine} 万元</dd>" in penalty
    assert "<dt>认定部门</dt>" not in penalty
    licence = site.read(f"/entries/{first('XZXK')['id']}/")
    for term in ("许可机关", "行政许可决定文书号", "许可决定日期", "许可证书名称", "许可编号", "许可机关统一社会信用代码"):
        assert f"<dt>{term}</dt>" in licence, term
    for html in (penalty, licence):  # no canonical key is ever a label
        assert not [key for key in detail_labels() if f"<dt>{key}</dt>" in html]
    listing = site.read("/lists/xzcf/")
    assert '<th scope="col">文号</th>' in listing and '<th scope="col">处罚机关</th>' in listing
    assert first("XZCF")["decision_no"] in listing


def test_penalty_csv_has_chinese_headers_and_labels_with_units(site: sitebuild.BuiltSite) -> None:
    rows = list(csv.reader(io.StringIO((site.output / "data" / "xzcf.csv").read_text("utf-8-sig"))))
    assert {"处罚机关", "处罚决定书文号", "处罚决定日期", "违法事实", "处罚依据"} <= set(rows[0])
    details = [row[rows[0].index("其他信息")] for row in rows[1:]]
    assert details and all("罚款金额：" in d and "万元" in d and "fine_amount" not in d for d in details)
    assert all(row[rows[0].index("网页地址")].startswith(f"{PUBLIC}/entries/") for row in rows[1:])


def test_the_sample_delivery_has_licence_entries_in_the_national_template(tmp_path: Path) -> None:
    from datetime import date

    from portal.ingest.headers import map_headers
    from portal.sample import write_samples

    paths = write_samples(tmp_path, 400, formats=("csv-utf8",), as_of=date(2026, 11, 20))
    licences = [p for p in paths if p.name.startswith("shuanggongshi-xzxk")]
    assert len(licences) == 1
    rows = list(csv.reader(io.StringIO(licences[0].read_text("utf-8-sig"))))
    for header in ("行政相对人名称", "行政许可决定文书号", "许可证书名称", "许可编号", "许可决定日期", "有效期至", "许可机关"):
        assert header in rows[0], header
    assert "名单名称" not in rows[0]  # the template itself says 行政许可
    assert len(rows) > 10
    assert map_headers(rows[0]).template == "XZXK"  # ingest reads it as 行政许可


def test_repair_paragraph_only_where_repair_applies(site: sitebuild.BuiltSite) -> None:
    red = site.read(f"/entries/{first('AJNSR')['id']}/")
    black = site.read(f"/entries/{first('YZWFSX')['id']}/")
    assert "信用修复" not in red.split('class="rights"')[1].split("</section>")[0]
    assert "申请<strong>信用修复</strong>" in black


def test_an_empty_list_does_not_say_persons_are_hidden(site: sitebuild.BuiltSite) -> None:
    listed = {e["list_code"] for e in demo_entries()}
    empty = [p.name for p in (site.output / "lists").iterdir() if p.is_dir() and p.name.upper() not in listed]
    assert empty  # the catalogue has lists the demo leaves empty
    for slug in empty:
        html = site.read(f"/lists/{slug}/")
        assert "目前没有公示中的信息" in html and "自然人信息不在列表中展示" not in html


def test_footer_has_the_office_contact_help_and_the_human_site_map(site: sitebuild.BuiltSite) -> None:
    for url in ("/", "/search/", f"/subjects/{first('YZWFSX')['uscc']}/"):
        footer = site.read(url).split("<footer")[1]
        assert 'href="tel:0818-2370000"' in footer and 'href="/help/"' in footer and 'href="/sitemap/"' in footer
    sitemap_page = site.read("/sitemap/")
    for href in ("/search/", "/lists/yzwfsx/", "/policies/", "/data/", "/sitemap.xml"):
        assert f'href="{href}"' in sitemap_page


def test_machines_get_absolute_urls_in_sitemap_robots_and_feeds(site: sitebuild.BuiltSite) -> None:
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    locs = [loc.text for loc in ElementTree.parse(site.output / "sitemap.xml").getroot().iter(f"{namespace}loc")]
    assert locs and all(loc.startswith(PUBLIC + "/") for loc in locs)
    assert f"Sitemap: {PUBLIC}/sitemap.xml" in (site.output / "robots.txt").read_text()
    atom = "{http://www.w3.org/2005/Atom}"
    for feed in ("notices.atom.xml", "list-changes.atom.xml"):
        root = ElementTree.parse(site.output / "feeds" / feed).getroot()
        links = [link.get("href") for link in root.iter(f"{atom}link")]
        assert links and all(href.startswith(PUBLIC + "/") for href in links), feed


def test_the_list_changes_feed_is_capped_newest_first(tmp_path: Path) -> None:
    changes = [{"op": "added", "id": f"{n:016x}", "at": f"2026-11-{n + 1:02d}"} for n in range(10)]
    assert [c["id"] for c in newest_changes(changes, 3)] == [f"{n:016x}" for n in (9, 8, 7)]
    built = sitebuild.build_fixture_site(tmp_path, PORTAL_CHANGES_FEED_LIMIT=2, PORTAL_PAGEFIND=False)
    root = ElementTree.parse(built.output / "feeds" / "list-changes.atom.xml").getroot()
    assert len(root.findall("{http://www.w3.org/2005/Atom}entry")) <= 2


def test_favicon_and_no_current_menu_item_on_the_404_page(site: sitebuild.BuiltSite) -> None:
    icon = (site.output / "favicon.ico").read_bytes()
    assert icon[:4] == b"\x00\x00\x01\x00"  # ICO header
    assert 'aria-current="page"' not in site.read("/404.html")
    assert 'href="/favicon.ico"' in site.read("/")


def test_data_page_states_the_real_checksums(site: sitebuild.BuiltSite) -> None:
    html = site.read("/data/")
    for name in ("yzwfsx.csv", "yzwfsx.json"):
        assert hashlib.sha256((site.output / "data" / name).read_bytes()).hexdigest() in html
    text = (ROOT / "content" / "pages" / "data.md").read_text("utf-8")
    assert "JSON Lines" not in text and "CSV" in text and "SHA-256" in text


def test_guides_promise_online_submission_only_where_the_site_has_it(site: sitebuild.BuiltSite) -> None:
    """The guides may say 在线提交 only because the applications service exists: they must link to its
    pages, and the built site must have them."""
    for page in ("xinyong-xiufu.md", "yiyi-chuli.md"):
        text = (ROOT / "content" / "pages" / page).read_text("utf-8")
        if "在线提交" in text.replace("不受理在线提交", ""):
            assert "/apply-status/" in text, page
    assert "受理编号" in site.read("/apply-status/") and site.read("/apply/")


def test_entry_printouts_carry_address_print_date_and_data_date(site: sitebuild.BuiltSite) -> None:
    entry = first("YZWFSX")
    html = site.read(f"/entries/{entry['id']}/")
    facts = html.split('class="print-only print-facts"')[1].split("</p>")[0]
    assert f"/entries/{entry['id']}/" in facts and "data-as-of" in facts and "data-print-date" in facts
    # the data date is the live release's, read at view time: a stored page would keep a stale one
    assert "2026年11月20日" not in facts
    assert orjson.loads(site.read("/data-as-of.json")) == {"data_as_of": "2026-11-20"}
    assert ".print-only" in (ROOT / "theme" / "static" / "css" / "print.css").read_text()


def test_statistics_charts_keep_their_text_size_on_phones(site: sitebuild.BuiltSite) -> None:
    html = site.read("/statistics/")
    charts = re.findall(r'<svg class="chart"[^>]*>', html)
    assert len(charts) == 4 and not [c for c in charts if "viewBox" in c]  # no viewBox: text is not scaled down
