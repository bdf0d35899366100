"""Identifiers in every hostile format (issue 12), as hypothesis strategies and as fixed examples.

Each generated value is an ``Ident``: how it is written (``text``, what goes into the department file) and
the forms a leak scanner must never find in anything public (``needles``: the written form, the digits
with separators removed, and for mobiles the number without its country code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import strategies as st

from portal.ingest.identifiers import ric_check_digit

# What people put between digit groups (issue 12 and the access-log item): space, double space, tab, dash,
# dot, underscore, slash, middle dot, zero-width space.
SEPARATORS = (" ", "  ", "\t", "-", ".", "_", "/", "·", "\u200b")


@dataclass(frozen=True)
class Ident:
    kind: str
    text: str
    compact: str

    @property
    def needles(self) -> set[str]:
        forms = {self.text, self.compact}
        if self.kind == "mobile" and len(self.compact) > 11:
            forms.add(self.compact[-11:])
        return {form for form in forms if len(form) >= 7}


def luhn_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def join_groups(groups: list[str], separator: str) -> str:
    return separator.join(groups)


digits = st.integers(min_value=0, max_value=9).map(str)


def digit_string(n: int) -> st.SearchStrategy[str]:
    return st.lists(digits, min_size=n, max_size=n).map("".join)


@st.composite
def resident_id(draw: st.DrawFn) -> Ident:
    region = draw(st.sampled_from(["511702", "510101", "110105", "440305", "511721"]))
    year = draw(st.integers(1930, 2015))
    month = draw(st.integers(1, 12))
    day = draw(st.integers(1, 28))
    sequence = draw(digit_string(3))
    body = f"{region}{year:04d}{month:02d}{day:02d}{sequence}"
    number = body + ric_check_digit(body)
    style = draw(st.sampled_from(["plain", "groups", "fours", "letters"]))
    if style == "plain":
        text = number
    elif style == "groups":  # 511702 19850312 0038
        text = join_groups([number[:6], number[6:14], number[14:]], draw(st.sampled_from(SEPARATORS)))
    elif style == "fours":  # 5117 0219 8503 1200 38
        text = join_groups([number[i:i + 4] for i in range(0, 18, 4)], draw(st.sampled_from(SEPARATORS)))
    else:  # ID51170219850312010X
        text = draw(st.sampled_from(["ID", "id", "No", "sfz", "ID:"])) + number
    if number.endswith("X") and draw(st.booleans()):
        text = text[:-1] + "x"
    return Ident("resident_id", text, number)


@st.composite
def legacy_id(draw: st.DrawFn) -> Ident:
    number = draw(st.sampled_from(["511702", "510101"])) + f"{draw(st.integers(30, 99)):02d}0312" + draw(digit_string(3))
    return Ident("legacy_id", number, number)


@st.composite
def bank_card(draw: st.DrawFn) -> Ident:
    length = draw(st.integers(16, 19))
    body = draw(st.sampled_from(["622202", "621700", "436742", "622848"])) + draw(digit_string(length - 7))
    number = body + luhn_digit(body)
    separator = draw(st.sampled_from(["", *SEPARATORS]))
    text = join_groups([number[i:i + 4] for i in range(0, length, 4)], separator)
    return Ident("bank_card", text, number)


@st.composite
def mobile(draw: st.DrawFn) -> Ident:
    number = "1" + draw(st.sampled_from("3456789")) + draw(digit_string(9))
    style = draw(st.sampled_from(["plain", "dash", "space", "plus86", "86space", "0086"]))
    text = {"plain": number, "dash": f"{number[:3]}-{number[3:7]}-{number[7:]}",
            "space": f"{number[:3]} {number[3:7]} {number[7:]}", "plus86": "+86" + number,
            "86space": f"+86 {number[:3]} {number[3:7]} {number[7:]}", "0086": "0086" + number}[style]
    return Ident("mobile", text, re.sub(r"\D", "", text))


@st.composite
def landline(draw: st.DrawFn) -> Ident:
    area = draw(st.sampled_from(["0818", "028", "010", "0827"]))
    local = draw(st.sampled_from("2345678")) + draw(digit_string(6 if len(area) == 4 else 7))
    text = area + draw(st.sampled_from(["-", "", " "])) + local
    return Ident("landline", text, area + local)


@st.composite
def hk_macau_pass(draw: st.DrawFn) -> Ident:
    number = draw(st.sampled_from("HM")) + draw(digit_string(draw(st.sampled_from([8, 10]))))
    return Ident("hk_macau_pass", number, number)


@st.composite
def taiwan_pass(draw: st.DrawFn) -> Ident:
    if draw(st.booleans()):  # the old form: 10 digits and a letter in brackets
        number = draw(digit_string(10))
        text = number + draw(st.sampled_from(["(B)", "（A）", "(C)"]))
        return Ident("taiwan_pass", text, number)
    number = draw(digit_string(8))  # the current form: 8 digits, recognisable only by its label
    return Ident("taiwan_pass", draw(st.sampled_from(["台胞证", "台湾居民来往大陆通行证号码：", "台胞证号 "])) + number,
                 number)


@st.composite
def passport(draw: st.DrawFn) -> Ident:
    style = draw(st.sampled_from(["E8", "EA7", "G8", "label"]))
    if style == "E8":
        number = "E" + draw(digit_string(8))
    elif style == "EA7":
        number = "E" + draw(st.sampled_from("ABCDEFGHJ")) + draw(digit_string(7))
    elif style == "G8":
        number = "G" + draw(digit_string(8))
    else:
        number = draw(st.sampled_from(["X", "K", "P"])) + draw(digit_string(7))
    return Ident("passport", number, number)


@st.composite
def email(draw: st.DrawFn) -> Ident:
    local = draw(st.from_regex(r"[a-z][a-z0-9]{2,8}(\.[a-z0-9]{2,5})?", fullmatch=True))
    domain = draw(st.sampled_from(["163.com", "qq.com", "example.com.cn", "gov.cn"]))
    address = f"{local}@{domain}"
    return Ident("email", address, address)


IDENTIFIER_KINDS = {
    "resident_id": resident_id(), "legacy_id": legacy_id(), "bank_card": bank_card(), "mobile": mobile(),
    "landline": landline(), "hk_macau_pass": hk_macau_pass(), "taiwan_pass": taiwan_pass(), "passport": passport(),
    "email": email(),
}
any_identifier = st.one_of(*IDENTIFIER_KINDS.values())

# Text around an identifier: Chinese, ASCII letters glued to it, punctuation.
surrounding = st.sampled_from(["", "张三", "当事人", "联系人李四", "（", "，", "ID", "abc", "号码", " "])
