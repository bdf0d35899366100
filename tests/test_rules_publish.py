"""Issue 11 through ``portal publish``: 双公示 timeliness (manifest, late.jsonl, history, statistics page,
/api/v1/stats), the 暂停公示（异议处理中） notice of a red entry under objection (site page and API, one
wording), its resolution, and ``--as-of`` replays that honour the recorded date of an action."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from rules_files import KEY, uscc, walk_working_days, write_table
from typer.testing import CliRunner

from portal.cli import app as cli
from portal.ingest.actions import ActionKind, record_action
from portal.ingest.pipeline import SourceSpec
from portal.public import snapshot as snap
from portal.public.states import SUSPENDED, WITHDRAWN
from portal.release.publish import Layout, publish
from search_api.app import create_app
from search_api.settings import Settings

NATIONAL = ["行政处罚决定书文号", "行政相对人名称", "行政相对人类别", "行政相对人代码_1（统一社会信用代码）", "处罚类别",
            "处罚决定日期", "处罚机关"]
RED_HEADER = ["主体名称", "主体类别", "统一社会信用代码", "名单名称", "认定日期", "认定部门", "认定文书号"]
FIRST = date(2026, 11, 23)


def penalty(no: str, n: int, decided: date) -> list[str]:
    return [no, f"达州市时效{n}号商贸有限公司", "法人及非法人组织", uscc(f"91511700MA67{n:05d}"), "罚款",
            decided.isoformat(), "达州市市场监督管理局"]


def decisions_around(day: date) -> tuple[date, date]:
    """(the earliest decision date still on time when first imported on ``day``, the day before it)."""
    on_time = next(d for d in (day - timedelta(days=n) for n in range(30, -1, -1))
                   if walk_working_days(d, 7) >= day)
    late = on_time - timedelta(days=1)
    assert walk_working_days(late, 7) < day  # 7 working days of the official calendar: the rule's deadline
    return on_time, late


def do_publish(layout: Layout, files: list[Path], day: date) -> dict:  # type: ignore[type-arg]
    return publish([SourceSpec(str(p)) for p in files], layout, as_of=day, key=KEY)


def page(layout: Layout, entry_id: str) -> str:
    return (layout.current / "site" / "entries" / entry_id / "index.html").read_text(encoding="utf-8")


def api(layout: Layout, tmp_path: Path, day: date) -> TestClient:
    settings = Settings(index_path=layout.live_release() / "index.db", api_keys_db=tmp_path / "keys.sqlite3",
                        hmac_key="test-only-hmac-key-for-search-api-tests-0123456789")
    return TestClient(create_app(settings, today=lambda: day), raise_server_exceptions=False)


def test_timeliness_objection_notice_and_dated_actions_through_publish(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    on_time, late = decisions_around(FIRST)
    xzcf = write_table(tmp_path / "in" / "xzcf.xlsx", NATIONAL, [
        penalty("达市监处罚〔2026〕101号", 1, on_time), penalty("达市监处罚〔2026〕102号", 2, late)])
    red = write_table(tmp_path / "in" / "red.csv", RED_HEADER, [[
        "达州市诚信纳税有限公司", "法人及非法人组织", uscc("91511700MA6800001"), "A级纳税人名单", "2026-09-01",
        "国家税务总局达州市税务局", "达税〔2026〕8号"]])

    record = do_publish(layout, [xzcf, red], FIRST)
    timeliness = record["manifest"]["timeliness"]
    entries = {e["decision_no"]: e for e in snap.iter_entries(layout.snapshots / "latest")}
    late_id, on_time_id = entries["达市监处罚〔2026〕102号"]["id"], entries["达市监处罚〔2026〕101号"]["id"]
    assert (timeliness["public"], timeliness["late"], timeliness["on_time"]) == (2, 1, 1)
    assert [item["id"] for item in timeliness["late_listed"]] == [late_id]
    assert timeliness["late_listed"][0]["deadline"] == walk_working_days(late, 7).isoformat()
    assert timeliness["late_listed"][0]["first_imported"] == FIRST.isoformat()
    red_id = entries["达税〔2026〕8号"]["id"]

    # An objection recorded for the next day; a decision of that day arrives with the department's file.
    second = FIRST + timedelta(days=1)
    record_action(layout.actions, red_id, ActionKind.OBJECTION, second)
    xzcf = write_table(tmp_path / "in" / "xzcf.xlsx", NATIONAL, [
        penalty("达市监处罚〔2026〕101号", 1, on_time), penalty("达市监处罚〔2026〕102号", 2, late),
        penalty("达市监处罚〔2026〕103号", 3, second)])
    record = do_publish(layout, [xzcf, red], second)
    timeliness = record["manifest"]["timeliness"]
    # Verdicts are kept from the first import: 101 stays on time although its deadline has passed now.
    assert (timeliness["public"], timeliness["late"]) == (3, 1)
    assert timeliness["on_time_rate"] == round(2 / 3, 4)
    late_lines = [orjson.loads(line) for line in (layout.snapshots / "latest" / "late.jsonl").read_bytes().splitlines()]
    assert [line["id"] for line in late_lines] == [late_id] and on_time_id not in str(late_lines)

    # The red entry is withheld while the objection is checked: a suspension notice, not a tombstone.
    html = page(layout, red_id)
    assert SUSPENDED in html and WITHDRAWN not in html and "达州市诚信纳税有限公司" not in html
    assert "2026年11月24日" in html
    statistics = (layout.current / "site" / "statistics" / "index.html").read_text(encoding="utf-8")
    assert "按时公示率 66.7%" in statistics
    with api(layout, tmp_path, second) as client:
        gone = client.get(f"/api/v1/entries/{red_id}")
        assert gone.status_code == 410
        body = gone.json()
        assert (body["error"]["code"], body["error"]["message"]) == ("suspended", SUSPENDED)
        assert body["tombstone"]["reason"] == SUSPENDED
        stats = client.get("/api/v1/stats").json()
        assert stats["timeliness"]["late"] == 1 and stats["timeliness"]["on_time_rate"] == round(2 / 3, 4)

    # portal history lists the late decisions of each publish.
    shown = CliRunner().invoke(cli, ["history", "--var", str(layout.root)], env={**os.environ, "COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "逾期公示" in shown.output and "1/3（按时 66.7%）" in shown.output and "1/2（按时 50.0%）" in shown.output

    # A replay as of the first day: the objection dated the 24th had not been made yet.
    do_publish(layout, [xzcf, red], FIRST)
    replay = {e["id"]: e for e in snap.iter_entries(layout.snapshots / "latest")}
    assert replay[red_id]["status"] == "已公布"

    # Objection upheld: withdrawn for good, with the right reason, in the same words on site and API.
    resolved = second + timedelta(days=2)
    record_action(layout.actions, red_id, ActionKind.OBJECTION_UPHELD, resolved)
    do_publish(layout, [xzcf, red], resolved)
    tombs = {t["id"]: t for t in snap.iter_tombstones(layout.snapshots / "latest")}
    assert tombs[red_id]["reason"] == "异议更正" and tombs[red_id]["withdrawn_on"] == resolved.isoformat()
    html = page(layout, red_id)
    assert WITHDRAWN in html and "异议更正" in html and SUSPENDED not in html
    with api(layout, tmp_path, resolved) as client:
        body = client.get(f"/api/v1/entries/{red_id}").json()["error"]
        assert (body["code"], body["message"]) == ("withdrawn", WITHDRAWN)


def test_objection_rejected_returns_the_red_entry(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "var")
    red = write_table(tmp_path / "in" / "red.xlsx", RED_HEADER, [[
        "达州市守信示范有限公司", "法人及非法人组织", uscc("91511700MA6800002"), "A级纳税人名单", "2026-09-01",
        "国家税务总局达州市税务局", "达税〔2026〕9号"]])
    do_publish(layout, [red], FIRST)
    red_id = next(iter(snap.iter_entries(layout.snapshots / "latest")))["id"]
    record_action(layout.actions, red_id, ActionKind.OBJECTION, FIRST)
    record_action(layout.actions, red_id, ActionKind.OBJECTION_REJECTED, FIRST + timedelta(days=3))
    do_publish(layout, [red], FIRST + timedelta(days=1))
    assert SUSPENDED in page(layout, red_id)
    do_publish(layout, [red], FIRST + timedelta(days=3))
    back = {e["id"]: e for e in snap.iter_entries(layout.snapshots / "latest")}
    assert back[red_id]["status"] == "已公布" and "达州市守信示范有限公司" in page(layout, red_id)


def test_one_wording_per_state_in_the_guides() -> None:
    root = Path(__file__).parent.parent
    for path in ("docs/operator-guide.md", "content/pages/help.md", "content/pages/yiyi-chuli.md",
                 "docs/snapshot-format.md"):
        text = (root / path).read_text(encoding="utf-8")
        assert SUSPENDED in text, path
    for path in ("docs/operator-guide.md", "content/pages/help.md"):
        assert WITHDRAWN in (root / path).read_text(encoding="utf-8"), path
