"""The endpoints under /api/v1."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader

from portal.records import ListKind, SubjectType
from portal.states import SUSPENDED, WITHDRAWN
from search_api import keys, snapshot
from search_api.digests import digest_number
from search_api.engine import Engine, EngineError, IndexMissing, SearchQuery
from search_api.engines import make_executor
from search_api.errors import ApiError
from search_api.models import (
    HIT_FIELDS,
    ChangesResponse,
    CheckHit,
    CheckRequest,
    CheckResponse,
    EntryOut,
    ErrorResponse,
    GoneResponse,
    Health,
    ListsResponse,
    LookupRequest,
    LookupResponse,
    Readiness,
    SearchResponse,
    StatsResponse,
    SubjectResponse,
)
from search_api.ratelimit import RateLimiter
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
    Settings,
)
from search_api.text import normalise_code, search_key
from search_api.validity import identifier_problems, uscc_problem

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

SHANGHAI = ZoneInfo("Asia/Shanghai")
Result = TypeVar("Result")

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Key issued with `portal apikey issue`")


class AppState:
    """What the handlers share: settings, engine, clock and rate limiters."""

    def __init__(self, settings: Settings, engine: Engine, today: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.engine = engine
        self.executor = make_executor(settings)
        self.run = self.executor.run  # every engine call goes through here, never on the event loop
        self.today = today
        burst = settings.rate_burst_factor
        self.search_limiter = RateLimiter(settings.rate_search_per_minute, burst, clock)
        self.person_limiter = RateLimiter(settings.rate_person_per_minute, burst, clock)
        self.check_limiter = RateLimiter(settings.rate_check_per_minute, burst, clock)


async def state(request: Request) -> AppState:
    # async: FastAPI runs a plain ``def`` dependency in the thread pool, one more hop per request.
    return request.app.state.portal


StateDep = Annotated[AppState, Depends(state)]


def client_ip(request: Request) -> str:
    """The caller's address (socket, or X-Forwarded-For when trusted); the limiters group it by client
    (IPv6 /64) and network (IPv4 /24, IPv6 /48), see ``search_api.ratelimit``."""
    return str(request.app.state.client_ip(request.scope))


def limit(limiter: RateLimiter, key: str) -> None:
    wait = limiter.allow(key)
    if wait is not None:
        raise ApiError(429, "rate_limited", f"请求过于频繁，请在 {int(wait)} 秒后重试",
                       headers={"Retry-After": str(int(wait))})


def data_as_of(app: AppState) -> str:
    return str(app.engine.meta().get("data_as_of", ""))


async def with_data_as_of(app: AppState, function: Callable[..., Result], /, *args: Any) -> tuple[Result, str]:
    """Run an engine call and read data_as_of in the same executor job: one thread hop per request."""
    return await app.run(lambda: (function(*args), data_as_of(app)))


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
    results, as_of = await with_data_as_of(app, check_subjects, app, body)
    return {"checked": len(results), "with_hits": sum(1 for r in results if r["hits"]),
            "invalid": sum(1 for r in results if not r["valid"]), "results": results,
            "data_as_of": as_of, "checked_at": datetime.now(SHANGHAI).isoformat(timespec="seconds")}


def check_subjects(app: AppState, body: CheckRequest) -> list[dict[str, Any]]:
    """The per-subject hits of one /check call (one executor job for the whole batch)."""
    today = app.today()
    key = app.settings.hmac_key.get_secret_value()
    results = []
    for index, subject in enumerate(body.subjects):
        # an identifier with a wrong check character is reported as invalid, never checked as "no record"
        if problems := identifier_problems(subject.uscc, subject.id_number):
            results.append({"index": index, "ref": subject.ref, "valid": False, "problems": problems,
                            "black": False, "watch": False, "red": False, "hits": []})
            continue
        hits: dict[str, dict[str, Any]] = {}
        if subject.uscc:
            for item in app.engine.by_uscc(subject.uscc, today, MAX_HITS_PER_SUBJECT):
                hits.setdefault(item["id"], {**item, "matched_by": "uscc"})
        if subject.id_number:
            digest = digest_number(subject.id_number, key)
            for item in app.engine.by_digest(digest, today, MAX_HITS_PER_SUBJECT):
                by = "id_number" if item.get("is_person") or item.get("id_number") else "legal_rep_id_number"
                hits.setdefault(item["id"], {**item, "matched_by": by})
        if subject.name and not subject.uscc and not subject.id_number:
            for item in app.engine.by_exact_name(subject.name, today, MAX_HITS_PER_SUBJECT):
                hits.setdefault(item["id"], {**item, "matched_by": "name"})
        shown = [{name: item.get(name) for name in CheckHit.model_fields} for item in hits.values()]
        kinds = {item["list_kind"] for item in shown}
        results.append({"index": index, "ref": subject.ref, "valid": True, "problems": [],
                        "black": "black" in kinds, "watch": "watch" in kinds, "red": "red" in kinds, "hits": shown})
    return results


@router.get("/lists", response_model=ListsResponse, summary="名单目录 / Catalogue of lists")
async def lists(request: Request, app: StateDep) -> dict[str, Any]:
    limit(app.search_limiter, client_ip(request))
    today = app.today()
    meta, stats_now = await app.run(lambda: (app.engine.meta(), app.engine.stats(today)))
    counts = stats_now["by_list_code"]
    measures = snapshot.measures()
    shown = []
    for item in meta.get("catalogue", []):
        shown.append({**item, "count": counts.get(item["code"], 0),
                      "measures": measures_for(measures, item["code"], item.get("kind"))})
    return {"lists": shown, "data_as_of": str(meta.get("data_as_of", ""))}


def measures_for(measures: dict[str, Any], code: str, kind: str | None) -> list[dict[str, Any]]:
    """Measures that apply to a list: items naming its code (list_code / lists / list_codes) or its kind."""
    items = measures.get("measure") or measures.get("measures") or []
    if isinstance(items, dict):  # measures.toml: [[measures.<CODE>]] tables, keyed by list code
        return [item for item in items.get(code, []) if isinstance(item, dict)]
    if isinstance(measures.get(code), list):
        items = [*items, *measures[code]]
    chosen = []
    for item in items:
        if not isinstance(item, dict):
            continue
        codes = item.get("lists") or item.get("list_codes") or ([item["list_code"]] if "list_code" in item else [])
        kinds = item.get("kinds") or ([item["list_kind"]] if "list_kind" in item else [])
        if code in codes or (kind and kind in kinds) or (not codes and not kinds and code in measures):
            chosen.append(item)
    return chosen


@router.get("/stats", response_model=StatsResponse, summary="统计 / Counts by list, authority, region, month")
async def stats(request: Request, app: StateDep) -> dict[str, Any]:
    limit(app.search_limiter, client_ip(request))
    today = app.today()
    counts, as_of, meta = await app.run(lambda: (app.engine.stats(today), data_as_of(app), app.engine.meta()))
    return {**counts, "timeliness": meta.get("timeliness"), "data_as_of": as_of}


# Positions in the change feed fit in 18 digits (a signed 64-bit SQLite INTEGER holds 19).
MAX_CURSOR_DIGITS = 18


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, position = text.split(":", 1)
        # ASCII digits only (str.isdigit also accepts other scripts), and short enough for a SQLite
        # INTEGER: a forged huge position used to reach the engine and fail there with a 500.
        if prefix != "c1" or not (position.isascii() and position.isdigit()) or len(position) > MAX_CURSOR_DIGITS:
            raise ValueError(cursor)
        return int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor 参数无效，请使用上一页返回的 next_cursor") from exc


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


health_router = APIRouter()


@health_router.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@health_router.get("/readyz", response_model=Readiness, summary="Readiness: the index can be queried",
                   responses={503: {"model": ErrorResponse, "description": "Index not ready (with engine and state)"}})
async def readyz(app: StateDep) -> dict[str, Any]:
    engine = getattr(app.engine, "name", app.settings.engine)

    def readiness() -> tuple[str, str | None]:
        try:
            return "ready", data_as_of(app)
        except IndexMissing:
            return "index_missing", None
        except EngineError:  # e.g. the Meilisearch server is down or refuses the key
            return "unavailable", None

    state_, as_of = await app.run(readiness)
    if as_of is None:
        raise ApiError(503, "not_ready", "检索索引尚未就绪", extra={"engine": engine, "state": state_})
    return {"status": "ready", "engine": engine, "data_as_of": as_of}
