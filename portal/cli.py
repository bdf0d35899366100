"""The ``portal`` command: what operators run.

Messages to operators are in Chinese (with the English in brackets where it helps a developer reading logs).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from portal.dates import parse_date, today_shanghai
from portal.settings import DEFAULT_SNAPSHOTS_DIR

app = typer.Typer(help="信用门户运维命令 (public credit portal operator commands)", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
console = Console()
err_console = Console(stderr=True)


def _as_of(value: str | None) -> date:
    return parse_date(value) if value else today_shanghai()


AsOf = Annotated[str | None, typer.Option("--as-of", help="评估生命周期的日期（默认今天，北京时间）/ lifecycle date")]
SnapshotsDir = Annotated[Path, typer.Option("--snapshots", help="快照目录 / snapshot root")]


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
    from portal.sample import write_samples

    with _progress() as bar:
        task = bar.add_task("生成模拟数据", total=rows)
        paths = write_samples(out, rows, seed=seed, formats=tuple(formats.split(",")), as_of=_as_of(as_of),
                              invalid_share=invalid_share, progress=lambda n: bar.update(task, completed=n))
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
    from portal.ingest import IngestError, SourceSpec, run_ingest

    specs = [SourceSpec(s, sheet=sheet, table=table, query=query) for s in sources]
    try:
        with _progress() as bar:
            tasks: dict[str, int] = {}

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


def print_summary(manifest: dict) -> None:  # type: ignore[type-arg]
    counts = manifest["counts"]
    table = Table(title=f"导入结果（数据日期 {manifest['data_as_of']}）")
    table.add_column("项目")
    table.add_column("行数", justify="right")
    table.add_row("读取 rows read", f"{counts['rows_read']:,}")
    table.add_row("已公布 published", f"{counts['published']:,}")
    table.add_row("公示中 under notice", f"{counts['under_notice']:,}")
    labels = {"expired": "期满", "repaired": "信用修复", "revoked": "撤销", "corrected": "异议更正", "removed": "移出",
              "not_yet_public": "未到公布日期", "objection_withheld": "异议暂停公布", "conflict": "红黑名单冲突"}
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
        console.print(f"[yellow]节假日安排未知的年份[/]：{years}（按周一至周五计算工作日，请在 portal/data/holidays.toml 补充）")
    if counts["rejected"]:
        console.print(f"拒收明细见 rejects.csv（{manifest['files']['rejects.csv']['rows']:,} 条原因）")


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=False)


if __name__ == "__main__":
    app()
