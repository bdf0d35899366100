"""portal publish: one transaction from department files to a live site and index; rollback; audit."""

from __future__ import annotations

import csv
import subprocess
from datetime import date
from pathlib import Path

import orjson
import pytest
from stdnum.cn import uscc as stdnum_uscc

from portal import snapshot as snap
from portal.actions import ActionKind, record_action
from portal.audit import AuditLog
from portal.identifiers import ric_check_digit
from portal.ingest import SourceSpec
from portal.publish import Layout, PublishError, list_releases, publish, rollback

KEY = b"test-only-hmac-key-0123456789abcdef"
HEADER = ["主体名称", "主体类别", "统一社会信用代码", "证件号码", "名单名称", "认定日期", "公布截止日期", "认定部门",
          "认定文书号"]


def uscc(body17: str) -> str:
    return body17 + stdnum_uscc.calc_check_digit(body17)


PERSON_ID = "51170219850307123" + ric_check_digit("51170219850307123")
ORG_A = uscc("91511700MA6200001")
ORG_B = uscc("91511700MA6200002")
ROWS = [
    ["达州市甲建筑工程有限公司", "法人及非法人组织", ORG_A, "", "严重违法失信企业名单", "2025-03-05", "", "达州市市场监督管理局",
     "达市监〔2025〕1号"],
    # ends on 2026-11-30: public on the 30th, gone on 12-01
    ["达州市乙商贸有限公司", "法人及非法人组织", ORG_B, "", "重点关注名单", "2025-12-01", "2026-11-30", "达州市市场监督管理局",
     "达市监〔2025〕2号"],
    ["王伟", "自然人", "", PERSON_ID, "失信被执行人名单", "2025-03-05", "", "达州市中级人民法院", "（2025）川17执1号"],
]


@pytest.fixture
def department_file(tmp_path: Path) -> Path:
    path = tmp_path / "inbox" / "dept.csv"
    path.parent.mkdir()
    with open(path, "w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows([HEADER, *ROWS])
    return path


def live_files(layout: Layout) -> dict[str, bytes]:
    """Every file of the live release (site and index), by relative path."""
    release = layout.live_release()
    assert release is not None
    return {str(p.relative_to(release)): p.read_bytes() for p in sorted(release.rglob("*")) if p.is_file()}


def entry_ids(layout: Layout) -> set[str]:
    return {e["id"] for e in snap.iter_entries(layout.snapshots / "latest")}


def do_publish(layout: Layout, sources: list[Path], day: date) -> dict:  # type: ignore[type-arg]
    return publish([SourceSpec(str(p)) for p in sources], layout, as_of=day, key=KEY)


def test_publish_switches_site_and_index_together(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    record = do_publish(layout, [department_file], date(2026, 11, 23))
    release = layout.live_release()
    assert release is not None and release.name == record["release"]
    assert (release / "site" / "index.html").exists() and (release / "index.db").exists()
    assert orjson.loads((release / "release.json").read_bytes())["snapshot"] == record["snapshot"]
    assert (layout.snapshots / "latest").resolve().name == record["snapshot"]
    (event,) = AuditLog(layout.audit).events()
    assert event["outcome"] == "published" and event["counts"]["rows_read"] == 3
    assert event["checksums"]["entries.jsonl"] == snap.read_manifest(layout.snapshots / "latest")[
        "files"]["entries.jsonl"]["sha256"]


def test_corrupt_xlsx_leaves_live_portal_unchanged(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    before, latest_before = live_files(layout), (layout.snapshots / "latest").resolve()
    corrupt = tmp_path / "inbox" / "broken.xlsx"
    corrupt.write_bytes(b"PK\x03\x04" + b"\x00" * 100)  # a zip header and nothing else
    with pytest.raises(PublishError) as exc:
        do_publish(layout, [department_file, corrupt], date(2026, 11, 24))
    assert exc.value.step == "ingest" and "broken.xlsx" in exc.value.zh
    assert live_files(layout) == before and (layout.snapshots / "latest").resolve() == latest_before
    assert len(list_releases(layout)) == 1 and not list(layout.releases.glob(".tmp-*"))
    assert AuditLog(layout.audit).events()[0]["outcome"] == "failed"


def test_exception_inside_the_build_leaves_live_portal_unchanged(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    before = live_files(layout)

    def broken_index(snapshot_dir: Path, index_path: Path) -> None:
        index_path.write_bytes(b"half an index")
        raise RuntimeError("disk full while indexing")

    with pytest.raises(PublishError) as exc:
        publish([SourceSpec(str(department_file))], layout, as_of=date(2026, 11, 24), key=KEY,
                index_builder=broken_index)
    assert exc.value.step == "index" and "disk full" in exc.value.zh
    assert live_files(layout) == before
    versions = snap.list_versions(layout.snapshots)
    assert len(versions) == 1  # the snapshot of the failed publish was removed too
    event = AuditLog(layout.audit).events()[0]
    assert event["outcome"] == "failed" and event["step"] == "index"


def test_read_only_output_directory_fails_cleanly(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    before = live_files(layout)
    # Root ignores permission bits; the immutable attribute stops root as well.
    subprocess.run(["chattr", "+i", str(layout.releases)], check=True)
    try:
        with pytest.raises(PublishError) as exc:
            do_publish(layout, [department_file], date(2026, 11, 24))
    finally:
        subprocess.run(["chattr", "-i", str(layout.releases)], check=True)
    assert exc.value.step == "site" and "Permission" in exc.value.en or "not permitted" in exc.value.en
    assert live_files(layout) == before


def test_rollback_restores_previous_site_and_index_together(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    first = do_publish(layout, [department_file], date(2026, 11, 23))
    first_files = live_files(layout)
    second = do_publish(layout, [department_file], date(2026, 12, 1))
    assert second["changes"]["withdrawn"] == 1
    restored = rollback(layout)
    assert restored.name == first["release"]
    assert live_files(layout) == first_files
    assert (layout.snapshots / "latest").resolve().name == first["snapshot"]
    assert AuditLog(layout.audit).events()[0]["outcome"] == "rolled_back"
    with pytest.raises(PublishError):
        rollback(layout)  # nothing older than the first release


def test_history_answers_whether_an_entry_was_public_on_a_day(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    expiring = next(e["id"] for e in snap.iter_entries(layout.snapshots / "latest") if e["list_code"] == "ZDGZ")
    audit = AuditLog(layout.audit)
    today = snap.now_shanghai().date()
    assert audit.public_on(expiring, today) or today > date(2026, 11, 30)
    assert audit.public_on(expiring, date(2020, 1, 1)) == []  # long before anything was published
    assert audit.public_on(expiring, date(2026, 12, 1)) == []  # its publish_until has passed


def test_objection_and_repair_recorded_by_operator_show_after_next_publish(
        department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    by_list = {e["list_code"]: e["id"] for e in snap.iter_entries(layout.snapshots / "latest")}
    record_action(layout.actions, by_list["YZWFSX"], ActionKind.OBJECTION, date(2026, 11, 23))
    record_action(layout.actions, by_list["SXBZXR"], ActionKind.REPAIR, date(2026, 11, 24), note="已履行")
    do_publish(layout, [department_file], date(2026, 11, 24))
    entries = {e["id"]: e for e in snap.iter_entries(layout.snapshots / "latest")}
    assert entries[by_list["YZWFSX"]]["status"] == "异议处理中"
    assert by_list["SXBZXR"] not in entries
    tombs = {t["id"]: t for t in snap.iter_tombstones(layout.snapshots / "latest")}
    assert tombs[by_list["SXBZXR"]]["reason"] == "信用修复"
    assert "已履行" not in (layout.snapshots / "latest" / "entries.jsonl").read_text()


def test_day_after_publish_until_the_entry_is_gone_everywhere_but_its_tombstone(
        department_file: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from search_api.app import create_app
    from search_api.settings import Settings

    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 30))
    expiring = next(e for e in snap.iter_entries(layout.snapshots / "latest") if e["list_code"] == "ZDGZ")
    site = layout.current / "site"
    assert expiring["id"] in (site / "sitemap.xml").read_text()
    do_publish(layout, [department_file], date(2026, 12, 1))

    # Site: only the tombstone page at the entry's URL still names the id, and it holds no subject data.
    tombstone = site / "entries" / expiring["id"] / "index.html"
    assert tombstone.exists()
    page = tombstone.read_text()
    assert "不再公示" in page and expiring["subject_name"] not in page and expiring["uscc"] not in page
    for path in site.rglob("*"):
        if path.is_file() and path != tombstone and path.suffix in (".html", ".xml", ".csv", ".json", ".txt"):
            text = path.read_text(errors="replace")
            assert expiring["subject_name"] not in text, f"withdrawn entry still named in {path.relative_to(site)}"
            assert expiring["uscc"] not in text, f"withdrawn entry still in {path.relative_to(site)}"

    # API on the live index: not found by search, 410 with the tombstone at its id.
    app = create_app(Settings(index_path=layout.current / "index.db", snapshot_dir=layout.snapshots / "latest"))
    with TestClient(app) as client:
        hits = client.get("/api/v1/search", params={"q": "乙商贸"}).json()["hits"]
        assert hits == []
        gone = client.get(f"/api/v1/entries/{expiring['id']}")
        assert gone.status_code == 410 and gone.json()["tombstone"]["reason"] == "期满"
