"""The credit report endpoints: ``GET /subjects/{uscc}/report`` (a signed PDF) and ``POST /reports/verify``.

Thin: building, signing and recording are ``portal.report``'s; this module maps HTTP to it, with its own
rate-limit buckets and its own render thread (a report costs ~0.2 s of CPU; searches keep the engine slots).
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from portal.public.codes import IdentifierError
from portal.report.config import ReportConfig
from portal.report.content import parse_subject_code
from portal.report.issue import ReportIssuer, normalise_typed
from portal.report.registry import ReportRegistry
from portal.settings import PORTAL_ENV_ENV
from search_api.errors import ApiError
from search_api.models import ErrorResponse
from search_api.ratelimit import RateLimiter
from search_api.routers.api import BODY_TOO_LARGE, ERRORS, StateDep, client_ip, limit
from search_api.settings import (
    MAX_REPORT_ENTRIES,
    MAX_REPORT_NO_LENGTH,
    MAX_VERIFY_CODE_LENGTH,
    REPORT_THREADS,
    Settings,
)

Result = TypeVar("Result")


def report_config(settings: Settings) -> ReportConfig:
    passphrase = settings.report_signing_passphrase.get_secret_value()
    return ReportConfig(
        office=settings.report_office,
        verify_url=settings.report_verify_url or f"{settings.site_origin.rstrip('/')}/verify/",
        registry_db=settings.report_registry_db, dev_key_dir=settings.report_dev_key_dir,
        production=os.environ.get(PORTAL_ENV_ENV, "").lower() == "production",
        pkcs12=settings.report_signing_pkcs12, key=settings.report_signing_key, cert=settings.report_signing_cert,
        chain=(settings.report_signing_chain,) if settings.report_signing_chain else (),
        passphrase=passphrase.encode() if passphrase else None, font=settings.report_font)


class ReportState:
    """Rate limiters, render thread and the issuer. In production the issuer (signing key included) is
    loaded here, at start-up, so that the API refuses to start without a real key; elsewhere on first use,
    so that tests and tools that never issue a report write no test key and no registry."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = report_config(settings)
        burst = settings.rate_burst_factor
        self.report_limiter = RateLimiter(settings.rate_report_per_minute, burst, clock)
        self.verify_limiter = RateLimiter(settings.rate_verify_per_minute, burst, clock)
        self._pool = ThreadPoolExecutor(max_workers=REPORT_THREADS, thread_name_prefix="report")
        self._issuer: ReportIssuer | None = ReportIssuer(self.config) if self.config.production else None
        self._registry: ReportRegistry | None = None  # for verification before any report was issued here
        self._lock = threading.Lock()

    @property
    def issuer(self) -> ReportIssuer:
        with self._lock:
            if self._issuer is None:
                self._issuer = ReportIssuer(self.config)
            return self._issuer

    def verify(self, report_no: str, code: str) -> dict[str, Any] | None:
        """Needs the registry only: no signing key is loaded (or generated) to answer a verification, and a
        registry that does not exist yet verifies nothing."""
        with self._lock:
            issuer = self._issuer
        if issuer is not None:
            return issuer.verify(report_no, code)
        if self._registry is None:
            if not self.config.registry_db.exists():
                return None
            self._registry = ReportRegistry(self.config.registry_db)
        return self._registry.verify(normalise_typed(report_no), normalise_typed(code))

    async def run(self, function: Callable[..., Result], /, *args: Any, **kwargs: Any) -> Result:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: function(*args, **kwargs))


async def report_state(request: Request) -> ReportState:
    return request.app.state.report


ReportDep = Annotated[ReportState, Depends(report_state)]

report_router = APIRouter(responses=ERRORS)

PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The signed report (PAdES); header X-Report-No"},
    422: {"model": ErrorResponse, "description": "Not a USCC (wrong check character) or registration number"},
    503: {"model": ErrorResponse, "description": "Index unavailable, or too many entries for one report"},
}


@report_router.get("/subjects/{uscc}/report", response_class=Response, responses=PDF_RESPONSE,
                   summary="公共信用信息报告 / Signed credit report of an organisation (PDF)",
                   description="Organisations and 个体工商户 only, by USCC or registration number; persons never. "
                               "Every public entry by kind, or for each kind without one an explicit 截至…未查询到… "
                               "statement. Signed with the office's key; recorded for /reports/verify.")
async def subject_report(request: Request, app: StateDep, reports: ReportDep,
                         uscc: Annotated[str, Path(max_length=32, examples=["91511700MA62XXXXXX"])]) -> Response:
    limit(reports.report_limiter, client_ip(request))
    try:
        subject = parse_subject_code(uscc)
    except IdentifierError as exc:
        raise ApiError(422, "invalid_subject_code", exc.zh) from None
    today = app.today()
    entries, meta = await app.run(lambda: (app.engine.by_uscc(subject.code, today, MAX_REPORT_ENTRIES + 1),
                                           app.engine.meta()))
    if len(entries) > MAX_REPORT_ENTRIES:
        raise ApiError(503, "report_too_large", "该主体的公示记录过多，无法在线出具报告，请到信用服务窗口办理")
    # on the report thread, issuer included: in development the first report loads the font and makes the key
    issued = await reports.run(lambda: reports.issuer.issue(
        subject, entries, data_as_of=date.fromisoformat(str(meta["data_as_of"])[:10]),
        snapshot_version=str(meta.get("version") or "") or None))
    number = issued.content.report_no
    return Response(issued.pdf, media_type="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=\"credit-report-{number}.pdf\"; "
                               f"filename*=UTF-8''%E5%85%AC%E5%85%B1%E4%BF%A1%E7%94%A8%E4%BF%A1%E6%81%AF%E6%8A%A5%E5%91%8A-{number}.pdf",
        "Cache-Control": "no-store", "X-Report-No": number})


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"report_no": "XYBG20261123ABCD2345",
                                                                                "code": "ABCD-EFGH-JKLM"}]})

    report_no: str = Field(min_length=1, max_length=MAX_REPORT_NO_LENGTH, description="报告编号 as printed")
    code: str = Field(min_length=1, max_length=MAX_VERIFY_CODE_LENGTH, description="验证码 as printed (case, "
                      "spaces and hyphens do not matter)")


class VerifiedEntry(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    list_code: str
    list_name: str
    list_kind: str
    decision_date: str


class VerifyResponse(BaseModel):
    verified: bool = Field(description="Always true: a refusal is a 404 error")
    report_no: str
    subject_code: str
    code_kind: str = Field(description="uscc or reg_no")
    subject_name: str | None = Field(description="null when the portal published nothing about the code")
    other_names: list[str]
    subject_type: str | None
    issued_at: str
    data_as_of: str
    office: str
    entries: list[VerifiedEntry] = Field(description="The entries the report listed, as they were at issue time")
    counts: dict[str, int]
    test_key: bool = Field(description="Signed with the development TEST ONLY key")
    pdf_sha256: str = Field(description="SHA-256 of the signed PDF as issued")
    signer_fingerprint: str = Field(description="SHA-256 of the signing certificate")


@report_router.post("/reports/verify", response_model=VerifyResponse, summary="报告核验 / Verify a credit report",
                    description="Report number and verification code in the body (never in a URL, so never in an "
                                "access log). An unknown number and a wrong code get the same 404.",
                    responses={404: {"model": ErrorResponse, "description": "Not a report of this portal, or wrong "
                                                                             "code"}, **BODY_TOO_LARGE})
async def verify_report(request: Request, reports: ReportDep, body: VerifyRequest) -> dict[str, Any]:
    limit(reports.verify_limiter, client_ip(request))
    found = await reports.run(reports.verify, body.report_no, body.code)
    if found is None:
        raise ApiError(404, "report_not_verified", "报告编号或验证码不正确，无法核验。请核对后重新输入；"
                                                   "仍无法核验的，该报告不是本平台出具的或已被改动。")
    return {"verified": True, **found}
