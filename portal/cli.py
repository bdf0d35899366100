"""The ``portal`` command: what operators run.

Messages to operators are in Chinese (with the English in brackets where it helps a developer reading logs).

Each command imports what it runs inside its own body: this module is the composition root, and importing
every part (Pelican, the SQL drivers, the API) for ``portal apikey list`` would cost seconds, not the ~1 s of
Typer and Rich alone. The graph is still visible to ``lint-imports`` (.importlinter).
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from portal.public.dates import parse_date, today_shanghai
from portal.settings import DEFAULT_SNAPSHOTS_DIR, DEFAULT_VAR_DIR

app = typer.Typer(help="信用门户运维命令 (public credit portal operator commands)", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()
err_console = Console(stderr=True)


def _as_of(value: str | None) -> date:
    return parse_date(value) if value else today_shanghai()


VarDir = Annotated[Path, typer.Option("--var", help="运行数据目录 / deployment data directory")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="评估生命周期的日期（默认今天，北京时间）/ lifecycle date")]
SnapshotsDir = Annotated[Path, typer.Option("--snapshots", help="快照目录 / snapshot root")]


class SearchEngine(StrEnum):
    sqlite = "sqlite"
    meilisearch = "meilisearch"


EngineName = Annotated[SearchEngine, typer.Option("--engine", envvar="PORTAL_ENGINE",
                                                  help="检索引擎：sqlite（默认，索引文件）或 meilisearch（MEILI_URL、MEILI_KEY 指定的服务器）")]


def _meili_engine():
    """The Meilisearch engine from MEILI_URL / MEILI_KEY, or a clear error (the key itself is never printed)."""
    from search_api.indexer import MeiliNotConfigured, meili_engine_from_env

    try:
        return meili_engine_from_env()
    except MeiliNotConfigured:
        err_console.print("[red]未设置 MEILI_URL[/]：请先设置 Meilisearch 服务器地址 MEILI_URL 与密钥 MEILI_KEY "
                          "(MEILI_URL is not set)")
        raise typer.Exit(2) from None


@app.command()
def sample(
    out: Annotated[Path, typer.Option("--out", help="输出目录")] = Path("var/samples"),
    rows: Annotated[int, typer.Option("--rows", min=100, max=1_000_000, help="总行数 (100–1,000,000)")] = 2_000,
    seed: Annotated[int, typer.Option("--seed")] = 20261123,
    formats: Annotated[str, typer.Option("--formats", help="逗号分隔: csv-gbk,csv-utf8,xlsx")] = "csv-gbk,csv-utf8,xlsx",
    invalid_share: Annotated[float, typer.Option("--invalid-share", min=0.0, max=0.5)] = 0.03,
    as_of: AsOf = None,
) -> None:
    """生成逼真的模拟部门数据文件（确定性，可复现）。"""
    try:  # the generator and its Faker are the `sample` extra, not part of a production install
        from portal.sample import write_samples
    except ModuleNotFoundError as exc:
        err_console.print(f"[red]模拟数据生成器未安装（缺少 {exc.name}）：pip install 'credit-portal[sample]'[/red]")
        raise typer.Exit(1) from None

    with _progress() as bar:
        task = bar.add_task("生成模拟数据", total=rows)
        paths = write_samples(out, rows, seed=seed, formats=tuple(formats.split(",")), as_of=_as_of(as_of),
                              invalid_share=invalid_share, progress=lambda n: bar.update(task, advance=n))
    for path in paths:
        console.print(f"  {path}")


@app.command()
def ingest(
    sources: Annotated[list[str], typer.Argument(help="文件路径或数据库 URL（SQLAlchemy 格式）")],
    snapshots: SnapshotsDir = DEFAULT_SNAPSHOTS_DIR,
    as_of: AsOf = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX 工作表名")] = None,
    table: Annotated[str | None, typer.Option(help="数据库表名")] = None,
    query: Annotated[str | None, typer.Option(help="数据库查询语句")] = None,
) -> None:
    """导入部门数据：校验、脱敏、生命周期评估，生成新的公开快照。"""
    from portal.ingest.pipeline import IngestError, SourceSpec, run_ingest

    specs = [SourceSpec(s, sheet=sheet, table=table, query=query) for s in sources]
    try:
        with _progress() as bar:
            tasks: dict[str, TaskID] = {}

            def report(name: str, rows: int) -> None:
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=None)
                bar.update(tasks[name], completed=rows)

            result = run_ingest(specs, snapshots, as_of=_as_of(as_of), progress=report)
    except IngestError as exc:
        err_console.print(f"[bold red]导入失败，未发布任何数据[/]：{exc.zh}\n[dim]{exc.en}[/]")
        raise typer.Exit(2) from None
    print_summary(result.manifest)
    console.print(f"快照：{result.version_dir}")


@app.command()
def publish(
    sources: Annotated[list[str], typer.Argument(help="部门数据文件或数据库 URL")],
    var: VarDir = DEFAULT_VAR_DIR,
    as_of: AsOf = None,
    trigger: Annotated[str, typer.Option(help="触发方式，记入审计日志（manual / schedule / ...）")] = "manual",
    table: Annotated[str | None, typer.Option(help="数据库表名")] = None,
    query: Annotated[str | None, typer.Option(help="数据库查询语句")] = None,
    engine: EngineName = SearchEngine.sqlite,
) -> None:
    """一键发布：导入 → 校验 → 脱敏 → 生成网站 → 建索引 → 原子切换上线（任一步失败则线上不变）。"""
    from portal.ingest.pipeline import SourceSpec
    from portal.release.publish import STEP_NAMES_ZH, Layout, PublishError, default_index_builder
    from portal.release.publish import publish as run_publish

    specs = [SourceSpec(s, table=table, query=query) for s in sources]
    builder = default_index_builder
    if engine is SearchEngine.meilisearch:  # the release keeps its SQLite file; Meilisearch is swapped in with the switch
        from search_api.indexer import meili_release_builder

        builder = meili_release_builder(_meili_engine())
    try:
        with console.status("发布中…") as status:
            record = run_publish(specs, Layout(var), as_of=_as_of(as_of), trigger=trigger, index_builder=builder,
                                 progress=lambda step: status.update(f"发布中：{STEP_NAMES_ZH.get(step, step)}"))
    except PublishError as exc:
        err_console.print(f"[bold red]发布失败（步骤：{STEP_NAMES_ZH.get(exc.step, exc.step)}），线上网站与索引保持不变。[/]\n"
                          f"{exc.zh}\n[dim]{exc.en}[/]")
        raise typer.Exit(2) from None
    print_summary(record["manifest"])
    console.print(f"[green]已发布[/] {record['release']}（快照 {record['snapshot']}，用时 {record['seconds']} 秒）")


@app.command()
def rollback(var: VarDir = DEFAULT_VAR_DIR, engine: EngineName = SearchEngine.sqlite) -> None:
    """回退到上一次发布的版本（网站与索引一起回退；Meilisearch 索引按该版本的快照重建后一起切换）。"""
    from portal.release.publish import Layout, PublishError
    from portal.release.publish import rollback as run_rollback
    from search_api.engines.base import EngineError

    layout = Layout(var)
    staged = None
    try:
        if engine is SearchEngine.meilisearch:
            from portal.release.publish import previous_release_snapshot

            with console.status("按上一版本的快照重建 Meilisearch 索引…"):
                staged = _meili_engine().stage(previous_release_snapshot(layout))
        release = run_rollback(layout)
        if staged is not None:
            staged.go_live()
            staged.finish()
    except (PublishError, EngineError) as exc:
        if staged is not None:
            staged.undo()
        err_console.print(f"[red]{getattr(exc, 'zh', '回退失败（Meilisearch）')}[/]")
        raise typer.Exit(2) from None
    console.print(f"已回退到 {release.name}")


@app.command()
def history(
    var: VarDir = DEFAULT_VAR_DIR,
    entry: Annotated[str | None, typer.Option("--entry", help="条目 ID")] = None,
    on: Annotated[str | None, typer.Option("--on", help="日期：该条目当天是否公开")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """审计记录：每次发布的时间、来源、数量、校验和；或查询某条目某天是否公开。"""
    from portal.release.audit import AuditLog
    from portal.release.publish import Layout

    audit = AuditLog(Layout(var).audit)
    if entry:
        from portal.applications.cli import print_entry_applications

        print_entry_applications(var, entry)
        day = _as_of(on)
        spans = audit.public_on(entry, day)
        if spans:
            console.print(f"条目 {entry} 在 {day.isoformat()} [green]处于公开状态[/]：")
            for span in spans:
                console.print(f"  {span['live_from']} 起至 {span['live_until'] or '今'}，状态 {span['status']}，"
                              f"版本 {span['release']}")
        else:
            console.print(f"条目 {entry} 在 {day.isoformat()} [yellow]未公开[/]。")
            raise typer.Exit(1)
        return
    table = Table(title="发布记录")
    for column in ("时间", "结果", "触发", "版本", "公开", "拒收", "新增/更新/撤下", "逾期公示", "说明"):
        table.add_column(column)
    for event in audit.events(limit):
        counts = event.get("counts") or {}
        changes = event.get("changes") or {}
        public = counts.get("published", 0) + counts.get("under_notice", 0) if counts else ""
        table.add_row(event["at"][:19], event["outcome"], event.get("trigger") or "", event.get("release") or "",
                      str(public), str(counts.get("rejected", "")),
                      "/".join(str(changes.get(k, "")) for k in ("added", "updated", "withdrawn")) if changes else "",
                      _late_cell(event.get("late_decisions")), event.get("error_zh", "")[:60])
    console.print(table)


def _record(kind: str, entry_id: str, on: str | None, note: str, var: Path) -> None:
    from portal.ingest.actions import ActionKind, record_action
    from portal.release.publish import Layout

    layout = Layout(var)
    known = layout.snapshots / "latest"
    from portal.public.snapshot import iter_entries, iter_tombstones

    if known.exists() and not any(e["id"] == entry_id for e in iter_entries(known)) and not any(
            t["id"] == entry_id for t in iter_tombstones(known)):
        err_console.print(f"[red]当前快照中没有条目 {entry_id}[/]")
        raise typer.Exit(2)
    record_action(layout.actions, entry_id, ActionKind(kind), _as_of(on), note)
    console.print(f"已记录（{kind}），下次发布时生效：portal publish …")


Note = Annotated[str, typer.Option(help="内部备注（不公开）")]
OnDate = Annotated[str | None, typer.Option("--on", help="日期（默认今天）")]
EntryId = Annotated[str, typer.Argument(help="条目 ID")]


@app.command()
def objection(entry_id: EntryId, on: OnDate = None, note: Note = "",
              resolve: Annotated[str | None, typer.Option(help="upheld（异议成立，更正撤下）或 rejected（异议不成立）")] = None,
              var: VarDir = DEFAULT_VAR_DIR) -> None:
    """记录异议：条目标注“异议处理中”；--resolve 记录处理结果。"""
    kinds = {None: "objection", "upheld": "objection_upheld", "rejected": "objection_rejected"}
    if resolve not in kinds:
        err_console.print("--resolve 只能是 upheld 或 rejected")
        raise typer.Exit(2)
    _record(kinds[resolve], entry_id, on, note, var)


@app.command()
def repair(entry_id: EntryId, on: OnDate = None, note: Note = "", var: VarDir = DEFAULT_VAR_DIR) -> None:
    """记录信用修复：条目提前撤下，原地址显示“已不再公示”。"""
    _record("repair", entry_id, on, note, var)


@app.command()
def revoke(entry_id: EntryId, on: OnDate = None, note: Note = "", var: VarDir = DEFAULT_VAR_DIR) -> None:
    """记录撤销（荣誉撤销或错误更正）。"""
    _record("revoke", entry_id, on, note, var)


@app.command()
def index(snapshot: Annotated[Path, typer.Argument(help="快照目录")] = DEFAULT_SNAPSHOTS_DIR / "latest",
          out: Annotated[Path, typer.Option("--out")] = Path("var/search/index.sqlite3"),
          engine: EngineName = SearchEngine.sqlite) -> None:
    """从快照建立检索索引：SQLite 索引文件（原子替换），或 Meilisearch 索引（建好后 swap-indexes 原子切换）。"""
    from search_api.engines.base import EngineError
    from search_api.indexer import build_index

    if engine is SearchEngine.meilisearch:
        meili = _meili_engine()
        try:
            with console.status(f"建立 Meilisearch 索引（{meili.url}）…"):
                stats = meili.index_snapshot(snapshot)
        except EngineError as exc:
            err_console.print(f"[bold red]建立 Meilisearch 索引失败，线上索引保持不变。[/]\n[dim]{exc}[/]")
            raise typer.Exit(2) from None
    else:
        with console.status("建立索引…"):
            stats = build_index(snapshot, out)
    console.print(stats)


@app.command()
def serve(var: VarDir = DEFAULT_VAR_DIR, host: str = "127.0.0.1",
          site_port: Annotated[int, typer.Option()] = 8000, api_port: Annotated[int, typer.Option()] = 8001) -> None:
    """在本机启动网站与检索接口（读取 var/current）。"""
    from portal.serve import serve as run_serve

    if not (var / "current").exists():
        err_console.print("[red]尚未发布任何版本[/]：先运行 portal publish …")
        raise typer.Exit(2)
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    console.print(f"网站 http://{shown}:{site_port}/    检索接口 http://{shown}:{api_port}/api/v1/search?q=王伟    "
                  f"接口文档 http://{shown}:{api_port}/api/v1/docs")
    run_serve(var, host=host, site_port=site_port, api_port=api_port)


from portal.applications.cli import applications_app  # noqa: E402  (sub-app; its commands import lazily)

app.add_typer(applications_app, name="applications")

apikey_app = typer.Typer(help="信用核查接口密钥 (API keys for POST /api/v1/check)", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("issue")
def apikey_issue(name: Annotated[str, typer.Argument(help="使用单位，如 达州市政务服务中心")]) -> None:
    """签发密钥（只显示一次，库中仅存哈希）。"""
    from search_api.keys import issue_key

    console.print(issue_key(name))


@apikey_app.command("revoke")
def apikey_revoke(key_id: Annotated[str, typer.Argument(help="密钥编号或前缀")]) -> None:
    """吊销密钥。"""
    from search_api.keys import revoke_key

    if not revoke_key(key_id):
        err_console.print("[red]没有找到该密钥[/]")
        raise typer.Exit(2)
    console.print("已吊销")


@apikey_app.command("list")
def apikey_list() -> None:
    """列出密钥（不含密钥本身）。"""
    from search_api.keys import list_keys

    table = Table()
    keys = list_keys()
    for column in (keys[0].keys() if keys else ["(无)"]):
        table.add_column(str(column))
    for key in keys:
        table.add_row(*(str(v) for v in key.values()))
    console.print(table)


def print_summary(manifest: dict[str, Any]) -> None:
    counts = manifest["counts"]
    table = Table(title=f"导入结果（数据日期 {manifest['data_as_of']}）")
    table.add_column("项目")
    table.add_column("行数", justify="right")
    table.add_row("读取 rows read", f"{counts['rows_read']:,}")
    table.add_row("已公布 published", f"{counts['published']:,}")
    table.add_row("公示中 under notice", f"{counts['under_notice']:,}")
    labels = {"expired": "期满", "repaired": "信用修复", "revoked": "撤销", "corrected": "异议更正", "removed": "移出",
              "not_yet_public": "未到公布日期", "objection_withheld": "暂停公示（异议处理中）",
              "conflict": "红名单冲突或排除"}
    for reason, n in counts["withheld"].items():
        if n:
            table.add_row(f"不公开：{labels.get(reason, reason)} withheld {reason}", f"{n:,}")
    table.add_row("拒收 rejected", f"{counts['rejected']:,}")
    console.print(table)
    changes = manifest.get("changes", {})
    console.print(f"相对上一版本：新增 {changes.get('added', 0):,}，更新 {changes.get('updated', 0):,}，"
                  f"撤下 {changes.get('withdrawn', 0):,}")
    for unknown in manifest.get("unknown_columns", []):
        if unknown["columns"]:
            console.print(f"[yellow]未识别的列[/]（{unknown['source']}）：{'、'.join(unknown['columns'])}")
        if unknown.get("duplicates"):
            console.print(f"[yellow]重复的列[/]（{unknown['source']}）：{'、'.join(unknown['duplicates'])}")
    if manifest.get("calendar_fallback_years"):
        years = "、".join(str(y) for y in manifest["calendar_fallback_years"])
        console.print(f"[yellow]节假日安排未知的年份[/]：{years}（已按法定节假日及其可能的调休从长计算工作日，"
                      "期限只会偏长；国务院安排公布后请在 portal/data/holidays.toml 补充，下次发布自动重算）")
    for line in rule_report_lines(manifest):
        console.print(line)
    if counts["rejected"]:
        console.print(f"拒收明细见 rejects.csv（{manifest['files']['rejects.csv']['rows']:,} 条原因）")


SUMMARY_ROWS = 20  # rule reports shown per kind in the import summary; manifest.json has the full lists


def _late_cell(late: dict | None) -> str:
    """History column: late 双公示 decisions / public ones (按时公示率)."""
    if not late or not late.get("public"):
        return ""
    return f"{late['late']}/{late['public']}（按时 {late['on_time_rate'] * 100:.1f}%）"


def rule_report_lines(manifest: dict) -> list[str]:
    """The rule reports of an import: clamped periods, late decisions, red-list exclusions."""
    from portal.ingest.periods import ABOVE_MAX

    lines = []
    adjusted = manifest.get("period_adjustments") or {}
    for item in adjusted.get("listed", [])[:SUMMARY_ROWS]:
        bound = "最长" if item["kind"] == ABOVE_MAX else "最短"
        lines.append(f"[yellow]公布期限已按名单{bound}期限调整[/]：{item['source']} 第{item['row']}行（条目 {item['id']}），"
                     f"文件中为 {item['given']}，按 {item['applied']} 公布")
    if adjusted.get("total", 0) > SUMMARY_ROWS:
        lines.append(f"……共 {adjusted['total']:,} 行公布期限被调整，明细见 manifest.json")
    timeliness = manifest.get("timeliness") or {}
    if timeliness.get("public"):
        lines.append(f"双公示按时公示率：{timeliness['on_time_rate'] * 100:.1f}%（公示 {timeliness['public']:,} 条，"
                     f"逾期 {timeliness['late']:,} 条，明细见 late.jsonl）")
    labels = {"uscc": "统一社会信用代码", "org_code": "组织机构代码", "reg_no": "注册号", "name": "名称",
              "id_number": "证件号码", "legal_rep": "法定代表人证件号码"}
    for item in manifest.get("conflicts", [])[:SUMMARY_ROWS]:
        lines.append(f"[yellow]红名单条目暂不公布[/]：{item['red_id']}（{item['list_code']}），因同一主体在 {item['by_list']} "
                     f"有效（按{labels.get(item['matched_by'], item['matched_by'])}识别，条目 {item['black_id']}）")
    if manifest.get("conflicts_total", 0) > SUMMARY_ROWS:
        lines.append(f"……共 {manifest['conflicts_total']:,} 条红名单条目暂不公布，明细见 manifest.json")
    return lines


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


if __name__ == "__main__":
    app()
