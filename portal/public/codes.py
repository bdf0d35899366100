"""Codes shared by ingest, the index and the API: one USCC pattern, one code normaliser, the 15→18 upgrade.

Why here: ingest validates identifiers, the API normalises what a visitor typed, and the digests of both
must agree character for character; two copies of these rules would let a lookup miss its own entry.
"""

from __future__ import annotations

import re
import unicodedata

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
