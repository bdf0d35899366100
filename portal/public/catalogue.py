"""The catalogue of lists (portal/data/lists.toml): which lists exist, their kind and periods."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from portal.public.records import ListKind
from portal.settings import CATALOGUE_FILE

SUBJECT_GROUPS = {"org": "法人及非法人组织", "individual_business": "个体工商户", "person": "自然人"}


@dataclass(frozen=True)
class Span:
    """A length of time: calendar years/months/days, or working days."""

    years: int = 0
    months: int = 0
    days: int = 0
    working: bool = False

    @classmethod
    def parse(cls, raw: dict[str, Any] | None) -> Span | None:
        if not raw:
            return None
        return cls(years=int(raw.get("years", 0)), months=int(raw.get("months", 0)),
                   days=int(raw.get("days", 0)), working=bool(raw.get("working", False)))

    def describe_zh(self) -> str:
        parts = []
        if self.years:
            parts.append(f"{self.years}年")
        if self.months:
            parts.append(f"{self.months}个月")
        if self.days:
            parts.append(f"{self.days}个{'工作日' if self.working else '自然日'}")
        return "".join(parts)


@dataclass(frozen=True)
class ListSpec:
    code: str
    kind: ListKind
    name: str
    aliases: tuple[str, ...]
    subjects: frozenset[str]  # subject types (Chinese values of SubjectType) the list admits
    notice: Span | None  # pre-publication notice; None = published at once
    period: Span | None  # publication period; None = until removed
    short_period: Span | None = None
    short_period_field: str | None = None
    short_period_values: frozenset[str] = field(default_factory=frozenset)
    max_period: Span | None = None
    objection_visible: bool = True
    basis: str = ""

    def to_public(self) -> dict[str, Any]:
        return {
            "code": self.code, "kind": str(self.kind), "name": self.name, "aliases": list(self.aliases),
            "subjects": sorted(self.subjects),
            "notice": self.notice.describe_zh() if self.notice else None,
            "period": self.period.describe_zh() if self.period else "至移出之日",
            "short_period": self.short_period.describe_zh() if self.short_period else None,
            "max_period": self.max_period.describe_zh() if self.max_period else None,
            "objection_visible": self.objection_visible, "basis": self.basis,
        }


def fold_list_name(name: str) -> str:
    """Compare list names ignoring width, spaces and brackets' style."""
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


@dataclass(frozen=True)
class Catalogue:
    version: str
    lists: tuple[ListSpec, ...]
    _by_key: dict[str, ListSpec]

    def find(self, code_or_name: str | None) -> ListSpec | None:
        if not code_or_name:
            return None
        return self._by_key.get(fold_list_name(code_or_name))

    def by_code(self, code: str) -> ListSpec:
        return self._by_key[fold_list_name(code)]

    def to_public(self) -> dict[str, Any]:
        return {"version": self.version, "lists": [spec.to_public() for spec in self.lists]}


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    specs: list[ListSpec] = []
    by_key: dict[str, ListSpec] = {}
    for item in raw["list"]:
        when = item.get("short_period_when") or {}
        spec = ListSpec(
            code=item["code"], kind=ListKind(item["kind"]), name=item["name"],
            aliases=tuple(item.get("aliases", ())),
            subjects=frozenset(SUBJECT_GROUPS[s] for s in item["subjects"]),
            notice=Span.parse(item.get("notice")), period=Span.parse(item.get("period")),
            short_period=Span.parse(item.get("short_period")),
            short_period_field=when.get("field"), short_period_values=frozenset(when.get("only", ())),
            max_period=Span.parse(item.get("max_period")),
            objection_visible=bool(item.get("objection_visible", True)), basis=item.get("basis", ""),
        )
        specs.append(spec)
        for key in (spec.code, spec.name, *spec.aliases):
            folded = fold_list_name(key)
            if folded in by_key and by_key[folded] is not spec:
                raise ValueError(f"list catalogue: {key!r} names both {by_key[folded].code} and {spec.code}")
            by_key[folded] = spec
    return Catalogue(version=str(raw.get("version", "")), lists=tuple(specs), _by_key=by_key)


@lru_cache(maxsize=4)
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    with open(path, "rb") as f:
        return parse_catalogue(tomllib.load(f))
