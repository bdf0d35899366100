"""Bounded load test: wrk at 64 connections for 60 s against the search API on a 1,000,000-row data set,
with the index rebuilt and swapped in the middle of the run.

    python bench/bench_load.py prepare [--work W]   # portal ingest + build_index (timed); reuses what exists
    python bench/bench_load.py run     [--work W]   # server + wrk + mid-run swap; writes W/load.json
    python bench/bench_load.py report  [--work W] > bench/results/load.md
    python bench/bench_load.py clean   [--work W]   # delete the index and snapshots (disk)

The rebuild is scheduled from the build time measured in ``prepare`` so that the swap lands near the middle
of the wrk run. The API runs with its defaults except the per-IP rate limits, raised because the whole load
comes from one client.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

from common import ROOT, VENV_BIN, machine_line, run_measured

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "load_mix.lua"
SAMPLES = ROOT / "bench" / "work" / "ingest" / "samples"
AS_OF = "2026-11-23"
HMAC_ENV = {"PORTAL_HMAC_KEY": "bench-key-" + "x" * 32}
RATE_ENV = {"PORTAL_RATE_SEARCH_PER_MINUTE": "100000000", "PORTAL_RATE_PERSON_PER_MINUTE": "100000000",
            "PORTAL_RATE_CHECK_PER_MINUTE": "100000000"}
TWO_CHAR_NAMES = ("王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊")
FOUR_CHAR_FRAGMENTS = ("达州建筑", "商贸有限", "建设工程", "科技有限", "餐饮管理", "物流有限")
USCC_COUNT = 6


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def build_code(snapshot: Path, index: Path, stats: Path) -> str:
    return ("import json; from pathlib import Path; from search_api.indexer import build_index; "
            f"s = build_index(Path({str(snapshot)!r}), Path({str(index)!r})); "
            f"Path({str(stats)!r}).write_text(json.dumps(s))")


# --- prepare -----------------------------------------------------------------------------------------------
def prepare(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    snapshots = work / "snapshots"
    info_path = work / "prepare.json"
    info: dict[str, Any] = read_json(info_path) if info_path.exists() else {}
    if not (snapshots / "latest" / "entries.jsonl").exists():
        files = sorted(str(p) for p in SAMPLES.glob("*.csv"))
        cmd = [str(VENV_BIN / "portal"), "ingest", *files, "--snapshots", str(snapshots), "--as-of", AS_OF]
        run = run_measured(cmd, env=HMAC_ENV, cwd=ROOT)
        info["ingest"] = {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb, "csv_files": len(files)}
        print(f"ingest: {run.seconds:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB", flush=True)
        write_json(info_path, info)
    index = work / "index.db"
    if not index.exists():
        stats = work / "build-stats.json"
        run = run_measured([sys.executable, "-c", build_code(snapshots / "latest", index, stats)], cwd=ROOT)
        info["build"] = {"seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb, "bytes": index.stat().st_size,
                         "stats": read_json(stats)}
        print(f"build: {run.seconds:.1f} s, {index.stat().st_size / 2**20:.0f} MiB, peak RSS {run.peak_rss_mb:.0f} MB",
              flush=True)
        write_json(info_path, info)
    with sqlite3.connect(index) as conn:
        info["public_entries"] = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    write_json(info_path, info)
    print(f"public entries in index: {info['public_entries']}")


# --- run ---------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query_paths(index: Path) -> list[str]:
    """The query mix: 2-char person names, 4-char company fragments, USCCs from the data, a filtered query."""
    with sqlite3.connect(index) as conn:
        usccs = [u for (u,) in conn.execute("SELECT uscc FROM entries WHERE uscc IS NOT NULL AND rowid % 9973 = 1 "
                                            "LIMIT ?", [USCC_COUNT])]
    groups: list[list[dict[str, str]]] = [
        [{"q": name} for name in TWO_CHAR_NAMES],
        [{"q": fragment} for fragment in FOUR_CHAR_FRAGMENTS],
        [{"q": uscc} for uscc in usccs],
        [{"q": fragment, "list_kind": "black"} for fragment in FOUR_CHAR_FRAGMENTS],
    ]
    size = min(len(group) for group in groups)
    return ["/api/v1/search?" + urllib.parse.urlencode(group[i]) for i in range(size) for group in groups]


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server not ready: {url}")


def worker_pid(server_pid: int) -> int:
    """The process that serves requests: uvicorn's child when it forks a worker, else uvicorn itself."""
    children = Path(f"/proc/{server_pid}/task/{server_pid}/children")
    pids = children.read_text().split() if children.exists() else []
    return int(pids[0]) if pids else server_pid


def vm_hwm_mb(pid: int) -> float:
    match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else -1.0


def run_load(work: Path, duration: int, connections: int, threads: int, swap_at: float, contention: float) -> None:
    info = read_json(work / "prepare.json")
    index = work / "index.db"
    snapshot = work / "snapshots" / "latest"
    paths_file = work / "paths.txt"
    paths = query_paths(index)
    paths_file.write_text("\n".join(paths) + "\n")
    # Each path once before the run: what each returns (status, total) goes into the report.
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_env = {**os.environ, **RATE_ENV, "PORTAL_INDEX_PATH": str(index), "PORTAL_SNAPSHOT_DIR": str(snapshot),
                  "PORTAL_ACCESS_LOG": "false"}
    server_cmd = [str(VENV_BIN / "uvicorn"), "search_api.app:app", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", "1", "--no-access-log"]
    server_log = (work / "server.log").open("wb")
    server = subprocess.Popen(server_cmd, env=server_env, cwd=ROOT, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        wait_ready(base + paths[0])
        samples = []
        for path in paths:
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(base + path, timeout=30) as response:
                    status, body = response.status, json.loads(response.read())
            except urllib.error.HTTPError as error:
                status, body = error.code, json.loads(error.read() or b"{}")
            samples.append({"path": urllib.parse.unquote(path), "status": status, "total": body.get("total"),
                            "ms": (time.perf_counter() - began) * 1000, "took_ms": body.get("took_ms")})
        # The swap happens when the build ends. A 1,000,000-row build takes minutes, longer than the run, so
        # it starts before wrk: alone for most of its time (at the speed measured in prepare), under load for
        # the last stretch, where it is slowed by `contention`. lead = seconds from rebuild start to wrk start.
        build_seconds = float(info["build"]["seconds"])
        lead = build_seconds - swap_at / contention
        wrk_cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
                   "-s", str(LUA_SCRIPT), base]
        rebuild: dict[str, Any] = {}
        index_inode_before = index.stat().st_ino

        def rebuild_index() -> None:
            rebuild["started"] = time.monotonic()
            stats = work / "rebuild-stats.json"
            run = run_measured([sys.executable, "-c", build_code(snapshot, index, stats)], cwd=ROOT)
            rebuild["swapped"] = time.monotonic()
            rebuild["seconds"] = run.seconds
            rebuild["peak_rss_mb"] = run.peak_rss_mb
            rebuild["stats"] = read_json(stats)

        builder = threading.Thread(target=rebuild_index)
        if lead > 0:
            builder.start()
            time.sleep(lead)
        wrk_started = time.monotonic()
        wrk = subprocess.Popen(wrk_cmd, env={**os.environ, "BENCH_PATHS": str(paths_file)}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        if lead <= 0:
            time.sleep(-lead)
            builder.start()
        wrk_output, _ = wrk.communicate()
        wrk_seconds = time.monotonic() - wrk_started
        builder.join()
        rebuild["started_s"] = rebuild.pop("started") - wrk_started
        rebuild["swapped_s"] = rebuild.pop("swapped") - wrk_started
        swapped = index.stat().st_ino != index_inode_before
        # After the run: the API must answer from the new file (the rebuild's version).
        with urllib.request.urlopen(base + paths[0], timeout=30) as response:
            after_status = response.status
        hwm = vm_hwm_mb(worker_pid(server.pid))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        server_log.close()
    print(wrk_output)
    result = {"date": datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine_line(),
              "wrk_cmd": " ".join(wrk_cmd), "server_cmd": " ".join(server_cmd), "wrk_output": wrk_output,
              "wrk_seconds": wrk_seconds, "rebuild": rebuild, "index_file_replaced": swapped,
              "status_after_run": after_status, "worker_vm_hwm_mb": hwm, "samples": samples,
              "bench": parse_bench_line(wrk_output), "wrk_counters": parse_wrk_counters(wrk_output),
              "duration": duration, "connections": connections, "threads": threads}
    write_json(work / "load.json", result)
    print(json.dumps({k: result[k] for k in ("bench", "wrk_counters", "rebuild", "worker_vm_hwm_mb")},
                     ensure_ascii=False, indent=1))


def parse_bench_line(output: str) -> dict[str, Any]:
    match = re.search(r"^BENCH (.*)$", output, re.M)
    fields: dict[str, Any] = {}
    if match:
        for part in match.group(1).split():
            key, value = part.split("=", 1)
            fields[key] = value if key in ("statuses", "failure_seconds") else float(value)
    return fields


def parse_wrk_counters(output: str) -> dict[str, int]:
    """wrk's own failure counters: 0 when wrk prints no such line."""
    counters = {"non_2xx_3xx": 0, "socket_errors": 0}
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if match:
        counters["non_2xx_3xx"] = int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if match:
        counters["socket_errors"] = sum(int(g) for g in match.groups())
    return counters


# --- report ------------------------------------------------------------------------------------------------
def report(work: Path) -> None:
    info = read_json(work / "prepare.json")
    load = read_json(work / "load.json")
    bench = load["bench"]
    counters = load["wrk_counters"]
    rebuild = load["rebuild"]
    ingest = info.get("ingest", {})
    build = info["build"]
    failed = counters["non_2xx_3xx"] + counters["socket_errors"]
    lines = [
        "# Load: 64 connections for 60 s on the 1,000,000-row data set, index swapped mid-run",
        "",
        f"Machine: {load['machine']}. Run: {load['date']}. wrk and the server share the 2 cores (loopback).",
        "",
        f"Data: the 1,000,000 generated rows of `bench/work/ingest/samples/*.csv` (8 files), ingested with "
        f"`portal ingest --as-of {AS_OF}` → **{info['public_entries']:,} public entries** in the index "
        f"(the rest are not public on that date or not publishable). "
        f"Ingest {ingest.get('seconds', float('nan')):.0f} s; index build {build['seconds']:.0f} s, "
        f"{build['bytes'] / 2**20:.0f} MiB.",
        "",
        "## Result",
        "",
        "| what | figure |",
        "|---|---|",
        f"| requests | {bench['requests']:,.0f} in {bench['seconds']:.1f} s |",
        f"| requests/s | **{bench['rps']:.0f}** |",
        f"| latency p50 / p99 (wrk, client side) | **{bench['p50_ms']:.1f} ms / {bench['p99_ms']:.1f} ms** |",
        f"| non-2xx/3xx responses (wrk) | **{counters['non_2xx_3xx']}** |",
        f"| socket errors (connect+read+write+timeout) | **{counters['socket_errors']}** |",
        f"| statuses seen (Lua `response()`, status/error code) | {bench.get('statuses', '')} |",
        f"| failures per second of the run (second:count) | {bench.get('failure_seconds', '-')} |",
        f"| index rebuild | started at t={rebuild['started_s']:.1f} s (t=0: wrk starts), **swapped at t={rebuild['swapped_s']:.1f} s** "
        f"of the wrk run (build {rebuild['seconds']:.0f} s, peak RSS {rebuild['peak_rss_mb']:.0f} MB) |",
        f"| index file replaced during the run | {'yes' if load['index_file_replaced'] else 'NO'} |",
        f"| peak RSS (VmHWM) of the uvicorn worker | {load['worker_vm_hwm_mb']:.0f} MB |",
        "",
        f"Failed requests: **{failed}**" + (" — the requirement (zero) is met." if failed == 0 else
                                             " — see the statuses above."),
        "",
        "The swap time is taken when the rebuild process exits (`build_index` renames the new file over",
        "`index.db` as its last step), measured from the start of wrk. The rebuild competes with the server and",
        "wrk for the 2 cores while it runs, so the figures above include that contention.",
        "",
        "## Query mix",
        "",
        "wrk rotates through these paths (`bench/load_mix.lua`, each thread from its own offset). One request",
        "each, one at a time, on the idle server just before the run (warm-up: the first one opens the index):",
        "",
        "| path | status | total | wall ms (client) | took_ms (server) |",
        "|---|---|---|---|---|",
        *[f"| `{s['path']}` | {s['status']} | {json.dumps(s['total'], ensure_ascii=False)} | {s['ms']:.1f} | "
          f"{s['took_ms']} |" for s in load["samples"]],
        "",
        "## Commands",
        "",
        "```",
        "python bench/bench_load.py prepare   # portal ingest + build_index, reused when present",
        "python bench/bench_load.py run       # server, wrk, rebuild scheduled to swap at ~30 s",
        "python bench/bench_load.py report > bench/results/load.md",
        "python bench/bench_load.py clean",
        "```",
        "",
        "Underneath:",
        "",
        "```",
        f"portal ingest bench/work/ingest/samples/*.csv --snapshots WORK/snapshots --as-of {AS_OF}",
        "python -c 'from search_api.indexer import build_index; build_index(WORK/snapshots/latest, WORK/index.db)'",
        "PORTAL_INDEX_PATH=WORK/index.db PORTAL_SNAPSHOT_DIR=WORK/snapshots/latest PORTAL_ACCESS_LOG=false \\",
        "  PORTAL_RATE_SEARCH_PER_MINUTE=100000000 PORTAL_RATE_PERSON_PER_MINUTE=100000000 \\",
        "  PORTAL_RATE_CHECK_PER_MINUTE=100000000 " + load["server_cmd"].replace(str(VENV_BIN) + "/", ""),
        "BENCH_PATHS=WORK/paths.txt " + load["wrk_cmd"].replace(str(BENCH_DIR), "bench"),
        "```",
        "",
        "## wrk output",
        "",
        "```",
        load["wrk_output"].rstrip(),
        "```",
    ]
    print("\n".join(lines))


def clean(work: Path) -> None:
    for name in ("index.db", "index.db-wal", "index.db-shm"):
        (work / name).unlink(missing_ok=True)
    shutil.rmtree(work / "snapshots", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("prepare", "run", "report", "clean"))
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "load")
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--swap-at", type=float, default=30.0, help="seconds into the wrk run")
    parser.add_argument("--contention", type=float, default=1.5,
                        help="how much slower the rebuild runs while wrk loads the 2 cores (for scheduling)")
    args = parser.parse_args()
    if args.stage == "prepare":
        prepare(args.work)
    elif args.stage == "run":
        run_load(args.work, args.duration, args.connections, args.threads, args.swap_at, args.contention)
    elif args.stage == "report":
        report(args.work)
    else:
        clean(args.work)


if __name__ == "__main__":
    main()
