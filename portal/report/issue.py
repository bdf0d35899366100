"""Issue one report: number and code, content, PDF, signature, registry row — in that order, so that no
PDF leaves the server unless its record is committed."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from portal.report.config import ReportConfig
from portal.report.content import ReportContent, SubjectCode, build_content
from portal.report.document import REPORT_TITLE, register_font, render_pdf
from portal.report.registry import ReportRegistry
from portal.report.settings import CODE_ALPHABET, REPORT_NO_PREFIX, REPORT_NO_RANDOM_CHARS, VERIFY_CODE_CHARS
from portal.report.signing import ReportSigner, load_signer, sign_pdf
from portal.settings import SHANGHAI


def _random(length: int) -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def new_report_no(issued: date) -> str:
    return f"{REPORT_NO_PREFIX}{issued:%Y%m%d}{_random(REPORT_NO_RANDOM_CHARS)}"


def new_verification_code() -> str:
    return _random(VERIFY_CODE_CHARS)


def normalise_typed(value: str) -> str:
    """A number or code as a visitor types it: case, spaces and hyphens do not matter."""
    return "".join(value.split()).replace("-", "").upper()


@dataclass(frozen=True)
class IssuedReport:
    content: ReportContent
    verification_code: str
    pdf: bytes
    pdf_sha256: str


class ReportIssuer:
    """Built once at start-up: loads the signing key (refusing a bad one), the font and the registry."""

    def __init__(self, config: ReportConfig) -> None:
        self.config = config
        self.signer: ReportSigner = load_signer(config)
        register_font(config.font)
        self.registry = ReportRegistry(config.registry_db)

    def issue(self, subject: SubjectCode, entries: list[dict[str, Any]], *, data_as_of: date,
              snapshot_version: str | None = None, now: datetime | None = None) -> IssuedReport:
        issued_at = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI)
        code = new_verification_code()
        content = build_content(report_no=new_report_no(issued_at.date()), subject=subject, entries=entries,
                                data_as_of=data_as_of, issued_at=issued_at, office=self.config.office,
                                test_key=self.signer.is_test)
        unsigned = render_pdf(content, verification_code=code, verify_url=self.config.verify_url)
        signed = sign_pdf(unsigned, self.signer, office=self.config.office, reason=REPORT_TITLE)
        digest = hashlib.sha256(signed).hexdigest()
        self.registry.record(content.as_record(), code=code, pdf_sha256=digest,
                             signer_fingerprint=self.signer.fingerprint, snapshot_version=snapshot_version)
        return IssuedReport(content=content, verification_code=code, pdf=signed, pdf_sha256=digest)

    def verify(self, report_no: str, code: str) -> dict[str, Any] | None:
        return self.registry.verify(normalise_typed(report_no), normalise_typed(code))
