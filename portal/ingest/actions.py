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
    objection_since: date | None = None  # date of the open objection


_REMOVALS = {ActionKind.REPAIR: "信用修复", ActionKind.REVOKE: "撤销", ActionKind.OBJECTION_UPHELD: "异议更正"}


def record_action(path: Path, entry_id: str, kind: ActionKind, on: date, note: str = "") -> dict[str, str]:
    """Append one action; the note is for the office's own records and is never published."""
    record = {"recorded_at": now_shanghai().isoformat(), "entry_id": entry_id, "action": kind.value,
              "date": on.isoformat(), "note": note}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(orjson.dumps(record) + b"\n")
    return record


def load_overrides(path: Path, as_of: date | None = None) -> dict[str, Override]:
    """Fold the action log into one override per entry, in the order of the actions' dates.

    With ``as_of``, only actions dated on or before that day count: a replay of an earlier day (``--as-of``)
    shows what was true then, so an objection recorded for 10月24日 does not flag the entry as of 9月9日.
    Actions of the same day keep the order they were recorded in.
    """
    overrides: dict[str, Override] = {}
    records = sorted(iter_jsonl(path), key=lambda r: r["date"])  # stable: same-day actions keep their order
    for record in records:
        kind = ActionKind(record["action"])
        on = date.fromisoformat(record["date"])
        if as_of is not None and on > as_of:
            continue
        current = overrides.get(record["entry_id"], Override())
        if kind is ActionKind.OBJECTION:
            current = Override("异议处理中", current.removal_date, current.removal_reason, on)
        elif kind is ActionKind.OBJECTION_REJECTED:
            current = Override(None, current.removal_date, current.removal_reason)
        else:
            current = Override(None, on, _REMOVALS[kind])
        overrides[record["entry_id"]] = current
    return overrides
