"""The endpoints under /api/v1: thin handlers; the logic is in ``search_api.checks``, ``search_api.cursor``,
``portal.public.measures`` and the engines."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader

from portal.public.codes import normalise_code
from portal.public.measures import measures_for
from portal.public.records import ListKind, SubjectType
from portal.public.states import SUSPENDED, WITHDRAWN
from portal.settings import SHANGHAI
from search_api import keys
from search_api.checks import check_subjects
from search_api.cursor import decode_cursor, encode_cursor
from search_api.digests import digest_number
from search_api.engines.base import SearchQuery
from search_api.errors import ApiError
from search_api.models import (
    HIT_FIELDS,
    ChangesResponse,
    CheckRequest,
    CheckResponse,
    EntryOut,
    ErrorResponse,
    GoneResponse,
    ListsResponse,
    LookupRequest,
    LookupResponse,
    SearchResponse,
    StatsResponse,
    SubjectResponse,
)
from search_api.settings import (
    DEFAULT_CHANGES_PER_PAGE,
    DEFAULT_PER_PAGE,
    MAX_CHANGES_PER_PAGE,
    MAX_HITS_PER_SUBJECT,
    MAX_PAGE,
    MAX_PER_PAGE,
    MAX_PERSON_RESULT_WINDOW,
    MAX_QUERY_LENGTH,
    MAX_RESULT_WINDOW,
    MAX_SUBJECT_ENTRIES,
)
from search_api.state import StateDep, client_ip, data_as_of, limit, with_data_as_of
from search_api.text import search_key
from search_api.validity import uscc_problem

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in ((400, "Bad request"), (404, "Not found"), (422, "Invalid parameters"),
                                (429, "Rate limited (see Retry-After)"), (500, "Internal error"),
                                (503, "Index unavailable or query time limit exceeded"))
}
# Every 429 carries Retry-After (seconds); documented so that clients and schema checks can rely on it.
ERRORS[429]["headers"] = {"Retry-After": {"description": "Seconds to wait before the next request",
                                          "required": True, "schema": {"type": "integer", "minimum": 1}}}
# Operations that take a body can be refused by the body size limit (HardeningMiddleware).
BODY_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body larger than PORTAL_MAX_BODY_BYTES"}}

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Key issued with `portal apikey issue`")


def as_hit(entry: dict[str, Any]) -> dict[str, Any]:
    return {**{name: entry.get(name) for name in HIT_FIELDS}, "highlights": entry.get("highlights", {})}


router = APIRouter(responses=ERRORS)


@router.get("/search", response_model=SearchResponse, summary="全文检索 / Search entries",
            description="Name, USCC, masked ID number, decision number or text. Ranking: exact name, name prefix, "
                        "name substring, other fields; ties by most recent decision. Totals above the count cap are "
                        f"reported with relation `gte`. Paging stops at position {MAX_RESULT_WINDOW} "
                        f"({MAX_PERSON_RESULT_WINDOW} when subject_type=自然人).")
async def search(
    request: Request,
    app: StateDep,
    q: Annotated[str, Query(max_length=MAX_QUERY_LENGTH, description="Query text; FTS syntax is treated as text",
                            examples=["王伟"])] = "",
    list_kind: Annotated[ListKind | None, Query(description="red / black / watch / decision")] = None,
    list_code: Annotated[str | None, Query(max_length=32, examples=["YZWFSX"])] = None,
    subject_type: Annotated[SubjectType | None, Query()] = None,
    authority: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[str | None, Query(max_length=50)] = None,
    decided_from: Annotated[date | None, Query(description="Decision date from (ISO)")] = None,
    decided_to: Annotated[date | None, Query(description="Decision date to (ISO)")] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE,
    facets: Annotated[bool, Query(description="Compute facet counts (false: `facets` is {}; faster for broad "
                                              "queries)")] = True,
) -> Response:
    started = time.perf_counter()
    persons_only = subject_type == SubjectType.PERSON
    limiter = app.person_limiter if persons_only else app.search_limiter
    limit(limiter, client_ip(request))
    window = MAX_PERSON_RESULT_WINDOW if persons_only else MAX_RESULT_WINDOW
    if page * per_page > window:
        raise ApiError(400, "result_window_exceeded",
                       f"最多只能查看前 {window} 条结果，请增加检索条件以缩小范围")
    result, as_of = await with_data_as_of(app, app.engine.search, SearchQuery(
        q=q, today=app.today(), list_kind=list_kind.value if list_kind else None, list_code=list_code,
        subject_type=subject_type.value if subject_type else None, authority=authority, region=region,
        decided_from=decided_from, decided_to=decided_to, offset=(page - 1) * per_page, limit=per_page,
        with_facets=facets))
    if not persons_only and any(hit.get("is_person") for hit in result.hits):
        # A page that shows persons costs a person token too, whatever the filters: otherwise a scraper
        # would read persons at the (much higher) search rate by leaving subject_type out.
        limit(app.person_limiter, client_ip(request))
    body = {"total": {"value": result.total, "relation": result.relation},
            "hits": [as_hit(hit) for hit in result.hits], "facets": result.facets, "page": page,
            "per_page": per_page, "data_as_of": as_of,
            "took_ms": round((time.perf_counter() - started) * 1000, 2)}
    # The hottest endpoint answers with its own JSON: validating 20 hits against SearchResponse on every call
    # cost ~10% of a worker's time. as_hit() already picks exactly the Hit fields; tests validate real
    # responses against SearchResponse (tests/test_api.py) and Schemathesis against the OpenAPI schema.
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/entries/{entry_id}", summary="名单条目 / One entry",
            responses={200: {"model": EntryOut, "description": "The public entry"},
                       410: {"model": GoneResponse, "description": "Withdrawn: tombstone only"}})
async def entry(request: Request, app: StateDep,
                entry_id: Annotated[str, Path(max_length=64, examples=["5f2b9c0e41d7a3b8"])]) -> JSONResponse:
    limit(app.search_limiter, client_ip(request))
    found = await app.run(app.engine.get, entry_id, app.today())
    if found.entry is not None:
        if found.entry.get("is_person"):
            limit(app.person_limiter, client_ip(request))  # see search(): persons cost a person token
        return JSONResponse(found.entry)
    if found.tombstone is not None:
        if found.tombstone.get("reason") == SUSPENDED:  # withheld while an objection is checked
            raise ApiError(410, "suspended", SUSPENDED, extra={"tombstone": found.tombstone})
        raise ApiError(410, "withdrawn", WITHDRAWN, extra={"tombstone": found.tombstone})
    raise ApiError(404, "not_found", "未找到该信息")


@router.get("/subjects/{uscc}", response_model=SubjectResponse, summary="主体信用信息 / All entries of an organisation")
async def subject(request: Request, app: StateDep,
                  uscc: Annotated[str, Path(max_length=32, examples=["91511700MA62XXXXXX"])]) -> dict[str, Any]:
    limit(app.search_limiter, client_ip(request))
    code = normalise_code(uscc)
    if (problem := uscc_problem(code)) is not None:
        # a typo must never read as "no record": a wrong check character is an error, not a clean subject
        raise ApiError(422, "invalid_uscc", problem)
    entries, as_of = await with_data_as_of(app, app.engine.by_uscc, code, app.today(), MAX_SUBJECT_ENTRIES)
    if not entries:
        raise ApiError(404, "subject_not_found", "未找到该统一社会信用代码的公示信息")
    groups: dict[str, list[dict[str, Any]]] = {kind.value: [] for kind in ListKind}
    for item in entries:
        groups[item["list_kind"]].append(item)
    return {"uscc": code, "subject_name": entries[0]["subject_name"], "total": len(entries), "groups": groups,
            "data_as_of": as_of}


@router.post("/lookup", response_model=LookupResponse, summary="证件号码精确查询 / Exact lookup by ID number",
             description="The number is compared through its keyed digest only; it is never stored or logged. "
                         "Rate limited more strictly than search.",
             responses=BODY_TOO_LARGE)
async def lookup(request: Request, app: StateDep, body: LookupRequest) -> dict[str, Any]:
    limit(app.person_limiter, client_ip(request))
    digest = digest_number(body.id_number, app.settings.hmac_key.get_secret_value())
    hits, as_of = await with_data_as_of(app, app.engine.by_digest, digest, app.today(), MAX_HITS_PER_SUBJECT)
    if body.name:
        wanted = search_key(body.name)
        hits = [hit for hit in hits if wanted in (search_key(hit["subject_name"]), search_key(hit.get("legal_rep")))]
    return {"total": len(hits), "hits": [as_hit(hit) for hit in hits], "data_as_of": as_of}


def api_client(request: Request, api_key: Annotated[str | None, Security(api_key_header)]) -> str:
    if not api_key:
        raise ApiError(401, "api_key_required", "需要有效的 API 密钥（请求头 X-API-Key）")
    checked = keys.check_key(api_key, db_path=request.app.state.portal.settings.api_keys_db)
    if checked.status == "revoked":
        raise ApiError(403, "api_key_revoked", "API 密钥已被吊销")
    if checked.status != "valid":
        raise ApiError(403, "api_key_invalid", "API 密钥无效")
    return f"key:{checked.key_id}"


@router.post("/check", response_model=CheckResponse, summary="信用核查 / Batch check for service windows",
             description="Up to 1,000 subjects per call, each by USCC, ID number (digest) or exact name. Requires "
                         "an API key in `X-API-Key`.",
             responses={401: {"model": ErrorResponse, "description": "No API key"},
                        403: {"model": ErrorResponse, "description": "Invalid or revoked API key"},
                        **BODY_TOO_LARGE})
async def check(app: StateDep, body: CheckRequest, client: Annotated[str, Depends(api_client)]) -> dict[str, Any]:
    limit(app.check_limiter, client)
    results, as_of = await with_data_as_of(app, check_subjects, app.engine, app.today, app.settings.hmac_key, body)
    return {"checked": len(results), "with_hits": sum(1 for r in results if r["hits"]),
            "invalid": sum(1 for r in results if not r["valid"]), "results": results,
            "data_as_of": as_of, "checked_at": datetime.now(SHANGHAI).isoformat(timespec="seconds")}
@router.get("/lists", response_model=ListsResponse, summary="名单目录 / Catalogue of lists")
async def lists(request: Request, app: StateDep) -> dict[str, Any]:
    limit(app.search_limiter, client_ip(request))
    today = app.today()
    meta, stats_now = await app.run(lambda: (app.engine.meta(), app.engine.stats(today)))
    counts = stats_now["by_list_code"]
    measures = meta.get("measures", {})  # the snapshot's measures.json, stored in the index with the catalogue
    shown = []
    for item in meta.get("catalogue", []):
        shown.append({**item, "count": counts.get(item["code"], 0), "measures": measures_for(measures, item["code"])})
    return {"lists": shown, "data_as_of": str(meta.get("data_as_of", ""))}


@router.get("/stats", response_model=StatsResponse, summary="统计 / Counts by list, authority, region, month")
async def stats(request: Request, app: StateDep) -> dict[str, Any]:
    limit(app.search_limiter, client_ip(request))
    today = app.today()
    counts, as_of, meta = await app.run(lambda: (app.engine.stats(today), data_as_of(app), app.engine.meta()))
    return {**counts, "timeliness": meta.get("timeliness"), "data_as_of": as_of}


@router.get("/changes", response_model=ChangesResponse, summary="增量变更 / Incremental change feed",
            description="Changes (added / updated / withdrawn) in feed order, oldest first. Keyset paging: pass "
                        "`next_cursor` back as `cursor` until it is null. Without an API key the feed carries no "
                        "natural person (a page may then hold fewer records than `limit`, or none, and still have "
                        "a `next_cursor`); with `X-API-Key` it carries every change, limited per key like "
                        "`/check`.",
            responses={403: {"model": ErrorResponse, "description": "Invalid or revoked API key"}})
async def changes(
    request: Request,
    app: StateDep,
    api_key: Annotated[str | None, Security(api_key_header)],
    since: Annotated[date | None, Query(description="Only changes on or after this date (ISO)")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    limit_: Annotated[int, Query(alias="limit", ge=1, le=MAX_CHANGES_PER_PAGE)] = DEFAULT_CHANGES_PER_PAGE,
) -> dict[str, Any]:
    # With a key: upper-level platforms syncing persons too, limited per key. Without: rate limited like
    # searches (a `since` beyond the feed scans it to the end on every call), and persons left out.
    keyed = api_client(request, api_key) if api_key else None
    if keyed:
        limit(app.check_limiter, keyed)
    else:
        limit(app.search_limiter, client_ip(request))
    after = decode_cursor(cursor) if cursor else 0
    (records, next_position), as_of = await with_data_as_of(app, app.engine.changes, since, after, limit_)
    if not keyed:
        # A record without is_person predates the field: it may be a person, so it is left out too.
        records = [record for record in records if record.get("is_person") is False]
    return {"changes": records, "next_cursor": encode_cursor(next_position) if next_position else None,
            "data_as_of": as_of}
