"""Operator actions on single entries: objections (异议), credit repair (信用修复) and revocation (撤销).

Departments re-send their lists only now and then; the credit office records what happened to one entry in
between. Actions are appended to ``var/actions.jsonl`` (never rewritten, so the file is its own audit trail)
and applied by every later ingest on top of what the department file says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path

import orjson

from portal.public.snapshot import iter_jsonl, now_shanghai


class ActionKind(StrEnum):
    OBJECTION = "objection"  # 异议: flag 异议处理中 while it is checked
    OBJECTION_UPHELD = "objection_upheld"  # 异议成立: the record was wrong, withdrawn as 异议更正
    OBJECTION_REJECTED = "objection_rejected"  # 异议不成立: the flag is lifted
    REPAIR = "repair"  # 信用修复: withdrawn early
    REVOKE = "revoke"  # 撤销: honour revoked or record annulled


@dataclass(frozen=True)
class Override:
    """What the actions on one entry amount to, applied over the department's row."""

    status: str | None = None  # "异议处理中" while an objection is open
    removal_date: date | None = None
    removal_reason: str | None = None  # 信用修复 / 撤销 / 异议更正


_REMOVALS = {ActionKind.REPAIR: "信用修复", ActionKind.REVOKE: "撤销", ActionKind.OBJECTION_UPHELD: "异议更正"}


def record_action(path: Path, entry_id: str, kind: ActionKind, on: date, note: str = "") -> dict[str, str]:
    """Append one action; the note is for the office's own records and is never published."""
    record = {"recorded_at": now_shanghai().isoformat(), "entry_id": entry_id, "action": kind.value,
              "date": on.isoformat(), "note": note}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(orjson.dumps(record) + b"\n")
    return record


def load_overrides(path: Path) -> dict[str, Override]:
    """Fold the action log, in order, into one override per entry."""
    overrides: dict[str, Override] = {}
    for record in iter_jsonl(path):
        kind = ActionKind(record["action"])
        on = date.fromisoformat(record["date"])
        current = overrides.get(record["entry_id"], Override())
        if kind is ActionKind.OBJECTION:
            current = Override("异议处理中", current.removal_date, current.removal_reason)
        elif kind is ActionKind.OBJECTION_REJECTED:
            current = Override(None, current.removal_date, current.removal_reason)
        else:
            current = Override(None, on, _REMOVALS[kind])
        overrides[record["entry_id"]] = current
    return overrides
