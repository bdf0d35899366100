"""What a report says: the subject, its public entries by kind, and a statement for each kind without any.

Built from masked public entries only (what the search index holds); natural persons are never reported on.
The same shape is stored in the registry and returned by verification, so that a report verifies as what
it said when it was issued, whatever has been published or withdrawn since.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from portal.public.codes import IdentifierError, normalise_reg_no, normalise_uscc
from portal.public.codes import normalise_code as nfkc_compact
from portal.public.dates import format_zh
from portal.public.records import ListKind, SubjectType

# The order of the report's sections: what a tender office checks first comes first.
SECTION_ORDER: tuple[ListKind, ...] = (ListKind.BLACK, ListKind.WATCH, ListKind.DECISION, ListKind.RED)
SECTION_TITLES: dict[ListKind, str] = {
    ListKind.BLACK: "失信惩戒信息（黑名单）",
    ListKind.WATCH: "重点关注名单信息",
    ListKind.DECISION: "行政许可和行政处罚信息（双公示）",
    ListKind.RED: "守信激励信息（红名单）",
}
# The fields of an entry a report keeps: masked public fields, no digest, no source, no ID number.
REPORT_ENTRY_FIELDS: tuple[str, ...] = (
    "id", "list_code", "list_name", "list_kind", "status", "subject_name", "decision_no", "authority",
    "decision_date", "publish_from", "publish_until", "facts", "basis", "legal_rep", "details",
)
CODE_KINDS = {"uscc": "统一社会信用代码", "reg_no": "注册号"}


@dataclass(frozen=True)
class SubjectCode:
    code: str  # normalised
    kind: str  # "uscc" or "reg_no"

    @property
    def label(self) -> str:
        return CODE_KINDS[self.kind]


def parse_subject_code(text: str) -> SubjectCode:
    """An 18-character code is a USCC and must carry a correct check character; anything else must look
    like a registration number (subjects registered before the USCC). Raises IdentifierError."""
    compact = nfkc_compact(text)
    if len(compact) == 18:
        return SubjectCode(normalise_uscc(compact), "uscc")
    try:
        return SubjectCode(normalise_reg_no(compact), "reg_no")
    except IdentifierError:
        raise IdentifierError("请输入18位统一社会信用代码或注册号", "expected an 18-character USCC or a "
                              "registration number") from None


@lru_cache(maxsize=1)
def _detail_labels() -> Any:
    from portal.ingest.headers import default_table

    return default_table()


def detail_label(key: str) -> str:
    """The Chinese label of a details key (处罚类别 for penalty_category), as the import templates name it."""
    return _detail_labels().label(key)


def report_entry(entry: dict[str, Any]) -> dict[str, Any]:
    return {name: entry.get(name) for name in REPORT_ENTRY_FIELDS if entry.get(name) not in (None, "", {})}


@dataclass(frozen=True)
class ReportContent:
    report_no: str
    subject: SubjectCode
    subject_name: str | None  # None: the portal publishes nothing about this code
    other_names: tuple[str, ...]  # other names the entries carry (renamed companies), newest first
    subject_type: str | None
    issued_at: datetime  # Asia/Shanghai
    data_as_of: date
    office: str
    entries: tuple[dict[str, Any], ...]  # report_entry() of each entry, newest decision first
    test_key: bool

    def section(self, kind: ListKind) -> list[dict[str, Any]]:
        return [entry for entry in self.entries if entry["list_kind"] == kind.value]

    def none_found(self, kind: ListKind) -> str:
        """The explicit statement for a kind without entries (截至X年X月X日未查询到…记录)."""
        return f"截至{format_zh(self.data_as_of)}，未查询到该主体在本平台公示的{SECTION_TITLES[kind]}记录。"

    def counts(self) -> dict[str, int]:
        found = Counter(entry["list_kind"] for entry in self.entries)
        return {kind.value: found.get(kind.value, 0) for kind in SECTION_ORDER}

    def as_record(self) -> dict[str, Any]:
        """What the registry keeps and verification shows."""
        return {"report_no": self.report_no, "subject_code": self.subject.code, "code_kind": self.subject.kind,
                "subject_name": self.subject_name, "other_names": list(self.other_names),
                "subject_type": self.subject_type, "issued_at": self.issued_at.isoformat(timespec="seconds"),
                "data_as_of": self.data_as_of.isoformat(), "office": self.office, "entries": list(self.entries),
                "counts": self.counts(), "test_key": self.test_key}


def organisation_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries a report may show: never a natural person's (a USCC never belongs to one, but a data
    error must not put a person into a downloadable document)."""
    return [entry for entry in entries if not entry.get("is_person") and entry.get("subject_type") != SubjectType.PERSON]


def build_content(*, report_no: str, subject: SubjectCode, entries: list[dict[str, Any]], data_as_of: date,
                  issued_at: datetime, office: str, test_key: bool) -> ReportContent:
    """``entries`` as the engine returns them (newest decision first)."""
    shown = [report_entry(entry) for entry in organisation_entries(entries)]
    names = list(dict.fromkeys(entry["subject_name"] for entry in shown))
    types = Counter(entry.get("subject_type") for entry in organisation_entries(entries))
    return ReportContent(report_no=report_no, subject=subject, subject_name=names[0] if names else None,
                         other_names=tuple(names[1:]), subject_type=types.most_common(1)[0][0] if types else None,
                         issued_at=issued_at, data_as_of=data_as_of, office=office, entries=tuple(shown),
                         test_key=test_key)
