"""Search at scale: our SQLite engine in process, and our API end to end beside Datasette (FTS5 trigram).

    python bench/bench_search.py prepare   --snapshot DIR --work W   # build both indexes, timed
    python bench/bench_search.py queries   --work W                  # the query mix, from the data
    python bench/bench_search.py inprocess --work W                  # engine latency per query type
    python bench/bench_search.py load      --work W --runs 3 --workers 1 [--duration 30 --connections 16]
    python bench/bench_search.py recall    --work W                  # 2-character queries: ours vs Datasette
    python bench/bench_search.py report    --work W > bench/results/search.md

Every stage writes JSON into W; ``report`` turns it into Markdown. Datasette runs at its best configuration
(immutable ``-i``, ``_nocount=1&_nofacet=1`` on every request, trigram FTS built by ``sqlite-utils
enable-fts --tokenize trigram``, B-tree indexes on the filter columns); our API runs with its defaults except
the per-IP rate limits, raised because the whole load comes from one client. Both servers are measured with
the same wrk settings on loopback, alternating, in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from common import ROOT, VENV_BIN, machine_line, run_measured

sys.path.insert(0, str(ROOT))
from search_api.settings import MAX_COUNT  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "search_mix.lua"
TODAY = date(2026, 11, 23)
PER_TYPE = 50
SEED = 20261123
TYPES = ("two_char", "four_char", "uscc", "filtered", "filter_only")
TYPE_LABELS = {"two_char": "2-character name", "four_char": "4-character company fragment", "uscc": "USCC",
               "filtered": "4-char fragment + filter", "filter_only": "filters only (list + region)"}
# The types both servers answer; 2-character queries only ours (trigram FTS cannot match them).
COMMON_TYPES = ("four_char", "uscc", "filtered", "filter_only")
DATASETTE_SUFFIX = "_size=20&_nocount=1&_nofacet=1"
RATE_ENV = {"PORTAL_RATE_SEARCH_PER_MINUTE": "100000000", "PORTAL_RATE_PERSON_PER_MINUTE": "100000000",
            "PORTAL_RATE_CHECK_PER_MINUTE": "100000000"}
CJK = re.compile(r"^[\u4e00-\u9fff]+$")


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * pct / 100 + 0.999999) - 1))]


# --- prepare -----------------------------------------------------------------------------------------------
def prepare(snapshot: Path, work: Path, datasette_from: Path | None) -> None:
    index = work / "index.sqlite3"
    stats_path = work / "build-stats.json"
    code = ("import json,sys; from pathlib import Path; from search_api.indexer import build_index; "
            f"s = build_index(Path({str(snapshot)!r}), Path({str(index)!r})); "
            f"Path({str(stats_path)!r}).write_text(json.dumps(s))")
    build = run_measured([sys.executable, "-c", code], cwd=ROOT)
    ours = {"seconds": build.seconds, "peak_rss_mb": build.peak_rss_mb, "bytes": index.stat().st_size,
            "stats": read_json(stats_path)}
    print(f"our index: {build.seconds:.1f} s, {ours['bytes'] / 2**20:.0f} MiB, peak RSS {build.peak_rss_mb:.0f} MB",
          flush=True)

    if datasette_from is not None:  # reuse a Datasette DB built by an earlier prepare (same snapshot)
        (work / "data.db").unlink(missing_ok=True)
        (work / "data.db").symlink_to((datasette_from / "data.db").resolve())
        while not (datasette_from / "prepare.json").exists():  # that prepare may still be loading Datasette's DB
            time.sleep(5)
        peer = read_json(datasette_from / "prepare.json")["datasette"]
        write_json(work / "prepare.json", {"ours": ours, "datasette": peer, "snapshot": str(snapshot)})
        return
    # Datasette gets exactly the public entries of our index, in the same (newest first) rowid order.
    public = work / "public.jsonl"
    with sqlite3.connect(index) as conn, public.open("wb") as out:
        for (doc,) in conn.execute("SELECT doc FROM entries ORDER BY rowid"):
            out.write(doc + b"\n")
    db = work / "data.db"
    db.unlink(missing_ok=True)
    utils = str(VENV_BIN / "sqlite-utils")
    insert = run_measured([utils, "insert", str(db), "entries", str(public), "--nl"])
    fts = run_measured([utils, "enable-fts", str(db), "entries", "subject_name", "facts", "authority", "decision_no",
                        "--tokenize", "trigram"])
    indexes = [run_measured([utils, "create-index", str(db), "entries", column])
               for column in ("uscc", "list_kind", "list_code", "region", "authority")]
    public.unlink()
    peer = {"insert_seconds": insert.seconds, "fts_seconds": fts.seconds,
            "index_seconds": sum(r.seconds for r in indexes),
            "peak_rss_mb": max(insert.peak_rss_mb, fts.peak_rss_mb, *(r.peak_rss_mb for r in indexes)),
            "bytes": db.stat().st_size}
    print(f"datasette db: insert {insert.seconds:.1f} s, fts {fts.seconds:.1f} s, indexes {peer['index_seconds']:.1f} s,"
          f" {peer['bytes'] / 2**20:.0f} MiB", flush=True)
    write_json(work / "prepare.json", {"ours": ours, "datasette": peer, "snapshot": str(snapshot)})


# --- queries -----------------------------------------------------------------------------------------------
def make_queries(work: Path) -> None:
    """PER_TYPE queries of each type, drawn from the indexed data with a fixed seed."""
    rng = random.Random(SEED)
    conn = sqlite3.connect(work / "index.sqlite3")
    top = conn.execute("SELECT max(rowid) FROM entries").fetchone()[0]

    def sample_rows(where: str, wanted: int, columns: str) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = []
        while len(rows) < wanted:
            start = rng.randint(1, top)
            rows.extend(conn.execute(f"SELECT {columns} FROM entries WHERE rowid >= ? AND {where} LIMIT 1",
                                     [start]).fetchall())
        return rows

    queries: dict[str, list[dict[str, str]]] = {}
    names = {name for (name,) in sample_rows("is_person = 1 AND length(name_key) = 2", PER_TYPE * 3, "name_key")}
    queries["two_char"] = [{"q": name} for name in sorted(names)[:PER_TYPE]]
    fragments: set[str] = set()
    while len(fragments) < PER_TYPE:
        (name,) = sample_rows("is_person = 0 AND length(name_key) >= 8", 1, "name_key")[0]
        start = rng.randint(0, len(name) - 4)
        if CJK.match(name[start:start + 4]):
            fragments.add(name[start:start + 4])
    ordered = sorted(fragments)
    queries["four_char"] = [{"q": fragment} for fragment in ordered]
    queries["uscc"] = [{"q": uscc} for (uscc,) in sample_rows("uscc IS NOT NULL", PER_TYPE, "uscc")]
    filtered = []
    for fragment, (kind, code, region) in zip(ordered, sample_rows("region IS NOT NULL", PER_TYPE, "list_kind, list_code, region"), strict=True):
        which = rng.choice(("list_kind", "list_code", "region"))
        filtered.append({"q": fragment, which: {"list_kind": kind, "list_code": code, "region": region}[which]})
    rng.shuffle(filtered)
    queries["filtered"] = filtered
    queries["filter_only"] = [{"list_code": code, "region": region}
                              for code, region in sample_rows("region IS NOT NULL", PER_TYPE, "list_code, region")]
    conn.close()
    write_json(work / "queries.json", queries)
    write_paths(work, queries)
    print({kind: len(items) for kind, items in queries.items()})


def ours_path(kind: str, params: dict[str, str], *, facets: bool = True) -> str:
    # As the site's search page asks (facets=false: it shows none), except the filtered type, which stands for
    # the faceted queries of the mix and asks for facet counts (work Datasette's _nofacet=1 never does) unless
    # ``facets`` is off: then every request does the work Datasette does.
    return "/api/v1/search?" + urllib.parse.urlencode({**params, "facets": str(facets and kind == "filtered").lower()})


def datasette_path(kind: str, params: dict[str, str]) -> str:
    mapped = {("uscc" if kind == "uscc" else "_search") if key == "q" else key: value for key, value in params.items()}
    return "/data/entries.json?" + urllib.parse.urlencode(mapped) + "&" + DATASETTE_SUFFIX


def interleave(lists: list[list[str]]) -> list[str]:
    """One of each type in turn, so every stretch of the rotation carries the whole mix."""
    return [item for group in zip(*lists, strict=True) for item in group]


def write_paths(work: Path, queries: dict[str, list[dict[str, str]]]) -> None:
    common_ours = interleave([[ours_path(kind, p) for p in queries[kind]] for kind in COMMON_TYPES])
    common_peer = interleave([[datasette_path(kind, p) for p in queries[kind]] for kind in COMMON_TYPES])
    full_ours = interleave([[ours_path(kind, p) for p in queries[kind]] for kind in ("two_char", *COMMON_TYPES)])
    same_work = interleave([[ours_path(kind, p, facets=False) for p in queries[kind]] for kind in COMMON_TYPES])
    (work / "paths-ours-common.txt").write_text("\n".join(common_ours) + "\n")
    (work / "paths-ours-same.txt").write_text("\n".join(same_work) + "\n")
    (work / "paths-datasette-common.txt").write_text("\n".join(common_peer) + "\n")
    (work / "paths-ours-full.txt").write_text("\n".join(full_ours) + "\n")


# --- in-process --------------------------------------------------------------------------------------------
def load_engine_class(module_file: Path | None) -> Any:
    """``SqliteEngine`` of the working tree, or of another copy of sqlite_engine.py (e.g. the version before
    an optimisation, run against the index that version built)."""
    sys.path.insert(0, str(ROOT))
    if module_file is None:
        from search_api.engines.sqlite import SqliteEngine

        return SqliteEngine
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_engine_under_test", module_file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SqliteEngine


def inprocess(work: Path, passes: int, module_file: Path | None, out_name: str, queries_file: Path | None) -> None:
    from search_api.engines.base import SearchQuery

    engine = load_engine_class(module_file)(work / "index.sqlite3", timeout_ms=30_000)
    queries = read_json(queries_file or work / "queries.json")
    result: dict[str, Any] = {}
    for kind in TYPES:
        timings: list[float] = []
        totals: list[int] = []
        for round_number in range(passes + 1):  # the first pass warms the page cache and is not counted
            for params in queries[kind]:
                query = SearchQuery(today=TODAY, **params)
                started = time.perf_counter()
                found = engine.search(query)
                elapsed = (time.perf_counter() - started) * 1000
                if round_number:
                    timings.append(elapsed)
                else:
                    totals.append(found.total)
        result[kind] = {"n": len(timings), "p50": percentile(timings, 50), "p95": percentile(timings, 95),
                        "p99": percentile(timings, 99), "max": max(timings),
                        "median_total": statistics.median(totals), "zero_hits": sum(1 for t in totals if t == 0)}
        print(kind, {k: round(v, 2) for k, v in result[kind].items()}, flush=True)
    everything = [result[kind] for kind in TYPES]
    result["_meta"] = {"passes": passes, "worst_p95": max(r["p95"] for r in everything)}
    write_json(work / out_name, result)


# --- servers -----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(kind: str, work: Path, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ}
    if kind == "ours":
        env.update(RATE_ENV, PORTAL_INDEX_PATH=str(work / "index.sqlite3"), PORTAL_SNAPSHOT_DIR=str(work),
                   PORTAL_HMAC_KEY="bench-key-" + "x" * 32)
        cmd = [str(VENV_BIN / "uvicorn"), "search_api.app:app", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    elif workers == 1:
        cmd = [str(VENV_BIN / "datasette"), "serve", "-i", str(work / "data.db"), "--host", "127.0.0.1",
               "--port", str(port)]
    else:
        env["BENCH_DATASETTE_DB"] = str(work / "data.db")
        env["PYTHONPATH"] = str(BENCH_DIR)
        cmd = [str(VENV_BIN / "uvicorn"), "--factory", "datasette_asgi:app", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=(work / f"{kind}.log").open("ab"),
                            start_new_session=True)
    probe = f"http://127.0.0.1:{port}" + ("/readyz" if kind == "ours" else "/data.json")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} server exited; see {work / (kind + '.log')}")
        try:
            with urllib.request.urlopen(probe, timeout=5) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError(f"{kind} server not ready within 120 s")


def server_pids(proc: subprocess.Popen[bytes]) -> list[int]:
    """The processes that serve requests: the children of uvicorn's supervisor, or the process itself."""
    children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    children = [int(pid) for pid in children_file.read_text().split()] if children_file.exists() else []
    python_children = [pid for pid in children if "python" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(
        errors="replace").split("\0")[0] or Path(f"/proc/{pid}/exe").resolve().name.startswith("python")]
    return python_children or [proc.pid]


def status_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set: private memory and the pages of files it maps (the index, when memory-mapped)."""
    return status_mb(pid, "VmHWM")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def fetch(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def warm_and_time(base: str, paths: list[str]) -> dict[str, list[float]]:
    """One sequential pass (warms caches); server-side times as the servers report them."""
    times: dict[str, list[float]] = {"server_ms": [], "client_ms": []}
    for path in paths:
        started = time.perf_counter()
        status, body = fetch(base + path)
        times["client_ms"].append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status} {body}")
        times["server_ms"].append(float(body.get("took_ms", body.get("query_ms", -1))))
    return times


def run_wrk(base: str, paths_file: Path, duration: int, connections: int, threads: int) -> dict[str, float]:
    cmd = ["/usr/bin/wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s",
           str(LUA_SCRIPT), base]
    output = subprocess.run(cmd, env={**os.environ, "BENCH_PATHS": str(paths_file)}, capture_output=True, text=True,
                            timeout=duration + 120, check=True).stdout
    line = next(row for row in output.splitlines() if row.startswith("BENCH "))
    return {key: float(value) for key, value in (pair.split("=") for pair in line.split()[1:])}


def load(work: Path, runs: int, workers: int, duration: int, connections: int, threads: int) -> None:
    out_path = work / f"load-w{workers}.json"
    results: dict[str, Any] = {"settings": {"runs": runs, "workers": workers, "duration": duration,
                                            "connections": connections, "threads": threads}, "runs": []}
    for run in range(runs):
        order = ("ours", "datasette") if run % 2 == 0 else ("datasette", "ours")
        record: dict[str, Any] = {}
        for kind in order:
            port = free_port()
            proc = start_server(kind, work, workers, port)
            base = f"http://127.0.0.1:{port}"
            try:
                scenarios = (("common", work / "paths-ours-common.txt"), ("same", work / "paths-ours-same.txt"),
                             ("full", work / "paths-ours-full.txt")) \
                    if kind == "ours" else (("common", work / "paths-datasette-common.txt"),)
                for name, paths_file in scenarios:
                    paths = paths_file.read_text().split()
                    warm = warm_and_time(base, paths)
                    measured = run_wrk(base, paths_file, duration, connections, threads)
                    measured["idle_server_p95_ms"] = percentile(warm["server_ms"], 95)
                    record[f"{kind}_{name}"] = measured
                    print(f"run {run + 1} {kind} {name}: {measured['rps']:.0f} req/s p95 {measured['p95_ms']:.1f} ms "
                          f"non200 {measured['non200']:.0f} errors {measured['errors']:.0f}", flush=True)
                record[f"{kind}_rss_mb"] = [vm_hwm_mb(pid) for pid in server_pids(proc)]
                record[f"{kind}_anon_mb"] = [status_mb(pid, "RssAnon") for pid in server_pids(proc)]
            finally:
                stop_server(proc)
        results["runs"].append(record)
        write_json(out_path, results)


# --- recall ------------------------------------------------------------------------------------------------
def recall(work: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from search_api.engines.base import SearchQuery
    from search_api.engines.sqlite import SqliteEngine

    engine = SqliteEngine(work / "index.sqlite3", timeout_ms=30_000)
    queries = [item["q"] for item in read_json(work / "queries.json")["two_char"]]
    truth_db = sqlite3.connect(work / "data.db")
    port = free_port()
    proc = start_server("datasette", work, 1, port)
    rows: list[dict[str, Any]] = []
    try:
        for q in queries:
            truth = truth_db.execute("SELECT count(*) FROM entries WHERE instr(subject_name, ?) > 0", [q]).fetchone()[0]
            found = engine.search(SearchQuery(q=q, today=TODAY, limit=50))
            name_hits = sum(1 for hit in found.hits if q in hit["subject_name"])
            status, body = fetch(f"http://127.0.0.1:{port}/data/entries.json?" + urllib.parse.urlencode(
                {"_search": q, "_size": "max"}) + "&_nofacet=1")
            peer = body.get("filtered_table_rows_count", len(body.get("rows", [])))
            rows.append({"q": q, "names_containing": truth, "ours_total": found.total, "ours_relation": found.relation,
                         "ours_name_hits_first_page": name_hits, "datasette_rows": peer, "datasette_status": status})
    finally:
        stop_server(proc)
    write_json(work / "recall.json", rows)
    print(f"queries {len(rows)}; names containing them {sum(r['names_containing'] for r in rows)}; "
          f"ours total {sum(r['ours_total'] for r in rows)}; datasette rows {sum(r['datasette_rows'] for r in rows)}")


# --- report ------------------------------------------------------------------------------------------------
def median_of(runs: list[dict[str, Any]], key: str, field: str) -> float:
    return statistics.median(run[key][field] for run in runs)


def report(work: Path, command: str, baseline: Path | None) -> None:
    prep = read_json(work / "prepare.json")
    inproc = read_json(work / "inprocess.json")
    before = read_json(baseline / "prepare.json")["ours"] if baseline else None
    before_inproc = read_json(baseline / "inprocess.json") if baseline else None
    print("# Search API at 1,000,000 entries: in process, and end to end beside Datasette\n")
    print(f"Machine: {machine_line()}  ")
    print(f"Command: `{command}`  ")
    ours = prep["ours"]
    print(f"Data: {ours['stats']['entries']:,} public entries ({ours['stats']['persons']:,} natural persons), "
          f"snapshot `{Path(prep['snapshot']).name}` from `portal sample` + `portal ingest` (see below)\n")
    print("## Index build\n")
    print("| what | time s | size MiB | peak RSS MB |")
    print("|---|---:|---:|---:|")
    if before:
        print(f"| ours before this work (per-character FTS5; snapshot order rejected → on-disk sort) | "
              f"{before['seconds']:.1f} | {before['bytes'] / 2**20:.0f} | {before['peak_rss_mb']:.0f} |")
    print(f"| ours: `search_api.indexer.build_index` (entries, attrs, character-pair FTS5, B-tree indexes) | "
          f"{ours['seconds']:.1f} | {ours['bytes'] / 2**20:.0f} | {ours['peak_rss_mb']:.0f} |")
    peer = prep["datasette"]
    print(f"| Datasette DB: `sqlite-utils insert --nl` | {peer['insert_seconds']:.1f} | | |")
    print(f"| Datasette DB: `sqlite-utils enable-fts --tokenize trigram` (4 columns) | {peer['fts_seconds']:.1f} | | |")
    print(f"| Datasette DB: `sqlite-utils create-index` × 5 (filter columns) | {peer['index_seconds']:.1f} | | |")
    total = peer["insert_seconds"] + peer["fts_seconds"] + peer["index_seconds"]
    print(f"| Datasette DB total | {total:.1f} | {peer['bytes'] / 2**20:.0f} | {peer['peak_rss_mb']:.0f} |\n")
    print(f"## Server time in process (engine directly, {inproc['_meta']['passes']} passes over "
          f"{PER_TYPE} queries per type after one warm-up pass)\n")
    print("| query type | n | p50 ms | p95 ms | p99 ms | max ms | median total |" + (" p95 before ms |" if before_inproc else ""))
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if before_inproc else ""))
    for kind in TYPES:
        r = inproc[kind]
        print(f"| {TYPE_LABELS[kind]} | {r['n']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['max']:.1f} | "
              f"{r['median_total']:,.0f} |" + (f" {before_inproc[kind]['p95']:.1f} |" if before_inproc else ""))
    print(f"\nWorst p95 of any type: **{inproc['_meta']['worst_p95']:.1f} ms** (goal ≤ 20 ms).\n")
    for workers in (1, 2):
        path = work / f"load-w{workers}.json"
        if not path.exists():
            continue
        data = read_json(path)
        s = data["settings"]
        runs = data["runs"]
        print(f"## End to end, {workers} worker{'s' if workers > 1 else ''} per server "
              f"(wrk -t{s['threads']} -c{s['connections']} -d{s['duration']}s, median of {len(runs)} runs)\n")
        print("| server | mix | req/s | p50 ms | p95 ms | p99 ms | server-reported p95 ms | non-200 "
              "| peak RSS per worker MB | private (anon) RSS at end MB |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        rows = (("ours_same", "our API", "common mix, no facets (the work Datasette does)"),
                ("datasette_common", "Datasette", "common mix (`_nocount=1&_nofacet=1`)"),
                ("ours_common", "our API", "common mix, facets on the filtered quarter"),
                ("ours_full", "our API", "common mix + 2-char names, facets on the filtered"))
        for key, label, mix in rows:
            server = key.split("_")[0]
            rss = max(max(run[f"{server}_rss_mb"]) for run in runs)
            anon = max(max(run.get(f"{server}_anon_mb", [0.0])) for run in runs)
            non200 = sum(run[key]["non200"] + run[key]["errors"] for run in runs)
            print(f"| {label} | {mix} | {median_of(runs, key, 'rps'):.0f} | {median_of(runs, key, 'p50_ms'):.1f} | "
                  f"{median_of(runs, key, 'p95_ms'):.1f} | {median_of(runs, key, 'p99_ms'):.1f} | "
                  f"{median_of(runs, key, 'server_p95_ms'):.1f} | {non200:.0f} | {rss:.0f} | {anon:.0f} |")
        for key, what in (("ours_same", "same work (no facets)"), ("ours_common", "ours with facets on the filtered")):
            ratios = [run[key]["rps"] / run["datasette_common"]["rps"] for run in runs]
            p95s = [run[key]["p95_ms"] / run["datasette_common"]["p95_ms"] for run in runs]
            print(f"\nRequests/s ours / Datasette, {what}: per run {', '.join(f'{r:.2f}×' for r in ratios)}; "
                  f"median **{statistics.median(ratios):.2f}×** (goal ≥ 3×); p95 ours / Datasette: median "
                  f"{statistics.median(p95s):.2f} (goal ≤ 1).")
        print("\nPer run (req/s / p95 ms): " + "; ".join(
            f"run {i + 1}: " + ", ".join(f"{key} {run[key]['rps']:.0f}/{run[key]['p95_ms']:.1f}"
                                         for key, _, _ in rows) for i, run in enumerate(runs)) + "\n")
    if (work / "recall.json").exists():
        rows = read_json(work / "recall.json")
        print("## Recall on 2-character names\n")
        print("| | queries | with ≥ 1 result | results |")
        print("|---|---:|---:|---:|")
        print(f"| names containing the query (`instr` over subject_name, ground truth) | {len(rows)} | "
              f"{sum(1 for r in rows if r['names_containing'])} | {sum(r['names_containing'] for r in rows):,} |")
        print(f"| our API (`total`, capped at {MAX_COUNT:,}) | {len(rows)} | {sum(1 for r in rows if r['ours_total'])} | "
              f"{sum(r['ours_total'] for r in rows):,} |")
        print(f"| Datasette `_search` (trigram) | {len(rows)} | {sum(1 for r in rows if r['datasette_rows'])} | "
              f"{sum(r['datasette_rows'] for r in rows):,} |\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stage", choices=("prepare", "queries", "inprocess", "load", "recall", "report"))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--snapshot", type=Path)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--command", default="see bench/bench_search.py docstring")
    parser.add_argument("--engine-module", type=Path, help="inprocess: another copy of sqlite_engine.py")
    parser.add_argument("--queries", type=Path, help="inprocess: queries.json of another work directory")
    parser.add_argument("--out", default="inprocess.json", help="inprocess: result file name in --work")
    parser.add_argument("--datasette-from", type=Path, help="prepare: reuse the Datasette DB of this work directory")
    parser.add_argument("--baseline", type=Path, help="report: work directory measured before the optimisation")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage == "prepare":
        prepare(args.snapshot, args.work, args.datasette_from)
    elif args.stage == "queries":
        make_queries(args.work)
    elif args.stage == "inprocess":
        inprocess(args.work, args.passes, args.engine_module, args.out, args.queries)
    elif args.stage == "load":
        load(args.work, args.runs, args.workers, args.duration, args.connections, args.threads)
    elif args.stage == "recall":
        recall(args.work)
    else:
        report(args.work, args.command, args.baseline)


if __name__ == "__main__":
    main()
