"""Credit report (公共信用信息报告) server time at scale: GET /api/v1/subjects/{uscc}/report on the real API.

    python bench/bench_report.py prepare --entries 1000000 --work W   # synthetic snapshot + our SQLite index
    python bench/bench_report.py prepare --snapshot DIR --work W       # or an existing snapshot (portal ingest)
    python bench/bench_report.py run --work W --requests 200 --runs 3  # uvicorn, one worker; sequential requests
    python bench/bench_report.py parts --work W                        # in process: lookup, render, sign

``run`` starts ``uvicorn search_api.app:app`` (one worker, defaults except the report rate limit, raised
because the whole load comes from one client) and requests reports one after another on loopback, for
subjects drawn with a fixed seed from the index: organisations with one entry, with several, the ones with
the most entries, and valid USCCs without any entry. Server time is the time from sending the request to
the last byte of the PDF (loopback adds well under a millisecond). Each run's p50/p95 is kept; the report
shows the median of the runs. For comparison each run also times ``GET /subjects/{uscc}`` (the same index
lookup answered as JSON) for the same subjects.

The synthetic snapshot: entries of organisations (valid USCCs, several entries for some, a few with dozens)
and natural persons in the proportions of the sample data (about a quarter persons), every PublicEntry field
filled the way ``search_api.testing.make_entry`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import ROOT, machine_line

sys.path.insert(0, str(ROOT))
from portal.ingest.identifiers import USCC_ALPHABET, uscc_check_character  # noqa: E402

TODAY = date(2026, 11, 23)
SEED = 20261123
ORG_LISTS = ("YZWFSX", "XZCF", "XZCF", "XZCF", "AJNSR", "ZDGZ", "TQNMGGZ")
SHARE_PERSONS = 0.25
BIG_SUBJECTS = 50  # organisations with 30-60 entries each: the longest reports
SAMPLE_PER_GROUP = 50


def uscc_for(number: int) -> str:
    digits = []
    for _ in range(9):
        number, rest = divmod(number, 31)
        digits.append(USCC_ALPHABET[rest])
    body = "91511700" + "".join(reversed(digits))
    return body + uscc_check_character(body)


def synthetic_entries(count: int) -> list[dict[str, Any]]:
    from search_api.testing import make_entry

    rng = random.Random(SEED)
    organisations = int(count * (1 - SHARE_PERSONS) / 1.6)  # about 1.6 entries per organisation
    entries = []
    big = list(range(BIG_SUBJECTS))
    for index in range(count):
        day = (TODAY - timedelta(days=rng.randrange(1, 1500))).isoformat()
        if rng.random() < SHARE_PERSONS:
            entries.append(make_entry(f"个人{index:07d}", list_code="SXBZXR", is_person=True, subject_type="自然人",
                                      raw_id=f"5117021985{index % 10_000_000:07d}"[:17] + "X", decision_date=day,
                                      decision_no=f"（2026）川17执{index}号"))
            continue
        org = big[index % BIG_SUBJECTS] if index % 500 == 0 else rng.randrange(BIG_SUBJECTS, organisations)
        list_code = ORG_LISTS[rng.randrange(len(ORG_LISTS))]
        extra: dict[str, Any] = {"details": {"penalty_category": "罚款", "fine_amount": "1.5"}} if list_code == "XZCF" else {}
        entries.append(make_entry(f"达州市测试{org:07d}建设工程有限公司", list_code=list_code, uscc=uscc_for(org),
                                  decision_date=day, decision_no=f"达市监处罚〔2026〕{index}号",
                                  facts="未按规定公示年度报告，提供虚假材料骗取登记" * 2, legal_rep="李明", **extra))
    return entries


def prepare(work: Path, entries: int | None, snapshot: Path | None) -> None:
    from portal.public.snapshot import write_snapshot
    from search_api.indexer import build_index

    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if snapshot is None:
        rows = synthetic_entries(entries or 0)
        write_snapshot(work / "snapshots", rows, [], data_as_of=TODAY, changes=[])
        snapshot = work / "snapshots" / "latest"
        del rows
    made = time.perf_counter() - started
    started = time.perf_counter()
    result = build_index(snapshot, work / "index.db")
    (work / "prepare.json").write_text(json.dumps({"snapshot": str(snapshot), "snapshot_seconds": round(made, 1),
                                                   "index_seconds": round(time.perf_counter() - started, 1),
                                                   "index": result}, default=str, indent=1))


def subjects(work: Path) -> dict[str, list[str]]:
    """USCCs per group, drawn with a fixed seed from the index."""
    import sqlite3

    rng = random.Random(SEED)
    conn = sqlite3.connect(f"file:{work / 'index.db'}?mode=ro", uri=True)
    counts = conn.execute("SELECT uscc, count(*) FROM entries WHERE uscc IS NOT NULL GROUP BY uscc").fetchall()
    known = {code for code, _ in counts}
    one = [code for code, n in counts if n == 1]
    several = [code for code, n in counts if 2 <= n <= 10]
    most = [code for code, _ in sorted(counts, key=lambda row: -row[1])[:SAMPLE_PER_GROUP]]
    none = [code for code in (uscc_for(10**9 + i) for i in range(SAMPLE_PER_GROUP)) if code not in known]
    return {"one entry": rng.sample(one, min(SAMPLE_PER_GROUP, len(one))),
            "2-10 entries": rng.sample(several, min(SAMPLE_PER_GROUP, len(several))),
            "most entries (30-60)": most, "no entry": none}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(work: Path, requests: int, runs: int) -> None:
    import httpx

    groups = subjects(work)
    port = free_port()
    env = {**os.environ, "PORTAL_INDEX_PATH": str(work / "index.db"), "PORTAL_ACCESS_LOG": "false",
           "PORTAL_RATE_REPORT_PER_MINUTE": "100000000", "PORTAL_RATE_SEARCH_PER_MINUTE": "100000000", "PORTAL_REPORT_REGISTRY_DB": str(work / "reports.sqlite3"),
           "PORTAL_REPORT_DEV_KEY_DIR": str(work / "report-key"), "PORTAL_HMAC_KEY": "bench-only-key-0123456789abcdef"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "search_api.app:app", "--port", str(port),
                               "--log-level", "warning", "--workers", "1"], env=env, cwd=ROOT)
    results: dict[str, Any] = {"machine": machine_line(), "date": date.today().isoformat(), "runs": []}
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        with httpx.Client(timeout=60) as client:
            for _ in range(100):
                try:
                    if client.get(f"{base}/lists").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            client.get(f"{base}/subjects/{groups['no entry'][0]}/report").raise_for_status()  # warm: key, font
            for _ in range(runs):
                times: dict[str, list[float]] = {name: [] for name in groups}
                order = [(name, code) for name, codes in groups.items() for code in codes]
                random.Random(SEED).shuffle(order)
                for name, code in (order * (requests // len(order) + 1))[:requests]:
                    started = time.perf_counter()
                    response = client.get(f"{base}/subjects/{code}/report")
                    elapsed = (time.perf_counter() - started) * 1000
                    response.raise_for_status()
                    times[name].append(elapsed)
                every = [t for values in times.values() for t in values]
                # the same lookup as JSON (GET /subjects/{uscc}): what the report adds is rendering and signing
                json_times = []
                for code in groups["2-10 entries"]:
                    started = time.perf_counter()
                    client.get(f"{base}/subjects/{code}").raise_for_status()
                    json_times.append((time.perf_counter() - started) * 1000)
                results["runs"].append({"all": summary(every), **{name: summary(v) for name, v in times.items() if v},
                                        "JSON /subjects/{uscc} (2-10 entries)": summary(json_times)})
    finally:
        server.terminate()
        server.wait(timeout=10)
    (work / "run.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(json.dumps(median_of_runs(results), ensure_ascii=False, indent=1))


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1),
            "p95": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 1), "max": round(ordered[-1], 1)}


def median_of_runs(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    names = results["runs"][0].keys()
    return {name: {key: round(statistics.median(run[name][key] for run in results["runs"]), 1)
                   for key in ("n", "p50", "p95", "max")} for name in names}


def parts(work: Path) -> None:
    """Where a report's time goes, in process: index lookup, PDF rendering, signing, registry write."""
    from portal.report.config import ReportConfig
    from portal.report.content import SubjectCode, build_content
    from portal.report.document import render_pdf
    from portal.report.issue import ReportIssuer
    from portal.report.signing import sign_pdf
    from search_api.engines.sqlite import SqliteEngine

    engine = SqliteEngine(work / "index.db")
    issuer = ReportIssuer(ReportConfig(office="达州市社会信用体系建设领导小组办公室", verify_url="https://example/verify/",
                                       registry_db=work / "parts.sqlite3", dev_key_dir=work / "report-key",
                                       production=False))
    code = subjects(work)["2-10 entries"][0]
    timings: dict[str, list[float]] = {"lookup": [], "render": [], "sign": [], "issue (render+sign+record)": []}
    for _ in range(30):
        started = time.perf_counter()
        entries = engine.by_uscc(code, TODAY, 2001)
        timings["lookup"].append(time.perf_counter() - started)
        content = build_content(report_no="XYBG20261123AAAAAAAA", subject=SubjectCode(code, "uscc"), entries=entries,
                                data_as_of=TODAY, issued_at=__import__("datetime").datetime.now(), office="x",
                                test_key=True)
        started = time.perf_counter()
        pdf = render_pdf(content, verification_code="ABCDEFGHJKLM", verify_url="https://example/verify/")
        timings["render"].append(time.perf_counter() - started)
        started = time.perf_counter()
        sign_pdf(pdf, issuer.signer, office="x", reason="y")
        timings["sign"].append(time.perf_counter() - started)
        started = time.perf_counter()
        issuer.issue(SubjectCode(code, "uscc"), entries, data_as_of=TODAY)
        timings["issue (render+sign+record)"].append(time.perf_counter() - started)
    out = {name: {"median_ms": round(statistics.median(v) * 1000, 2), "entries": len(entries)} for name, v in timings.items()}
    (work / "parts.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
    print(json.dumps(out, ensure_ascii=False, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("prepare", "run", "parts"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--entries", type=int)
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.stage == "prepare":
        prepare(args.work, args.entries, args.snapshot)
    elif args.stage == "run":
        run(args.work, args.requests, args.runs)
    else:
        parts(args.work)


if __name__ == "__main__":
    main()
