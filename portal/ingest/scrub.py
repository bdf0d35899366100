"""The one rule set that masks identifiers inside published text, applied at the ingest boundary.

Every value of a row except the identifier columns (which are validated and masked by their own rules in
``portal.ingest.validate``) goes through :func:`scrub_row` once, before anything is derived from it: subject and
legal-representative names, case numbers, authorities, regions, addresses, facts, basis and every
``details`` column. Downstream code (snapshot, site, index, API, feeds, downloads) only ever sees the
result.

What is found, in any of these fields, however it is written:

- digit runs with up to two separators between digits (space, tab, ``-``, ``.``, ``_``, ``/``, ``·``,
  zero-width spaces), wherever they stand, also right after ASCII letters (``ID51170219850312010X``).
  The run is compacted and then classified: 15 or more digits (身份证 numbers of 15 or 18 characters, bank
  cards of 16–19 digits, long account numbers) keep their first and last 4; 11-digit mobiles (``1[3-9]…``,
  also after ``86``/``+86``/``0086``) keep 3 + 4; numbers of 10–12 digits starting with ``0`` (landlines with
  area code, ``0818-2345678``) keep the area code's 4 and the last 4. An 18-character run that is a valid
  统一社会信用代码 and carries no plausible birth date is an organisation's code and stays;
- an ASCII letter followed by 7–10 digits: passports (``E12345678``, ``EA1234567``), 港澳通行证
  (``H12345678``, ``M1234567890``); the letter and the first digit, and the last 2 digits, stay;
- the old 台湾居民来往大陆通行证 form ``1234567890(B)``;
- any token after a label that announces an identifier or a phone (证件号码, 身份证, 护照, 通行证, 台胞证,
  回乡证, 电话, 手机 …): first and last 2 stay;
- e-mail addresses: the first character of the local part and the domain stay.

Speed: most fields hold no candidate at all, and one precompiled search (``_MAYBE``: three digits in a row,
an ``@`` or a label character) rejects them before the full pattern runs.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date

from portal.ingest.masking import MASK

# Characters people put between digit groups (at most two of them between two digits).
_SEP = "[ \\t.\\-_/\u00b7\u200b\u200c\u200d\u2060\ufeff]"
_SEP_RE = re.compile(_SEP)
# Labels after which the next token is an identifier or a phone number, whatever its shape.
_LABELS = ("证件号码", "证件号", "身份证号码", "身份证号", "身份证", "公民身份号码", "护照号码", "护照号", "护照",
           "通行证号码", "通行证号", "通行证", "台胞证号", "台胞证", "回乡证号", "回乡证", "居留证号", "居留证",
           "联系电话", "电话号码", "电话", "手机号码", "手机号", "手机", "联系方式", "银行账号", "银行卡号", "账号",
           "卡号", "Tel", "TEL", "tel", "Passport", "passport", "PASSPORT")
# Digit runs worth a look: ten or more digits (mobiles, landlines with area code, 身份证 numbers, cards),
# a trailing X, and the "(B)" suffix of an old 台湾居民来往大陆通行证 number.
_RUN = re.compile(r"\d(?:" + _SEP + r"{0,2}\d){9,}(?:" + _SEP + r"{0,2}[Xx])?(?P<tw>\s?[(（][A-Za-z][)）])?")
# Passports (E12345678, EA1234567, G…, P…) and 港澳通行证 (H/M + 8 or 10 digits): a letter, then 7–10 digits
# (whatever letters stand before it: "abcH12345678" is still a pass number).
_PREFIXED = re.compile(r"[A-Za-z]\d{7,10}(?![0-9])")
_LABELLED = re.compile(r"(?P<label>(?:" + "|".join(map(re.escape, _LABELS)) + r")[为是：:#＃\s]{0,3})"
                       r"(?P<token>[A-Za-z0-9][A-Za-z0-9()（）\-]{4,}[A-Za-z0-9)）])")
_LABEL_HINT = re.compile(r"[证照话机账卡]|[Tt][Ee][Ll]|[Pp][Aa][Ss][Ss][Pp][Oo][Rr][Tt]")
# The local part of an e-mail address (the domain stays): before every "@" that a domain follows, so that
# addresses glued together ("a@163.comb@qq.com") lose every local part.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@(?=[A-Za-z0-9\-]+\.[A-Za-z0-9])")
# Cheap pre-check, one scan in C: six digits in a row (separators allowed), a letter before 6 digits, or an
# ``@``. A field without any of them (most names, authorities, short case numbers, dates in words) holds
# nothing the patterns above would mask, and costs one search.
_SEP_CHARS = _SEP[1:-1]
_GATE = re.compile(r"\d[\d" + _SEP_CHARS + r"]{4,}\d|[A-Za-z]\d{5}|@")

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def keep_ends(value: str, start: int, end: int) -> str:
    """``value`` with all but ``start`` leading and ``end`` trailing characters starred (same length)."""
    n = len(value)
    if n <= start + end:
        return MASK * n
    return value[:start] + MASK * (n - start - end) + value[n - end:]


def _plausible_birth_date(digits: str) -> bool:
    try:
        born = date(int(digits[6:10]), int(digits[10:12]), int(digits[12:14]))
    except ValueError:
        return False
    return 1880 <= born.year <= 2100


# GB/T 2260 province codes (characters 3–4 of a USCC are the registering province).
_PROVINCES = frozenset(("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
                        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
                        "65", "71", "81", "82"))


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _is_uscc(code: str) -> bool:
    if len(code) != 18 or code[2:4] not in _PROVINCES or any(ch not in _USCC_ALPHABET for ch in code):
        return False
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def _mask_run(run: str) -> str:
    """The public form of one digit run (separators dropped when anything is masked)."""
    compact = _SEP_RE.sub("", run).upper()
    n = len(compact)
    if n == 11 and compact[0] == "1" and compact[1] in "3456789":
        return keep_ends(compact, 3, 4)
    for prefix in ("0086", "86"):  # before the long runs: no 身份证 number starts with 0 or 86 and is 13/15 long
        rest = compact[len(prefix):]
        if compact.startswith(prefix) and len(rest) == 11 and rest[0] == "1" and rest[1] in "3456789":
            return prefix + keep_ends(rest, 3, 4)
    if n >= 15:
        if n == 18 and _is_uscc(compact) and not _plausible_birth_date(compact) and not _luhn_valid(compact):
            return run  # an all-digit 统一社会信用代码 (not a birth date, not a card number): public
        return keep_ends(compact, 4, 4)
    if compact[0] == "0" and 10 <= n <= 12:
        return keep_ends(compact, 4, 4)
    return run


def _replace_run(match: re.Match[str]) -> str:
    suffix = match.group("tw")
    if suffix:  # 1234567890(B)
        return keep_ends(match.group(0)[: -len(suffix)], 2, 0) + MASK * len(suffix)
    return _mask_run(match.group(0))


def _replace_labelled(match: re.Match[str]) -> str:
    # A 身份证 number or a mobile after its label is masked like anywhere else; other tokens keep 2 + 2.
    token = match.group("token")
    masked = _mask_run(token) if token[:-1].isdigit() else token
    return match.group("label") + (masked if masked != token else keep_ends(token, 2, 2))


def _replace_prefixed(match: re.Match[str]) -> str:
    return keep_ends(match.group(0), 2, 2)


def _replace_email(match: re.Match[str]) -> str:
    return match.group(0)[:1] + MASK * 3 + "@"


def scrub_text(text: str) -> str:
    """``text`` with every identifier, card, phone and e-mail address in it masked (see the module doc)."""
    if not _GATE.search(text):
        return text
    text = _RUN.sub(_replace_run, text)
    text = _PREFIXED.sub(_replace_prefixed, text)
    if _LABEL_HINT.search(text):
        text = _LABELLED.sub(_replace_labelled, text)
    if "@" in text:
        text = _EMAIL.sub(_replace_email, text)
    return text


def scrub_row(values: dict[str, str | None], keep: Collection[str]) -> None:
    """Scrub every value of ``values`` in place, except the columns named in ``keep`` (identifier columns
    that their own masking rule handles)."""
    for key, value in values.items():
        if value and key not in keep:
            values[key] = scrub_text(value)
