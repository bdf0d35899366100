"""The Meilisearch engine, through the official ``meilisearch`` client.

It mirrors the SQLite engine so that both pass one conformance suite:
- text is folded by :mod:`search_api.text` before indexing and querying, and indexed one character per
  word (``name_chars``, ``other_chars``); a phrase query of the query's characters gives substring recall for
  1- and 2-character Chinese queries, independent of Meilisearch's own Chinese segmentation;
- ranking tiers are separate searches: exact name (filter on ``name_key``), name prefix (filter on the
  ``name_prefixes`` array), name substring (phrase on ``name_chars``), other fields (phrase on
  ``other_chars``); within a tier hits are sorted on ``rank`` (newest decision first);
- query-time expiry is a filter ``publish_until_n >= today``;
- re-indexing builds ``<index>_build`` companions and swaps them in with one ``swap-indexes`` task
  (:class:`StagedIndex`); a build that fails leaves the live indexes untouched and drops its companions;
- a search is one ``multi-search`` request (the name tiers and the count), plus one more for the
  "other fields" tier only when the name tiers do not fill the page.

Only the public snapshot's files are read (``entries.jsonl``, ``withdrawn.jsonl``, the change files, the
manifest): documents hold masked data and the HMAC digests the snapshot already carries, nothing else.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import meilisearch
import orjson
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
from search_api.settings import MAX_CHANGES_PER_PAGE, MAX_COUNT, MAX_PER_PAGE, MAX_RESULT_WINDOW
from search_api.text import char_tokens, search_key

# Documents per add_documents call while indexing.
MEILI_BATCH_DOCS = 10_000
# Longest name prefix stored for prefix matching (longer queries still match through the substring tier).
MAX_PREFIX_CHARS = 24
# How long index building waits for one Meilisearch task (a 1,000,000-document batch takes many minutes).
TASK_TIMEOUT_MS = 3 * 60 * 60 * 1000
# Document batches sent ahead of the server: Meilisearch batches queued additions into one indexing run (far
# faster than one run per batch), and the payloads wait on the server's disk, not in our memory.
MAX_QUEUED_BATCHES = 1_000
# Every API response carries data_as_of from meta(): read it from the server at most this often (seconds), not
# once more per request. After a swap, responses may name the previous data_as_of for this long.
META_CACHE_SECONDS = 1.0
# Suffix of the companion indexes a build fills before the swap.
BUILD_SUFFIX = "_build"
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
    # Counting stops past MAX_COUNT as in the SQLite engine; high enough for the deepest page plus the
    # other-fields tier's read-ahead (see MeiliEngine._other_fields).
    "pagination": {"maxTotalHits": max(MAX_COUNT + 1, 2 * (MAX_RESULT_WINDOW + MAX_PER_PAGE))},
    "faceting": {"maxValuesPerFacet": 1000},
}

CHANGES_SETTINGS: dict[str, Any] = {"filterableAttributes": ["seq", "at_n"], "sortableAttributes": ["seq"],
                                    # a page of /changes reads one record more than it shows
                                    "pagination": {"maxTotalHits": MAX_CHANGES_PER_PAGE + 1}}


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
        # a subject without a USCC is found by its registration number (by_uscc, the credit report)
        "uscc": normalise_code(code) if (code := entry.get("uscc") or entry.get("reg_no")) else None,
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


class StagedIndex:
    """A complete set of ``*_build`` indexes, filled but not live yet.

    ``go_live()`` swaps every companion with its live index in one ``swap-indexes`` task (readers see the
    old set or the new set, never a mix); ``undo()`` puts the old set back if it was swapped and drops the
    companions; ``finish()`` drops the companions, which hold the old data after the swap.
    """

    def __init__(self, engine: MeiliEngine, stats: dict[str, Any]) -> None:
        self.engine = engine
        self.stats = stats
        self.live = False

    def go_live(self) -> None:
        engine = self.engine
        for name in engine.names.values():  # swap-indexes needs both sides to exist
            try:
                engine.build_client.get_raw_index(name)
            except MeilisearchApiError:
                engine._wait(engine.build_client.create_index(name, {"primaryKey": "id"}))
        engine._swap()
        self.live = True

    def undo(self) -> None:
        if self.live:
            self.engine._swap()
            self.live = False
        self.engine._drop_builds()

    def finish(self) -> None:
        self.engine._drop_builds()


class MeiliEngine:
    name = "meilisearch"

    def __init__(self, url: str, key: str | None = None, *, index: str = "portal_entries",
                 timeout_ms: int = 2_000) -> None:
        self.url, self._key, self._timeout = url, key, max(1, round(timeout_ms / 1000))
        # One client per thread: the official client mutates its header dict on every request.
        self._local = threading.local()
        self.build_client = meilisearch.Client(url, key, timeout=600)
        self._meta_cache: tuple[float, dict[str, Any]] | None = None
        self.names = {"entries": index, "withdrawn": f"{index}_withdrawn", "changes": f"{index}_changes",
                      "meta": f"{index}_meta"}

    def __repr__(self) -> str:  # never the key
        return f"MeiliEngine({self.url!r}, index={self.names['entries']!r})"

    @property
    def client(self) -> meilisearch.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = meilisearch.Client(self.url, self._key, timeout=self._timeout)
        return client

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

    def _multi(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self._call(self.client.multi_search, queries)["results"]

    # --- index -------------------------------------------------------------------------------------
    def _wait(self, task: Any) -> None:
        done = self._call(self.build_client.wait_for_task, task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS,
                          interval_in_ms=200)
        if done.status != "succeeded":
            code = (done.error or {}).get("code", "unknown")
            raise EngineError(f"Meilisearch task {task.task_uid} {done.status}: {code}")

    def _fill(self, uid: str, documents: Iterable[dict[str, Any]], settings: dict[str, Any]) -> int:
        client = self.build_client
        with contextlib.suppress(EngineError):  # no leftover build index: nothing to drop
            self._wait(self._call(client.delete_index, uid))
        self._wait(self._call(client.create_index, uid, {"primaryKey": "id"}))
        self._wait(self._call(client.index(uid).update_settings, settings))
        count = 0
        queued: list[Any] = []
        for batch in _batches(iter(documents), MEILI_BATCH_DOCS):
            payload = b"\n".join(orjson.dumps(document) for document in batch)
            queued.append(self._call(client.index(uid).add_documents_ndjson, payload, primary_key="id"))
            count += len(batch)
            if len(queued) >= MAX_QUEUED_BATCHES:
                self._wait(queued.pop(0))
        for task in queued:  # in order: the last one finishes last
            self._wait(task)
        return count

    def _swap(self) -> None:
        self._wait(self._call(self.build_client.swap_indexes,
                              [{"indexes": [name, name + BUILD_SUFFIX]} for name in self.names.values()]))
        self._meta_cache = None

    def _drop_builds(self) -> None:
        for name in self.names.values():
            with contextlib.suppress(EngineError):
                self._wait(self._call(self.build_client.delete_index, name + BUILD_SUFFIX))

    def stage(self, snapshot_dir: Path) -> StagedIndex:
        """Fill the ``*_build`` companions from a snapshot; the live indexes keep serving throughout. On any
        failure the companions are dropped and the exception propagates."""
        started = time.perf_counter()
        snapshot_dir = Path(snapshot_dir)
        manifest = snapshot.read_manifest(snapshot_dir, missing_ok=True)
        if not (snapshot_dir / snapshot.ENTRIES).exists():
            raise FileNotFoundError(f"no {snapshot.ENTRIES} in {snapshot_dir}")
        try:
            # entries.jsonl is in (decision_date desc, id) order by contract: its line number is the rank.
            entries = (_document(rank, e) for rank, e in enumerate(snapshot.iter_entries(snapshot_dir), 1))
            counts = {"entries": self._fill(self.names["entries"] + BUILD_SUFFIX, entries, SETTINGS)}
            counts["withdrawn"] = self._fill(self.names["withdrawn"] + BUILD_SUFFIX,
                                             snapshot.iter_tombstones(snapshot_dir),
                                             {"filterableAttributes": ["id"]})
            changes = ({**change, "id": f"c{seq}", "entry_id": change.get("id"), "seq": seq,
                        "at_n": _date_n(str(change.get("at", ""))[:10] or None, 0)}
                       for seq, change in enumerate((c for path in snapshot.change_files(snapshot_dir)
                                                     for c in snapshot.iter_jsonl(path)), start=1))
            counts["changes"] = self._fill(self.names["changes"] + BUILD_SUFFIX, changes,
                                           CHANGES_SETTINGS)
            meta = {"id": "meta", "data_as_of": str(manifest.get("data_as_of", "")),
                    "version": str(manifest.get("version", snapshot_dir.resolve().name)),
                    "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "catalogue": snapshot.read_catalogue(snapshot_dir),
                    "measures": snapshot.read_measures(snapshot_dir),
                    "timeliness": snapshot.timeliness_summary(manifest)}
            self._fill(self.names["meta"] + BUILD_SUFFIX, [meta], {})
        except BaseException:
            self._drop_builds()
            raise
        return StagedIndex(self, {**counts, "seconds": round(time.perf_counter() - started, 3),
                                  "data_as_of": meta["data_as_of"], "version": meta["version"]})

    def index_snapshot(self, snapshot_dir: Path) -> dict[str, Any]:
        staged = self.stage(snapshot_dir)
        started = time.perf_counter()
        try:
            staged.go_live()
        except BaseException:
            staged.undo()
            raise
        staged.finish()
        return {**staged.stats, "seconds": round(staged.stats["seconds"] + time.perf_counter() - started, 3)}

    def ready(self) -> bool:
        try:
            self.meta(fresh=True)
            return True
        except EngineError:
            return False

    def meta(self, *, fresh: bool = False) -> dict[str, Any]:
        cached = self._meta_cache
        if not fresh and cached is not None and time.monotonic() - cached[0] < META_CACHE_SECONDS:
            return cached[1]
        hits = self._search("meta", "", {"limit": 1})["hits"]
        if not hits:
            raise IndexMissing("Meilisearch index empty")
        meta = {k: v for k, v in hits[0].items() if k != "id"}
        self._meta_cache = (time.monotonic(), meta)
        return meta

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

    def _tier(self, q: str, filters: list[str], limit: int, on: list[str] | None = None) -> dict[str, Any]:
        """One ranking tier as a multi-search query: matches in rank order (newest decision first)."""
        params: dict[str, Any] = {"indexUid": self.names["entries"], "q": q, "filter": " AND ".join(filters),
                                  "sort": ["rank:asc"], "limit": max(limit, 0),
                                  "attributesToRetrieve": ["entry", "name_key"]}
        if on:
            params["attributesToSearchOn"] = on
        return params

    def search(self, query: SearchQuery) -> SearchResult:
        filters = self._filters(query)
        wanted = query.offset + query.limit
        key = search_key(query.q)
        code = normalise_code(query.q) if query.q else ""
        phrase = ""
        if code and (USCC_RE.match(code) or MASKED_ID_RE.match(code)):
            field = "uscc" if USCC_RE.match(code) else "id_number"
            filters = [*filters, f"{field} = {_quote(code)}"]
            tiers = [self._tier("", filters, wanted)]
            key = ""
        elif key:
            phrase = '"' + " ".join(key) + '"'
            tiers = self._name_tiers(key, phrase, filters, wanted)
        elif query.q.strip():
            return SearchResult(0, "eq", [], {name: {} for name in FACET_FIELDS} if query.with_facets else {})
        else:
            tiers = [self._tier("", filters, wanted)]
        count = {"indexUid": self.names["entries"], "q": phrase, "filter": " AND ".join(filters), "hitsPerPage": 0,
                 "page": 1, "facets": list(FACET_FIELDS) if query.with_facets else []}
        *tier_results, counted = self._multi([*tiers, count])
        hits = [hit for result in tier_results for hit in result["hits"]]
        if key and len(hits) < wanted:
            hits += self._other_fields(key, phrase, filters, wanted, len(hits))
        total = int(counted.get("totalHits", 0))
        facets = {name: dict(sorted(values.items(), key=lambda kv: (-kv[1], kv[0])))
                  for name, values in (counted.get("facetDistribution") or {}).items()}
        entries = [public_view(hit["entry"]) for hit in hits[query.offset:wanted]]
        for entry in entries:
            entry["highlights"] = highlights_for(entry, key)
        return SearchResult(min(total, MAX_COUNT), "gte" if total > MAX_COUNT else "eq", entries,
                            {name: facets.get(name, {}) for name in FACET_FIELDS} if query.with_facets else {})

    def _name_tiers(self, key: str, phrase: str, filters: list[str], wanted: int) -> list[dict[str, Any]]:
        """Exact name, name prefix, name substring: disjoint by their filters, each read to ``wanted``."""
        quoted = _quote(key)
        tiers = [self._tier("", [*filters, f"name_key = {quoted}"], wanted)]
        if len(key) <= MAX_PREFIX_CHARS:
            tiers.append(self._tier("", [*filters, f"name_prefixes = {quoted}", f"name_key != {quoted}"], wanted))
            tiers.append(self._tier(phrase, [*filters, f"NOT name_prefixes = {quoted}"], wanted, ["name_chars"]))
        else:  # longer than any stored prefix: the substring tier holds the prefix matches too
            tiers.append(self._tier(phrase, [*filters, f"name_key != {quoted}"], wanted, ["name_chars"]))
        return tiers

    def _other_fields(self, key: str, phrase: str, filters: list[str], wanted: int, named: int) -> list[dict[str, Any]]:
        """Matches in the other fields whose name does not contain the key, up to ``wanted - named``.

        The name tiers returned all ``named`` of their matches (fewer than ``wanted``), so at most ``named``
        of the other-fields matches are names already ranked: reading ``wanted + named`` is always enough.
        """
        (result,) = self._multi([self._tier(phrase, filters, wanted + named, ["other_chars"])])
        return [hit for hit in result["hits"] if key not in hit["name_key"]][: wanted - named]

    def facets(self, query: SearchQuery) -> dict[str, dict[str, int]]:
        return self.search(SearchQuery(**{**query.__dict__, "offset": 0, "limit": 0})).facets

    # --- exact lookups -----------------------------------------------------------------------------
    def _exact(self, clause: str, today: date, limit: int) -> list[dict[str, Any]]:
        filters = [f"publish_until_n >= {_date_n(today.isoformat(), 0)}", clause]
        (result,) = self._multi([self._tier("", filters, limit)])
        return [public_view(hit["entry"]) for hit in result["hits"]]

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
        # totalHits stops at maxTotalHits; facet counts do not, and every entry has exactly one list_kind.
        stats: dict[str, Any] = {"total": sum(distribution.get("list_kind", {}).values())}
        for name, attribute in names.items():
            stats[f"by_{name}"] = dict(sorted(distribution.get(attribute, {}).items()))
        return stats

    def changes(self, since: date | None, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        filters = [f"seq > {int(after)}"]
        if since:
            filters.append(f"at_n >= {_date_n(since.isoformat(), 0)}")
        hits = self._search("changes", "", {"filter": " AND ".join(filters), "sort": ["seq:asc"],
                                            "limit": limit + 1})["hits"]
        records = [{**{k: v for k, v in hit.items() if k not in ("id", "entry_id", "seq", "at_n")}, "id": hit["entry_id"]}
                   for hit in hits[:limit]]
        return records, (hits[limit - 1]["seq"] if len(hits) > limit else None)
