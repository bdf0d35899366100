"""The credit report in Chromium: download a report from a subject page, open /verify/ from its QR code,
see it confirmed, compare the file, and see a made-up code refused.

The subject page itself belongs to the journeys work (``/subjects/<uscc>/``); until it is on this branch the
test writes a minimal one into the built site that links to the report URL exactly as the contract says
(``<PORTAL_API_URL>/subjects/<uscc>/report``). A phone-width screenshot of the confirmed verification is
left in var/artifacts/verify-phone.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sitebuild

from portal.report.signing import TEST_CERT_FILE, check_signature  # noqa: E402
from portal.site.demo import demo_entries  # noqa: E402

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api")
ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "artifacts"


def organisation() -> dict[str, Any]:
    return next(e for e in demo_entries() if e["uscc"] and not e["is_person"] and e["subject_type"] == "法人及非法人组织")


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from search_api.indexer import build_index

    work = tmp_path_factory.mktemp("report-portal")
    api_port = sitebuild.free_port()
    api = f"http://127.0.0.1:{api_port}/api/v1"
    site = sitebuild.build_fixture_site(work, PORTAL_API_URL=api, PORTAL_PAGEFIND=False)
    subject = organisation()
    page = site.output / "subjects" / subject["uscc"] / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)  # the site now builds subject pages itself (journeys)
    page.write_text(f'<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>{subject["subject_name"]}</title>'
                    f'<h1>{subject["subject_name"]}</h1><a href="{api}/subjects/{subject["uscc"]}/report">'
                    "下载公共信用信息报告（PDF）</a></html>", encoding="utf-8")
    index = work / "index.sqlite3"
    build_index(site.snapshot, index)
    with sitebuild.StaticServer(site.output) as server:
        env = {**os.environ, "PORTAL_INDEX_PATH": str(index), "PORTAL_SNAPSHOT_DIR": str(site.snapshot),
               "PORTAL_SITE_ORIGIN": server.url, "PORTAL_ENGINE": "sqlite", "PORTAL_ACCESS_LOG": "false",
               "PORTAL_REPORT_REGISTRY_DB": str(work / "reports.sqlite3"),
               "PORTAL_REPORT_DEV_KEY_DIR": str(work / "report-key")}
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "search_api.app:app", "--host", "127.0.0.1",
                                    "--port", str(api_port), "--log-level", "warning"], env=env,
                                   cwd=Path(__file__).resolve().parents[1])
        try:
            sitebuild.wait_until_up(f"{api}/lists", process)
            yield {"site": server.url, "api": api, "work": work, "subject": subject}
        finally:
            process.terminate()
            process.wait(timeout=10)


def qr_url(pdf: Path, work: Path) -> str:
    """The URL in the report's QR code, read from the rendered first page as a phone camera would."""
    if shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None:
        pytest.skip("poppler-utils and zbar-tools are needed (scripts/test.sh installs them)")
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(pdf), str(work / "page")], check=True)
    found = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sqrcode.enable", str(work / "page-1.png")],
                           capture_output=True, text=True, check=True).stdout.split()
    assert len(found) == 1, found
    return found[0]


def test_download_from_subject_page_then_verify_from_the_qr_code(portal: dict[str, Any], browser: Any) -> None:
    subject, work = portal["subject"], portal["work"]
    context = browser.new_context(viewport={"width": 360, "height": 780}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{portal['site']}/subjects/{subject['uscc']}/")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载公共信用信息报告（PDF）").click()
    download = download_info.value
    assert download.suggested_filename.startswith("credit-report-XYBG") or "公共信用信息报告" in download.suggested_filename
    pdf = work / "downloaded.pdf"
    download.save_as(pdf)
    certificate = (work / "report-key" / TEST_CERT_FILE).read_bytes()
    assert check_signature(pdf.read_bytes(), certificate).ok

    url = qr_url(pdf, work)
    assert url.startswith(f"{portal['site']}/verify/?no=XYBG") and "#code=" in url  # the code never reaches a server
    report_no = url.split("?no=")[1].split("#")[0]
    page.goto(url)
    status = page.locator("#verify-status")
    status.filter(has_text="核验通过").wait_for(timeout=10_000)
    assert "#code" not in page.url and "code=" not in page.url  # out of the address bar and the history
    facts = page.locator("#verify-facts").inner_text()
    assert subject["subject_name"] in facts and subject["uscc"] in facts and report_no in facts
    assert "开发测试密钥" in status.inner_text()
    sections = page.locator("#verify-sections").inner_text()
    assert subject["list_name"] in sections

    page.locator("#verify-file").set_input_files(str(pdf))
    page.locator("#verify-file-status").filter(has_text="文件一致").wait_for(timeout=5_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "verify-phone.png"), full_page=True)

    # a copy with one byte changed: the signature check fails and the page tells the file apart
    data = bytearray(pdf.read_bytes())
    data[len(data) // 3] ^= 0x01
    tampered = work / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    assert not check_signature(bytes(data), certificate).ok
    page.locator("#verify-file").set_input_files(str(tampered))
    page.locator("#verify-file-status").filter(has_text="文件不一致").wait_for(timeout=5_000)

    # a made-up code for the same number is refused
    page.goto(f"{portal['site']}/verify/")
    page.get_by_label("报告编号").fill(report_no)
    page.get_by_label("验证码").fill("ABCDEFGHJKLM")
    page.get_by_role("button", name="核验").click()
    status.filter(has_text="未通过核验").wait_for(timeout=10_000)
    assert page.locator("#verify-result").is_hidden()
    context.close()
