"""Building the rows of one department file: subject, list, lifecycle dates, free text, dirt, defects."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from portal.public.catalogue import Catalogue, ListSpec
from portal.sample import texts
from portal.sample.departments import (
    CSV_GBK,
    CSV_UTF8,
    DATE_CN,
    DATE_EXCEL,
    DATE_ISO,
    DATE_SLASH,
    DATE_SLASH_PADDED,
    XLSX,
    Authority,
    FileSpec,
)
from portal.sample.draw import Weighted, between, pick
from portal.sample.identifiers import break_ric, break_uscc, make_uscc
from portal.sample.lifecycle import PUBLISHED, StateDeck, plan_dates, states_for
from portal.sample.subjects import (
    INDIVIDUAL_BUSINESS,
    ORG,
    PERSON,
    RESIDENT_ID,
    SUBJECT_TYPE_LABEL,
    Subject,
    SubjectFactory,
)

# Defects that make a row invalid (each invalid row has exactly one).
BAD_USCC_CHECK = "bad_uscc_check"
BAD_ID_CHECK = "bad_id_check"
MISSING_NAME = "missing_name"
MISSING_SUBJECT_TYPE = "missing_subject_type"
BAD_DATE = "bad_date"
UNKNOWN_LIST = "unknown_list"
OVERLONG_TEXT = "overlong_text"
INVALID_KINDS: tuple[str, ...] = (BAD_USCC_CHECK, BAD_ID_CHECK, MISSING_NAME, MISSING_SUBJECT_TYPE, BAD_DATE,
                                  UNKNOWN_LIST, OVERLONG_TEXT)
OVERLONG_NAME_LENGTH = 240  # beyond any sane name limit (portal.settings.MAX_NAME_LENGTH is 200)

# Dirt that an importer must clean, not reject (valid rows and invalid rows alike).
SHARED_SUBJECT_SHARE = 0.04  # a subject already on another list (same name and code)
STRAY_SPACE_SHARE = 0.03
CONTROL_CHAR_SHARE = 0.01
FULL_WIDTH_SHARE = 0.01
TAB_PREFIX_SHARE = 0.02  # Excel users prefix long numbers with a tab so they stay text
MULTILINE_FACTS_SHARE = 0.02
SHORT_ID_TYPE_SHARE = 0.3  # 证件类型 written 身份证 in the 双公示 template
REG_NO_ONLY_SHARE = 0.015  # enterprises without a USCC, identified by their old registration number

# openpyxl refuses C0 control characters other than tab/newline in cells; XLSX exports carry
# zero-width spaces and stray BOMs instead.
CSV_CONTROL_CHARS = ("\x07", "\x08", "\x0b", "\x1b", "\x7f", "\u200b", "\ufeff")
XLSX_CONTROL_CHARS = ("\u200b", "\ufeff")
FULL_WIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-"})
STRAY_SPACES = (" {}", "{} ", "\u3000{}", "{}  ", " {} ")

DateFormatter = Callable[[date], object]
DATE_FORMATTERS: dict[str, DateFormatter] = {
    DATE_CN: lambda d: f"{d.year}年{d.month}月{d.day}日",
    DATE_SLASH: lambda d: f"{d.year}/{d.month}/{d.day}",
    DATE_SLASH_PADDED: lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    DATE_ISO: date.isoformat,
}
DATE_KEYS = ("decision_date", "publish_from", "publish_until", "removal_date", "valid_from", "valid_until")


def date_formatter(style: str, fmt: str) -> DateFormatter:
    if style == DATE_EXCEL:
        return (lambda d: d) if fmt == XLSX else date.isoformat
    return DATE_FORMATTERS[style]


def applicable_kinds(spec: FileSpec, catalogue: Catalogue) -> tuple[str, ...]:
    """Defects a file can carry: a bad ID check digit needs persons and an ID column, and so on."""
    kinds = set(spec.subjects)
    admitted = {kind for code in kinds for kind, _ in spec.subjects[code]}
    keys = spec.keys
    possible = {MISSING_NAME, MISSING_SUBJECT_TYPE, BAD_DATE, OVERLONG_TEXT}
    if "uscc" in keys and admitted & {ORG, INDIVIDUAL_BUSINESS}:
        possible.add(BAD_USCC_CHECK)
    if "id_number" in keys and PERSON in admitted:
        possible.add(BAD_ID_CHECK)
    if "list_name" in keys:
        possible.add(UNKNOWN_LIST)
    return tuple(k for k in INVALID_KINDS if k in possible)


class SharedSubjects:
    """Subjects that appear on several lists (and on a black and a red list at once: the conflict rule)."""

    def __init__(self, factory: SubjectFactory, rows: int) -> None:
        self.orgs = [factory.organisation(ORG, clean=True) for _ in range(max(4, min(400, rows // 150)))]
        self.persons = [factory.person(clean=True) for _ in range(max(3, min(200, rows // 300)))]

    def first(self, kind: str) -> Subject:
        return self.persons[0] if kind == PERSON else self.orgs[0]

    def pick(self, rng: random.Random, kind: str) -> Subject | None:
        if kind == PERSON:
            return pick(rng.random, self.persons)
        return pick(rng.random, self.orgs) if kind == ORG else None


class RowBuilder:
    """Builds the cells of one department file, row by row, from one seeded ``random.Random``."""

    def __init__(self, spec: FileSpec, catalogue: Catalogue, factory: SubjectFactory, shared: SharedSubjects,
                 rng: random.Random, as_of: date, fmt: str) -> None:
        self.spec = spec
        self.rng = rng
        self.factory = factory
        self.shared = shared
        self.as_of = as_of
        self.keys = [key for _, key in spec.columns]
        self.blanks = [""] * len(self.keys)
        self.key_set = spec.keys
        self.contacts = bool(self.key_set & {"address", "phone"})
        self.bank = "bank_account" in self.key_set
        self.is_template = "penalty_type" in self.key_set
        self.random = rng.random
        self.lists: list[ListSpec] = [catalogue.by_code(code) for code, _ in spec.lists]
        self.list_draw = Weighted([(s, w) for s, (_, w) in zip(self.lists, spec.lists, strict=True)])
        self.kind_draw = {code: Weighted(mix) for code, mix in spec.subjects.items()}
        self.category_draw = Weighted(texts.PENALTY_CATEGORIES)
        has_until, has_from = "publish_until" in self.key_set, "publish_from" in self.key_set
        self.has_until, self.has_from = has_until, has_from
        self.decks = {s.code: StateDeck(rng, states_for(s, spec.has_status, has_until)) for s in self.lists}
        self.fmt_date = date_formatter(spec.date_style, fmt)
        self.control_chars = XLSX_CONTROL_CHARS if fmt == XLSX else CSV_CONTROL_CHARS
        self.tab_prefix = fmt in (CSV_GBK, CSV_UTF8)
        self.authority_uscc = {a.name: make_uscc(rng, factory.serials, "11", "511700") for a in spec.authorities}

    # --- choosing list and subject ----------------------------------------------------------------------

    def _pick_list(self, need: tuple[str, ...] | None) -> tuple[ListSpec, str]:
        """A list by its weight and a subject kind by the list's mix; ``need`` restricts the kinds."""
        random_, spec = self.random, self.spec
        if need is None:
            chosen = self.list_draw.draw(random_)
            return chosen, self.kind_draw[chosen.code].draw(random_)
        candidates = [s for s in self.lists if any(kind in need for kind, _ in spec.subjects[s.code])]
        chosen = pick(random_, candidates)
        mix = [(kind, w) for kind, w in spec.subjects[chosen.code] if kind in need]
        return chosen, Weighted(mix).draw(random_)

    # --- one row ----------------------------------------------------------------------------------------

    def build(self, index: int, defect: str | None, forced: tuple[str, str] | None = None
              ) -> tuple[list[object], str | None]:
        """Cells of row ``index`` (0-based) and the lifecycle state it was built for (None if invalid).

        ``forced`` = (list code, subject kind): a clean, published row of the first shared subject of that
        kind, so that it is on several lists (black and red at once) in every run, however small.
        """
        rng = self.rng
        if forced:
            code, kind = forced
            list_spec = next(s for s in self.lists if s.code == code)
            subject = self.shared.first(kind)
            state: str | None = PUBLISHED
        else:
            need = {BAD_USCC_CHECK: (ORG, INDIVIDUAL_BUSINESS), BAD_ID_CHECK: (PERSON,)}.get(defect or "")
            list_spec, kind = self._pick_list(need)
            shared = self.random() < SHARED_SUBJECT_SHARE and defect is None
            picked = self.shared.pick(rng, kind) if shared else None
            if picked is not None:
                subject = picked
            elif defect == BAD_ID_CHECK:
                subject = self.factory.person(resident_id_only=True, contacts=self.contacts, bank=self.bank)
            else:
                subject = self.factory.make(kind, contacts=self.contacts, bank=self.bank)
            state = None if defect else self.decks[list_spec.code].deal()
        row = self._values(index, list_spec, subject, state or PUBLISHED)
        if defect:
            self._break(row, defect, subject)
        if forced is None:
            self._dirty(row)
        fmt_date = self.fmt_date
        for key in DATE_KEYS:
            value = row.get(key)
            if isinstance(value, date):
                row[key] = fmt_date(value)
        # a None key (unused column) gives ""; cast: mypy cannot pick dict.get's overload for map()
        return list(map(cast(Callable[[Any, str], Any], row.get), self.keys, self.blanks)), state

    def _values(self, index: int, list_spec: ListSpec, subject: Subject, state: str) -> dict[str, object]:
        rng, spec, random_ = self.rng, self.spec, self.random
        authority: Authority = pick(random_, spec.authorities)
        period = list_spec.period
        category = offence = ""
        if list_spec.code == "XZCF":
            offence = pick(random_, texts.OFFENCES)
            category = self.category_draw.draw(random_)
            if category in texts.SHORT_PERIOD_CATEGORIES and list_spec.short_period:
                period = list_spec.short_period
        dates = plan_dates(rng, state, list_spec, period, self.as_of, self.has_from, self.has_until)
        year = dates.decision.year
        row: dict[str, object] = {
            "seq": index + 1,
            "subject_name": subject.name,
            "subject_type": SUBJECT_TYPE_LABEL[subject.kind],
            "list_code": list_spec.code,
            "facts": texts.fill(rng, pick(random_, texts.FACTS[list_spec.code]), authority.name, year - 1,
                                offence),
            "basis": pick(random_, texts.BASIS[list_spec.code]),
            "decision_no": self._decision_no(authority, list_spec.code, year),
            "authority": authority.name,
            "decision_date": dates.decision,
            "publish_from": dates.publish_from,
            "publish_until": dates.publish_until,
            "removal_date": dates.removal,
            "status": dates.status,
            "removal_reason": dates.removal_reason,
            "region": subject.region,
        }
        names = spec.list_names.get(list_spec.code)
        if names:
            row["list_name"] = pick(random_, names)
        if subject.kind == PERSON:
            row["id_type"] = subject.id_type
            row["id_number"] = subject.id_number
            if subject.id_type == RESIDENT_ID and self.is_template and rng.random() < SHORT_ID_TYPE_SHARE:
                row["id_type"] = "身份证"
            if rng.random() < 0.5:
                row["address"] = subject.address
            if rng.random() < 0.6:
                row["phone"] = subject.phone
        else:
            row["uscc"] = subject.uscc
            row["legal_rep"] = subject.legal_rep
            row["legal_rep_id_type"] = subject.legal_rep_id_type
            row["legal_rep_id_number"] = subject.legal_rep_id_number
            row["address"] = subject.address
            row["phone"] = subject.phone
        if self.bank and rng.random() < (0.3 if subject.kind == PERSON else 0.6):
            row["bank_name"] = rng.choice(texts.BANKS)
            row["bank_account"] = subject.bank_account
        if category:
            self._penalty(row, subject, authority, category, offence, dates.publish_until)
        if list_spec.code == "XZXK":
            self._licence(row, authority, dates.decision)
        return row

    def _decision_no(self, authority: Authority, code: str, year: int) -> str:
        random_ = self.random
        if authority.court_code:
            return f"（{year}）川{authority.court_code}执{between(random_, 1, 4999)}号"
        if code == "XZCF":
            return f"{authority.abbreviation}罚〔{year}〕{between(random_, 1, 999)}号"
        if code == "XZXK":
            return f"{authority.abbreviation}许〔{year}〕{between(random_, 1, 999)}号"
        if code in ("CXSFQY", "CXGR"):  # honours are announced in a few batch documents a year
            return f"{authority.abbreviation}〔{year}〕{pick(random_, (12, 48, 87))}号"
        return f"{authority.abbreviation}信〔{year}〕{between(random_, 1, 999)}号"

    def _penalty(self, row: dict[str, object], subject: Subject, authority: Authority, category: str,
                 offence: str, until: date | None) -> None:
        rng = self.rng
        fine = f"{rng.randint(1, 5000) / 100:g}" if "罚款" in category else ""
        row["penalty_type"] = offence
        row["penalty_category"] = category
        row["penalty_content"] = (f"罚款人民币{float(fine) * 10000:.0f}元" if fine else category)
        row["fine_amount"] = fine
        row["confiscated_amount"] = f"{rng.randint(1, 900) / 100:g}" if "没收" in category else ""
        if "许可证件" in category:
            row["licence_suspended"] = f"食品经营许可证JY1{rng.randrange(10**13):013d}"
        row["penalty_validity"] = self.fmt_date(until) if until and rng.random() < 0.5 else ""
        row["authority_uscc"] = row["data_source_uscc"] = self.authority_uscc[authority.name]
        row["data_source"] = authority.name
        row["remarks"] = "" if rng.random() < 0.8 else "无"
        if subject.kind != PERSON:
            if rng.random() < REG_NO_ONLY_SHARE:
                row["reg_no"] = f"5117{rng.randrange(10**11):011d}"
                row["uscc"] = ""
            elif rng.random() < 0.25:
                row["org_code"] = subject.uscc[8:17]

    def _licence(self, row: dict[str, object], authority: Authority, decided: date) -> None:
        """The licence columns of the 行政许可 template; valid until a day after ``as_of`` (it is public while
        the licence is valid, and ingest takes 有效期至 as the end of publication)."""
        rng, random_ = self.rng, self.random
        certificate, content, category, prefix = pick(random_, texts.LICENCES)
        row["licence_doc_name"] = "准予行政许可决定书"
        row["licence_category"] = category
        row["licence_cert_name"] = certificate
        row["licence_no"] = f"{prefix}{rng.randrange(10**8):08d}"
        row["licence_content"] = content
        row["valid_from"] = decided
        row["valid_until"] = date.fromordinal(self.as_of.toordinal() + between(random_, 30, 1500))
        row["current_status"] = "有效"
        row["authority_uscc"] = row["data_source_uscc"] = self.authority_uscc[authority.name]
        row["data_source"] = authority.name
        row["remarks"] = ""

    # --- defects and dirt ------------------------------------------------------------------------------

    def _break(self, row: dict[str, object], defect: str, subject: Subject) -> None:
        rng = self.rng
        if defect == BAD_USCC_CHECK:
            row["uscc"] = break_uscc(rng, subject.uscc)
            row.pop("reg_no", None)
        elif defect == BAD_ID_CHECK:
            row["id_number"] = break_ric(rng, subject.id_number)
        elif defect == MISSING_NAME:
            row["subject_name"] = rng.choice(("", " ", "\u3000"))
        elif defect == MISSING_SUBJECT_TYPE:
            row["subject_type"] = ""
        elif defect == BAD_DATE:
            row["decision_date"] = rng.choice(texts.BAD_DATES)
        elif defect == UNKNOWN_LIST:
            row["list_name"] = rng.choice(texts.UNKNOWN_LISTS)
            row["list_code"] = ""
        elif defect == OVERLONG_TEXT:  # the facts pasted into the name cell
            name = f"{subject.name}（{row['facts']}）"
            while len(name) <= OVERLONG_NAME_LENGTH:
                name += str(row["facts"])
            row["subject_name"] = name

    def _dirty(self, row: dict[str, object]) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < STRAY_SPACE_SHARE:
            row["subject_name"] = rng.choice(STRAY_SPACES).format(row["subject_name"])
        elif roll < STRAY_SPACE_SHARE + CONTROL_CHAR_SHARE:
            name = str(row["subject_name"])
            at = rng.randint(1, max(1, len(name) - 1))
            row["subject_name"] = name[:at] + rng.choice(self.control_chars) + name[at:]
        roll = rng.random()
        if roll < CONTROL_CHAR_SHARE:
            row["facts"] = f"{row['facts']}{rng.choice(self.control_chars)}"
        elif roll < CONTROL_CHAR_SHARE + MULTILINE_FACTS_SHARE:
            row["facts"] = f"{row['facts']}\n特此公告。"
        roll = rng.random()
        if roll < FULL_WIDTH_SHARE and row.get("uscc"):
            row["uscc"] = str(row["uscc"]).translate(FULL_WIDTH)
        elif roll < 2 * FULL_WIDTH_SHARE and row.get("phone"):
            row["phone"] = str(row["phone"]).translate(FULL_WIDTH)
        elif roll < 2 * FULL_WIDTH_SHARE + TAB_PREFIX_SHARE and self.tab_prefix and row.get("id_number"):
            row["id_number"] = f"\t{row['id_number']}"
