"""The Meilisearch engine, through the official ``meilisearch`` client.

It mirrors the SQLite engine so that both pass one conformance suite:
- text is folded by :mod:`search_api.text` before indexing and querying, and indexed one character per
  word (``name_chars``, ``other_chars``); a phrase query of the query's characters gives substring recall for
  1- and 2-character Chinese queries, independent of Meilisearch's own Chinese segmentation;
- ranking tiers are separate searches: exact name (filter on ``name_key``), name prefix (filter on the
  ``name_prefixes`` array), name substring (phrase on ``name_chars``), other fields (phrase on
  ``other_chars``); within a tier hits are sorted on ``rank`` (newest decision first);
- query-time expiry is a filter ``publish_until_n >= today``;
- re-indexing builds ``<index>_build`` companions and swaps them in with one ``swap-indexes`` task.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import meilisearch
from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError, MeilisearchTimeoutError
from requests.exceptions import Timeout as RequestsTimeout

from portal.public import snapshot
from portal.public.codes import MASKED_ID_RE, USCC_RE, normalise_code
from search_api.engines.base import (
    DIGEST_FIELDS,
    FACET_FIELDS,
    OTHER_FIELDS,
    EngineError,
    Found,
    IndexMissing,
    QueryTimeout,
    SearchQuery,
    SearchResult,
    highlights_for,
    public_view,
)
from search_api.settings import MAX_COUNT, MAX_RESULT_WINDOW
from search_api.text import char_tokens, search_key

# Documents per add_documents call while indexing.
MEILI_BATCH_DOCS = 10_000
# Longest name prefix stored for prefix matching (longer queries still match through the substring tier).
MAX_PREFIX_CHARS = 24
# Most documents read from the "other fields" tier while skipping hits already ranked by name.
MAX_OTHER_SCAN = 5_000
# How long index building waits for one Meilisearch task.
TASK_TIMEOUT_MS = 30 * 60 * 1000
NO_END = 99_991_231  # publish_until_n of an entry public until removed

SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["name_chars", "other_chars"],
    "filterableAttributes": ["id", "name_key", "name_prefixes", "uscc", "id_number", "id_digest",
                             "legal_rep_id_digest", "list_kind", "list_code", "subject_type", "is_person",
                             "authority", "region", "decision_n", "decision_month", "publish_until_n"],
    "sortableAttributes": ["rank"],
    # Sort first: within a tier, order is the newest decision first, as in the SQLite engine.
    "rankingRules": ["sort", "words", "proximity", "attribute", "exactness"],
    # Text is indexed one character per word and codes are matched by filters, so typos would only
    # produce false matches on codes and numbers.
    "typoTolerance": {"enabled": False},
    "pagination": {"maxTotalHits": MAX_COUNT + 1},
    "faceting": {"maxValuesPerFacet": 1000},
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _date_n(value: str | None, default: int) -> int:
    return int(value.replace("-", "")) if value else default


def _document(rank: int, entry: dict[str, Any]) -> dict[str, Any]:
    key = search_key(entry["subject_name"])
    return {
        "id": entry["id"], "rank": rank, "name_key": key,
        "name_prefixes": [key[:length] for length in range(1, min(len(key), MAX_PREFIX_CHARS) + 1)],
        "name_chars": char_tokens(entry["subject_name"]),
        "other_chars": " ".join(char_tokens(entry.get(name)) for name in OTHER_FIELDS if entry.get(name)),
        "uscc": normalise_code(entry["uscc"]) if entry.get("uscc") else None,
        "id_number": normalise_code(entry["id_number"]) if entry.get("id_number") else None,
        "id_digest": entry.get("id_digest"), "legal_rep_id_digest": entry.get("legal_rep_id_digest"),
        "list_kind": entry["list_kind"], "list_code": entry["list_code"], "subject_type": entry["subject_type"],
        "is_person": bool(entry.get("is_person")), "authority": entry.get("authority"), "region": entry.get("region"),
        "decision_n": _date_n(entry["decision_date"], 0), "decision_month": entry["decision_date"][:7],
        "publish_until_n": _date_n(entry.get("publish_until"), NO_END),
        "entry": {k: v for k, v in entry.items() if k not in DIGEST_FIELDS},
    }


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class MeiliEngine:
    def __init__(self, url: str, key: str | None = None, *, index: str = "portal_entries",
                 timeout_ms: int = 2_000) -> None:
        self.client = meilisearch.Client(url, key, timeout=max(1, round(timeout_ms / 1000)))
        self.build_client = meilisearch.Client(url, key, timeout=600)
        self.names = {"entries": index, "withdrawn": f"{index}_withdrawn", "changes": f"{index}_changes",
                      "meta": f"{index}_meta"}

    # --- errors ------------------------------------------------------------------------------------
    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except (MeilisearchTimeoutError, RequestsTimeout) as exc:
            raise QueryTimeout("Meilisearch query time limit exceeded") from exc
        except MeilisearchApiError as exc:
            if exc.code == "index_not_found":
                raise IndexMissing("Meilisearch index missing") from exc
            raise EngineError(f"Meilisearch: {exc.code}") from exc
        except MeilisearchCommunicationError as exc:
            raise EngineError("Meilisearch unreachable") from exc

    def _search(self, which: str, q: str, params: dict[str, Any]) -> dict[str, Any]:
        return self._call(self.client.index(self.names[which]).search, q, params)

    # --- index -------------------------------------------------------------------------------------
    def _wait(self, task: Any) -> None:
        done = self.build_client.wait_for_task(task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS, interval_in_ms=200)
        if done.status != "succeeded":
            raise EngineError(f"Meilisearch task {task.task_uid} {done.status}: {done.error}")

    def _fill(self, uid: str, documents: Iterator[dict[str, Any]], settings: dict[str, Any]) -> int:
        client = self.build_client
        with contextlib.suppress(EngineError, MeilisearchApiError):  # no leftover build index: nothing to drop
            self._wait(client.delete_index(uid))
        self._wait(client.create_index(uid, {"primaryKey": "id"}))
        self._wait(client.index(uid).update_settings(settings))
        count = 0
        for batch in _batches(documents, MEILI_BATCH_DOCS):
            self._wait(client.index(uid).add_documents(batch, primary_key="id"))
            count += len(batch)
        return count

    def index_snapshot(self, snapshot_dir: Path) -> dict[str, Any]:
        started = time.perf_counter()
        snapshot_dir = Path(snapshot_dir)
        manifest = snapshot.read_manifest(snapshot_dir, missing_ok=True)
        # entries.jsonl is in (decision_date desc, id) order by contract: its line number is the rank.
        counts = {"entries": self._fill(
            f"{self.names['entries']}_build",
            (_document(rank, e) for rank, e in enumerate(snapshot.iter_entries(snapshot_dir), 1)),
            SETTINGS)}
        counts["withdrawn"] = self._fill(f"{self.names['withdrawn']}_build",
                                         snapshot.iter_tombstones(snapshot_dir),
                                         {"filterableAttributes": ["id"]})
        changes = ({**change, "id": f"c{seq}", "entry_id": change.get("id"), "seq": seq}
                   for seq, change in enumerate((c for path in snapshot.change_files(snapshot_dir)
                                                 for c in snapshot.iter_jsonl(path)), start=1))
        counts["changes"] = self._fill(f"{self.names['changes']}_build", changes,
                                       {"filterableAttributes": ["seq", "at"], "sortableAttributes": ["seq"]})
        meta = {"id": "meta", "data_as_of": str(manifest.get("data_as_of", "")),
                "version": str(manifest.get("version", snapshot_dir.resolve().name)),
                "catalogue": snapshot.read_catalogue(snapshot_dir), "measures": snapshot.read_measures(snapshot_dir)}
        self._fill(f"{self.names['meta']}_build", iter([meta]), {})
        client = self.build_client
        for name in self.names.values():
            try:
                client.get_raw_index(name)
            except MeilisearchApiError:
                self._wait(client.create_index(name, {"primaryKey": "id"}))
        # One task swaps all four: readers see the old set or the new set, never a mix.
        self._wait(client.swap_indexes([{"indexes": [name, f"{name}_build"]} for name in self.names.values()]))
        for name in self.names.values():
            self._wait(client.delete_index(f"{name}_build"))
        return {**counts, "seconds": round(time.perf_counter() - started, 3), "data_as_of": meta["data_as_of"],
                "version": meta["version"]}

    def ready(self) -> bool:
        try:
            self.meta()
            return True
        except EngineError:
            return False

    def meta(self) -> dict[str, Any]:
        hits = self._search("meta", "", {"limit": 1})["hits"]
        if not hits:
            raise IndexMissing("Meilisearch index empty")
        return {k: v for k, v in hits[0].items() if k != "id"}

    # --- search ------------------------------------------------------------------------------------
    @staticmethod
    def _filters(query: SearchQuery) -> list[str]:
        clauses = [f"publish_until_n >= {_date_n(query.today.isoformat(), 0)}"]
        for name in ("list_kind", "list_code", "subject_type", "authority", "region"):
            value = getattr(query, name)
            if value:
                clauses.append(f"{name} = {_quote(value)}")
        if query.decided_from:
            clauses.append(f"decision_n >= {_date_n(query.decided_from.isoformat(), 0)}")
        if query.decided_to:
            clauses.append(f"decision_n <= {_date_n(query.decided_to.isoformat(), 0)}")
        return clauses

    def _tier(self, q: str, filters: list[str], limit: int, on: list[str] | None = None) -> list[dict[str, Any]]:
        if limit <= 0:
            return []
        params: dict[str, Any] = {"filter": " AND ".join(filters), "sort": ["rank:asc"], "limit": limit,
                                  "attributesToRetrieve": ["entry", "name_key"]}
        if on:
            params["attributesToSearchOn"] = on
        return self._search("entries", q, params)["hits"]

    def search(self, query: SearchQuery) -> SearchResult:
        filters = self._filters(query)
        wanted = min(query.offset + query.limit, MAX_RESULT_WINDOW + query.limit)
        key = search_key(query.q)
        code = normalise_code(query.q) if query.q else ""
        phrase = ""
        if code and (USCC_RE.match(code) or MASKED_ID_RE.match(code)):
            field = "uscc" if USCC_RE.match(code) else "id_number"
            filters = [*filters, f"{field} = {_quote(code)}"]
            hits = self._tier("", filters, wanted)
            key = ""
        elif key:
            phrase = '"' + " ".join(key) + '"'
            hits = self._ranked_text(key, phrase, filters, wanted)
        elif query.q.strip():
            return SearchResult(0, "eq", [], {name: {} for name in FACET_FIELDS})
        else:
            hits = self._tier("", filters, wanted)
        counted = self._search("entries", phrase, {"filter": " AND ".join(filters), "hitsPerPage": 0, "page": 1,
                                                   "facets": list(FACET_FIELDS) if query.with_facets else []})
        total = int(counted.get("totalHits", 0))
        facets = {name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
                  for name, values in (counted.get("facetDistribution") or {}).items()}
        entries = [public_view(hit["entry"]) for hit in hits[query.offset:query.offset + query.limit]]
        for entry in entries:
            entry["highlights"] = highlights_for(entry, key)
        return SearchResult(min(total, MAX_COUNT), "gte" if total > MAX_COUNT else "eq", entries,
                            {name: facets.get(name, {}) for name in FACET_FIELDS} if query.with_facets else {})

    def _ranked_text(self, key: str, phrase: str, filters: list[str], wanted: int) -> list[dict[str, Any]]:
        quoted = _quote(key)
        hits = self._tier("", [*filters, f"name_key = {quoted}"], wanted)
        hits += self._tier("", [*filters, f"name_prefixes = {quoted}", f"name_key != {quoted}"], wanted - len(hits))
        if len(key) <= MAX_PREFIX_CHARS:
            substring_filter = [*filters, f"NOT name_prefixes = {quoted}"]
        else:
            substring_filter = filters
        substring = [h for h in self._tier(phrase, substring_filter, wanted, ["name_chars"])
                     if not h["name_key"].startswith(key)]
        hits += substring[: wanted - len(hits)]
        offset = 0
        while len(hits) < wanted and offset < MAX_OTHER_SCAN:
            page = self._search("entries", phrase, {"filter": " AND ".join(filters), "sort": ["rank:asc"],
                                                    "offset": offset, "limit": 500,
                                                    "attributesToSearchOn": ["other_chars"],
                                                    "attributesToRetrieve": ["entry", "name_key"]})["hits"]
            hits += [h for h in page if key not in h["name_key"]][: wanted - len(hits)]
            if len(page) < 500:
                break
            offset += 500
        return hits

    def facets(self, query: SearchQuery) -> dict[str, dict[str, int]]:
        return self.search(SearchQuery(**{**query.__dict__, "offset": 0, "limit": 0})).facets

    # --- exact lookups -----------------------------------------------------------------------------
    def _exact(self, clause: str, today: date, limit: int) -> list[dict[str, Any]]:
        filters = [f"publish_until_n >= {_date_n(today.isoformat(), 0)}", clause]
        return [public_view(hit["entry"]) for hit in self._tier("", filters, limit)]

    def by_uscc(self, uscc: str, today: date, limit: int) -> list[dict[str, Any]]:
        return self._exact(f"uscc = {_quote(normalise_code(uscc))}", today, limit)

    def by_masked_id(self, masked: str, today: date, limit: int) -> list[dict[str, Any]]:
        return self._exact(f"id_number = {_quote(normalise_code(masked))}", today, limit)

    def by_digest(self, digest: str, today: date, limit: int) -> list[dict[str, Any]]:
        if not re.fullmatch(r"[0-9a-f]{8,128}", digest):
            return []
        return self._exact(f"(id_digest = {_quote(digest)} OR legal_rep_id_digest = {_quote(digest)})", today, limit)

    def by_exact_name(self, name: str, today: date, limit: int) -> list[dict[str, Any]]:
        key = search_key(name)
        return self._exact(f"name_key = {_quote(key)}", today, limit) if key else []

    def get(self, entry_id: str, today: date) -> Found:
        hits = self._search("entries", "", {"filter": f"id = {_quote(entry_id)}", "limit": 1,
                                            "attributesToRetrieve": ["entry"]})["hits"]
        if hits:
            entry = hits[0]["entry"]
            if entry.get("publish_until") is None or entry["publish_until"] >= today.isoformat():
                return Found(entry=public_view(entry))
            return Found(tombstone=snapshot.expired_tombstone(entry))
        gone = self._search("withdrawn", "", {"filter": f"id = {_quote(entry_id)}", "limit": 1})["hits"]
        return Found(tombstone=gone[0]) if gone else Found()

    # --- stats and changes -------------------------------------------------------------------------
    def stats(self, today: date) -> dict[str, Any]:
        names = {"list_code": "list_code", "list_kind": "list_kind", "authority": "authority", "region": "region",
                 "month": "decision_month", "subject_type": "subject_type"}
        result = self._search("entries", "", {"filter": f"publish_until_n >= {_date_n(today.isoformat(), 0)}",
                                              "hitsPerPage": 0, "page": 1, "facets": list(names.values())})
        distribution = result.get("facetDistribution") or {}
        stats: dict[str, Any] = {"total": int(result.get("totalHits", 0))}
        for name, attribute in names.items():
            stats[f"by_{name}"] = dict(sorted(distribution.get(attribute, {}).items()))
        return stats

    def changes(self, since: date | None, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        filters = [f"seq > {int(after)}"]
        if since:
            filters.append(f"at >= {_quote(since.isoformat())}")
        hits = self._search("changes", "", {"filter": " AND ".join(filters), "sort": ["seq:asc"],
                                            "limit": limit + 1})["hits"]
        records = [{**{k: v for k, v in hit.items() if k not in ("id", "entry_id", "seq")}, "id": hit["entry_id"]}
                   for hit in hits[:limit]]
        return records, (hits[limit - 1]["seq"] if len(hits) > limit else None)
