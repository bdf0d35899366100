"""Publish end to end: a cold ``portal publish`` and nightly ones with 1% of rows changed, by step,
beside what a Datasette user would run for the same files (``sqlite-utils insert`` + ``enable-fts``).

    python bench/bench_publish.py --rows 200000 --runs 3 [--work DIR]

Data: ``portal sample --formats csv-utf8`` (real sample rows: rejects, tombstones, persons, all lists).
Per run, in a fresh ``var/``:

1. cold: ``portal publish`` of the sample as of 2026-11-23 (empty var: nothing to reuse);
2. nightly 1: the same files with the facts of every 100th row changed, as of the next day (a few entries
   expire by date: lifecycle is evaluated for every entry on every run);
3. nightly 2: another 1% changed (other rows), a day later: the steady state, both entry slots filled.

Each publish runs in its own process (``publish_steps.py``), which reports the wall time and peak RSS
(the process and its ingest workers) of each step. The peer runs between our runs on the same files, so
both see the same machine load. Output: Markdown tables for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import ROOT, VENV_BIN, machine_line, run_measured

AS_OF = date(2026, 11, 23)
CHANGE_EVERY = 100  # 1% of rows
STEPS = ("ingest", "site", "index", "switch")
KEY_ENV = {"PORTAL_HMAC_KEY": "bench-key-" + "x" * 32}


def changed_copy(src_dir: Path, dst_dir: Path, offset: int) -> int:
    """Copy the sample CSVs with the facts of every 100th data row (from ``offset``) edited; rows changed."""
    from portal.ingest.headers import map_headers
    from portal.ingest.importers import open_source

    partial = dst_dir.with_name(dst_dir.name + ".partial")  # renamed when complete: a killed run redoes it
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    changed = 0
    for path in sorted(src_dir.glob("*.csv")):
        table = open_source(str(path))
        facts_col = next(i for i, key in map_headers(table.headers).columns.items() if key == "facts")
        with open(path, encoding="utf-8", newline="") as f:
            records = list(csv.reader(f))
        header_index = table.header_row - 1  # title lines above the header are single-line records
        for n, record in enumerate(records[header_index + 1:]):
            if n % CHANGE_EVERY == offset and len(record) > facts_col and record[facts_col]:
                record[facts_col] += f"（{offset}次更正）"
                changed += 1
        with open(partial / path.name, "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(records)
    partial.rename(dst_dir)
    return changed


def run_publish(var: Path, as_of: date, files: list[str]) -> dict:
    cmd = [sys.executable, str(ROOT / "bench" / "publish_steps.py"), str(var), as_of.isoformat(), *files]
    out = subprocess.run(cmd, env={**os.environ, **KEY_ENV}, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def peer(files: list[str], work: Path) -> dict:
    """sqlite-utils insert of every file (one table each) + enable-fts on its name and facts columns."""
    from portal.ingest.headers import map_headers
    from portal.ingest.importers import open_source

    db = work / "peer.db"
    db.unlink(missing_ok=True)
    insert = fts = 0.0
    peak = 0.0
    for n, path in enumerate(files):
        run = run_measured([str(VENV_BIN / "sqlite-utils"), "insert", str(db), f"t{n}", path, "--csv"])
        insert += run.seconds
        peak = max(peak, run.peak_rss_mb)
        table = open_source(path)
        cols = {key: table.headers[i] for i, key in map_headers(table.headers).columns.items()}
        run = run_measured([str(VENV_BIN / "sqlite-utils"), "enable-fts", str(db), f"t{n}",
                            cols["subject_name"], cols["facts"], "--tokenize", "trigram"])
        fts += run.seconds
        peak = max(peak, run.peak_rss_mb)
    db.unlink()
    return {"insert": insert, "enable_fts": fts, "total": insert + fts, "peak_rss_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-publish-"))
    samples = work / "samples"
    if not (samples / "sample-manifest.json").exists():
        run_measured([str(VENV_BIN / "portal"), "sample", "--rows", str(args.rows), "--formats", "csv-utf8",
                      "--as-of", AS_OF.isoformat(), "--out", str(samples)])
    nightly_dirs = [work / "nightly-1", work / "nightly-2"]
    for offset, folder in enumerate(nightly_dirs, start=1):
        if not folder.exists():
            print(f"{folder.name}: {changed_copy(samples, folder, offset * 37)} rows changed", flush=True)
    files = sorted(str(p) for p in samples.glob("*.csv"))
    nightly_files = [sorted(str(p) for p in d.glob("*.csv")) for d in nightly_dirs]

    results: list[dict] = []
    for i in range(args.runs):
        var = work / f"var-{i}"
        shutil.rmtree(var, ignore_errors=True)
        t0 = time.perf_counter()
        cold = run_publish(var, AS_OF, files)
        n1 = run_publish(var, AS_OF + timedelta(days=1), nightly_files[0])
        n2 = run_publish(var, AS_OF + timedelta(days=2), nightly_files[1])
        ours = time.perf_counter() - t0
        theirs = None if args.no_peer else peer(files, work)
        results.append({"cold": cold, "nightly1": n1, "nightly2": n2, "peer": theirs})
        (work / "results.json").write_text(json.dumps(results, indent=1))
        print(f"run {i + 1}: cold {cold['total']:.1f} s, nightly {n1['total']:.1f} / {n2['total']:.1f} s"
              + (f", sqlite-utils {theirs['total']:.1f} s" if theirs else "") + f" ({ours:.0f} s ours)", flush=True)
    report(results, args.rows, files)


def _med(values: list[float]) -> float:
    return statistics.median(values)


def report(results: list[dict], rows: int, files: list[str]) -> None:
    size = sum(Path(f).stat().st_size for f in files) / 2**20
    first = results[0]["cold"]
    print(f"\nMachine: {machine_line()}; load average at the end {os.getloadavg()[0]:.1f}")
    print(f"Input: {rows:,} rows in {len(files)} CSV files ({size:.0f} MiB) → {first['entries']:,} entries, "
          f"{first['withdrawn']:,} tombstones; median of {len(results)} runs\n")
    print("Wall seconds (CPU seconds) by step:\n")
    print("| publish | " + " | ".join(STEPS) + " | total | % of cold (wall / CPU) | peak RSS MB by step |")
    print("|---|" + "---:|" * (len(STEPS) + 3))
    cold_total = _med([r["cold"]["total"] for r in results])
    cold_cpu = _med([r["cold"].get("cpu_total", 0.0) for r in results])
    for name in ("cold", "nightly1", "nightly2"):
        cells = []
        for s in STEPS:
            wall = _med([r[name]["steps"].get(s, {}).get("seconds", 0.0) for r in results])
            cpu = _med([r[name]["steps"].get(s, {}).get("cpu_seconds", 0.0) for r in results])
            cells.append(f"{wall:.1f} ({cpu:.1f})")
        rss = [max(r[name]["steps"].get(s, {}).get("peak_rss_mb", 0.0) for r in results) for s in STEPS]
        total = _med([r[name]["total"] for r in results])
        cpu_total = _med([r[name].get("cpu_total", 0.0) for r in results])
        print(f"| {name} | " + " | ".join(cells) + f" | {total:.1f} ({cpu_total:.1f}) | "
              f"{100 * total / cold_total:.0f}% / {100 * cpu_total / max(cold_cpu, 1e-9):.0f}% | "
              + " / ".join(f"{v:.0f}" for v in rss) + " |")
    if results[0]["peer"]:
        ins = _med([r["peer"]["insert"] for r in results])
        fts = _med([r["peer"]["enable_fts"] for r in results])
        peak = max(r["peer"]["peak_rss_mb"] for r in results)
        ingest = _med([r["cold"]["steps"]["ingest"]["seconds"] for r in results])
        print(f"| sqlite-utils insert + enable-fts (peer, wall) | {ins:.1f} (insert) | – | {fts:.1f} (fts) | – | "
              f"{ins + fts:.1f} | – | {peak:.0f} |")
        print(f"\nWall-time ratios in the same run: sqlite-utils insert / cold ingest = {ins / ingest:.2f}×; "
              f"(insert + enable-fts) / cold publish = {(ins + fts) / cold_total:.2f}×")
    for name in ("nightly1", "nightly2"):
        memo = results[0][name].get("ingest_memo")
        if memo:
            print(f"\n{name}: ingest memo {memo}; changes {results[0][name]['changes']}")

if __name__ == "__main__":
    main()
