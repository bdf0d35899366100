"""The operator's side, on SQLite and on the real PostgreSQL server: each decision becomes the existing
entry action, the next ingest applies it, every step is audited, ``portal history --entry`` lists the
applications, and the nightly purge removes what is past its retention."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from applications_support import PDF, fresh_postgres_url, uscc
from typer.testing import CliRunner

from portal.applications import decide
from portal.applications.attachments import AttachmentDir
from portal.applications.rules import Kind
from portal.applications.settings import RETENTION_YEARS, UNDECIDED_RETENTION_DAYS, Settings
from portal.applications.store import ApplicationStore, NewApplication, StoreError
from portal.cli import app as cli
from portal.ingest.actions import load_overrides
from portal.ingest.pipeline import SourceSpec, run_ingest
from portal.public import snapshot as snap
from portal.public.dates import add_months
from portal.release.publish import Layout

AS_OF = date(2026, 11, 23)
ORG_A, ORG_B = uscc("91511700MA6200001"), uscc("91511700MA6200002")
ROWS = [["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "认定部门", "认定文书号"],
        ["达州市甲建筑工程有限公司", "法人及非法人组织", ORG_A, "严重违法失信企业名单", "2025-03-05", "达州市市场监督管理局",
         "达市监〔2025〕1号"],
        ["达州市乙商贸有限公司", "法人及非法人组织", ORG_B, "行政处罚", "2026-05-06", "达州市市场监督管理局",
         "达市监罚〔2026〕9号"]]


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    db_url = "" if request.param == "sqlite" else fresh_postgres_url(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv("PORTAL_APPLY_DB_URL", db_url)  # what the CLI reads
    source = tmp_path / "dept.csv"
    with open(source, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(ROWS)
    layout = Layout(tmp_path / "var")
    run_ingest([SourceSpec(str(source))], layout.snapshots, as_of=AS_OF)
    entries = {e["subject_name"]: e for e in snap.iter_entries(layout.snapshots / "latest")}
    settings = Settings(var_dir=layout.root, db_url=db_url)
    store = ApplicationStore(settings.resolved_db_url, AttachmentDir(settings.resolved_attachments_dir))
    yield {"layout": layout, "store": store, "entries": entries, "source": source, "settings": settings}
    store.close()


def file_one(store: ApplicationStore, entry: dict[str, Any], kind: Kind = Kind.OBJECTION,
             today: date = AS_OF) -> str:
    new = NewApplication(kind=kind, entry=entry, applicant_type="unit", applicant_name=entry["subject_name"],
                         applicant_code=entry["uscc"], applicant_id_digest=None, identity_matches=True,
                         contact_name="李明", contact_phone="0818-2123456", contact_email=None,
                         grounds="认定文书号有误，附处罚决定书。", files=[(PDF, "决定书.pdf", "application/pdf")])
    receipt, _code = store.create(new, today)
    return receipt


def actions(layout: Layout) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in layout.actions.read_bytes().splitlines()]


def reingest(deployment: dict[str, Any], as_of: date) -> dict[str, Any]:
    layout = deployment["layout"]
    result = run_ingest([SourceSpec(str(deployment["source"]))], layout.snapshots, as_of=as_of,
                        overrides=load_overrides(layout.actions))
    return {"entries": {e["id"]: e for e in snap.iter_entries(result.version_dir)},
            "tombstones": {t["id"]: t for t in snap.iter_tombstones(result.version_dir)}}


def test_objection_accepted_flags_the_entry_and_resolution_withdraws_it(deployment: dict[str, Any]) -> None:
    store, layout = deployment["store"], deployment["layout"]
    entry = deployment["entries"]["达州市甲建筑工程有限公司"]
    receipt = file_one(store, entry)
    row = decide.accept(store, layout, receipt, actor="张科员", on=AS_OF)
    assert row["state"] == "accepted"
    assert [(a["entry_id"], a["action"], a["date"]) for a in actions(layout)] == [(entry["id"], "objection", "2026-11-23")]
    assert receipt in actions(layout)[0]["note"] and "李明" not in layout.actions.read_text()
    with pytest.raises(StoreError, match="核查中"):
        decide.accept(store, layout, receipt, actor="张科员", on=AS_OF)
    assert reingest(deployment, AS_OF)["entries"][entry["id"]]["status"] == "异议处理中"

    decide.resolve(store, layout, receipt, "corrected", actor="王主任", on=date(2026, 11, 30), reason="文书号已更正")
    after = reingest(deployment, date(2026, 11, 30))
    assert entry["id"] not in after["entries"] and after["tombstones"][entry["id"]]["reason"] == "异议更正"
    steps = store.events_of(receipt=receipt)
    assert [(e["action"], e["actor"]) for e in steps] == [("submitted", "申请人（网上提交）"), ("accepted", "张科员"),
                                                          ("resolved", "王主任")]
    closed = store.get(receipt)
    assert closed["state"] == "closed" and closed["outcome"] == "corrected"
    assert closed["purge_after"] == add_months(date(2026, 11, 30), 12 * RETENTION_YEARS)


@pytest.mark.parametrize("outcome", ["withdrawn", "upheld"])
def test_objection_withdrawn_or_upheld_lifts_the_flag(deployment: dict[str, Any], outcome: str) -> None:
    store, layout = deployment["store"], deployment["layout"]
    entry = deployment["entries"]["达州市甲建筑工程有限公司"]
    receipt = file_one(store, entry)
    decide.accept(store, layout, receipt, actor="张科员", on=AS_OF)
    decide.resolve(store, layout, receipt, outcome, actor="张科员", on=AS_OF + timedelta(days=3))
    assert actions(layout)[-1]["action"] == "objection_rejected"
    assert reingest(deployment, AS_OF + timedelta(days=3))["entries"][entry["id"]]["status"] == "已公布"


def test_repair_accepted_records_the_repair_with_its_date(deployment: dict[str, Any]) -> None:
    store, layout = deployment["store"], deployment["layout"]
    entry = deployment["entries"]["达州市乙商贸有限公司"]
    receipt = file_one(store, entry, Kind.REPAIR)
    with pytest.raises(StoreError, match="accept"):
        decide.resolve(store, layout, receipt, "corrected", actor="张科员", on=AS_OF)
    decide.accept(store, layout, receipt, actor="张科员", on=AS_OF, effective=date(2026, 11, 25))
    assert actions(layout)[-1] | {"recorded_at": None} == {
        "recorded_at": None, "entry_id": entry["id"], "action": "repair", "date": "2026-11-25",
        "note": f"网上信用修复申请 {receipt}"}
    assert entry["id"] in reingest(deployment, date(2026, 11, 24))["entries"]  # not yet: effective on the 25th
    gone = reingest(deployment, date(2026, 11, 25))
    assert gone["tombstones"][entry["id"]]["reason"] == "信用修复"


def test_reject_needs_a_reason_and_records_no_entry_action(deployment: dict[str, Any]) -> None:
    store, layout = deployment["store"], deployment["layout"]
    receipt = file_one(store, deployment["entries"]["达州市甲建筑工程有限公司"])
    with pytest.raises(StoreError, match="理由"):
        decide.reject(store, receipt, actor="张科员", on=AS_OF, reason=" ")
    row = decide.reject(store, receipt, actor="张科员", on=AS_OF, reason="未提交身份证明")
    assert row["outcome"] == "not_accepted" and not layout.actions.exists()


def test_purge_removes_rows_events_and_files_past_retention(deployment: dict[str, Any]) -> None:
    store, _layout = deployment["store"], deployment["layout"]
    entry = deployment["entries"]["达州市甲建筑工程有限公司"]
    closed = file_one(store, entry, today=date(2022, 1, 10))
    decide.reject(store, closed, actor="张科员", on=date(2022, 1, 11), reason="材料不全")
    abandoned = file_one(store, entry, today=date(2025, 1, 10))
    kept = file_one(store, entry)
    attachment_dir = deployment["settings"].resolved_attachments_dir
    assert len(list(attachment_dir.iterdir())) == 3
    # On the last day of retention nothing goes; the day after, the closed one does.
    last_day = add_months(date(2022, 1, 11), 12 * RETENTION_YEARS)
    assert store.purge(last_day, "nightly")["applications"] == 0
    assert store.purge(last_day + timedelta(days=1), "nightly") == {"applications": 1, "attachments": 1}
    assert store.get(closed) is None and store.get(abandoned) is not None
    assert store.purge(date(2025, 1, 10) + timedelta(days=UNDECIDED_RETENTION_DAYS + 1), "nightly")["applications"] == 1
    assert store.get(abandoned) is None and store.get(kept) is not None
    assert len(list(attachment_dir.iterdir())) == 1
    assert [e["action"] for e in store.events_of(receipt=closed)] == ["purged"]  # no applicant data remains


def test_cli_list_show_accept_and_history(deployment: dict[str, Any]) -> None:
    store, layout = deployment["store"], deployment["layout"]
    entry = deployment["entries"]["达州市甲建筑工程有限公司"]
    receipt = file_one(store, entry)
    runner = CliRunner()
    var = str(layout.root)
    listed = runner.invoke(cli, ["applications", "list", "--var", var, "--state", "received"],
                           env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert receipt in listed.output and "待受理" in listed.output
    shown = runner.invoke(cli, ["applications", "show", receipt, "--var", var], env={"COLUMNS": "250"})
    assert shown.exit_code == 0 and "0818-2123456" in shown.output and "决定书.pdf" in shown.output
    accepted = runner.invoke(cli, ["applications", "accept", receipt, "--var", var, "--by", "张科员",
                                   "--on", "2026-11-24"])
    assert accepted.exit_code == 0, accepted.output
    assert "核查中" in accepted.output and actions(layout)[-1]["date"] == "2026-11-24"
    again = runner.invoke(cli, ["applications", "accept", receipt, "--var", var])
    assert again.exit_code == 2 and "核查中" in again.output
    bad = runner.invoke(cli, ["applications", "resolve", receipt, "maybe", "--var", var])
    assert bad.exit_code == 2 and "corrected" in bad.output
    history = runner.invoke(cli, ["history", "--var", var, "--entry", entry["id"]], env={"COLUMNS": "250"})
    assert receipt in history.output and "accepted" in history.output and "张科员" in history.output
    assert "李明" not in history.output  # the applicant's contact stays out of the audit view
