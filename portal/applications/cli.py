"""``portal applications …``: the operator's side of online applications (added to ``portal`` in
portal/cli.py). Messages in Chinese; every step is audited in the store's events with ``--by``."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from portal.public.dates import format_zh, parse_date, today_shanghai
from portal.settings import DEFAULT_VAR_DIR

if TYPE_CHECKING:
    from portal.applications.store import ApplicationStore

applications_app = typer.Typer(help="网上异议申请与信用修复申请 (online objection and repair applications)",
                               no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

VarDir = Annotated[Path, typer.Option("--var", help="运行数据目录 / deployment data directory")]
Receipt = Annotated[str, typer.Argument(help="受理编号，如 YY20261204-7K3Q9M")]
By = Annotated[str | None, typer.Option("--by", help="经办人（记入审计，默认当前系统用户）")]
OnDate = Annotated[str | None, typer.Option("--on", help="办理日期（默认今天，北京时间）")]


def open_store(var: Path) -> ApplicationStore:
    from portal.applications.attachments import AttachmentDir
    from portal.applications.settings import Settings
    from portal.applications.store import ApplicationStore

    settings = Settings(var_dir=var)
    return ApplicationStore(settings.resolved_db_url, AttachmentDir(settings.resolved_attachments_dir))


def _actor(by: str | None) -> str:
    return by or getpass.getuser()


def _day(value: str | None) -> object:
    return parse_date(value) if value else today_shanghai()


def _run(step: object) -> None:
    from portal.applications.store import StoreError

    try:
        row = step()  # type: ignore[operator]
    except StoreError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    from portal.applications.store import OUTCOME_ZH, STATE_ZH

    console.print(f"[green]已办理[/] {row['receipt']}：{STATE_ZH[row['state']]}"
                  + (f"（{OUTCOME_ZH[row['outcome']]}）" if row.get("outcome") else ""))
    if row.get("state") != "received" and row.get("effective_on") and row.get("outcome") != "not_accepted":
        console.print("条目变化在下次发布时生效：portal publish …（或等待夜间发布）")


@applications_app.command("list")
def list_applications(
    var: VarDir = DEFAULT_VAR_DIR,
    state: Annotated[str | None, typer.Option(help="received（待受理）/ accepted（核查中）/ closed（已办结）")] = None,
    kind: Annotated[str | None, typer.Option(help="objection / repair")] = None,
    entry: Annotated[str | None, typer.Option("--entry", help="条目 ID")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """列出申请（最新在前），含受理和办结期限；逾期的标红。"""
    from portal.applications import rules
    from portal.applications.rules import KIND_ZH, Kind
    from portal.applications.store import STATE_ZH

    store = open_store(var)
    today = today_shanghai()
    table = Table(title="网上申请")
    for column in ("受理编号", "类别", "条目", "名单", "状态", "收到", "期限", "申请人"):
        table.add_column(column)
    for row in store.list_applications(state=state, kind=kind, entry_id=entry, limit=limit):
        kind_ = Kind(row["kind"])
        due = rules.deadlines(kind_, row["received_on"], row["accepted_on"])
        deadline = {"received": due["accept_by"], "accepted": due["decide_by"]}.get(row["state"])
        shown = ""
        if deadline:
            overdue = today.isoformat() > deadline
            shown = f"[red]{deadline} 逾期[/]" if overdue else deadline
        table.add_row(row["receipt"], KIND_ZH[kind_], row["entry_id"], row["list_name"], STATE_ZH[row["state"]],
                      row["received_on"].isoformat(), shown, row["applicant_name"])
    console.print(table)


@applications_app.command("show")
def show(receipt: Receipt, var: VarDir = DEFAULT_VAR_DIR) -> None:
    """显示一件申请的全部内容、附件位置和办理记录。"""
    from portal.applications import rules
    from portal.applications.rules import KIND_ZH, Kind
    from portal.applications.store import OUTCOME_ZH, STATE_ZH

    store = open_store(var)
    row = store.get(receipt)
    if row is None:
        err_console.print(f"[red]没有受理编号为 {receipt} 的申请[/]")
        raise typer.Exit(2)
    kind = Kind(row["kind"])
    due = rules.deadlines(kind, row["received_on"], row["accepted_on"])
    match = {True: "[green]一致[/]", False: "[yellow]不一致（可能是代理人，请核对委托材料）[/]",
             None: "无法比对"}[row["identity_matches"]]
    lines = [
        ("受理编号", row["receipt"]), ("类别", KIND_ZH[kind]), ("状态", STATE_ZH[row["state"]]),
        ("结果", OUTCOME_ZH.get(row["outcome"] or "", "")), ("条目", f"{row['entry_id']}（{row['list_name']}，"
                                                             f"{row['entry_subject']}）"),
        ("申请人", f"{row['applicant_name']}（{'单位' if row['applicant_type'] == 'unit' else '个人'}）"),
        ("统一社会信用代码/证件号码", row["applicant_code"] or ""), ("与条目主体一致", match),
        ("联系人", row["contact_name"]), ("联系电话", row["contact_phone"]), ("电子邮箱", row["contact_email"] or ""),
        ("提交时间", row["submitted_at"][:19]), ("受理期限", format_zh(parse_date(due["accept_by"]))),
        ("办结期限", f"{format_zh(parse_date(due['decide_by']))}（延长至迟 "
                     f"{format_zh(parse_date(due['decide_by_extended']))}）"),
        ("答复", row["reply"] or ""),
    ]
    for label, value in lines:
        console.print(f"[bold]{label}[/]：{value}")
    console.print(f"[bold]申请理由[/]：\n{row['grounds']}")
    console.print("[bold]附件[/]：")
    for f in store.attachments_of(row["id"]):
        console.print(f"  {f['filename']}  {f['media_type']}  {f['size']:,} 字节  {store.files.path(f['stored_name'])}")
    console.print("[bold]办理记录[/]：")
    for e in store.events_of(receipt=row["receipt"]):
        console.print(f"  {e['at'][:19]}  {e['actor']}  {e['action']}  {e['detail']}")


@applications_app.command("accept")
def accept(receipt: Receipt, var: VarDir = DEFAULT_VAR_DIR, on: OnDate = None, by: By = None,
           effective: Annotated[str | None, typer.Option("--effective", help="信用修复生效日期（默认办理日期）")] = None,
           note: Annotated[str, typer.Option(help="内部备注（不公开，不显示给申请人）")] = "") -> None:
    """受理异议（条目标注“异议处理中”）；或准予信用修复（条目自生效日期起撤下）。"""
    from portal.applications import decide
    from portal.release.publish import Layout

    day = _day(on)
    _run(lambda: decide.accept(open_store(var), Layout(var), receipt, actor=_actor(by), on=day,  # type: ignore[arg-type]
                               effective=parse_date(effective) if effective else None, note=note))


@applications_app.command("reject")
def reject(receipt: Receipt,
           reason: Annotated[str, typer.Option("--reason", help="理由（显示给申请人）")] = "",
           var: VarDir = DEFAULT_VAR_DIR, on: OnDate = None, by: By = None) -> None:
    """不予受理异议，或不予信用修复；理由显示给申请人。"""
    from portal.applications import decide

    day = _day(on)
    _run(lambda: decide.reject(open_store(var), receipt, actor=_actor(by), on=day, reason=reason))  # type: ignore[arg-type]


@applications_app.command("resolve")
def resolve(receipt: Receipt,
            outcome: Annotated[str, typer.Argument(help="corrected（信息有误，已更正/撤下）、withdrawn（申请人撤回）"
                                                        "或 upheld（经核查原信息无误，维持公示）")],
            reason: Annotated[str, typer.Option("--reason", help="处理说明（显示给申请人）")] = "",
            var: VarDir = DEFAULT_VAR_DIR, on: OnDate = None, by: By = None) -> None:
    """办结已受理的异议：记录处理结果，下次发布时生效。"""
    from portal.applications import decide
    from portal.release.publish import Layout

    day = _day(on)
    _run(lambda: decide.resolve(open_store(var), Layout(var), receipt, outcome, actor=_actor(by), on=day,  # type: ignore[arg-type]
                                reason=reason))


@applications_app.command("purge")
def purge(var: VarDir = DEFAULT_VAR_DIR, on: OnDate = None, by: By = None) -> None:
    """删除保存期满的申请及其附件（夜间任务自动运行）。"""
    day = _day(on)
    counts = open_store(var).purge(day, _actor(by))  # type: ignore[arg-type]
    console.print(f"已删除保存期满的申请 {counts['applications']} 件、附件 {counts['attachments']} 个")


@applications_app.command("serve")
def serve(var: VarDir = DEFAULT_VAR_DIR, host: str = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 8002) -> None:
    """启动网上申请服务（单独端口；生产环境置于 nginx 之后，见运维手册）。"""
    import uvicorn

    from portal.applications.app import create_app
    from portal.applications.settings import Settings
    from search_api.middleware import install_uvicorn_log_redaction

    install_uvicorn_log_redaction()
    console.print(f"网上申请服务 http://{host}:{port}/apply/v1/challenge")
    uvicorn.run(create_app(Settings(var_dir=var)), host=host, port=port, log_level="warning")


def print_entry_applications(var: Path, entry_id: str) -> None:
    """For ``portal history --entry``: the entry's applications and their steps (no applicant data)."""
    from portal.applications.settings import Settings

    settings = Settings(var_dir=var)
    if not settings.db_url and not (settings.root / "applications.db").exists():
        return
    store = open_store(var)
    steps = store.events_of(entry_id=entry_id)
    if not steps:
        return
    console.print(f"条目 {entry_id} 的网上申请：")
    for e in steps:
        console.print(f"  {e['at'][:19]}  {e['receipt']}  {e['action']}  {e['actor']}  {e['detail']}")
