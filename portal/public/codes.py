"""Codes shared by ingest, the index and the API: one USCC pattern, one code normaliser, the 15→18 upgrade.

Why here: ingest validates identifiers, the API normalises what a visitor typed, and the digests of both
must agree character for character; two copies of these rules would let a lookup miss its own entry.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from stdnum.cn import ric

# GB 32100-2015: 18 characters; positions 1–2 and 9–18 from a 31-character alphabet without I O S V Z.
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
RIC15_RE = re.compile(r"^[0-9]{15}$")  # first-generation 居民身份证 numbers (before 1999)
# A masked ID number as the public data holds it (5101**********123X, AB****12).
MASKED_ID_RE = re.compile(r"^[0-9A-Z]{1,6}\*{2,}[0-9A-Z]{1,6}$")


def normalise_code(value: str) -> str:
    """Identifier form: NFKC (full-width letters and digits to half width), no whitespace at all, upper case."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def ric_check_digit(body17: str) -> str:
    """GB 11643-1999 check digit of the first 17 digits.

    stdnum's ``ric.calc_check_digit`` expects the whole 18-character number and ignores its last character,
    so the body is padded here; passing 17 digits straight in silently drops the 17th.
    """
    return str(ric.calc_check_digit(body17 + "0"))


def upgrade_ric15(number: str) -> str:
    """A 15-digit (1st generation) ID number upgraded to 18: century 19 inserted, check digit added."""
    body = number[:6] + "19" + number[6:]
    return body + ric_check_digit(body)


RIC18_RE = re.compile(r"^[0-9]{17}[0-9X]$")


class IdentifierError(ValueError):
    """A malformed identifier; ``zh`` and ``en`` explain it to the operator."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en


def normalise_uscc(value: str) -> str:
    """Return the valid 18-character USCC or raise IdentifierError (GB 32100-2015 check character)."""
    number = normalise_code(value)
    if len(number) != 18:
        raise IdentifierError(f"统一社会信用代码应为18位，实为{len(number)}位",
                              f"USCC must have 18 characters, got {len(number)}")
    if not USCC_RE.match(number):
        raise IdentifierError("统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）",
                              "USCC contains characters outside the GB 32100-2015 set")
    if uscc_check_character(number[:17]) != number[17]:
        raise IdentifierError("统一社会信用代码校验码错误", "USCC check character is wrong")
    return number


USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: 31 characters, no I O S V Z
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_character(body17: str) -> str:
    """GB 32100-2015 check character of a compact 17-character body.

    Same arithmetic as ``stdnum.cn.uscc.calc_check_digit`` (a test holds them equal) without its per-call
    clean-up, which cost more than the rest of a row's validation at a million rows.
    """
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalise_ric(value: str) -> str:
    """Return the valid 18-character 居民身份证 number (15-digit legacy numbers upgraded) or raise."""
    number = normalise_code(value)
    if RIC15_RE.match(number):
        number = upgrade_ric15(number)
    if len(number) != 18:
        raise IdentifierError(f"居民身份证号码应为18位（或15位旧号），实为{len(number)}位",
                              f"resident ID number must have 18 (or legacy 15) digits, got {len(number)}")
    if not RIC18_RE.match(number):
        raise IdentifierError("居民身份证号码只能由数字和末位X组成",
                              "resident ID number may hold only digits and a final X")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentifierError("居民身份证号码中的出生日期无效", "birth date in resident ID number is invalid") from None
    if born.year < 1880 or born > date.today():
        raise IdentifierError("居民身份证号码中的出生日期不合理", "birth date in resident ID number is implausible")
    if ric_check_digit(number[:17]) != number[17]:
        raise IdentifierError("居民身份证号码校验码错误", "resident ID number check digit is wrong")
    return number


REG_NO_RE = re.compile(r"^[0-9A-Z\-]{6,30}$")


def normalise_reg_no(value: str) -> str:
    number = normalise_code(value)
    if not REG_NO_RE.match(number):
        raise IdentifierError("注册号格式不正确", "registration number has an invalid format")
    return number
