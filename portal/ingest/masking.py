"""The masking policy: the one place where personal data is turned into its public form."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from portal.settings import MASKING_FILE

MASK = "*"
_COUNTY_RE = re.compile(
    r"^((?:[^省]{2,7}省|[^区]{2,12}自治区|北京市|天津市|上海市|重庆市)?"  # province or municipality
    r"(?:.{1,8}?(?:自治州|市|盟|地区))?"  # prefecture-level city
    r".{1,8}?(?:自治县|区|县|旗|市))"  # county / district / county-level city
)


@dataclass(frozen=True)
class Keep:
    start: int
    end: int

    @classmethod
    def parse(cls, raw: dict[str, int]) -> Keep:
        return cls(int(raw["keep_start"]), int(raw["keep_end"]))


@dataclass(frozen=True)
class MaskingRules:
    resident_id: Keep
    other_id: Keep
    phone: Keep
    bank_account: Keep
    person_address: str
    org_address: str
    person_name: str
    legal_rep_name: str


def mask_middle(value: str, keep: Keep) -> str:
    """Keep the ends, star the middle; values too short to keep both ends keep only the last character."""
    n = len(value)
    if n <= keep.start + keep.end:
        return MASK * (n - 1) + value[-1:] if n > 1 else MASK
    return value[: keep.start] + MASK * (n - keep.start - keep.end) + value[n - keep.end:]


def mask_id_number(value: str, is_resident_id: bool, rules: MaskingRules) -> str:
    return mask_middle(value, rules.resident_id if is_resident_id else rules.other_id)


def mask_phone(value: str, rules: MaskingRules) -> str:
    digits = "".join(ch for ch in value if ch.isdigit())
    return mask_middle(digits or value, rules.phone)


def mask_person_name(name: str, style: str) -> str:
    """"full" keeps the name; "middle": 王伟 → 王*, 张小三 → 张*三, 欧阳娜娜 → 欧**娜."""
    if style == "full" or len(name) < 2:
        return name
    if len(name) == 2:
        return name[0] + MASK
    return name[0] + MASK * (len(name) - 2) + name[-1]


def mask_address(address: str, style: str) -> str | None:
    if style == "full":
        return address
    if style == "none":
        return None
    match = _COUNTY_RE.match(address)
    if match and len(match.group(1)) < len(address):
        return match.group(1) + "***"
    return "***"


@dataclass(frozen=True)
class MaskingPolicy:
    version: str
    default: MaskingRules
    overrides: tuple[tuple[str | None, str | None, tuple[tuple[str, Any], ...]], ...]

    _cache: dict[tuple[str, str], MaskingRules] = field(default_factory=dict, compare=False, hash=False)

    def rules_for(self, list_code: str, subject_type: str) -> MaskingRules:
        """The rules for one list and subject type (cached: called once per imported row)."""
        cached = self._cache.get((list_code, subject_type))
        if cached is not None:
            return cached
        rules = self.default
        for code, subject, changes in self.overrides:
            if code in (None, list_code) and subject in (None, subject_type):
                rules = replace(rules, **dict(changes))
        self._cache[(list_code, subject_type)] = rules
        return rules


def _parse_rules(raw: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("list_code", "subject_type"):
            continue
        if key == "scrub_free_text":
            # Older policy files had this switch. Scrubbing is the privacy invariant (portal/ingest/scrub.py): it
            # cannot be turned off per list, so only ``true`` is accepted.
            if value is not True:
                raise ValueError("masking policy: scrub_free_text cannot be turned off (identifiers in text "
                                 "are always masked, portal/ingest/scrub.py)")
            continue
        if key not in MaskingRules.__dataclass_fields__:
            raise ValueError(f"masking policy: unknown rule {key!r}")
        parsed[key] = Keep.parse(value) if isinstance(value, dict) else value
    return parsed


@lru_cache(maxsize=4)
def load_policy(path: Path = MASKING_FILE) -> MaskingPolicy:
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    default = MaskingRules(**_parse_rules(raw["default"]))
    overrides = tuple((o.get("list_code"), o.get("subject_type"), tuple(sorted(_parse_rules(o).items())))
                      for o in raw.get("override", []))
    return MaskingPolicy(version=str(raw.get("version", "")), default=default, overrides=overrides)
