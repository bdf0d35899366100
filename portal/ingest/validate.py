"""Per-row validation, masking and shaping into a public entry.

This module and ``portal.ingest.pipeline`` are the only code that sees raw identifiers. A row either becomes a
``ValidRow`` (public fields already masked, digests computed) or a list of ``Problem``s; it never raises.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.ingest.identifiers import (
    RESIDENT_ID,
    IdentifierError,
    normalise_id_number,
    normalise_id_type,
    normalise_reg_no,
    normalise_uscc,
)
from portal.ingest.identity import subject_keys
from portal.ingest.masking import (
    MaskingPolicy,
    mask_address,
    mask_id_number,
    mask_middle,
    mask_person_name,
    mask_phone,
)
from portal.ingest.normalize import clean_line, clean_text
from portal.ingest.scrub import scrub_row
from portal.public.catalogue import Catalogue, ListSpec
from portal.public.dates import DateError, is_open_ended, parse_date
from portal.public.digest import Digester
from portal.public.records import ListKind, SubjectType
from portal.settings import (
    EARLIEST_DECISION_DATE_YEAR,
    MAX_DETAIL_LENGTH,
    MAX_NAME_LENGTH,
    MAX_SHORT_FIELD_LENGTH,
    MAX_TEXT_LENGTH,
    MIN_NAME_LENGTH,
)

PERSON = SubjectType.PERSON.value
ORGANISATION = SubjectType.ORGANISATION.value
INDIVIDUAL_BUSINESS = SubjectType.INDIVIDUAL_BUSINESS.value

SUBJECT_TYPE_ALIASES = {
    "法人及非法人组织": ORGANISATION, "法人和非法人组织": ORGANISATION, "法人及其他组织": ORGANISATION,
    "法人": ORGANISATION, "法人组织": ORGANISATION, "非法人组织": ORGANISATION, "其他组织": ORGANISATION,
    "企业": ORGANISATION, "单位": ORGANISATION, "企业法人": ORGANISATION, "事业单位": ORGANISATION,
    "社会组织": ORGANISATION, "机关": ORGANISATION, "organisation": ORGANISATION, "organization": ORGANISATION,
    "org": ORGANISATION, "legal person": ORGANISATION,
    "个体工商户": INDIVIDUAL_BUSINESS, "个体户": INDIVIDUAL_BUSINESS, "个体": INDIVIDUAL_BUSINESS,
    "individual_business": INDIVIDUAL_BUSINESS,
    "自然人": PERSON, "个人": PERSON, "公民": PERSON, "person": PERSON, "natural person": PERSON,
}
STATUS_ALIASES = {
    "公示中": "公示中", "公示": "公示中",
    "已公布": "已公布", "公布中": "已公布", "有效": "已公布", "正常": "已公布", "生效": "已公布",
    "异议处理中": "异议处理中", "异议中": "异议处理中", "异议": "异议处理中", "核查中": "异议处理中",
    "已修复": "已修复", "信用修复": "已修复", "修复": "已修复",
    "已撤销": "已撤销", "撤销": "已撤销", "已撤消": "已撤销",
    "已移出": "已移出", "移出": "已移出", "已移除": "已移出", "已删除": "已移出", "失效": "已移出",
}
REMOVAL_REASON_ALIASES = {
    "信用修复": "信用修复", "修复": "信用修复", "已修复": "信用修复",
    "期满": "期满", "到期": "期满", "期满移出": "期满", "届满": "期满",
    "撤销": "撤销", "已撤销": "撤销", "撤消": "撤销",
    "异议更正": "异议更正", "更正": "异议更正", "异议": "异议更正", "纠错": "异议更正",
}
SHORT_FIELDS = ("decision_no", "authority", "region", "legal_rep")
TEXT_FIELDS = ("facts", "basis")
# Columns shaped by this module rather than copied into ``details``.
CORE_KEYS = frozenset({
    "subject_name", "subject_type", "uscc", "reg_no", "id_type", "id_number", "legal_rep",
    "legal_rep_id_type", "legal_rep_id_number", "list_code", "list_name", "facts", "basis", "decision_no",
    "authority", "decision_date", "publish_from", "publish_until", "region", "phone", "address", "status",
    "removal_date", "removal_reason", "bank_account",
})
# Detail columns that may hold identifiers: masked like ID numbers of other documents.
MASKED_DETAIL_KEYS = frozenset({"org_code", "tax_no", "institution_no", "social_org_no"})
# Columns portal.ingest.scrub leaves alone: identifiers with a masking rule of their own, and columns whose text is
# never published (dates are parsed; types, lists, statuses and reasons are published from a closed
# vocabulary, and an unknown value rejects the row without quoting it). Every other value is scrubbed.
UNSCRUBBED_KEYS = frozenset({"uscc", "reg_no", "id_number", "legal_rep_id_number", "phone", "bank_account",
                             *MASKED_DETAIL_KEYS, "subject_type", "list_code", "list_name", "status",
                             "removal_reason", "decision_date", "publish_from", "publish_until", "valid_until",
                             "removal_date"})


@dataclass(frozen=True)
class Problem:
    field: str
    zh: str
    en: str


@dataclass
class ValidRow:
    """A row that passed validation; ``entry`` holds only public (masked) values."""

    entry: dict[str, Any]  # PublicEntry fields except the lifecycle ones (filled by portal.ingest.lifecycle)
    spec: ListSpec
    decision_date: date
    publish_from: date | None
    publish_until: date | None
    open_ended: bool  # publish_until given as 长期
    status: str | None  # status from the file, normalised
    removal_date: date | None
    removal_reason: str | None
    subject_key: str | None  # identity keys across lists (portal.ingest.identity), JSON; None for decisions
    objection_since: date | None = None  # date of the operator's objection action (portal.ingest.actions)


@dataclass(frozen=True, slots=True)
class _Checked:
    """What the row-level checks established, for building the entry."""

    name: str
    subject_type: str
    spec: ListSpec
    decision_date: date
    publish_from: date | None
    publish_until: date | None
    open_ended: bool
    status: str | None
    removal_date: date | None
    removal_reason: str | None


def entry_id(list_code: str, subject_name: str, subject_code: str, decision_no: str, decision_date: str) -> str:
    """Stable id from public, policy-independent parts of the row: the same row always gets the same id."""
    material = "\x1f".join((list_code, subject_name, subject_code, decision_no, decision_date))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def infer_subject_type(values: dict[str, str | None]) -> str | None:
    """个体工商户 by the USCC's registration type (92…), 自然人 by an ID number, else an organisation."""
    code = (values.get("uscc") or "").strip().upper()
    if code.startswith("92"):
        return INDIVIDUAL_BUSINESS
    if code or values.get("reg_no"):
        return ORGANISATION
    if values.get("id_number"):
        return PERSON
    return None


class RowValidator:
    """Validates the rows of one source with one header mapping."""

    def __init__(self, *, catalogue: Catalogue, policy: MaskingPolicy, digester: Digester,
                 implied_list: str | None = None, infer_subject_type: bool = False) -> None:
        self.catalogue = catalogue
        self.policy = policy
        self.digester = digester
        self.implied_spec = catalogue.find(implied_list) if implied_list else None
        # Older 双公示 layouts have no 行政相对人类别: the type follows from which identifier is filled.
        self.infer_subject_type = infer_subject_type

    def validate(self, raw: dict[str, str | None]) -> ValidRow | list[Problem]:
        """One row: parse (clean and scrub every cell), check (the row-level rules), build (the public entry)."""
        problems: list[Problem] = []
        values = self._parse(raw)
        checked = self._check(values, problems)
        if checked is None:
            return problems or [Problem("row", "数据不完整", "row is incomplete")]
        return self._build(values, checked, problems)

    def _parse(self, raw: dict[str, str | None]) -> dict[str, str | None]:
        """Every cell cleaned (control characters, widths, whitespace; free text keeps its paragraphs), then
        scrubbed, and the subject type inferred where the file leaves it out."""
        values = {key: clean_text(v) if key in TEXT_FIELDS else clean_line(v) for key, v in raw.items()}
        # The privacy boundary: from here on, no value but the identifier columns can hold a raw identifier
        # (names, case numbers, authorities, regions, addresses, facts, basis, details; docs/security.md).
        scrub_row(values, UNSCRUBBED_KEYS)
        if self.infer_subject_type and not values.get("subject_type"):
            values["subject_type"] = infer_subject_type(values)
        return values

    def _check(self, values: dict[str, str | None], problems: list[Problem]) -> _Checked | None:
        """The rules of one row that need no identifiers; None (with ``problems``) when it cannot be built."""
        name = values.get("subject_name")
        if not name:
            problems.append(Problem("subject_name", "缺少主体名称", "subject name is missing"))
        elif not MIN_NAME_LENGTH <= len(name) <= MAX_NAME_LENGTH:
            problems.append(Problem("subject_name", f"主体名称长度应在{MIN_NAME_LENGTH}到{MAX_NAME_LENGTH}个字之间",
                                    f"subject name must have {MIN_NAME_LENGTH}-{MAX_NAME_LENGTH} characters"))
        subject_type = self._subject_type(values.get("subject_type"), problems)
        spec = self._list(values, problems)
        if spec and subject_type and subject_type not in spec.subjects:
            problems.append(Problem("subject_type", f"“{spec.name}”不收录{subject_type}",
                                    f"list {spec.code} does not admit subject type {subject_type}"))

        decision_date = self._date(values, "decision_date", "认定日期", problems, required=True)
        publish_from = self._date(values, "publish_from", "公布起始日期", problems)
        open_ended = bool(values.get("publish_until") and is_open_ended(values["publish_until"] or ""))
        publish_until = None if open_ended else self._date(values, "publish_until", "公布截止日期", problems)
        if publish_until is None and not open_ended and values.get("valid_until"):
            # 行政许可: the licence's validity is its publication period.
            open_ended = is_open_ended(values["valid_until"] or "")
            if not open_ended:
                publish_until = self._date(values, "valid_until", "有效期至", problems)
        removal_date = self._date(values, "removal_date", "移出日期", problems)
        if decision_date and decision_date.year < EARLIEST_DECISION_DATE_YEAR:
            problems.append(Problem("decision_date", "认定日期过早，疑似录入错误", "decision date is implausibly early"))
        if publish_from and publish_until and publish_until < publish_from:
            problems.append(Problem("publish_until", "公布截止日期早于公布起始日期",
                                    "publication end is before its start"))

        status = self._alias(values.get("status"), STATUS_ALIASES, "status", "状态", problems)
        removal_reason = self._alias(values.get("removal_reason"), REMOVAL_REASON_ALIASES, "removal_reason",
                                     "移出原因", problems)
        for key in SHORT_FIELDS:
            self._bound(values, key, MAX_SHORT_FIELD_LENGTH, problems)
        for key in TEXT_FIELDS:
            self._bound(values, key, MAX_TEXT_LENGTH, problems)

        if problems or not (spec and subject_type and name and decision_date):
            return None
        return _Checked(name=name, subject_type=subject_type, spec=spec, decision_date=decision_date,
                        publish_from=publish_from, publish_until=publish_until, open_ended=open_ended,
                        status=status, removal_date=removal_date, removal_reason=removal_reason)

    def _build(self, values: dict[str, str | None], checked: _Checked,
               problems: list[Problem]) -> ValidRow | list[Problem]:
        """The public entry (PublicEntry fields, masked by the policy) from a checked row; identifier
        problems found here reject the row too."""
        name, subject_type, spec, decision_date = checked.name, checked.subject_type, checked.spec, checked.decision_date
        rules = self.policy.rules_for(spec.code, subject_type)
        is_person = subject_type == PERSON
        entry: dict[str, Any] = {}
        ids = self._identifiers(values, subject_type, rules, problems)
        if problems:
            return problems
        shown_name = mask_person_name(name, rules.person_name) if is_person else name
        decision_no = values.get("decision_no")
        # Persons are identified in the id by the keyed digest of their number, which reveals nothing; it
        # changes only if the HMAC key is rotated (person pages are noindex, so few links depend on them).
        subject_code = ids["uscc"] or ids["reg_no"] or ids["id_digest"] or ""
        # A person's id is built from the 张*三 form of the name: the id is public, and a hash of the full
        # name would let anyone recover a name the policy masks by trying the few thousand common characters.
        id_name = mask_person_name(name, "middle") if is_person else name
        entry["id"] = entry_id(spec.code, id_name, subject_code, decision_no or "", decision_date.isoformat())
        entry["list_code"] = spec.code
        entry["list_name"] = spec.name
        entry["list_kind"] = spec.kind.value
        entry["subject_name"] = shown_name
        entry["subject_type"] = subject_type
        entry["is_person"] = is_person
        entry["uscc"] = ids["uscc"]
        entry["reg_no"] = ids["reg_no"]
        entry["id_type"] = ids["id_type"]
        entry["id_number"] = ids["id_number"]
        legal_rep = values.get("legal_rep")
        entry["legal_rep"] = mask_person_name(legal_rep, rules.legal_rep_name) if legal_rep else None
        entry["legal_rep_id_type"] = ids["legal_rep_id_type"]
        entry["legal_rep_id_number"] = ids["legal_rep_id_number"]
        entry["facts"] = values.get("facts")
        entry["basis"] = values.get("basis")
        entry["decision_no"] = decision_no
        entry["authority"] = values.get("authority")
        entry["decision_date"] = decision_date.isoformat()
        entry["notice_until"] = None
        entry["publish_from"] = None
        entry["publish_until"] = None
        entry["region"] = values.get("region")
        phone = values.get("phone")
        entry["phone"] = mask_phone(phone, rules) if phone else None
        address = values.get("address")
        entry["address"] = (mask_address(address, rules.person_address if is_person else rules.org_address)
                            if address else None)
        entry["status"] = None
        entry["details"] = self._details(values, rules, problems)
        if problems:
            return problems
        entry["id_digest"] = ids["id_digest"]
        entry["legal_rep_id_digest"] = ids["legal_rep_id_digest"]
        entry["uscc_digest"] = ids["uscc_digest"]
        entry["source"] = None
        subject_key = None if spec.kind is ListKind.DECISION else subject_keys(
            is_person=is_person, is_organisation=subject_type == ORGANISATION, name=name, uscc=ids["uscc"],
            reg_no=ids["reg_no"], org_code=values.get("org_code"), id_digest=ids["id_digest"],
            legal_rep_digest=ids["legal_rep_id_digest"])
        return ValidRow(entry=entry, spec=spec, decision_date=decision_date, publish_from=checked.publish_from,
                        publish_until=checked.publish_until, open_ended=checked.open_ended, status=checked.status,
                        removal_date=checked.removal_date, removal_reason=checked.removal_reason,
                        subject_key=subject_key)

    # --- pieces -------------------------------------------------------------------------------------

    def _subject_type(self, value: str | None, problems: list[Problem]) -> str | None:
        if not value:
            problems.append(Problem("subject_type", "缺少主体类别", "subject type is missing"))
            return None
        found = SUBJECT_TYPE_ALIASES.get(value.strip().lower()) or SUBJECT_TYPE_ALIASES.get(value.strip())
        if not found:
            problems.append(Problem("subject_type", f"无法识别的主体类别（{len(value)}个字符），应为法人及非法人组织、个体工商户或自然人",
                                    f"unknown subject type ({len(value)} characters)"))
        return found

    def _list(self, values: dict[str, str | None], problems: list[Problem]) -> ListSpec | None:
        code, name = values.get("list_code"), values.get("list_name")
        if not code and not name:
            if self.implied_spec:
                return self.implied_spec
            problems.append(Problem("list_name", "缺少名单名称或名单代码", "list name or code is missing"))
            return None
        spec = self.catalogue.find(code) or self.catalogue.find(name)
        if spec is None:
            field = "list_code" if code else "list_name"
            size = len(code or name or "")
            problems.append(Problem(field, f"名单（{size}个字符）不在名单目录中", f"list ({size} characters) is not in the catalogue"))
        return spec

    def _date(self, values: dict[str, str | None], key: str, label: str, problems: list[Problem], *,
              required: bool = False) -> date | None:
        value = values.get(key)
        if not value:
            if required:
                problems.append(Problem(key, f"缺少{label}", f"{key} is missing"))
            return None
        try:
            return parse_date(value)
        except DateError as exc:
            problems.append(Problem(key, f"{label}：{exc.zh}", f"{key}: {exc.en}"))
            return None

    @staticmethod
    def _alias(value: str | None, aliases: dict[str, str], key: str, label: str,
               problems: list[Problem]) -> str | None:
        if not value:
            return None
        found = aliases.get(value.strip())
        if found is None:
            problems.append(Problem(key, f"无法识别的{label}（{len(value)}个字符）", f"unknown {key} ({len(value)} characters)"))
        return found

    @staticmethod
    def _bound(values: dict[str, str | None], key: str, limit: int, problems: list[Problem]) -> None:
        value = values.get(key)
        if value and len(value) > limit:
            problems.append(Problem(key, f"内容过长（{len(value)}字，上限{limit}字）",
                                    f"too long ({len(value)} characters, limit {limit})"))

    def _identifiers(self, values: dict[str, str | None], subject_type: str, rules: Any,
                     problems: list[Problem]) -> dict[str, Any]:
        out: dict[str, Any] = dict.fromkeys(
            ("uscc", "reg_no", "id_type", "id_number", "legal_rep_id_type", "legal_rep_id_number", "id_digest",
             "legal_rep_id_digest", "uscc_digest"))
        raw_uscc, raw_reg = values.get("uscc"), values.get("reg_no")
        if raw_uscc:
            try:
                out["uscc"] = normalise_uscc(raw_uscc)
                out["uscc_digest"] = self.digester.digest(out["uscc"])
            except IdentifierError as exc:
                problems.append(Problem("uscc", exc.zh, exc.en))
        if raw_reg:
            try:
                out["reg_no"] = normalise_reg_no(raw_reg)
            except IdentifierError as exc:
                problems.append(Problem("reg_no", exc.zh, exc.en))
        if subject_type != PERSON and not raw_uscc and not raw_reg:
            problems.append(Problem("uscc", "法人及非法人组织和个体工商户须填写统一社会信用代码（或注册号）",
                                    "organisations and individual businesses need a USCC (or registration number)"))
        raw_id = values.get("id_number")
        if subject_type == PERSON:
            if not raw_id:
                problems.append(Problem("id_number", "自然人须填写证件号码", "natural persons need an ID number"))
            else:
                self._person_id(values.get("id_type"), raw_id, "id", rules, out, problems)
        rep_id = values.get("legal_rep_id_number")
        if rep_id:
            self._person_id(values.get("legal_rep_id_type"), rep_id, "legal_rep_id", rules, out, problems)
        return out

    def _person_id(self, raw_type: str | None, raw_number: str, prefix: str, rules: Any, out: dict[str, Any],
                   problems: list[Problem]) -> None:
        id_type = normalise_id_type(raw_type, raw_number)
        field = "id_number" if prefix == "id" else "legal_rep_id_number"
        try:
            number = normalise_id_number(id_type, raw_number)
        except IdentifierError as exc:
            problems.append(Problem(field, exc.zh, exc.en))
            return
        is_resident = id_type == RESIDENT_ID
        out[f"{prefix}_type"] = id_type
        out[field] = mask_id_number(number, is_resident, rules)
        out[f"{prefix}_digest"] = self.digester.digest(number)

    def _details(self, values: dict[str, str | None], rules: Any, problems: list[Problem]) -> dict[str, str]:
        details: dict[str, str] = {}
        for key, value in values.items():
            if key in CORE_KEYS or not value:
                continue
            if len(value) > MAX_DETAIL_LENGTH:
                problems.append(Problem(key, f"内容过长（{len(value)}字，上限{MAX_DETAIL_LENGTH}字）",
                                        f"too long ({len(value)} characters, limit {MAX_DETAIL_LENGTH})"))
                continue
            details[key] = mask_middle(value, rules.other_id) if key in MASKED_DETAIL_KEYS else value
        bank = values.get("bank_account")
        if bank:
            details["bank_account"] = mask_middle("".join(bank.split()), rules.bank_account)
        return details
