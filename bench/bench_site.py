"""Static site build speed: our Pelican plugin (portal.site) against plain Pelican, in one run.

    python bench/bench_site.py --entries 100000 --small-entries 10000 --pelican-pages 10000 --runs 3 \
        --out bench/results/site.md

What is measured, each a child process timed by ``common.run_measured`` (wall time, peak RSS), median of
``--runs`` runs, the peers interleaved run by run so that load from other users of the machine hits both:

- **full build**: ``portal.release.publish.build_into_slot(default_site_builder, …)`` into an empty entry slot
  (what the first publish does): Pelican with the real ``content/`` and ``pelicanconf.py``, our plugin
  rendering every entry, list, download, feed and sitemap from a synthetic public snapshot
  (``site_data.py``), then Pagefind.
- **1% rebuild**, production's steady state: release 1 is the full snapshot in slot a; release 2 (1% of
  the entries with new ``facts``) goes to the empty slot b (reported too; it links slot a's unchanged pages); release 3
  (another 1% changed on top of release 2) is then built into slot a, which still holds release 1: it
  hard-links the pages the last publish changed from slot b and renders the rest of the changes. That third build is the measured rebuild; the build
  process also times its phases (counting pass, slot scan, streaming pass, finish, wait for Pagefind).
- **Pagefind**: ``python -m pagefind`` exactly as the plugin runs it, on the full build's output.
- **plain Pelican** (4.12, best configuration: ``CACHE_CONTENT`` and ``LOAD_CONTENT_CACHE`` on, default
  theme, feeds and taxonomy pages off, index paginated by 50) building ``--pelican-pages`` minimal
  Markdown articles of about an entry page's text: cold (no cache, no output), and its own cached
  rebuild after 1% of the articles changed.

Pages/s counts the HTML files each build writes. The machine is shared: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Run, machine_line, median_run, run_measured

sys.path.insert(0, str(Path(__file__).resolve().parent))
PAGEFIND_GLOB = "{notices,cases,policies}/**/*.html"  # as portal.site.pagefind.PAGEFIND_GLOB
CHANGED_SHARE = 0.01
PHASE_FILE = "phases.json"
# phases timed inside the build process, in report order
PHASES = ("counting pass over entries.jsonl (load_snapshot)",
          "page-store open: index load and slot scan",
          "streaming pass: entry and list pages, downloads, sitemap", "page-store finish: sweep, index commit",
          "waiting for Pagefind (runs beside the streaming pass)")


# --- child-process entry points ---------------------------------------------------------------------
def child_build(snapshot: str, out_dir: str, slot: str) -> None:
    """Run production's site build into an entry slot; note how long its phases took (in this process)."""
    from portal.release import publish
    from portal.site import generator, pagefind, store

    seconds: dict[str, float] = {}

    def timed(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - start

        setattr(owner, name, wrapper)

    for (owner, name), label in zip([(generator, "load_snapshot"), (store.PageStore, "__init__"),
                                     (generator.PortalGenerator, "_write_snapshot_pages"),
                                     (store.PageStore, "finish"), (pagefind, "finish")], PHASES, strict=True):
        timed(owner, name, label)
    start = time.perf_counter()
    publish.build_into_slot(publish.default_site_builder, Path(snapshot), Path(out_dir), Path(slot))
    seconds["in-process total"] = time.perf_counter() - start
    (Path(out_dir).parent / PHASE_FILE).write_text(json.dumps(seconds))


# --- data --------------------------------------------------------------------------------------------
def make_snapshots(work: Path, entries: int) -> tuple[Path, Path, Path]:
    """The full snapshot, one with 1% of the entries changed, and one with another 1% changed on top."""
    from site_data import changed_entries, synthetic_entries, write_bench_snapshot

    base = work / f"snapshots-{entries}"
    full, changed, changed2 = base / "full", base / "changed", base / "changed2"
    if not all((d / "latest").exists() for d in (full, changed, changed2)):
        shutil.rmtree(base, ignore_errors=True)
        records = synthetic_entries(entries)
        write_bench_snapshot(full, records)
        records = changed_entries(records, CHANGED_SHARE)
        write_bench_snapshot(changed, records)
        write_bench_snapshot(changed2, changed_entries(records, CHANGED_SHARE, offset=50, note="（二次更正）"))
    return (full / "latest").resolve(), (changed / "latest").resolve(), (changed2 / "latest").resolve()


PELICAN_CONF = '''
AUTHOR = "bench"
SITENAME = "bench"
SITEURL = ""
TIMEZONE = "Asia/Shanghai"
DEFAULT_LANG = "zh"
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CONTENT_CACHING_LAYER = "reader"
CACHE_PATH = {cache!r}
DEFAULT_PAGINATION = 50
DELETE_OUTPUT_DIRECTORY = True
FEED_ALL_ATOM = None
CATEGORY_FEED_ATOM = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
DIRECT_TEMPLATES = ["index"]
CATEGORY_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
TAG_SAVE_AS = ""
TAGS_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARTICLE_URL = "e/{{slug}}/"
ARTICLE_SAVE_AS = "e/{{slug}}/index.html"
'''


def pelican_article(n: int, suffix: str = "") -> str:
    """A Markdown article with about the text of one entry page (fields, facts, measures, rights)."""
    rows = "\n".join(f"| {k} | {v} |" for k, v in (
        ("主体类别", "法人及非法人组织"), ("统一社会信用代码", f"91511700MA6{n:06d}X"), ("法定代表人", "王伟"),
        ("认定部门", "达州市市场监督管理局"), ("认定文书号", f"达市信〔2026〕{n}号"), ("认定日期", "2026年3月5日"),
        ("公布期限", "2026年3月5日 至 2029年3月5日"), ("所属区域", "通川区"), ("住所", f"四川省达州市通川区{n % 500}号")))
    measures = "\n".join(f"| 依法限制参与政府采购活动（第{i}项） | 失信惩戒 | 强制性 | 《实施办法》 | 达州市财政局 |"
                         for i in range(5))
    return (f"Title: 达州市某某建筑劳务有限公司{n}\nDate: 2026-03-05 10:{n % 60:02d}\nSlug: entry-{n}\n"
            f"Category: entries\n\n| 项目 | 内容 |\n|---|---|\n{rows}\n\n## 认定事实\n\n"
            f"经查，该主体于2026年存在违法失信行为（第{n}号案卷），事实清楚，证据确凿，依法予以认定。{suffix}\n\n"
            f"## 认定依据\n\n《达州市守信联合激励和失信联合惩戒实施办法》第十二条\n\n## 适用的联合奖惩措施\n\n"
            f"| 措施内容 | 类别 | 性质 | 依据 | 实施部门 |\n|---|---|---|---|---|\n{measures}\n\n"
            "## 信息主体的权利\n\n**知情权：**信息主体有权知悉本网站公示的与其有关的信用信息。\n\n"
            "**异议权：**信息主体认为公示信息存在错误、遗漏的，可以提出异议申请。\n")


def make_pelican_site(work: Path, pages: int) -> Path:
    site = work / f"pelican-{pages}"
    content = site / "content"
    if not (content / f"entry-{pages - 1}.md").exists():
        shutil.rmtree(site, ignore_errors=True)
        content.mkdir(parents=True)
        for n in range(pages):
            (content / f"entry-{n}.md").write_text(pelican_article(n), encoding="utf-8")
    (site / "pelicanconf.py").write_text(PELICAN_CONF.format(cache=str(site / "cache")), encoding="utf-8")
    return site


def change_pelican_articles(site: Path, pages: int, run: int) -> None:
    step = round(1 / CHANGED_SHARE)
    for n in range(0, pages, step):
        (site / "content" / f"entry-{n}.md").write_text(pelican_article(n, f"（第{run}次更正）"), encoding="utf-8")


# --- measuring ---------------------------------------------------------------------------------------
def html_files(root: Path) -> int:
    """HTML files of a site, counting the entry and list pages behind its links into the entry slot."""
    return sum(1 for _dir, _dirs, files in os.walk(root, followlinks=True) for name in files if name.endswith(".html"))


def python_child(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


def discard(work: Path, path: Path) -> None:
    """Move a tree out of the way; deleting 100,000 directories takes minutes here, so it waits till the end."""
    if path.exists():
        trash = work / "trash"
        trash.mkdir(exist_ok=True)
        path.rename(trash / f"{path.name}-{time.time_ns()}")


def build_ours(work: Path, tag: str, snapshot: Path, slot: Path) -> tuple[Run, Path]:
    release = work / f"release-{tag}"
    discard(work, release)
    release.mkdir(parents=True)
    site = release / "site"
    run = run_measured(python_child("--child-build", str(snapshot), str(site), str(slot)), cwd=ROOT)
    return run, site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--small-entries", type=int, default=10_000, help="our build at this size too (0: skip)")
    parser.add_argument("--pelican-pages", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    parser.add_argument("--child-build", nargs=3, metavar=("SNAPSHOT", "OUT", "SLOT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-data", nargs=2, metavar=("WORK", "ENTRIES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_data:
        make_snapshots(Path(args.child_data[0]), int(args.child_data[1]))
        return None
    if args.child_build:
        return child_build(*args.child_build)

    work = args.work or Path(tempfile.mkdtemp(prefix="bench-site-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [args.entries] + ([args.small_entries] if args.small_entries else [])
    print(f"work directory {work}; preparing data …", flush=True)
    # in a child: a parent holding 100,000 records would pass its peak RSS on to every measured child
    # (Linux keeps the maximum RSS across fork and exec)
    for n in sizes:
        run_measured(python_child("--child-data", str(work), str(n)))
    snapshots = {n: make_snapshots(work, n) for n in sizes}
    pelican_site = make_pelican_site(work, args.pelican_pages)
    pelican_bin = str(Path(sys.executable).parent / "pelican")

    full: dict[int, list[Run]] = {n: [] for n in sizes}
    second: dict[int, list[Run]] = {n: [] for n in sizes}
    rebuild: dict[int, list[Run]] = {n: [] for n in sizes}
    phases: dict[int, list[dict[str, float]]] = {n: [] for n in sizes}
    pages: dict[int, int] = {}
    rendered: dict[int, dict[str, int]] = {}
    second_stats: dict[int, dict[str, int]] = {}
    pagefind: list[Run] = []
    pelican_cold: list[Run] = []
    pelican_rebuild: list[Run] = []
    pelican_html = 0
    for i in range(args.runs):
        for n in sizes:
            full_snapshot, changed_snapshot, changed2_snapshot = snapshots[n]
            slots = work / f"slots-{n}"
            discard(work, slots)
            run, site_a = build_ours(work, f"{n}-a", full_snapshot, slots / "a")
            full[n].append(run)
            pages[n] = html_files(site_a)
            if n == args.entries:
                pagefind.append(run_measured([sys.executable, "-m", "pagefind", "--site", str(site_a), "--glob",
                                              PAGEFIND_GLOB, "--force-language", "zh", "--silent"]))
            run, _site_b = build_ours(work, f"{n}-b", changed_snapshot, slots / "b")
            second[n].append(run)
            second_stats[n] = json.loads((slots / "b" / "store" / "last-build.json").read_text())
            run, site_c = build_ours(work, f"{n}-c", changed2_snapshot, slots / "a")
            rebuild[n].append(run)
            phases[n].append(json.loads((site_c.parent / PHASE_FILE).read_text()))
            rendered[n] = json.loads((slots / "a" / "store" / "last-build.json").read_text())
            print(f"run {i + 1}, {n:,} entries: full {full[n][-1].seconds:.1f} s ({pages[n]:,} pages), "
                  f"second slot {second[n][-1].seconds:.1f} s, 1% rebuild {run.seconds:.1f} s, {rendered[n]}, "
                  f"{ {k[:20]: round(v, 2) for k, v in phases[n][-1].items()} }", flush=True)
        discard(work, pelican_site / "output")
        discard(work, pelican_site / "cache")
        pelican_args = [pelican_bin, str(pelican_site / "content"), "-s", str(pelican_site / "pelicanconf.py"),
                        "-o", str(pelican_site / "output"), "-q"]
        pelican_cold.append(run_measured(pelican_args))
        pelican_html = html_files(pelican_site / "output")
        change_pelican_articles(pelican_site, args.pelican_pages, i)
        pelican_rebuild.append(run_measured(pelican_args))
        print(f"run {i + 1}, Pelican {args.pelican_pages:,} articles: cold {pelican_cold[-1].seconds:.1f} s "
              f"({pelican_html:,} pages), cached 1% rebuild {pelican_rebuild[-1].seconds:.1f} s", flush=True)

    report = render_report(args, sizes, full, second, second_stats, rebuild, phases, pages, rendered, pagefind,
                           pelican_cold, pelican_rebuild, pelican_html)
    print()
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
    print("removing the discarded trees …", flush=True)
    shutil.rmtree(work / "trash", ignore_errors=True)


def render_report(args: argparse.Namespace, sizes: list[int], full: dict[int, list[Run]],
                  second: dict[int, list[Run]], second_stats: dict[int, dict[str, int]], rebuild: dict[int, list[Run]],
                  phases: dict[int, list[dict[str, float]]], pages: dict[int, int],
                  rendered: dict[int, dict[str, int]], pagefind: list[Run], pelican_cold: list[Run],
                  pelican_rebuild: list[Run], pelican_html: int) -> str:
    pel = median_run(pelican_cold)
    pel_rate = pelican_html / pel.seconds
    command = (f"python bench/bench_site.py --entries {args.entries} --small-entries {args.small_entries} "
               f"--pelican-pages {args.pelican_pages} --runs {args.runs}")
    load = os.getloadavg()
    lines = [
        "## Static site build (portal.site vs plain Pelican)",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine_line()} (shared with other engineers' jobs: compare ratios within the run)  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M %Z')}; median of {args.runs} runs, peers interleaved run by run; "
        f"peak RSS is the largest of the runs; load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.",
        "",
        "| build | what | median s | pages | pages/s | vs Pelican pages/s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        f = median_run(full[n])
        rate = pages[n] / f.seconds
        lines.append(f"| portal.site, {n:,} entries, full | first publish: Pelican + plugin + Pagefind, "
                     f"empty entry slot | {f.seconds:.1f} | {pages[n]:,} | {rate:,.0f} | "
                     f"**{rate / pel_rate:.1f}×** | {f.peak_rss_mb:.0f} |")
        b = median_run(second[n])
        lines.append(f"| portal.site, {n:,} entries, second publish | 1% changed, into the still empty second "
                     f"entry slot (once per deployment: {second_stats[n]['rendered']:,} pages rendered, "
                     f"{second_stats[n]['linked']:,} hard-linked from the first slot) | {b.seconds:.1f} | | | | "
                     f"{b.peak_rss_mb:.0f} |")
        r = median_run(rebuild[n])
        lines.append(f"| portal.site, {n:,} entries, 1% changed | publish path, steady state: built into the slot "
                     f"that holds the release before the live one ({rendered[n]['rendered']:,} pages rendered, "
                     f"{rendered[n]['linked']:,} hard-linked from the live slot, {rendered[n]['reused']:,} unchanged, "
                     f"{rendered[n]['artefacts_made']:,} download blocks formatted) | {r.seconds:.1f} | | | | "
                     f"{r.peak_rss_mb:.0f} |")
        in_process = statistics.median(p["in-process total"] for p in phases[n])
        lines.append(f"| | of which process start-up and imports (wall time minus the in-process total) | "
                     f"{max(0.0, r.seconds - in_process):.1f} | | | | |")
        for label in PHASES:
            lines.append(f"| | of which {label} | {statistics.median(p.get(label, 0.0) for p in phases[n]):.2f} "
                         "| | | | |")
        accounted = sum(statistics.median(p.get(label, 0.0) for p in phases[n]) for label in PHASES)
        lines.append(f"| | of which the rest: Pelican reading content, small pages, feeds, sitemap | "
                     f"{max(0.0, in_process - accounted):.2f} | | | | |")
    pr = median_run(pelican_rebuild)
    lines.append(f"| Pelican 4.12, {args.pelican_pages:,} Markdown articles, cold | caching on, empty cache | "
                 f"{pel.seconds:.1f} | {pelican_html:,} | {pel_rate:,.0f} | 1.0× | {pel.peak_rss_mb:.0f} |")
    lines.append(f"| Pelican 4.12, {args.pelican_pages:,} articles, 1% changed | its own cached rebuild | "
                 f"{pr.seconds:.1f} | | | | {pr.peak_rss_mb:.0f} |")
    pf = median_run(pagefind)
    lines.append(f"| Pagefind (inside the full build above) | `python -m pagefind` on the {args.entries:,}-entry "
                 f"output, policies and notices only | {pf.seconds:.1f} | | | | {pf.peak_rss_mb:.0f} |")
    lines.append("")
    lines.append("Goals:")
    for n in sizes:
        f, r = median_run(full[n]), median_run(rebuild[n])
        rate = pages[n] / f.seconds
        lines.append(f"- {n:,} entries: {rate / pel_rate:.1f}× Pelican's pages/s (goal ≥ 5×); 1% rebuild "
                     f"{r.seconds / f.seconds:.1%} of the full build (goal ≤ 10%); "
                     f"individual runs full {', '.join(f'{x.seconds:.1f}' for x in full[n])} s, "
                     f"rebuild {', '.join(f'{x.seconds:.1f}' for x in rebuild[n])} s.")
    lines.append(f"- Pelican cold runs: {', '.join(f'{x.seconds:.1f}' for x in pelican_cold)} s; "
                 f"spread of its median {statistics.pstdev(x.seconds for x in pelican_cold):.1f} s.")
    if args.pelican_pages != args.entries:
        lines.append(f"- Pelican was run at {args.pelican_pages:,} articles, not {args.entries:,} (its cold build "
                     "at 100,000 takes well over 10 minutes on 2 cores); the comparison is pages per second.")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
