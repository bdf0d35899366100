"""The operator's decisions, each one store transition plus (where the rules say so) one entry action.

=================  ==========================  ======================================================
step               application                 entry action (portal/ingest/actions.py), next publish
=================  ==========================  ======================================================
accept objection   received → accepted         OBJECTION: flagged 异议处理中 (withheld if the list says)
resolve corrected  accepted → closed           OBJECTION_UPHELD: withdrawn as 异议更正
resolve withdrawn  accepted → closed           OBJECTION_REJECTED: flag lifted (the applicant withdrew)
resolve upheld     accepted → closed           OBJECTION_REJECTED: flag lifted (the record stands)
accept repair      received → closed           REPAIR on the repair date: withdrawn as 信用修复
reject             received → closed           none (不予受理 / 不予修复, with the reason)
=================  ==========================  ======================================================

The action is appended inside the store's transaction, so a step that fails leaves neither half.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from portal.applications.rules import Kind
from portal.applications.settings import MAX_REASON_LENGTH
from portal.applications.store import ACCEPTED, CLOSED, RECEIVED, ApplicationStore, StoreError
from portal.ingest.actions import ActionKind, record_action
from portal.public.snapshot import iter_entries
from portal.release.publish import Layout

OBJECTION_OUTCOMES = {"corrected": ActionKind.OBJECTION_UPHELD, "withdrawn": ActionKind.OBJECTION_REJECTED,
                      "upheld": ActionKind.OBJECTION_REJECTED}


def _require_public(layout: Layout, entry_id: str) -> None:
    latest = layout.snapshots / "latest"
    if latest.exists() and not any(e["id"] == entry_id for e in iter_entries(latest)):
        raise StoreError(f"条目 {entry_id} 已不在当前公开数据中（已撤下或期满），无需再记录；"
                         "请用 reject 办结并向申请人说明")


def _check_reason(reason: str) -> None:
    if len(reason) > MAX_REASON_LENGTH:
        raise StoreError(f"理由不能超过{MAX_REASON_LENGTH}个字")


def _kind(store: ApplicationStore, receipt: str) -> tuple[Kind, str]:
    row = store.get(receipt)
    if row is None:
        raise StoreError(f"没有受理编号为 {receipt} 的申请")
    return Kind(row["kind"]), row["entry_id"]


def accept(store: ApplicationStore, layout: Layout, receipt: str, *, actor: str, on: date,
           effective: date | None = None, note: str = "") -> dict[str, Any]:
    """Objection: accept and flag the entry. Repair: grant it; the entry is withdrawn from ``effective``."""
    receipt = receipt.strip().upper()
    kind, entry_id = _kind(store, receipt)
    _require_public(layout, entry_id)
    with store.transaction() as conn:
        if kind is Kind.OBJECTION:
            row = store.transition(conn, receipt, expect=(RECEIVED,), actor=actor, action="accepted",
                                   values={"state": ACCEPTED, "accepted_on": on, "effective_on": on},
                                   detail={"entry_action": ActionKind.OBJECTION.value, "on": on.isoformat(),
                                           "note": note})
            record_action(layout.actions, entry_id, ActionKind.OBJECTION, on, f"网上异议申请 {receipt}")
        else:
            day = effective or on
            row = store.transition(conn, receipt, expect=(RECEIVED,), actor=actor, action="repaired",
                                   values={"state": CLOSED, "outcome": "repaired", "accepted_on": on,
                                           "closed_on": on, "effective_on": day},
                                   detail={"entry_action": ActionKind.REPAIR.value, "on": day.isoformat(),
                                           "note": note})
            record_action(layout.actions, entry_id, ActionKind.REPAIR, day, f"网上信用修复申请 {receipt}")
    return row


def reject(store: ApplicationStore, receipt: str, *, actor: str, on: date, reason: str) -> dict[str, Any]:
    """不予受理 (objection) or 不予修复 (repair); the reason is shown to the applicant."""
    receipt = receipt.strip().upper()
    kind, _ = _kind(store, receipt)
    _check_reason(reason)
    if not reason.strip():
        raise StoreError("请用 --reason 写明不予受理或不予修复的理由（将显示给申请人）")
    outcome = "not_accepted" if kind is Kind.OBJECTION else "refused"
    with store.transaction() as conn:
        return store.transition(conn, receipt, expect=(RECEIVED,), actor=actor, action="rejected",
                                values={"state": CLOSED, "outcome": outcome, "closed_on": on, "reply": reason},
                                detail={"outcome": outcome})


def resolve(store: ApplicationStore, layout: Layout, receipt: str, outcome: str, *, actor: str, on: date,
            reason: str = "") -> dict[str, Any]:
    """Close an accepted objection with its outcome and record what it means for the entry."""
    receipt = receipt.strip().upper()
    kind, entry_id = _kind(store, receipt)
    if kind is not Kind.OBJECTION:
        raise StoreError("信用修复申请用 accept（准予修复）或 reject（不予修复）办结")
    if outcome not in OBJECTION_OUTCOMES:
        raise StoreError("处理结果只能是 corrected（信息有误已更正）、withdrawn（申请人撤回）或 upheld（原信息无误，维持）")
    _check_reason(reason)
    action = OBJECTION_OUTCOMES[outcome]
    with store.transaction() as conn:
        row = store.transition(conn, receipt, expect=(ACCEPTED,), actor=actor, action="resolved",
                               values={"state": CLOSED, "outcome": outcome, "closed_on": on, "effective_on": on,
                                       "reply": reason or None},
                               detail={"outcome": outcome, "entry_action": action.value, "on": on.isoformat()})
        record_action(layout.actions, entry_id, action, on, f"网上异议申请 {receipt} 办结：{outcome}")
    return row
