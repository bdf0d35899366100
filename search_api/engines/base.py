"""The engine interface: what the API needs from a search backend, and nothing about how it is done.

Two implementations pass the same conformance suite (``tests/test_engine_conformance.py``):
:class:`search_api.engines.sqlite.SqliteEngine` (default) and
:class:`search_api.engines.meilisearch.MeiliEngine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from search_api.text import highlight

FACET_FIELDS: tuple[str, ...] = ("list_kind", "list_code", "region", "authority")
DIGEST_FIELDS: tuple[str, ...] = ("id_digest", "legal_rep_id_digest", "uscc_digest")
# Fields searched after the name (the "other fields" ranking tier).
OTHER_FIELDS: tuple[str, ...] = ("facts", "authority", "decision_no", "legal_rep")
# Characters of context either side of a highlighted match in a long text field.
SNIPPET_CONTEXT = 30


class EngineError(Exception):
    """A failure of the backend that the API reports as 503."""


class QueryTimeout(EngineError):
    """The query ran past its time limit."""


class EngineBusy(EngineError):
    """Every engine slot stayed taken for longer than the queue allows."""


class IndexMissing(EngineError):
    """No index has been built yet."""


@dataclass(frozen=True)
class SearchQuery:
    q: str = ""
    today: date = field(default_factory=date.today)
    list_kind: str | None = None
    list_code: str | None = None
    subject_type: str | None = None
    authority: str | None = None
    region: str | None = None
    decided_from: date | None = None
    decided_to: date | None = None
    offset: int = 0
    limit: int = 20
    with_facets: bool = True


@dataclass
class SearchResult:
    total: int
    relation: str  # "eq" or "gte"
    hits: list[dict[str, Any]]  # public entries (no *_digest), each with "highlights"
    facets: dict[str, dict[str, int]]


@dataclass
class Found:
    """Result of a lookup by id: an entry, a tombstone, or neither."""

    entry: dict[str, Any] | None = None
    tombstone: dict[str, Any] | None = None


class Engine(Protocol):
    def index_snapshot(self, snapshot_dir: Path) -> dict[str, Any]:
        """Build a new index from a snapshot beside the live one and swap it in atomically."""

    def search(self, query: SearchQuery) -> SearchResult: ...

    def facets(self, query: SearchQuery) -> dict[str, dict[str, int]]: ...

    def get(self, entry_id: str, today: date) -> Found:
        """An expired entry (publish_until before today) is reported as neither entry nor tombstone."""

    def by_uscc(self, uscc: str, today: date, limit: int) -> list[dict[str, Any]]: ...

    def by_digest(self, digest: str, today: date, limit: int) -> list[dict[str, Any]]:
        """Entries whose id_digest or legal_rep_id_digest equals ``digest``."""

    def by_masked_id(self, masked: str, today: date, limit: int) -> list[dict[str, Any]]: ...

    def by_exact_name(self, name: str, today: date, limit: int) -> list[dict[str, Any]]: ...

    def stats(self, today: date) -> dict[str, Any]:
        """Counts of public entries by list, authority, region and decision month."""

    def changes(self, since: date | None, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Change records in feed order after position ``after``; returns (records, next position or None)."""

    def meta(self) -> dict[str, Any]:
        """data_as_of, snapshot version, catalogue (list of dicts), built_at."""

    def ready(self) -> bool: ...


def public_view(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as the API shows it: digests removed, permalink added."""
    shown = {key: value for key, value in entry.items() if key not in DIGEST_FIELDS}
    shown["url"] = entry_url(entry["id"])
    return shown


def entry_url(entry_id: str) -> str:
    """The permalink of an entry's page on the static site."""
    return f"/entries/{entry_id}/"


def highlights_for(hit: dict[str, Any], key: str) -> dict[str, str]:
    """Highlights of a hit for the folded query ``key``: the name, and snippets of other matching fields."""
    if not key:
        return {}
    result: dict[str, str] = {}
    marked = highlight(hit["subject_name"], key)
    if marked:
        result["subject_name"] = marked
    for name in OTHER_FIELDS:
        text = hit.get(name)
        if text and (marked := highlight(text, key, context=SNIPPET_CONTEXT)):
            result[name] = marked
    return result
