"""Our API on Meilisearch vs our API on SQLite vs lean Datasette, one data set, one run.

    python bench/bench_search.py prepare --snapshot DIR --work W     # SQLite index + Datasette DB, timed
    python bench/bench_search.py queries --work W                    # the query mix, from the data
    python bench/bench_meili.py prepare   --snapshot DIR --work W    # Meilisearch server + index, timed
    python bench/bench_meili.py inprocess --work W                   # MeiliEngine latency per query type
    python bench/bench_meili.py load      --work W --runs 3          # the three servers, alternating
    python bench/bench_meili.py swap      --work W --snapshot DIR --duration 60 --connections 64
                                                                     # re-index + swap under load
    python bench/bench_meili.py report    --work W > bench/results/meili.md

Same query mix, same wrk settings and the same paths as bench/bench_search.py (whose stages build the SQLite
index, the Datasette DB and the mix). The Meilisearch server is the official binary on PATH (or $MEILI_BIN),
started by ``tests/meili.py``'s ``start_meili`` with its database in ``W/meili`` (each stage starts it on the
database ``prepare`` built, with a new random master key: the master key opens every route). Measured for it: index
build time (``MeiliEngine.index_snapshot``, documents sent and every task done, swap included), disk (the
database directory), peak RSS of the Meilisearch process (VmHWM) during the build and during each load run.

``--entries N`` (prepare, with bench_search's prepare on the same subset) cuts the snapshot to its newest N
entries first (``subset``), for sizes below the full data set.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bench_search as bs
from common import ROOT, machine_line

sys.path.insert(0, str(ROOT))
from search_api.engines.base import SearchQuery  # noqa: E402
from search_api.engines.meilisearch import MeiliEngine  # noqa: E402
from tests.meili import find_meili_bin, start_meili, stop_meili  # noqa: E402

INDEX = "portal_entries"
# The benchmark server may use more than the test server: 4 GiB and both cores while indexing.
BENCH_INDEXING_MEMORY = "4GiB"
BENCH_INDEXING_THREADS = "2"
SERVERS = ("sqlite", "meili", "datasette")


def disk_bytes(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def start(work: Path) -> tuple[subprocess.Popen[bytes], Any]:
    """The benchmark's Meilisearch server on W/meili/data.ms (created on first start)."""
    binary = find_meili_bin()
    if binary is None:
        raise SystemExit("no meilisearch binary on PATH (or MEILI_BIN)")
    (work / "meili").mkdir(parents=True, exist_ok=True)
    return start_meili(binary, work / "meili", indexing_memory=BENCH_INDEXING_MEMORY,
                       indexing_threads=BENCH_INDEXING_THREADS)


def _head(source: Path, target: Path, lines: int) -> int:
    written = 0
    with source.open("rb") as reader, target.open("wb") as writer:
        for line in reader:
            if written >= lines:
                break
            writer.write(line)
            written += 1
    return written


def subset(snapshot: Path, out: Path, entries: int) -> Path:
    """A snapshot of the newest ``entries`` entries of ``snapshot`` (the file is in decision order, newest first),
    with the same share of its tombstones and change records (the head of each file)."""
    out.mkdir(parents=True, exist_ok=True)
    total = sum(1 for _ in (snapshot / "entries.jsonl").open("rb"))
    share = min(1.0, entries / total)
    for item in snapshot.iterdir():
        if not item.is_file():
            continue
        if item.suffix == ".jsonl":
            lines = entries if item.name == "entries.jsonl" else round(sum(1 for _ in item.open("rb")) * share)
            _head(item, out / item.name, lines)
        else:
            shutil.copy2(item, out / item.name)
    return out


def prepare(snapshot: Path, work: Path) -> None:
    shutil.rmtree(work / "meili", ignore_errors=True)
    process, server = start(work)
    try:
        engine = MeiliEngine(server.url, server.key, index=INDEX, timeout_ms=60_000)
        started = time.perf_counter()
        stats = engine.index_snapshot(snapshot)
        seconds = time.perf_counter() - started
        info = {"seconds": seconds, "stats": stats, "server_vm_hwm_mb": bs.vm_hwm_mb(process.pid),
                "python_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "version": server.version, "snapshot": str(snapshot)}
    finally:
        stop_meili(process)
    info["disk_bytes"] = disk_bytes(work / "meili" / "data.ms")
    bs.write_json(work / "meili-prepare.json", info)
    print(f"meilisearch {server.version}: {stats['entries']:,} entries in {seconds:.1f} s, "
          f"disk {info['disk_bytes'] / 2**20:.0f} MiB, server peak RSS {info['server_vm_hwm_mb']:.0f} MB", flush=True)


def inprocess(work: Path, passes: int) -> None:
    process, server = start(work)
    try:
        engine = MeiliEngine(server.url, server.key, index=INDEX, timeout_ms=60_000)
        queries = bs.read_json(work / "queries.json")
        result: dict[str, Any] = {}
        for kind in bs.TYPES:
            timings: list[float] = []
            totals: list[int] = []
            for round_number in range(passes + 1):  # the first pass warms caches and is not counted
                for params in queries[kind]:
                    query = SearchQuery(today=bs.TODAY, **params)
                    began = time.perf_counter()
                    found = engine.search(query)
                    elapsed = (time.perf_counter() - began) * 1000
                    if round_number:
                        timings.append(elapsed)
                    else:
                        totals.append(found.total)
            result[kind] = {"n": len(timings), "p50": bs.percentile(timings, 50), "p95": bs.percentile(timings, 95),
                            "p99": bs.percentile(timings, 99), "max": max(timings),
                            "median_total": statistics.median(totals), "zero_hits": sum(1 for t in totals if t == 0)}
            print(kind, {k: round(v, 2) for k, v in result[kind].items()}, flush=True)
        result["_meta"] = {"passes": passes, "worst_p95": max(result[kind]["p95"] for kind in bs.TYPES)}
    finally:
        stop_meili(process)
    bs.write_json(work / "meili-inprocess.json", result)


def load(work: Path, runs: int, duration: int, connections: int, threads: int) -> None:
    """Each run: the three servers one after the other (rotated), each with the same scenarios."""
    out_path = work / "meili-load.json"
    results: dict[str, Any] = {"settings": {"runs": runs, "duration": duration, "connections": connections,
                                            "threads": threads}, "runs": []}
    meili_process, server = start(work)
    saved = {name: os.environ.get(name) for name in ("PORTAL_ENGINE", "MEILI_URL", "MEILI_KEY", "PORTAL_MEILI_INDEX")}
    try:
        for run in range(runs):
            order = SERVERS[run % 3:] + SERVERS[:run % 3]
            record: dict[str, Any] = {}
            for kind in order:
                if kind == "meili":  # bench_search starts "ours" with os.environ: point it at Meilisearch
                    os.environ.update(PORTAL_ENGINE="meilisearch", MEILI_URL=server.url, MEILI_KEY=server.key,
                                      PORTAL_MEILI_INDEX=INDEX)
                else:
                    for name in saved:
                        os.environ.pop(name, None)
                port = bs.free_port()
                proc = bs.start_server("datasette" if kind == "datasette" else "ours", work, 1, port)
                base = f"http://127.0.0.1:{port}"
                try:
                    scenarios = (("common", work / "paths-datasette-common.txt"),) if kind == "datasette" else (
                        ("same", work / "paths-ours-same.txt"), ("common", work / "paths-ours-common.txt"),
                        ("full", work / "paths-ours-full.txt"))
                    for name, paths_file in scenarios:
                        warm = bs.warm_and_time(base, paths_file.read_text().split())
                        measured = bs.run_wrk(base, paths_file, duration, connections, threads)
                        measured["idle_server_p95_ms"] = bs.percentile(warm["server_ms"], 95)
                        record[f"{kind}_{name}"] = measured
                        print(f"run {run + 1} {kind} {name}: {measured['rps']:.0f} req/s p50 {measured['p50_ms']:.1f} "
                              f"p95 {measured['p95_ms']:.1f} ms non200 {measured['non200']:.0f} "
                              f"errors {measured['errors']:.0f}", flush=True)
                    record[f"{kind}_rss_mb"] = [bs.vm_hwm_mb(pid) for pid in bs.server_pids(proc)]
                    record[f"{kind}_anon_mb"] = [bs.status_mb(pid, "RssAnon") for pid in bs.server_pids(proc)]
                finally:
                    bs.stop_server(proc)
            record["meilisearch_vm_hwm_mb"] = bs.vm_hwm_mb(meili_process.pid)
            record["meilisearch_rss_mb"] = bs.status_mb(meili_process.pid, "VmRSS")
            results["runs"].append(record)
            bs.write_json(out_path, results)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stop_meili(meili_process)


def swap_under_load(work: Path, snapshot: Path, duration: int, connections: int, contention: float,
                    label: str) -> None:
    """bench_load.py's test on Meilisearch: wrk at ``connections`` for ``duration`` s with bench_load's query
    mix while ``MeiliEngine.index_snapshot`` rebuilds the index and swaps it in; the rebuild starts early
    enough (from the build time of ``prepare``, slowed by ``contention`` under load) to swap near mid-run."""
    import threading

    import bench_load as bl

    meili_process, server = start(work)
    os.environ.update(PORTAL_ENGINE="meilisearch", MEILI_URL=server.url, MEILI_KEY=server.key,
                      PORTAL_MEILI_INDEX=INDEX, PORTAL_ACCESS_LOG="false")
    paths_file = work / "swap-paths.txt"
    paths = bl.query_paths(work / "index.sqlite3")
    paths_file.write_text("\n".join(paths) + "\n")
    port = bs.free_port()
    api = bs.start_server("ours", work, 1, port)
    base = f"http://127.0.0.1:{port}"
    rebuild: dict[str, Any] = {}
    try:
        version_before = bs.fetch(base + "/readyz")[1]
        engine = MeiliEngine(server.url, server.key, index=INDEX, timeout_ms=60_000)

        def rebuild_index() -> None:
            rebuild["started"] = time.monotonic()
            rebuild["stats"] = engine.index_snapshot(snapshot)
            rebuild["swapped"] = time.monotonic()

        build_seconds = float(bs.read_json(work / "meili-prepare.json")["seconds"])
        lead = build_seconds - (duration / 2) / contention
        builder = threading.Thread(target=rebuild_index)
        if lead > 0:
            builder.start()
            time.sleep(lead)
        wrk_cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency", "-s",
                   str(bl.LUA_SCRIPT), base]
        wrk_started = time.monotonic()
        wrk = subprocess.Popen(wrk_cmd, env={**os.environ, "BENCH_PATHS": str(paths_file)}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        if lead <= 0:
            time.sleep(-lead)
            builder.start()
        output, _ = wrk.communicate()
        builder.join()
        after = bs.fetch(base + paths[0])[0]
        result = {"label": label, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine_line(),
                  "wrk_cmd": " ".join(wrk_cmd), "wrk_output": output, "bench": bl.parse_bench_line(output),
                  "wrk_counters": bl.parse_wrk_counters(output), "ready_before": version_before,
                  "status_after": after, "rebuild_started_s": rebuild["started"] - wrk_started,
                  "swapped_s": rebuild["swapped"] - wrk_started, "rebuild_seconds": rebuild["swapped"] - rebuild["started"],
                  "rebuild_stats": rebuild["stats"], "meilisearch_vm_hwm_mb": bs.vm_hwm_mb(meili_process.pid),
                  "duration": duration, "connections": connections}
    finally:
        bs.stop_server(api)
        stop_meili(meili_process)
    bs.write_json(work / f"meili-swap-{label}.json", result)
    print(output)
    print({k: result[k] for k in ("bench", "wrk_counters", "swapped_s", "rebuild_seconds", "status_after")})


def report(work: Path, command: str) -> None:
    prep = bs.read_json(work / "prepare.json")
    meili = bs.read_json(work / "meili-prepare.json")
    entries = meili["stats"]["entries"]
    print(f"# Our API on Meilisearch vs on SQLite vs Datasette, {entries:,} entries\n")
    print(f"Machine: {machine_line()} (shared with other engineers' jobs during the runs)  ")
    print(f"Meilisearch {meili['version']} (official source, tag v{meili['version']}, built with "
          "`--no-default-features --features chinese`), one server, indexing capped at "
          f"{BENCH_INDEXING_MEMORY} / {BENCH_INDEXING_THREADS} threads  ")
    print(f"Command: `{command}`\n")
    print("## Index build\n")
    print("| engine | time s | disk MiB | peak RSS MB |")
    print("|---|---:|---:|---:|")
    ours = prep["ours"]
    print(f"| SQLite (`search_api.indexer.build_index`) | {ours['seconds']:.1f} | {ours['bytes'] / 2**20:.0f} | "
          f"{ours['peak_rss_mb']:.0f} |")
    print(f"| Meilisearch (`MeiliEngine.index_snapshot`: documents sent, all tasks done, swap) | {meili['seconds']:.1f} | "
          f"{meili['disk_bytes'] / 2**20:.0f} | server {meili['server_vm_hwm_mb']:.0f}, our indexer "
          f"{meili['python_peak_rss_mb']:.0f} |")
    peer = prep["datasette"]
    total = peer["insert_seconds"] + peer["fts_seconds"] + peer["index_seconds"]
    print(f"| Datasette DB (sqlite-utils insert + trigram FTS + 5 indexes) | {total:.1f} | {peer['bytes'] / 2**20:.0f} | "
          f"{peer['peak_rss_mb']:.0f} |\n")
    if (work / "meili-inprocess.json").exists():
        mine = bs.read_json(work / "meili-inprocess.json")
        sqlite = bs.read_json(work / "inprocess.json") if (work / "inprocess.json").exists() else None
        print(f"## Engine time per query, in process ({mine['_meta']['passes']} passes over {bs.PER_TYPE} queries "
              "per type after a warm-up pass; Meilisearch over loopback HTTP)\n")
        print("| query type | Meilisearch p50 ms | p95 ms | median total |" + (" SQLite p50 ms | p95 ms |" if sqlite else ""))
        print("|---|---:|---:|---:|" + ("---:|---:|" if sqlite else ""))
        for kind in bs.TYPES:
            r = mine[kind]
            row = f"| {bs.TYPE_LABELS[kind]} | {r['p50']:.2f} | {r['p95']:.2f} | {r['median_total']:,.0f} |"
            if sqlite:
                row += f" {sqlite[kind]['p50']:.2f} | {sqlite[kind]['p95']:.2f} |"
            print(row)
        print()
    if (work / "meili-load.json").exists():
        data = bs.read_json(work / "meili-load.json")
        s, runs = data["settings"], data["runs"]
        print(f"## End to end, 1 worker per API server (wrk -t{s['threads']} -c{s['connections']} -d{s['duration']}s, "
              f"median of {len(runs)} runs, servers rotated run by run)\n")
        print("| server | mix | req/s | p50 ms | p95 ms | p99 ms | non-200 + errors | peak RSS per API worker MB |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        rows = (("meili_same", "our API on Meilisearch", "common mix, no facets"),
                ("sqlite_same", "our API on SQLite", "common mix, no facets"),
                ("datasette_common", "Datasette", "common mix (`_nocount=1&_nofacet=1`)"),
                ("meili_common", "our API on Meilisearch", "common mix, facets on the filtered quarter"),
                ("sqlite_common", "our API on SQLite", "common mix, facets on the filtered quarter"),
                ("meili_full", "our API on Meilisearch", "+ 2-character names"),
                ("sqlite_full", "our API on SQLite", "+ 2-character names"))
        for key, label, mix in rows:
            server_kind = key.split("_")[0]
            rss = max(max(run[f"{server_kind}_rss_mb"]) for run in runs)
            failed = sum(run[key]["non200"] + run[key]["errors"] for run in runs)
            print(f"| {label} | {mix} | {bs.median_of(runs, key, 'rps'):.0f} | {bs.median_of(runs, key, 'p50_ms'):.1f} | "
                  f"{bs.median_of(runs, key, 'p95_ms'):.1f} | {bs.median_of(runs, key, 'p99_ms'):.1f} | {failed:.0f} | "
                  f"{rss:.0f} |")
        print(f"\nMeilisearch process during the load runs: peak RSS (VmHWM) "
              f"{max(run['meilisearch_vm_hwm_mb'] for run in runs):.0f} MB, resident at the end of the last run "
              f"{runs[-1]['meilisearch_rss_mb']:.0f} MB.\n")
        print("Per run (req/s / p95 ms): " + "; ".join(
            f"run {i + 1}: " + ", ".join(f"{key} {run[key]['rps']:.0f}/{run[key]['p95_ms']:.1f}" for key, _, _ in rows)
            for i, run in enumerate(runs)) + "\n")
    swaps = sorted(work.glob("meili-swap-*.json"))
    if swaps:
        print("## Re-index under load: swap-indexes mid-run\n")
        print("| run | wrk | swap at s (rebuild s) | req/s | p50 ms | p99 ms | non-2xx | socket errors | statuses |")
        print("|---|---|---|---:|---:|---:|---:|---:|---|")
        for path in swaps:
            r = bs.read_json(path)
            inside = 0 < r["swapped_s"] < r["duration"]
            print(f"| {r['label']} | -c{r['connections']} -d{r['duration']}s | {r['swapped_s']:.1f}"
                  f"{'' if inside else ' (outside the run)'} ({r['rebuild_seconds']:.0f}) | {r['bench']['rps']:.1f} | "
                  f"{r['bench']['p50_ms']:.0f} | {r['bench']['p99_ms']:.0f} | {r['wrk_counters']['non_2xx_3xx']} | "
                  f"{r['wrk_counters']['socket_errors']} | {r['bench'].get('statuses', '')} |")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("subset", "prepare", "inprocess", "load", "swap", "report"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--entries", type=int, help="subset: newest N entries")
    parser.add_argument("--out", type=Path, help="subset: the new snapshot directory")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--command", default="see bench/bench_meili.py docstring")
    parser.add_argument("--contention", type=float, default=1.5, help="swap: rebuild slow-down under load")
    parser.add_argument("--label", default="swap1", help="swap: results go to W/meili-swap-LABEL.json")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "subset":
        print(subset(args.snapshot, args.out, args.entries))
    elif args.stage == "prepare":
        prepare(args.snapshot, args.work)
    elif args.stage == "inprocess":
        inprocess(args.work, args.passes)
    elif args.stage == "load":
        load(args.work, args.runs, args.duration, args.connections, args.threads)
    elif args.stage == "swap":
        swap_under_load(args.work, args.snapshot, args.duration, args.connections, args.contention, args.label)
    else:
        report(args.work, args.command)


if __name__ == "__main__":
    main()
