"""Subject pages (一户一档): one page per organisation or 个体工商户 with a public entry.

The page lives at ``subjects/<key>/`` where the key is the subject's USCC, or its registration number when
it has none (both ASCII, both stable: they are the subject's own identifiers, not derived from its name).
Natural persons get no subject page: a page that gathers everything about one person is exactly the
profile the privacy rules forbid (domain.md; their entries stay reachable one by one through the
rate-limited search).

Entries stream by in snapshot order; :class:`SubjectCollector` keeps, per subject, only the few fields its
page shows (not the whole record), so memory grows with the number of organisation entries by about
400 bytes each. A subject page is re-rendered only when one of those fields of one of its entries changes,
so a 1% change of the data re-renders about 1% of the subject pages.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson

from portal.site.formatting import subject_key

SUBJECT_DIR = "subjects"
# What a subject page shows of each of its entries (the full record is on the entry's own page).
SUBJECT_FIELDS = ("id", "list_code", "list_name", "list_kind", "subject_name", "subject_type", "uscc", "reg_no",
                  "legal_rep", "region", "status", "decision_no", "authority", "decision_date", "notice_until",
                  "publish_from", "publish_until")
# Kinds in the order a reader checking a company wants them: punishments first, then honours, then 双公示.
SUBJECT_KIND_ORDER = ("black", "watch", "red", "decision")
# A key that is safe as one URL path segment; USCCs and registration numbers are [0-9A-Z-].
SAFE_KEY = re.compile(r"^[0-9A-Z][0-9A-Z\-]{4,39}$")


def subject_url(key: str) -> str:
    return f"{SUBJECT_DIR}/{key}/"


class SubjectCollector:
    """The entries of every organisation subject, gathered as the snapshot streams by."""

    def __init__(self) -> None:
        self._entries: dict[str, list[bytes]] = {}
        self.skipped = 0  # organisation entries without a usable key (no USCC nor registration number)

    def add(self, entry: dict[str, Any]) -> None:
        key = subject_key(entry)
        if key is None:
            return
        if not SAFE_KEY.match(key):
            self.skipped += 1
            return
        packed = orjson.dumps([entry.get(name) for name in SUBJECT_FIELDS])
        # copied to an exact-size bytes object: orjson's result keeps its 4 KB working buffer allocated, which
        # made 20,000 kept lines cost 65 MB instead of 7 MB (tracemalloc)
        self._entries.setdefault(key, []).append(memoryview(packed).tobytes())

    def __len__(self) -> int:
        return len(self._entries)

    def pages(self) -> Iterator[tuple[str, bytes, list[bytes]]]:
        """``(key, inputs, packed entries)`` per subject, in key order; ``inputs`` is what the page cache
        hashes. The entries stay packed (:func:`unpack`) until a page is really rendered: an unchanged
        subject page costs one hash, not a parse."""
        for key in sorted(self._entries):
            lines = self._entries[key]
            yield key, b"subject\0" + b"\n".join(lines), lines


def unpack(lines: list[bytes]) -> list[dict[str, Any]]:
    return [dict(zip(SUBJECT_FIELDS, orjson.loads(line), strict=True)) for line in lines]


def subject_view(key: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What the subject template needs: the subject's facts (from its latest entry), entries by kind, counts."""
    latest = max(entries, key=lambda e: e["decision_date"])
    groups = {kind: [e for e in entries if e["list_kind"] == kind] for kind in SUBJECT_KIND_ORDER}
    for kind, items in groups.items():
        groups[kind] = sorted(items, key=lambda e: e["decision_date"], reverse=True)
    lists: dict[str, dict[str, Any]] = {}
    for e in sorted(entries, key=lambda e: SUBJECT_KIND_ORDER.index(e["list_kind"])
                    if e["list_kind"] in SUBJECT_KIND_ORDER else 9):
        lists.setdefault(e["list_code"], {"code": e["list_code"], "name": e["list_name"], "kind": e["list_kind"],
                                          "statuses": Counter()})["statuses"][e["status"]] += 1
    return {"key": key, "uscc": latest.get("uscc"), "reg_no": latest.get("reg_no"),
            "name": latest["subject_name"], "subject_type": latest["subject_type"],
            "legal_rep": latest.get("legal_rep"), "region": latest.get("region"),
            "names": sorted({e["subject_name"] for e in entries} - {latest["subject_name"]}),
            "groups": groups, "lists": list(lists.values()), "total": len(entries),
            "counts": {kind: len(items) for kind, items in groups.items()}}
