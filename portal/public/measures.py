"""The measures catalogue (联合奖惩措施清单): read once from its TOML file, carried in every snapshot.

The file (``PORTAL_MEASURES``, default ``portal/data/measures.toml``) is copied into each snapshot as
``measures.json`` by whoever writes the snapshot, like the list catalogue: the site and ``/api/v1/lists``
show the measures of the version they were built from, and a rollback rolls them back with it.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from portal.settings import MEASURES_ENV, MEASURES_FILE

MEASURE_TYPES = {"incentive": "守信激励", "punishment": "失信惩戒"}
# Keys of one measure in measures.json (the TOML item's keys, with defaults filled in).
MEASURE_FIELDS = ("text", "type", "mandatory", "basis", "department")


def measures_file() -> Path:
    """The measures catalogue in use: ``PORTAL_MEASURES`` when set, else the packaged file."""
    configured = os.environ.get(MEASURES_ENV)
    return Path(configured) if configured else MEASURES_FILE


def load_measures(path: Path | None = None) -> dict[str, Any]:
    """The public form ``{"version": ..., "measures": {list_code: [measure, ...]}}``; no file → no measures.

    A measure without text or with a type other than incentive|punishment fails with the file and the item
    named: a build that silently dropped a measure would publish a wrong page.
    """
    path = path or measures_file()
    if not path.exists():
        return {"version": None, "measures": {}}
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    by_list: dict[str, list[dict[str, Any]]] = {}
    for code, items in raw.get("measures", {}).items():
        measures = []
        for item in items:
            if not item.get("text") or item.get("type") not in MEASURE_TYPES:
                raise ValueError(f"{path}: measure of {code} needs text and type incentive|punishment: {item}")
            measures.append({"text": item["text"], "type": item["type"], "mandatory": bool(item.get("mandatory", False)),
                             "basis": str(item.get("basis", "")), "department": str(item.get("department", ""))})
        by_list[code] = measures
    version = raw.get("version")
    return {"version": str(version) if version is not None else None, "measures": by_list}


def measures_for(public: dict[str, Any], list_code: str) -> list[dict[str, Any]]:
    """The measures that apply to one list, from the public form (empty when none are known)."""
    return list(public.get("measures", {}).get(list_code, []))
