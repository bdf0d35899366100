"""Request and response shapes of the API (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from portal.public.records import ListKind, PublicEntry, PublicStatus, SubjectType, Tombstone
from search_api.engines.base import DIGEST_FIELDS
from search_api.settings import (
    MAX_CHECK_SUBJECTS,
    MAX_ID_NUMBER_LENGTH,
    MAX_NAME_LENGTH,
)


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(description="Explanation in Simplified Chinese", examples=["未找到该信息"])


class ErrorResponse(BaseModel):
    error: ErrorBody


class GoneResponse(BaseModel):
    error: ErrorBody
    tombstone: Tombstone


class Total(BaseModel):
    value: int = Field(examples=[12])
    relation: str = Field(description="eq: exact; gte: at least (counting stops at a cap)", examples=["eq"])


class Hit(BaseModel):
    id: str = Field(examples=["5f2b9c0e41d7a3b8"])
    url: str = Field(examples=["/entries/5f2b9c0e41d7a3b8/"])
    subject_name: str = Field(examples=["达州市某某建筑工程有限公司"])
    subject_type: SubjectType
    is_person: bool
    uscc: str | None = None
    id_number: str | None = Field(None, description="Masked", examples=["5117**********123X"])
    list_code: str = Field(examples=["YZWFSX"])
    list_name: str = Field(examples=["严重违法失信企业名单"])
    list_kind: ListKind
    status: PublicStatus
    decision_date: str = Field(examples=["2024-03-05"])
    publish_until: str | None = None
    authority: str | None = None
    region: str | None = None
    decision_no: str | None = None
    highlights: dict[str, str] = Field(default_factory=dict, description="HTML-escaped text, only <mark> added",
                                       examples=[{"subject_name": "达州市<mark>王伟</mark>建材经营部"}])


HIT_FIELDS: tuple[str, ...] = tuple(name for name in Hit.model_fields if name != "highlights")


class SearchResponse(BaseModel):
    total: Total
    hits: list[Hit]
    facets: dict[str, dict[str, int]] = Field(examples=[{"list_kind": {"black": 12}, "list_code": {"YZWFSX": 12},
                                                          "region": {"通川区": 7}, "authority": {"达州市市场监督管理局": 12}}])
    page: int
    per_page: int
    data_as_of: str = Field(examples=["2026-11-23"])
    took_ms: float


EntryOut = create_model(  # type: ignore[call-overload]
    "Entry",
    __config__=ConfigDict(extra="forbid"),
    **{name: (field.annotation, field) for name, field in PublicEntry.model_fields.items() if name not in DIGEST_FIELDS},
    url=(str, Field(examples=["/entries/5f2b9c0e41d7a3b8/"])),
)


class SubjectResponse(BaseModel):
    uscc: str
    subject_name: str
    total: int
    groups: dict[str, list[EntryOut]] = Field(description="Entries grouped by list kind: red, black, watch, "
                                              "decision")
    data_as_of: str


class LookupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"id_number": "51170019900101123X",
                                                                                "name": "王伟"}]})

    id_number: str = Field(min_length=6, max_length=MAX_ID_NUMBER_LENGTH,
                           description="Full ID number; never stored or logged, only its keyed digest is compared")
    name: str | None = Field(None, max_length=MAX_NAME_LENGTH, description="Optional: the name must match exactly")


class LookupResponse(BaseModel):
    total: int
    hits: list[Hit]
    data_as_of: str


class CheckSubject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str | None = Field(None, max_length=64, description="Caller's reference, echoed back", examples=["申请-0001"])
    uscc: str | None = Field(None, max_length=32, examples=["91511700MA62XXXXXX"])
    id_number: str | None = Field(None, max_length=MAX_ID_NUMBER_LENGTH)
    name: str | None = Field(None, max_length=MAX_NAME_LENGTH, description="Exact name (used alone only when "
                             "neither uscc nor id_number is given)")

    @model_validator(mode="after")
    def one_identifier(self) -> CheckSubject:
        if not (self.uscc or self.id_number or self.name):
            raise ValueError("每个核查对象至少需要统一社会信用代码、证件号码或名称之一")
        return self


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"subjects": [
        {"ref": "申请-0001", "uscc": "91511700MA62XXXXXX"}, {"ref": "申请-0002", "id_number": "51170019900101123X"},
        {"ref": "申请-0003", "name": "达州市某某建筑工程有限公司"}]}]})

    subjects: list[CheckSubject] = Field(min_length=1, max_length=MAX_CHECK_SUBJECTS)


class CheckHit(BaseModel):
    id: str
    url: str
    subject_name: str
    list_code: str
    list_name: str
    list_kind: ListKind
    status: PublicStatus
    decision_date: str
    publish_until: str | None
    authority: str | None
    decision_no: str | None
    matched_by: str = Field(description="uscc | id_number | legal_rep_id_number | name")


class CheckResult(BaseModel):
    index: int = Field(description="Position of the subject in the request (0-based)")
    ref: str | None
    valid: bool = Field(description="False when an identifier is malformed (e.g. a wrong USCC check character): the "
                                    "subject was not checked, which is not the same as having no record")
    problems: list[str] = Field(default_factory=list, description="Why the subject is invalid (Chinese; never "
                                                                  "the value itself)")
    black: bool = Field(description="True when any hit is on a black list")
    watch: bool
    red: bool
    hits: list[CheckHit]


class CheckResponse(BaseModel):
    checked: int
    with_hits: int
    invalid: int = Field(description="Subjects not checked because an identifier is malformed")
    results: list[CheckResult]
    data_as_of: str
    checked_at: str


class ListInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    name: str
    kind: ListKind
    count: int = Field(description="Entries public today")
    measures: list[dict[str, Any]] = Field(default_factory=list, description="Joint incentive/punishment measures")


class ListsResponse(BaseModel):
    lists: list[ListInfo]
    data_as_of: str


class Timeliness(BaseModel):
    """双公示 timeliness of the snapshot: decisions published within their list's publish_within."""

    rule: dict[str, str] = Field(description="Per list code: the span decisions must be published within",
                                 examples=[{"XZCF": "7个工作日"}])
    public: int = Field(description="Public 双公示 decisions")
    on_time: int
    late: int = Field(description="First imported after their deadline (still published)")
    on_time_rate: float | None = Field(description="按时公示率: on_time / public; null without decisions")


class StatsResponse(BaseModel):
    total: int
    by_list_code: dict[str, int]
    by_list_kind: dict[str, int]
    by_authority: dict[str, int]
    by_region: dict[str, int]
    by_month: dict[str, int]
    by_subject_type: dict[str, int]
    timeliness: Timeliness | None = Field(None, description="按时公示率 of 双公示 decisions (null: no data)")
    data_as_of: str


class Change(BaseModel):
    model_config = ConfigDict(extra="allow")

    op: str = Field(examples=["added"])
    id: str
    list_code: str | None = None
    at: str = Field(examples=["2026-11-23"])


class ChangesResponse(BaseModel):
    changes: list[Change]
    next_cursor: str | None = Field(description="Pass as cursor= for the next page; null at the end")
    data_as_of: str


class Health(BaseModel):
    status: str
    data_as_of: str | None = None


class Readiness(Health):
    engine: str = Field(description="sqlite or meilisearch")
