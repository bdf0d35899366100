"""End to end in Chromium: an organisation files an objection with an attachment from its entry page,
checks the status with its receipt number and query code, the operator accepts it on the command line,
the next publish flags the entry — and none of what the applicant typed or uploaded reaches the published
tree. Real publish (Pelican site, index), real applications service (uvicorn subprocess), real Chromium."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sitebuild
from applications_support import uscc

from portal.applications import rules  # noqa: E402
from portal.applications.rules import Kind  # noqa: E402
from portal.ingest.identifiers import ric_check_digit  # noqa: E402
from portal.ingest.pipeline import SourceSpec  # noqa: E402
from portal.public import snapshot as snap  # noqa: E402
from portal.public.dates import today_shanghai  # noqa: E402
from portal.release.publish import Layout, publish  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
playwright_api = pytest.importorskip("playwright.sync_api")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "var" / "artifacts"
ORG_USCC = uscc("91511700MA6200001")
# What the applicant types and uploads: each value unique, so that finding it anywhere public is a leak.
CONTACT = "联系人甲乙丙"
PHONE = "13987654321"
EMAIL = "leak-check-7f3a@example.cn"
GROUNDS = "认定文书号应为达市监〔2025〕1号之一，LEAKMARK-GROUNDS-91c2，附处罚决定书。"
ATTACHMENT = b"%PDF-1.4\n% LEAKMARK-ATTACHMENT-5d7e\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PERSON_ID = "51170219850307123" + ric_check_digit("51170219850307123")
PRIVATE_VALUES = [CONTACT, PHONE, EMAIL, "LEAKMARK-GROUNDS-91c2", "LEAKMARK-ATTACHMENT-5d7e"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "portal.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("apply-e2e")
    source = work / "dept.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([
            ["主体名称", "主体类别", "统一社会信用代码", "证件号码", "名单名称", "认定日期", "认定部门", "认定文书号"],
            ["达州市甲建筑工程有限公司", "法人及非法人组织", ORG_USCC, "", "严重违法失信企业名单", "2025-03-05",
             "达州市市场监督管理局", "达市监〔2025〕1号"],
            ["王小伟", "自然人", "", PERSON_ID, "失信被执行人名单", "2025-03-05", "达州市中级人民法院",
             "（2025）川17执1号"]])
    layout = Layout(work / "var")
    apply_port, api_port = sitebuild.free_port(), sitebuild.free_port()
    env_before = dict(os.environ)
    os.environ.update(PORTAL_APPLY_URL=f"http://127.0.0.1:{apply_port}/apply/v1", PORTAL_RENDER_WORKER="0",
                      PORTAL_API_URL=f"http://127.0.0.1:{api_port}/api/v1")
    try:
        publish([SourceSpec(str(source))], layout, as_of=today_shanghai())
        with sitebuild.StaticServer(layout.current / "site") as site:
            env = {**os.environ, "PORTAL_APPLY_SITE_ORIGIN": site.url, "PORTAL_APPLY_POW_BITS": "12",
                   "PORTAL_APPLY_ACCESS_LOG": "false"}
            process = subprocess.Popen([sys.executable, "-m", "portal.cli", "applications", "serve", "--var",
                                        str(layout.root), "--port", str(apply_port)], env=env, cwd=ROOT)
            api_env = {**os.environ, "PORTAL_INDEX_PATH": str(layout.current / "index.db"),
                       "PORTAL_SNAPSHOT_DIR": str(layout.snapshots / "latest"), "PORTAL_SITE_ORIGIN": site.url,
                       "PORTAL_ENGINE": "sqlite", "PORTAL_ACCESS_LOG": "false"}
            api = subprocess.Popen([sys.executable, "-m", "uvicorn", "search_api.app:app", "--host", "127.0.0.1",
                                    "--port", str(api_port), "--log-level", "warning"], env=api_env, cwd=ROOT)
            try:
                sitebuild.wait_until_up(f"http://127.0.0.1:{apply_port}/healthz", process)
                sitebuild.wait_until_up(f"http://127.0.0.1:{api_port}/healthz", api)
                entries = {e["subject_type"]: e for e in snap.iter_entries(layout.snapshots / "latest")}
                yield {"site": site.url, "layout": layout, "source": source, "entry": entries["法人及非法人组织"],
                       "person": entries["自然人"]}
            finally:
                for server in (process, api):
                    server.terminate()
                    server.wait(timeout=10)
    finally:
        os.environ.clear()
        os.environ.update(env_before)


def published_files(layout: Layout) -> Iterator[tuple[str, bytes]]:
    """Every file of the published tree: releases (site through its slot links, index) and snapshots."""
    for top in (layout.releases, layout.snapshots, layout.entry_slots):
        for directory, _dirs, names in os.walk(top, followlinks=True):
            for name in names:
                path = Path(directory) / name
                yield str(path.relative_to(layout.root)), path.read_bytes()


def test_objection_filed_in_the_browser_flags_the_entry_after_accept_and_publish(
        deployment: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    entry, layout = deployment["entry"], deployment["layout"]
    context = browser.new_context(viewport={"width": 360, "height": 780}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{deployment['site']}/entries/{entry['id']}/")
    page.get_by_role("link", name="提出异议", exact=True).click()
    page.wait_for_url(f"**/apply/?entry={entry['id']}&kind=objection")
    page.locator("#apply-form").wait_for(state="visible", timeout=15_000)
    assert page.locator("#apply-entry-subject").inner_text() == "达州市甲建筑工程有限公司"
    today = today_shanghai()
    accept_by = rules.accept_due(today)
    assert f"{accept_by.year}年{accept_by.month}月{accept_by.day}日" in page.locator("#apply-deadlines").inner_text()
    page.get_by_label("单位名称或个人姓名").fill("达州市甲建筑工程有限公司")
    page.get_by_label("统一社会信用代码").fill(ORG_USCC)
    page.get_by_label("联系人").fill(CONTACT)
    page.get_by_label("联系电话").fill(PHONE)
    page.get_by_label("电子邮箱（可选）").fill(EMAIL)
    page.get_by_label("申请理由").fill(GROUNDS)
    page.locator("#attachments").set_input_files([{"name": "处罚决定书.pdf", "mimeType": "application/pdf",
                                                   "buffer": ATTACHMENT}])
    page.locator("input[name=consent]").check()
    page.get_by_role("button", name="提交申请").click()
    page.locator("#apply-done").wait_for(state="visible", timeout=60_000)
    receipt = page.locator("#done-receipt").inner_text()
    code = page.locator("#done-code").inner_text()
    assert receipt.startswith("YY") and len(code) == 10
    assert page.evaluate(WIDER_THAN_SCREEN) == []  # the receipt fits a phone screen
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "apply-phone.png"), full_page=True)

    page.get_by_role("link", name="查询办理进度").click()
    page.locator("#status-result").wait_for(state="visible", timeout=15_000)
    assert "#code" not in page.url  # the code left the address bar
    result = page.locator("#status-result").inner_text()
    assert "待受理" in result and f"{accept_by.month}月{accept_by.day}日" in result

    accepted = run_cli("applications", "accept", receipt, "--var", str(layout.root), "--by", "张科员")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    publish([SourceSpec(str(deployment["source"]))], layout, as_of=today)

    page.goto(f"{deployment['site']}/entries/{entry['id']}/")
    assert "异议处理中" in page.locator(".entry-header").inner_text()
    assert "正在进行异议核查" in page.locator("main").inner_text()
    page.goto(f"{deployment['site']}/apply-status/")
    page.get_by_label("受理编号").fill(receipt)
    page.get_by_label("查询码").fill(code.lower())
    page.get_by_role("button", name="查询", exact=True).click()
    page.locator("#status-result").wait_for(state="visible", timeout=15_000)
    decide_by = rules.decision_due(Kind.OBJECTION, today)
    status = page.locator("#status-result").inner_text()
    assert "核查中" in status and f"{decide_by.year}年{decide_by.month}月{decide_by.day}日" in status
    page.get_by_label("查询码").fill("0000000000")
    page.get_by_role("button", name="查询", exact=True).click()
    page.get_by_text("受理编号或查询码不正确").wait_for(timeout=10_000)

    history = run_cli("history", "--var", str(layout.root), "--entry", entry["id"])
    assert receipt in history.stdout and "张科员" in history.stdout

    # Nothing the applicant typed or uploaded is anywhere in what is published.
    leaks = [(name, value) for name, data in published_files(layout) for value in PRIVATE_VALUES
             if value.encode() in data]
    assert leaks == []
    # ... while the private store really holds it (the scan above looked for the right bytes).
    private = b"".join(p.read_bytes() for p in (layout.root / "applications").rglob("*") if p.is_file())
    assert all(value.encode() in private for value in PRIVATE_VALUES)
    context.close()
    assert timedelta(0) <= decide_by - today


WIDER_THAN_SCREEN = """() => [...document.querySelectorAll('main *')].filter(el => el.getBoundingClientRect().right
    > document.documentElement.clientWidth + 1).slice(0, 8).map(el => el.tagName + '#' + el.id + '.' + el.className + ':' + (el.textContent || '').trim().slice(0, 12))"""




def test_person_search_result_links_to_the_form_without_repeating_the_name(deployment: dict[str, Any],
                                                                          browser: Any) -> None:
    person = deployment["person"]
    context = browser.new_context(viewport={"width": 320, "height": 700}, is_mobile=True, has_touch=True)
    context.add_init_script("localStorage.setItem('portal-prefs', JSON.stringify({elder: true, font: 'large'}))")
    page = context.new_page()
    page.goto(f"{deployment['site']}/search/?q=" + person["subject_name"])
    result = page.locator("#search-results li.result").first
    result.wait_for(timeout=15_000)
    link = result.get_by_role("link", name="提出异议", exact=True)
    assert link.get_attribute("href") == f"/apply/?entry={person['id']}&kind=objection"
    assert result.get_by_role("link", name="申请信用修复").count() == 1  # a black list
    link.click()
    page.locator("#apply-form").wait_for(state="visible", timeout=15_000)
    assert person["subject_name"] not in page.locator("main").inner_text()
    assert "自然人" in page.locator("#apply-entry-subject").inner_text()
    page.get_by_label("信用修复申请（已纠正失信行为、履行义务）").check()
    assert "人民法院" in page.locator("#repair-refusal").inner_text()
    assert page.get_by_role("button", name="提交申请").is_disabled()
    page.get_by_label("个人", exact=True).check()
    assert page.get_by_label("证件号码").is_visible()
    # 320 px in elder mode: nothing of the page body wider than the screen (the main menu is the base
    # template's), no serious accessibility problem.
    assert page.evaluate("document.documentElement.dataset.elder") == "on"
    assert page.evaluate(WIDER_THAN_SCREEN) == []
    assert sitebuild.axe_problems(page) == []
    page.goto(f"{deployment['site']}/apply-status/")
    assert page.evaluate(WIDER_THAN_SCREEN) == []
    assert sitebuild.axe_problems(page) == []
    context.close()
