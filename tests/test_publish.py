"""portal publish: one transaction from department files to a live site and index; rollback; audit."""

from __future__ import annotations

import csv
import os
import subprocess
from datetime import date
from pathlib import Path

import orjson
import pytest
import sitebuild
from fastapi.testclient import TestClient
from stdnum.cn import uscc as stdnum_uscc

from portal.ingest.actions import ActionKind, record_action
from portal.ingest.identifiers import ric_check_digit
from portal.ingest.pipeline import SourceSpec
from portal.public import snapshot as snap
from portal.release.audit import AuditLog
from portal.release.publish import (
    Layout,
    PublishError,
    default_site_builder,
    list_releases,
    publish,
    read_slot_state,
    release_info,
    rollback,
)
from portal.site.store import StoreStats
from search_api.app import create_app
from search_api.settings import Settings

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
    """Every file of the live release (site, entry pages through its slot links, and index)."""
    release = layout.live_release()
    assert release is not None
    files = sitebuild.files_under(release)
    assert any(name.startswith("site/entries/") for name in files)  # the walk went through the link
    return files


def served_pages(layout: Layout) -> dict[str, bytes]:
    """The live site as served: every file under ``current/site`` (release.json may record a rebuilt slot)."""
    return sitebuild.files_under(layout.current / "site")


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
    checked = 0
    for directory, _dirs, names in os.walk(site, followlinks=True):  # through the links into the entry slot
        for path in (Path(directory) / name for name in names):
            if path == tombstone or path.suffix not in (".html", ".xml", ".csv", ".json", ".txt"):
                continue
            text = path.read_text(errors="replace")
            assert expiring["subject_name"] not in text, f"withdrawn entry still named in {path.relative_to(site)}"
            assert expiring["uscc"] not in text, f"withdrawn entry still in {path.relative_to(site)}"
            checked += path.is_relative_to(site / "entries")
    assert checked >= 2  # the other entries' pages were read too

    # API on the live index: not found by search, 410 with the tombstone at its id.
    app = create_app(Settings(index_path=layout.current / "index.db", snapshot_dir=layout.snapshots / "latest"))
    with TestClient(app) as client:
        hits = client.get("/api/v1/search", params={"q": "乙商贸"}).json()["hits"]
        assert hits == []
        gone = client.get(f"/api/v1/entries/{expiring['id']}")
        assert gone.status_code == 410 and gone.json()["tombstone"]["reason"] == "期满"


# --- entry slots: the entry and list pages live in two A/B slots, not in each release ---------------------


def slot_of(release: Path) -> str:
    return str(release_info(release)["entry_slot"])


def test_releases_alternate_entry_slots_and_link_into_them(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    first = do_publish(layout, [department_file], date(2026, 11, 23))
    second = do_publish(layout, [department_file], date(2026, 11, 24))
    r1, r2 = (layout.releases / r["release"] for r in (first, second))
    assert (slot_of(r1), slot_of(r2)) == ("a", "b")
    for release in (r1, r2):
        for name in ("entries", "lists"):
            link = release / "site" / name
            assert link.is_symlink() and not os.path.isabs(os.readlink(link))  # relative: the tree can move
            assert link.resolve() == (layout.entry_slot(slot_of(release)) / name).resolve()
        assert read_slot_state(layout.entry_slot(slot_of(release)))["generation"] == \
            release_info(release)["slot_generation"]
    third = do_publish(layout, [department_file], date(2026, 11, 25))
    assert slot_of(layout.releases / third["release"]) == "a"


def test_a_failed_publish_never_touches_the_live_slot(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    do_publish(layout, [department_file], date(2026, 11, 30))
    before, live_slot = live_files(layout), slot_of(layout.live_release())  # type: ignore[arg-type]
    live_slot_stat = {p: p.stat().st_mtime_ns for p in layout.entry_slot(live_slot).rglob("*")}

    def broken_index(snapshot_dir: Path, index_path: Path) -> None:
        raise RuntimeError("disk full while indexing")

    with pytest.raises(PublishError):  # after the site step: the other slot was fully updated
        publish([SourceSpec(str(department_file))], layout, as_of=date(2026, 12, 1), key=KEY,
                index_builder=broken_index)
    assert live_files(layout) == before
    assert {p: p.stat().st_mtime_ns for p in layout.entry_slot(live_slot).rglob("*")} == live_slot_stat


def fail_after_writing_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next site build die after writing its pages, before its page index is committed."""
    from portal.site import store

    def die(self: store.PageStore) -> StoreStats:
        self._writer.close()  # every changed page is on disk …
        if self._worker is not None:
            self._worker.close()
        raise RuntimeError("killed before the page index was saved")  # … and the index still says the old

    monkeypatch.setattr(store.PageStore, "finish", die)


def test_rollback_after_a_failed_publish_rebuilds_the_targets_slot_exactly(
        department_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 30))  # r1, slot a: the ZDGZ entry is public
    first_pages = served_pages(layout)
    do_publish(layout, [department_file], date(2026, 11, 30))  # r2, slot b
    with monkeypatch.context() as patch:
        fail_after_writing_pages(patch)
        with pytest.raises(PublishError) as exc:  # writes 12-01's pages (a tombstone) into slot a, then dies
            do_publish(layout, [department_file], date(2026, 12, 1))
    assert exc.value.step == "site"
    slot_a = layout.entry_slot("a")
    assert read_slot_state(slot_a)["generation"] is None and (slot_a / "store" / "dirty").exists()
    assert any("不再公示" in p.read_text() for p in (slot_a / "entries").rglob("index.html"))  # mixed now

    restored = rollback(layout)  # r2 → r1, whose slot a no longer holds r1's pages
    assert slot_of(restored) == "a"
    assert served_pages(layout) == first_pages
    assert AuditLog(layout.audit).events()[0]["entry_slot_rebuilt"] is True
    assert not (slot_a / "store" / "dirty").exists()
    assert read_slot_state(slot_a)["generation"] == release_info(restored)["slot_generation"]


def test_rollback_two_releases_back_rebuilds_the_reused_slot(department_file: Path, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 30))  # r1, slot a
    first_pages = served_pages(layout)
    do_publish(layout, [department_file], date(2026, 11, 30))  # r2, slot b
    second_pages = served_pages(layout)
    do_publish(layout, [department_file], date(2026, 12, 1))  # r3, slot a again: r1's pages are gone
    assert served_pages(layout) != first_pages
    rollback(layout)  # → r2: slot b still holds it, nothing is rebuilt
    assert served_pages(layout) == second_pages
    assert AuditLog(layout.audit).events()[0]["entry_slot_rebuilt"] is False
    rollback(layout)  # → r1: slot a held r3, rebuilt from r1's snapshot first
    assert served_pages(layout) == first_pages
    assert AuditLog(layout.audit).events()[0]["entry_slot_rebuilt"] is True


def test_rollback_refuses_when_the_slot_cannot_be_rebuilt_and_stays_live(department_file: Path,
                                                                          tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 30))
    do_publish(layout, [department_file], date(2026, 11, 30))
    do_publish(layout, [department_file], date(2026, 12, 1))
    rollback(layout)
    before = live_files(layout)

    def broken_builder(snapshot_dir: Path, out_dir: Path, slot: Path) -> None:
        default_site_builder(snapshot_dir, out_dir, slot)
        raise RuntimeError("templates missing")

    with pytest.raises(PublishError) as exc:
        rollback(layout, site_builder=broken_builder)
    assert exc.value.step == "rollback" and "templates missing" in exc.value.en
    assert live_files(layout) == before  # the live release (slot b) is still served, whole
    assert not list(layout.releases.glob(".tmp-*"))


def test_embedded_server_serves_entry_pages_through_the_slot_links_only(department_file: Path,
                                                                          tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from portal.serve import site_app

    layout = Layout(tmp_path / "var")
    do_publish(layout, [department_file], date(2026, 11, 23))
    entry = next(snap.iter_entries(layout.snapshots / "latest"))
    secret = tmp_path / "outside" / "secret.html"
    secret.parent.mkdir()
    secret.write_text("<p>not part of the site</p>")
    site = layout.current / "site"
    (site / "notices" / "escape").symlink_to(secret.parent)  # a link the publish never makes
    (layout.entry_slot("a") / "entries" / "escape").symlink_to(secret.parent)  # nor inside a slot
    with TestClient(site_app(site)) as client:
        page = client.get(f"/entries/{entry['id']}/")
        assert page.status_code == 200 and entry["subject_name"] in page.text
        assert client.get("/lists/").status_code == 200
        assert client.get("/").status_code == 200
        assert client.get("/notices/escape/secret.html").status_code == 404
        assert client.get("/entries/escape/secret.html").status_code == 404
        assert client.get("/entries/../store/pages.sqlite3").status_code == 404


def test_rollback_rolls_the_measures_back_on_the_site_and_in_the_api(department_file: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def measures_file(text: str) -> Path:
        path = tmp_path / f"measures-{abs(hash(text))}.toml"
        path.write_text(f'version = "1"\n[[measures.YZWFSX]]\ntext = "{text}"\ntype = "punishment"\n', "utf-8")
        return path

    def shown(layout: Layout) -> tuple[list[str], str]:
        release = layout.live_release()
        assert release is not None
        app = create_app(Settings(index_path=release / "index.db", api_keys_db=tmp_path / "keys.sqlite3"))
        with TestClient(app) as client:
            lists = {item["code"]: item for item in client.get("/api/v1/lists").json()["lists"]}
        page = (layout.current / "site" / "lists" / "yzwfsx" / "index.html").read_text("utf-8")
        return [m["text"] for m in lists["YZWFSX"]["measures"]], page

    layout = Layout(tmp_path / "var")
    monkeypatch.setenv("PORTAL_MEASURES", str(measures_file("依法限制参与政府采购活动")))
    do_publish(layout, [department_file], date(2026, 11, 23))
    monkeypatch.setenv("PORTAL_MEASURES", str(measures_file("限制申请财政性资金项目")))
    do_publish(layout, [department_file], date(2026, 11, 24))
    api_measures, page = shown(layout)
    assert api_measures == ["限制申请财政性资金项目"] and "限制申请财政性资金项目" in page
    rollback(layout)
    api_measures, page = shown(layout)
    assert api_measures == ["依法限制参与政府采购活动"]
    assert "依法限制参与政府采购活动" in page and "限制申请财政性资金项目" not in page
