"""Subjects of list entries: enterprises, individual businesses (个体工商户) and natural persons."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from portal.public.records import SubjectType
from portal.sample.identifiers import (
    BIRTH_FIRST,
    RIC_SPACE,
    UniqueSerials,
    make_bank_account,
    make_hk_macao_pass,
    make_landline,
    make_mobile,
    make_passport,
    make_ric,
    make_ric15,
    make_uscc,
)
from portal.sample.pools import DAZHOU_CITY, Pools

ORG = "org"
INDIVIDUAL_BUSINESS = "individual_business"
PERSON = "person"
SUBJECT_TYPE_LABEL = {
    ORG: SubjectType.ORGANISATION.value,
    INDIVIDUAL_BUSINESS: SubjectType.INDIVIDUAL_BUSINESS.value,
    PERSON: SubjectType.PERSON.value,
}
RESIDENT_ID = "居民身份证"
HK_MACAO_PASS = "港澳居民来往内地通行证"
PASSPORT = "护照"

TRADITIONAL_ORG_SHARE = 0.03  # older department systems exporting 達州市…有限公司
TRADITIONAL_PERSON_SHARE = 0.015
# First-generation 15-digit numbers (valid, to be upgraded on import): 3 % of all, all born by 1980.
LEGACY_LAST_BIRTH_YEAR = 1980
LEGACY_ID_SHARE_OF_OLDER = 0.05
OTHER_DOCUMENT_SHARE = 0.02  # persons identified by a pass or passport instead of a 居民身份证
TWO_CHAR_NAME_SHARE = 0.45  # 王伟, 李娜: the names citizens search for most


@dataclass(slots=True)
class Subject:
    kind: str  # ORG | INDIVIDUAL_BUSINESS | PERSON
    name: str
    uscc: str = ""
    reg_no: str = ""  # old registration number for enterprises that never got a USCC
    id_type: str = ""
    id_number: str = ""
    legal_rep: str = ""
    legal_rep_id_type: str = ""
    legal_rep_id_number: str = ""
    region: str = ""  # county/district name
    address: str = ""
    phone: str = ""
    bank_account: str = ""


class SubjectFactory:
    """Builds subjects from the pools with one seeded ``random.Random``.

    Contact details (address, phone, bank account) cost as much as the identity itself, so they are
    drawn only when asked for (``contacts``, ``bank``): for files that have those columns, and for the
    shared subjects that must look the same in every file.
    """

    def __init__(self, rng: random.Random, pools: Pools, serials: UniqueSerials,
                 legal_reps: list[tuple[str, str, str]] | None = None) -> None:
        self.rng = rng
        self.random = rng.random
        self.pools = pools
        self.serials = serials
        self.legal_reps = legal_reps or []

    def legal_rep(self) -> tuple[str, str, str]:
        """(name, name in traditional characters, 18-character ID number) of a legal representative.

        Drawn from ``legal_reps`` when given (see ``make_legal_reps``): one person often represents several
        enterprises, and reusing them halves the cost of an enterprise row.
        """
        if self.legal_reps:
            return self._pick(self.legal_reps)
        simplified, traditional = self.person_name_pair()
        return simplified, traditional, self.resident_id(allow_legacy=False)

    def make_legal_reps(self, count: int) -> list[tuple[str, str, str]]:
        return [self.legal_rep() for _ in range(count)]

    def _pick(self, seq: Sequence[Any]) -> Any:
        return seq[int(self.random() * len(seq))]

    # --- persons --------------------------------------------------------------------------------------

    def person_name_pair(self) -> tuple[str, str]:
        """A person's name in simplified and in traditional characters."""
        p, random_ = self.pools, self.random
        roll = random_()
        surnames = p.compound_surnames if roll >= 0.98 else p.surnames
        givens = p.given_1 if roll < TWO_CHAR_NAME_SHARE or roll >= 0.98 else p.given_2
        surname = surnames[int(random_() * len(surnames))]
        given = givens[int(random_() * len(givens))]
        return surname[0] + given[0], surname[1] + given[1]

    def person_name(self, traditional: bool = False) -> str:
        return self.person_name_pair()[int(traditional)]

    def resident_id(self, allow_legacy: bool = True) -> str:
        """A 居民身份证 number never issued before in this run; some older people keep a 15-digit one."""
        n = self.serials.next(RIC_SPACE)
        born = date.fromordinal(BIRTH_FIRST + n // 1000)
        regions = self.pools.id_regions[born.year]
        region = regions[int(self.random() * len(regions))]
        if allow_legacy and born.year <= LEGACY_LAST_BIRTH_YEAR and self.random() < LEGACY_ID_SHARE_OF_OLDER:
            return make_ric15(region, f"{born.year % 100:02d}{born.month:02d}{born.day:02d}", n % 1000)
        return make_ric(region, f"{born.year}{born.month:02d}{born.day:02d}", n % 1000)

    def person(self, *, resident_id_only: bool = False, clean: bool = False, contacts: bool = True,
               bank: bool = True) -> Subject:
        """A natural person; ``resident_id_only`` gives an 18-character 居民身份证 number (never legacy)."""
        rng = self.rng
        traditional = not clean and self.random() < TRADITIONAL_PERSON_SHARE
        roll = 1.0 if (resident_id_only or clean) else self.random()
        if roll < OTHER_DOCUMENT_SHARE * 0.6:
            id_type, id_number = HK_MACAO_PASS, make_hk_macao_pass(rng)
        elif roll < OTHER_DOCUMENT_SHARE:
            id_type, id_number = PASSPORT, make_passport(rng)
        else:
            id_type, id_number = RESIDENT_ID, self.resident_id(allow_legacy=not (resident_id_only or clean))
        (district, _), _code = self._pick(self.pools.districts)
        subject = Subject(kind=PERSON, name=self.person_name(traditional), id_type=id_type, id_number=id_number,
                          region=district)
        if contacts:
            subject.address = self.person_address(district)
            subject.phone = make_mobile(rng)
        if bank:
            subject.bank_account = make_bank_account(rng, corporate=False)
        return subject

    def person_address(self, district: str) -> str:
        random_, pick = self.random, self._pick
        place = pick(self.pools.other_places) if random_() < 0.25 else f"四川省达州市{district}"
        return (f"{place}{pick(self.pools.streets)}{1 + int(random_() * 399)}号{1 + int(random_() * 30)}栋"
                f"{1 + int(random_() * 4)}单元{1 + int(random_() * 32)}0{1 + int(random_() * 6)}室")

    # --- organisations --------------------------------------------------------------------------------

    def organisation(self, kind: str = ORG, *, clean: bool = False, contacts: bool = True,
                     bank: bool = True) -> Subject:
        # The hot path of a million-row run: draws are inlined as seq[int(r() * len(seq))].
        rng, p, r = self.rng, self.pools, self.random
        t = int(not clean and r() < TRADITIONAL_ORG_SHARE)
        (district, district_t), district_code = p.districts[int(r() * len(p.districts))]
        local = (district, district_t)[t]
        trade = p.trade_names[int(r() * len(p.trade_names))][t]
        if kind == INDIVIDUAL_BUSINESS:
            if r() < 0.4:  # 王记…
                trade = p.surnames[int(r() * len(p.surnames))][t] + "记"
            name = local + trade + p.shop_kinds[int(r() * len(p.shop_kinds))][t]
            prefix, region_code = "92", district_code
        elif r() < 0.06:
            name = local + trade + p.coop_kinds[int(r() * len(p.coop_kinds))][t]
            prefix, region_code = "93", district_code
        else:
            if r() < 0.35:
                place, region_code = local, district_code
            else:
                place, region_code = p.city_prefixes[int(r() * len(p.city_prefixes))][t], DAZHOU_CITY[1]
            if not place and len(trade) < 4:
                place = ("达州", "達州")[t]  # keep names at 10+ characters
            industry = p.industries[int(r() * len(p.industries))][t]
            name = place + trade + industry + p.forms[int(r() * len(p.forms))][t]
            prefix = "91"
        rep_name, rep_name_traditional, rep_id = self.legal_rep()
        subject = Subject(
            kind=kind, name=name, uscc=make_uscc(rng, self.serials, prefix, region_code),
            legal_rep=rep_name_traditional if t and r() < 0.5 else rep_name, legal_rep_id_type=RESIDENT_ID,
            legal_rep_id_number=rep_id, region=district,
        )
        if contacts:
            street = p.streets[int(r() * len(p.streets))]
            subject.address = f"四川省达州市{district}{street}{1 + int(r() * 999)}号"
            landline = kind != INDIVIDUAL_BUSINESS and r() < 0.15
            subject.phone = make_landline(rng) if landline else make_mobile(rng)
        if bank:
            subject.bank_account = make_bank_account(rng, corporate=kind == ORG)
        return subject

    def make(self, kind: str, *, clean: bool = False, contacts: bool = True, bank: bool = True) -> Subject:
        if kind == PERSON:
            return self.person(clean=clean, contacts=contacts, bank=bank)
        return self.organisation(kind, clean=clean, contacts=contacts, bank=bank)
