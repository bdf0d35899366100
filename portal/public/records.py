"""The public record shapes: what leaves the ingest step.

Everything downstream of ingest (snapshot, site, search index, API, feeds, downloads) reads these shapes
and nothing else. No field here ever holds a raw identifier: ID numbers and phones are masked, and exact
lookup goes through keyed digests (see ``portal.public.digest``).

The ingest hot path builds plain dicts with exactly these keys (a pydantic object per row would cost more
than the validation itself at a million rows); the models below are the schema of those dicts, used by the
API for its OpenAPI document and by tests to check every written row.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class ListKind(StrEnum):
    RED = "red"  # 守信激励 / 红名单
    BLACK = "black"  # 失信惩戒 / 黑名单
    WATCH = "watch"  # 重点关注名单
    DECISION = "decision"  # 双公示: 行政许可 / 行政处罚


class SubjectType(StrEnum):
    ORGANISATION = "法人及非法人组织"
    INDIVIDUAL_BUSINESS = "个体工商户"
    PERSON = "自然人"


class PublicStatus(StrEnum):
    """Statuses an entry can have while it is public."""

    UNDER_NOTICE = "公示中"  # pre-publication notice, objections possible
    PUBLISHED = "已公布"
    OBJECTION = "异议处理中"  # published, flagged as under verification


class WithdrawalReason(StrEnum):
    """Why an entry is no longer public; only the category reaches a tombstone."""

    EXPIRED = "期满"
    REPAIRED = "信用修复"
    REVOKED = "撤销"
    CORRECTED = "异议更正"
    REMOVED = "移出"  # removed by the authority without a more specific reason (e.g. court)


class Source(BaseModel):
    """Provenance of one entry: where the row came from."""

    file: str = Field(description="Source file name or database URL without password")
    row: int = Field(description="1-based row number in the source (the header row counts as in the file)")
    batch: str = Field(description="Batch id: sha256 prefix of the source bytes or query")
    imported_at: str = Field(description="ISO timestamp of the import, Asia/Shanghai")


class PublicEntry(BaseModel):
    """One masked, public list entry: one line of ``entries.jsonl``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Stable id (16 hex chars); the same row imported again gets the same id",
                    examples=["5f2b9c0e41d7a3b8"])
    list_code: str = Field(examples=["YZWFSX"])
    list_name: str = Field(examples=["严重违法失信企业名单"])
    list_kind: ListKind
    subject_name: str = Field(examples=["达州市某某建筑工程有限公司"])
    subject_type: SubjectType
    is_person: bool = Field(description="True for 自然人; persons never reach sitemaps, feeds or indexable pages")
    uscc: str | None = Field(None, description="统一社会信用代码 (public, not masked)",
                             examples=["91511700MA62XXXXXX"])
    reg_no: str | None = Field(None, description="Registration number for subjects without a USCC")
    id_type: str | None = None
    id_number: str | None = Field(None, description="Masked ID number", examples=["5117**********123X"])
    legal_rep: str | None = None
    legal_rep_id_type: str | None = None
    legal_rep_id_number: str | None = Field(None, description="Masked")
    facts: str | None = None
    basis: str | None = None
    decision_no: str | None = Field(None, examples=["达市监处罚〔2024〕12号"])
    authority: str | None = None
    decision_date: str = Field(description="ISO date", examples=["2024-03-05"])
    notice_until: str | None = Field(None, description="Last day of the pre-publication notice (ISO)")
    publish_from: str = Field(description="First day of publication (ISO)")
    publish_until: str | None = Field(None, description="Last public day (ISO); null: until removed")
    region: str | None = None
    phone: str | None = Field(None, description="Masked")
    address: str | None = Field(None, description="Masked to the county for persons")
    status: PublicStatus
    details: dict[str, str] = Field(default_factory=dict,
                                    description="Further mapped columns (e.g. 处罚类别, 罚款金额), masked")
    id_digest: str | None = Field(None, description="HMAC of the full ID number (persons)")
    legal_rep_id_digest: str | None = Field(None, description="HMAC of the legal representative's ID number")
    uscc_digest: str | None = Field(None, description="HMAC of the USCC")
    source: Source


class Tombstone(BaseModel):
    """What remains public of a withdrawn entry: one line of ``withdrawn.jsonl``. No personal data."""

    model_config = ConfigDict(extra="forbid")

    id: str
    list_code: str
    list_name: str
    list_kind: ListKind
    is_person: bool
    withdrawn_on: str = Field(description="ISO date the entry stopped being public")
    reason: WithdrawalReason


PUBLIC_FIELDS: tuple[str, ...] = tuple(PublicEntry.model_fields)
TOMBSTONE_FIELDS: tuple[str, ...] = tuple(Tombstone.model_fields)
