"""Generation of valid (and deliberately broken) Chinese identifiers for sample files.

Check characters come from python-stdnum's ``calc_check_digit`` functions, except the USCC's: stdnum's
function spends ~15 µs per call normalising its input (``compact``), which alone would cost 15 s per
million rows, so ``uscc_check_char`` applies the same GB 32100-2015 weights to an already compact string
(tests compare it with stdnum on every generated number). We never call
``stdnum.cn.ric.is_valid`` per row: it also looks the birth place up in stdnum's county table, which is
slow; instead the region codes are chosen once per birth year from codes that table accepts
(see ``portal.sample.pools.region_codes_by_year``), so generated numbers pass ``is_valid`` too.
"""

from __future__ import annotations

import random
from datetime import date

from stdnum import luhn
from stdnum.cn import ric

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# value * weight for every position and character: one dict lookup per character at run time
_USCC_TERMS = tuple({c: i * w for i, c in enumerate(USCC_ALPHABET)} for w in _USCC_WEIGHTS)
RIC_CHECK_ALPHABET = "0123456789X"
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714-1997 organisation code
_ORG_CODE_TERMS = tuple({c: int(c, 36) * w for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}  # A = 10 … Z = 35
                        for w in _ORG_CODE_WEIGHTS)


# --- numbers that never repeat within a run ---------------------------------------------------------------
# Random draws would give two different enterprises the same USCC, or two people the same ID number, a few
# hundred times in a million rows. Instead each subject takes the next serial of its stream, and a
# multiplication by a constant coprime with the size of the number space (a bijection) scatters serials
# over that space: distinct serials give distinct numbers, which still look random.
STREAMS = 16  # number streams of a run: 0 for the shared subjects, one per department file
_SCRAMBLE = 2_654_435_761  # Knuth's multiplicative constant; prime, coprime with every space below
USCC_NEW_SPACE = 31**6  # MA + 6 characters
USCC_OLD_SPACE = 90_000_000  # 8-digit organisation codes 10000000–99999999
BIRTH_FIRST = date(1945, 1, 1).toordinal()
BIRTH_DAYS = date(2005, 12, 31).toordinal() - BIRTH_FIRST + 1
RIC_SPACE = BIRTH_DAYS * 1000  # birth date x 3-digit sequence; region codes come on top
# Unique within a run while no stream takes more than RIC_SPACE // STREAMS (1.39 million) subjects.


class UniqueSerials:
    """One stream of scattered serial numbers (see above)."""

    def __init__(self, stream: int, salt: int) -> None:
        if not 0 <= stream < STREAMS:
            raise ValueError(f"stream must lie in 0..{STREAMS - 1}")
        self.stream = stream
        self.salt = salt
        self.count = 0

    def next(self, space: int) -> int:
        serial = self.count * STREAMS + self.stream
        self.count += 1
        return (serial * _SCRAMBLE + self.salt) % space


def org_code_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body (positions 9–16 of a USCC)."""
    total = sum(map(dict.__getitem__, _ORG_CODE_TERMS, body))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of the first 17 characters (same result as stdnum's, no clean-up)."""
    total = sum(map(dict.__getitem__, _USCC_TERMS, first17))
    return USCC_ALPHABET[(31 - total) % 31]


def make_uscc(rng: random.Random, serials: UniqueSerials, prefix: str, region: str) -> str:
    """A USCC: registration authority + type (``prefix``, e.g. 91), region, organisation code, check.

    Post-2015 registrations carry an ``MA`` organisation code; older enterprises kept their 8-digit one.
    """
    if rng.random() < 0.6:
        n = serials.next(USCC_NEW_SPACE)
        chars = []
        for _ in range(6):
            n, digit = divmod(n, 31)
            chars.append(USCC_ALPHABET[digit])
        body = "MA" + "".join(chars)
    else:
        body = str(10_000_000 + serials.next(USCC_OLD_SPACE))
    first17 = prefix + region + body + org_code_check(body)
    return first17 + uscc_check_char(first17)


def break_uscc(rng: random.Random, number: str) -> str:
    """The same USCC with a wrong (but well-formed) check character."""
    wrong = rng.choice([c for c in USCC_ALPHABET if c != number[17]])
    return number[:17] + wrong


def make_ric(region: str, born_ymd: str, sequence: int) -> str:
    """An 18-character 居民身份证 number (GB 11643-1999) with its check digit."""
    body = f"{region}{born_ymd}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_ric15(region: str, born_yymmdd: str, sequence: int) -> str:
    """A first-generation 15-digit number (no check digit); valid, to be upgraded to 18 on import."""
    return f"{region}{born_yymmdd}{sequence:03d}"


def break_ric(rng: random.Random, number: str) -> str:
    """The same 18-character number with a wrong check digit."""
    wrong = rng.choice([c for c in RIC_CHECK_ALPHABET if c != number[17]])
    return number[:17] + wrong


_MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155", "156",
    "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "185", "186", "187", "188", "189",
    "191", "198", "199",
)


def make_mobile(rng: random.Random) -> str:
    random_ = rng.random
    return f"{_MOBILE_PREFIXES[int(random_() * len(_MOBILE_PREFIXES))]}{int(random_() * 100_000_000):08d}"


def make_landline(rng: random.Random) -> str:
    """A 达州 (area code 0818) fixed-line number, as enterprises often give."""
    return f"0818-{rng.randrange(2_000_000, 8_000_000)}"


_CARD_PREFIXES = ("622202", "621700", "622848", "621661", "622908", "623668")
_CORPORATE_PREFIXES = ("2318", "5100", "2263", "5105")


def make_bank_account(rng: random.Random, corporate: bool) -> str:
    """Corporate settlement accounts are bare 19/20-digit numbers; personal cards carry a Luhn digit."""
    if corporate:
        return rng.choice(_CORPORATE_PREFIXES) + "".join(rng.choices("0123456789", k=rng.choice((15, 16))))
    body = rng.choice(_CARD_PREFIXES) + "".join(rng.choices("0123456789", k=12))
    return body + luhn.calc_check_digit(body)


def make_hk_macao_pass(rng: random.Random) -> str:
    """港澳居民来往内地通行证: H (Hong Kong) or M (Macao) and 8 digits."""
    return f"{rng.choice('HHHM')}{rng.randrange(10**8):08d}"


def make_passport(rng: random.Random) -> str:
    return f"E{rng.randrange(10**8):08d}"
