"""Check characters of Chinese identifiers.

We use python-stdnum's check-character functions but not ``stdnum.cn.ric.validate``: that also looks the
birth place up in stdnum's own table of county codes, which lags behind re-coded counties and would reject
real people's numbers. Our rule is: 18 characters, a real birth date, the GB 11643-1999 check digit.
"""

from __future__ import annotations

import re

from portal.public.codes import (  # re-exported: ingest and the API validate identifiers with one rule set
    REG_NO_RE,
    RIC15_RE,
    RIC18_RE,
    USCC_ALPHABET,
    USCC_RE,
    IdentifierError,
    normalise_reg_no,
    normalise_ric,
    normalise_uscc,
    ric_check_digit,
    upgrade_ric15,
    uscc_check_character,
)
from portal.public.codes import normalise_code as nfkc_compact

__all__ = ["RIC15_RE", "RIC18_RE", "USCC_ALPHABET", "USCC_RE", "IdentifierError", "REG_NO_RE", "normalise_reg_no", "normalise_ric", "normalise_uscc",
           "ric_check_digit", "uscc_check_character", "upgrade_ric15"]

OTHER_ID_RE = re.compile(r"^[0-9A-Z()\-]{5,24}$")

RESIDENT_ID = "居民身份证"
ID_TYPE_ALIASES = {
    "居民身份证": RESIDENT_ID, "身份证": RESIDENT_ID, "中华人民共和国居民身份证": RESIDENT_ID, "身份证号": RESIDENT_ID,
    "居民身份证号码": RESIDENT_ID, "二代身份证": RESIDENT_ID,
    "港澳居民来往内地通行证": "港澳居民来往内地通行证", "回乡证": "港澳居民来往内地通行证",
    "台湾居民来往大陆通行证": "台湾居民来往大陆通行证", "台胞证": "台湾居民来往大陆通行证",
    "护照": "护照", "外国护照": "护照", "中国护照": "护照",
    "外国人永久居留身份证": "外国人永久居留身份证", "外国人永久居留证": "外国人永久居留身份证",
    "港澳居民居住证": "港澳居民居住证", "台湾居民居住证": "台湾居民居住证",
}


def normalise_id_type(value: str | None, number: str | None) -> str | None:
    """Map the many spellings of 证件类型 to one; guess 居民身份证 from the number when the type is empty."""
    if value:
        key = nfkc_compact(value)
        return ID_TYPE_ALIASES.get(key, value.strip())
    if number:
        compact = nfkc_compact(number)
        if RIC18_RE.match(compact) or RIC15_RE.match(compact):
            return RESIDENT_ID
    return None


def normalise_id_number(id_type: str | None, value: str) -> str:
    """Validate an ID number by its type; other documents are checked for shape only."""
    if id_type == RESIDENT_ID:
        return normalise_ric(value)
    number = nfkc_compact(value)
    if not OTHER_ID_RE.match(number):
        raise IdentifierError("证件号码格式不正确", "ID document number has an invalid format")
    return number
