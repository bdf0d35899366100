"""The applications service (FastAPI, its own port): the form page's challenge, entry summary, submission
and status query. ``create_app(settings)``; ``portal applications serve`` runs it.

Every error is the search API's envelope ``{"error": {"code", "message"}}`` with a Chinese message; bodies
above MAX_BODY_BYTES are cut off with 413 before they are read (the search API's HardeningMiddleware, which
also writes an access log without query values or bodies). The query code travels only in POST bodies,
never in a URL, so it is in no log.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from portal.applications import rules
from portal.applications.attachments import AttachmentDir, AttachmentError, check
from portal.applications.challenge import ChallengeError, Challenges
from portal.applications.rules import KIND_ZH, Kind
from portal.applications.settings import (
    API_PREFIX,
    CHALLENGES_PER_CLIENT_PER_MINUTE,
    ENTRY_LOOKUPS_PER_CLIENT_PER_MINUTE,
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    MAX_BODY_BYTES,
    MAX_CONTACT_LENGTH,
    MAX_EMAIL_LENGTH,
    MAX_GROUNDS_LENGTH,
    MAX_ID_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PHONE_LENGTH,
    MIN_GROUNDS_LENGTH,
    QUERY_CODE_LENGTH,
    STATUS_QUERIES_PER_CLIENT_PER_MINUTE,
    SUBMISSIONS_PER_CLIENT_PER_HOUR,
    SUBMISSIONS_PER_ENTRY_PER_DAY,
    WRONG_CODES_PER_RECEIPT_PER_HOUR,
    Settings,
)
from portal.applications.store import OUTCOME_ZH, STATE_ZH, ApplicationStore, NewApplication
from portal.ingest.scrub import scrub_text
from portal.public.dates import today_shanghai
from search_api.errors import ApiError, install_error_handlers
from search_api.middleware import EnvelopeCORSMiddleware, HardeningMiddleware, forwarded_ip_getter
from search_api.ratelimit import MAX_TRACKED_CLIENTS, RateLimiter, rate_limit_key

ENTRY_ID = re.compile(r"^[0-9a-f]{16}$")  # portal entry ids (see search_api.engines.base.entry_url)
PHONE = re.compile(r"^[0-9+\-() ]{7,20}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PUBLIC_STATES = ("公示中", "已公布", "异议处理中")  # statuses under which an entry is public


class Lockout:
    """At most ``allowed`` failures per key within ``window`` seconds; then the key is locked until the
    oldest failure leaves the window."""

    def __init__(self, allowed: int, window: float, clock: Callable[[], float]) -> None:
        self.allowed, self.window, self.clock = allowed, window, clock
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._failures.get(key, []) if now - t < self.window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def locked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.allowed

    def failed(self, key: str) -> None:
        self._failures[key] = [*self._recent(key), self.clock()]
        if len(self._failures) > MAX_TRACKED_CLIENTS:  # forget the oldest keys first (dicts keep order)
            self._failures.pop(next(iter(self._failures)))


@dataclass
class Limits:
    submit_client: RateLimiter
    submit_entry: RateLimiter
    status_client: RateLimiter
    wrong_code: Lockout
    challenge_client: RateLimiter
    entry_client: RateLimiter

    @classmethod
    def make(cls, clock: Callable[[], float]) -> Limits:
        return cls(
            RateLimiter(SUBMISSIONS_PER_CLIENT_PER_HOUR / 60, 60.0, clock),  # type: ignore[arg-type]
            RateLimiter(SUBMISSIONS_PER_ENTRY_PER_DAY / 1440, 1440.0, clock),  # type: ignore[arg-type]
            RateLimiter(STATUS_QUERIES_PER_CLIENT_PER_MINUTE, 1.0, clock),
            Lockout(WRONG_CODES_PER_RECEIPT_PER_HOUR, 3600.0, clock),
            RateLimiter(CHALLENGES_PER_CLIENT_PER_MINUTE, 1.0, clock),
            RateLimiter(ENTRY_LOOKUPS_PER_CLIENT_PER_MINUTE, 1.0, clock),
        )


@dataclass
class Service:
    settings: Settings
    store: ApplicationStore
    challenges: Challenges
    limits: Limits
    today: Callable[[], date]
    entry_engine: Any  # search_api Engine over the live index, opened lazily
    client_ip: Callable[[Any], str]

    def engine(self) -> Any:
        if self.entry_engine is None:
            from search_api.engines.factory import make_engine
            from search_api.settings import Settings as SearchSettings

            self.entry_engine = make_engine(SearchSettings(index_path=self.settings.resolved_index_path))
        return self.entry_engine


def _service(request: Request) -> Service:
    return request.app.state.applications


def _limit(limiter: RateLimiter, key: str, message: str) -> None:
    wait = limiter.allow(key)
    if wait is not None:
        raise ApiError(429, "rate_limited", message, headers={"Retry-After": str(int(wait))})


def _client(request: Request) -> str:
    return rate_limit_key(_service(request).client_ip(request.scope))


def _public_entry(service: Service, entry_id: str) -> dict[str, Any]:
    if not ENTRY_ID.match(entry_id):
        raise ApiError(404, "entry_not_found", "没有找到该条公示信息，请从信息页面上的链接进入")
    found = service.engine().get(entry_id, service.today())
    if found.entry is None:
        if found.tombstone is not None:
            raise ApiError(410, "entry_withdrawn", "该信息已停止公示，无需再提出申请")
        raise ApiError(404, "entry_not_found", "没有找到该条公示信息，请从信息页面上的链接进入")
    if found.entry.get("status") not in PUBLIC_STATES:
        raise ApiError(410, "entry_withdrawn", "该信息已停止公示，无需再提出申请")
    return found.entry


def _summary(entry: dict[str, Any], today: date) -> dict[str, Any]:
    """What the form page shows about the entry: no personal data (a person's name is not repeated)."""
    refusal = rules.repair_refusal(entry, today)
    earliest = rules.earliest_repair(entry)
    received_deadlines = {kind.value: rules.deadlines(kind, today, None) for kind in Kind}
    return {
        "id": entry["id"], "list_name": entry["list_name"], "list_kind": entry["list_kind"],
        "subject_type": entry["subject_type"], "is_person": bool(entry.get("is_person")),
        "subject_name": None if entry.get("is_person") else entry["subject_name"],
        "status": entry["status"], "url": f"/entries/{entry['id']}/",
        "objection": {"allowed": True, "deadlines": received_deadlines["objection"],
                      "working_days": rules.OBJECTION_WORKING_DAYS},
        "repair": {"allowed": refusal is None, "refusal": refusal,
                   "earliest": earliest.isoformat() if earliest else None,
                   "deadlines": received_deadlines["repair"], "working_days": rules.REPAIR_WORKING_DAYS,
                   "handled_by": rules.repair_rule(entry).who_zh},
    }


def _status_view(row: dict[str, Any]) -> dict[str, Any]:
    kind = Kind(row["kind"])
    accepted = row["accepted_on"]
    return {
        "receipt": row["receipt"], "kind": kind.value, "kind_zh": KIND_ZH[kind],
        "entry": {"id": row["entry_id"], "list_name": row["list_name"], "url": f"/entries/{row['entry_id']}/"},
        "state": row["state"], "state_zh": STATE_ZH[row["state"]],
        "received_on": row["received_on"].isoformat(),
        "accepted_on": accepted.isoformat() if accepted else None,
        "closed_on": row["closed_on"].isoformat() if row["closed_on"] else None,
        "outcome": row["outcome"], "outcome_zh": OUTCOME_ZH.get(row["outcome"] or ""),
        "effective_on": row["effective_on"].isoformat() if row["effective_on"] else None,
        "reply": row["reply"], "deadlines": rules.deadlines(kind, row["received_on"], accepted),
    }


router = APIRouter()


@router.get("/challenge", summary="人机验证题（工作量证明）")
async def challenge(request: Request) -> dict[str, Any]:
    service = _service(request)
    _limit(service.limits.challenge_client, _client(request), "获取验证过于频繁，请稍后再试")
    return service.challenges.issue()


@router.get("/entries/{entry_id}", summary="申请页面显示的公示信息摘要与办理时限")
async def entry_summary(request: Request, entry_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
    service = _service(request)
    _limit(service.limits.entry_client, _client(request), "查询过于频繁，请稍后再试")
    entry = await run_in_threadpool(_public_entry, service, entry_id)
    return _summary(entry, service.today())


def _text(form: Any, name: str, label: str, *, max_length: int, required: bool = True, min_length: int = 1) -> str:
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise ApiError(422, "invalid_field", f"“{label}”应为文字")
    text = (value or "").strip()
    if not text:
        if required:
            raise ApiError(422, "missing_field", f"请填写“{label}”")
        return ""
    if len(text) > max_length:
        raise ApiError(422, "invalid_field", f"“{label}”不能超过{max_length}个字")
    if len(text) < min_length:
        raise ApiError(422, "invalid_field", f"“{label}”至少需要{min_length}个字，请写明具体理由")
    return text


def _applicant_identity(service: Service, form: Any, entry: dict[str, Any]) -> tuple[str, str | None, str | None, bool | None]:
    """(applicant type, stored code, ID digest, identity matches); raw ID numbers go no further than here."""
    from portal.ingest.identifiers import RESIDENT_ID, IdentifierError, normalise_id_number, normalise_uscc

    applicant_type = form.get("applicant_type")
    if applicant_type not in ("unit", "person"):
        raise ApiError(422, "invalid_field", "请选择申请人类别（单位或个人）")
    raw = _text(form, "applicant_code", "统一社会信用代码" if applicant_type == "unit" else "证件号码",
                max_length=MAX_ID_LENGTH)
    try:
        if applicant_type == "unit":
            code = normalise_uscc(raw)
            return "unit", code, None, (code == entry.get("uscc")) if entry.get("uscc") else None
        id_type = RESIDENT_ID if form.get("id_type", RESIDENT_ID) == RESIDENT_ID else "其他证件"
        number = normalise_id_number(id_type, raw)
    except IdentifierError as exc:
        raise ApiError(422, "invalid_field", exc.zh) from None
    from portal.ingest.masking import load_policy, mask_id_number
    from search_api.digests import digest_number
    from search_api.settings import Settings as SearchSettings

    masked = mask_id_number(number, id_type == RESIDENT_ID, load_policy().rules_for(entry["list_code"], "自然人"))
    digest = digest_number(number, SearchSettings().hmac_key.get_secret_value())
    matches = None
    if entry.get("is_person"):
        hits = service.engine().by_digest(digest, service.today(), 50)
        matches = any(hit["id"] == entry["id"] for hit in hits)
    return "person", masked, digest, matches


async def _read_form(request: Request) -> Any:
    try:
        return await request.form(max_files=MAX_ATTACHMENTS, max_fields=30)
    except StarletteHTTPException as exc:
        if "files" in str(exc.detail).lower():
            raise ApiError(413, "too_many_attachments", f"附件最多{MAX_ATTACHMENTS}个") from None
        raise ApiError(400, "bad_form", "提交的表单格式有误，请刷新页面后重新提交") from None
    except (AssertionError, ValueError):  # not multipart/form-data at all
        raise ApiError(415, "unsupported_media_type", "请通过申请页面提交（multipart/form-data）") from None


@router.post("/applications", status_code=201, summary="提交异议申请或信用修复申请（multipart/form-data）")
async def submit(request: Request) -> dict[str, Any]:
    service = _service(request)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "请通过申请页面提交（multipart/form-data）")
    client = _client(request)
    form = await _read_form(request)
    try:
        try:
            service.challenges.redeem(str(form.get("challenge_token") or ""), str(form.get("challenge_nonce") or ""))
        except ChallengeError as exc:
            raise ApiError(403, "challenge_failed", exc.message_zh) from None
        try:
            kind = Kind(form.get("kind"))
        except ValueError:
            raise ApiError(422, "invalid_field", "申请类别只能是异议申请或信用修复申请") from None
        if form.get("consent") != "yes":
            raise ApiError(422, "missing_field", "请阅读并勾选个人信息处理说明")
        entry_id = str(form.get("entry_id") or "")
        entry = await run_in_threadpool(_public_entry, service, entry_id)
        today = service.today()
        if kind is Kind.REPAIR and (refusal := rules.repair_refusal(entry, today)):
            raise ApiError(422, "repair_not_possible", refusal)
        applicant_name = _text(form, "applicant_name", "申请人名称或姓名", max_length=MAX_NAME_LENGTH)
        applicant_type, code, digest, matches = await run_in_threadpool(_applicant_identity, service, form, entry)
        contact_name = _text(form, "contact_name", "联系人", max_length=MAX_CONTACT_LENGTH)
        phone = _text(form, "contact_phone", "联系电话", max_length=MAX_PHONE_LENGTH)
        if not PHONE.match(phone):
            raise ApiError(422, "invalid_field", "联系电话格式不正确（只能包含数字、空格和 - + ( )）")
        email = _text(form, "contact_email", "电子邮箱", max_length=MAX_EMAIL_LENGTH, required=False)
        if email and not EMAIL.match(email):
            raise ApiError(422, "invalid_field", "电子邮箱格式不正确")
        grounds = _text(form, "grounds", "申请理由" if kind is Kind.OBJECTION else "纠正失信行为的情况",
                        max_length=MAX_GROUNDS_LENGTH, min_length=MIN_GROUNDS_LENGTH)
        # ID numbers typed into the free text are masked by the one rule set (portal.ingest.masking): the store
        # keeps no raw ID number outside the uploaded documents.
        grounds = scrub_text(grounds)
        uploads = [v for k, v in form.multi_items() if k == "attachments" and isinstance(v, UploadFile)]
        uploads = [u for u in uploads if u.filename or u.size]  # an empty file input sends one nameless part
        if not uploads:
            raise ApiError(422, "attachment_missing", "请上传至少1个附件（申请表或身份证明、证明材料）")
        files = []
        for index, upload in enumerate(uploads, start=1):
            data = await upload.read(MAX_ATTACHMENT_BYTES + 1)
            try:
                media_type = check(data, index)
            except AttachmentError as exc:
                raise ApiError(413 if exc.code == "attachment_too_large" else 415, exc.code, exc.message_zh) from None
            files.append((data, upload.filename, media_type))
        # Counted only for complete, checked submissions: a typo does not cost the applicant an attempt.
        _limit(service.limits.submit_client, client, "提交过于频繁，请稍后再试；急需办理的请到政务服务中心信用窗口")
        _limit(service.limits.submit_entry, entry["id"], "该条信息今天已收到多份申请，请明天再试或到信用窗口办理")
        new = NewApplication(kind=kind, entry=entry, applicant_type=applicant_type, applicant_name=applicant_name,
                             applicant_code=code, applicant_id_digest=digest, identity_matches=matches,
                             contact_name=contact_name, contact_phone=phone, contact_email=email or None,
                             grounds=grounds, files=files)
        receipt, query_code = await run_in_threadpool(service.store.create, new, today)
    finally:
        await form.close()
    row = await run_in_threadpool(service.store.get, receipt)
    assert row is not None
    return {"receipt": receipt, "code": query_code, "status": _status_view(row)}


class StatusQuery(BaseModel):
    model_config = {"extra": "forbid"}
    receipt: str = Field(min_length=1, max_length=32, description="受理编号")
    code: str = Field(min_length=1, max_length=QUERY_CODE_LENGTH + 8, description="查询码")


@router.post("/status", summary="凭受理编号和查询码查询办理进度")
async def status(request: Request, query: StatusQuery) -> dict[str, Any]:
    service = _service(request)
    _limit(service.limits.status_client, _client(request), "查询过于频繁，请稍后再试")
    receipt = query.receipt.strip().upper()
    if service.limits.wrong_code.locked(receipt):  # whatever is sent: a right guess must not show as such
        raise ApiError(429, "too_many_wrong_codes", "查询码错误次数过多，请一小时后再试",
                       headers={"Retry-After": "3600"})
    row = await run_in_threadpool(service.store.verify, receipt, query.code)
    if row is None:
        service.limits.wrong_code.failed(receipt)
        raise ApiError(404, "not_found_or_wrong_code", "受理编号或查询码不正确，请核对后重试")
    return _status_view(row)


def create_app(settings: Settings | None = None, *, today: Callable[[], date] = today_shanghai,
               clock: Callable[[], float] = time.monotonic, entry_engine: Any = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="信用门户网上申请 / Online objection and repair applications", version="1.0.0",
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None)
    key = settings.challenge_key.get_secret_value().encode() or secrets.token_bytes(32)
    store = ApplicationStore(settings.resolved_db_url, AttachmentDir(settings.resolved_attachments_dir))
    app.state.applications = Service(settings, store, Challenges(key, settings.pow_bits), Limits.make(clock),
                                     today, entry_engine, forwarded_ip_getter(settings.trust_forwarded_for))
    install_error_handlers(app)
    app.include_router(router, prefix=API_PREFIX)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(EnvelopeCORSMiddleware, allow_origins=[settings.site_origin], allow_methods=["GET", "POST"],
                       allow_headers=["Content-Type"], max_age=600)
    app.add_middleware(HardeningMiddleware, max_body_bytes=MAX_BODY_BYTES, access_log=settings.access_log,
                       client_ip=app.state.applications.client_ip)
    return app
