"""Deadlines and eligibility, from the rules the site itself publishes, counted on the working-day calendar.

Sources (content/pages/yiyi-chuli.md, content/pages/xinyong-xiufu.md, content/policies/
xinyong-xiufu-guanli-banfa.md; domain.md "Objections"):

- both kinds: the office decides whether to accept within **2 working days** of receipt (修复办法 第七条;
  异议处理指南 五);
- objection: verification within **10 working days** of acceptance (七星关 第二十一条(二)), extendable to
  15 in complex cases (seed 001);
- repair: decision within **5 working days** of acceptance, at most **15** when the listing department must
  verify (修复办法 第八条); the entry leaves the portal within 3 working days of the decision (第九条) —
  here at the next publish, i.e. the next night;
- repair is possible only after a minimum public period per list (修复办法 第四条; 信用修复指南 二); court
  and tax lists are repaired by the court / the tax authority (第五条), red lists and licences need none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any

from portal.ingest.workdays import WorkCalendar
from portal.public.dates import add_months, format_zh

ACCEPT_WORKING_DAYS = 2  # 决定是否受理: 修复办法 第七条, 异议处理指南 五
OBJECTION_WORKING_DAYS = 10  # 异议核查: 七星关 第二十一条(二)
OBJECTION_EXTENDED_WORKING_DAYS = 15  # 情况复杂的延长, 累计不超过 (seed 001)
REPAIR_WORKING_DAYS = 5  # 修复决定: 修复办法 第八条
REPAIR_EXTENDED_WORKING_DAYS = 15  # 需要认定部门核实的 (第八条)


class Kind(StrEnum):
    OBJECTION = "objection"  # 异议申请
    REPAIR = "repair"  # 信用修复申请


KIND_ZH = {Kind.OBJECTION: "异议申请", Kind.REPAIR: "信用修复申请"}


@dataclass(frozen=True)
class RepairRule:
    months: int | None  # minimum months since 认定日期; None = not repaired through this office
    who_zh: str  # 受理部门, shown to the applicant
    refusal_zh: str = ""  # why an online repair is impossible (months None)


_REPAIR_BY_LIST = {
    "XZCF": RepairRule(3, "市信用办或县级信用主管部门"),
    "ZDGZ": RepairRule(3, "市信用办，会同认定部门"),
    "YZWFSX": RepairRule(12, "市市场监管局"),
    "AQSCSX": RepairRule(12, "市应急管理局"),
    "ZFCGSX": RepairRule(12, "市财政局"),
    "TQNMGGZ": RepairRule(12, "市、县人力资源社会保障局"),
    "ZDSSWF": RepairRule(None, "作出确定的税务机关",
                         "重大税收违法失信主体信息的修复按税务部门规定办理，请向作出确定的税务机关申请。"),
    "SXBZXR": RepairRule(None, "作出决定的人民法院",
                         "失信被执行人信息的修复由作出决定的人民法院依法决定，不适用本站在线申请。"),
}
# Lists the catalogue may gain later: black and watch lists take the strictest general rule (1 year).
_DEFAULT_REPAIR = {"black": RepairRule(12, "认定部门"), "watch": RepairRule(3, "市信用办，会同认定部门"),
                   "decision": RepairRule(3, "市信用办或县级信用主管部门")}
_NO_REPAIR = RepairRule(None, "", "红名单和行政许可信息不是失信信息，无需申请信用修复；信息有误的，请提出异议。")


@lru_cache(maxsize=1)
def calendar() -> WorkCalendar:
    return WorkCalendar.load()


def repair_rule(entry: dict[str, Any]) -> RepairRule:
    if entry["list_code"] in _REPAIR_BY_LIST:
        return _REPAIR_BY_LIST[entry["list_code"]]
    if entry["list_code"] == "XZXK":
        return _NO_REPAIR
    return _DEFAULT_REPAIR.get(entry["list_kind"], _NO_REPAIR)


def earliest_repair(entry: dict[str, Any]) -> date | None:
    """First day a repair may be applied for (认定日期 + minimum period, 民法典 counting), or None."""
    rule = repair_rule(entry)
    if rule.months is None:
        return None
    return add_months(date.fromisoformat(entry["decision_date"]), rule.months)


def repair_refusal(entry: dict[str, Any], today: date) -> str | None:
    """Why a repair cannot be filed for this entry today (Chinese), or None when it can."""
    rule = repair_rule(entry)
    if rule.months is None:
        return rule.refusal_zh
    earliest = earliest_repair(entry)
    assert earliest is not None
    if today < earliest:
        span = f"{rule.months // 12}年" if rule.months % 12 == 0 else f"{rule.months}个月"
        return f"该信息自认定之日起满{span}（{format_zh(earliest)}起）方可申请信用修复。"
    return None


def accept_due(received: date) -> date:
    return calendar().add_working_days(received, ACCEPT_WORKING_DAYS)


def decision_due(kind: Kind, accepted: date, *, extended: bool = False) -> date:
    """Last day for the outcome, counted from the day of acceptance."""
    if kind is Kind.OBJECTION:
        days = OBJECTION_EXTENDED_WORKING_DAYS if extended else OBJECTION_WORKING_DAYS
    else:
        days = REPAIR_EXTENDED_WORKING_DAYS if extended else REPAIR_WORKING_DAYS
    return calendar().add_working_days(accepted, days)


def deadlines(kind: Kind, received: date, accepted: date | None) -> dict[str, str]:
    """The deadlines shown to the applicant (ISO dates). Before acceptance the outcome deadline counts from
    the last day for acceptance: the latest it can be."""
    start = accepted or accept_due(received)
    return {"accept_by": accept_due(received).isoformat(),
            "decide_by": decision_due(kind, start).isoformat(),
            "decide_by_extended": decision_due(kind, start, extended=True).isoformat()}
