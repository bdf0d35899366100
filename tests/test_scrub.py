"""The scrubber (portal/ingest/scrub.py): every hostile format of issue 12 is masked, public facts stay."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from identifier_formats import IDENTIFIER_KINDS, Ident, any_identifier, surrounding

from portal.ingest.normalize import clean_line
from portal.ingest.scrub import scrub_row, scrub_text

# (written, public form): the public form follows the rule in portal/ingest/scrub.py, worked out by hand.
HOSTILE = [
    ("张三511702198503120011", "张三5117**********0011"),  # a person's name field holding more than a name
    ("511702 19850312 0038", "5117**********0038"),
    ("511702-19850312-0038", "5117**********0038"),
    ("5117.0219.8503.1200.38", "5117**********0038"),
    ("511702_19850312_0038", "5117**********0038"),
    ("511702/19850312/0038", "5117**********0038"),
    ("ID51170219850312010X", "ID5117**********010X"),
    ("ID51170219850312010x", "ID5117**********010X"),
    ("身份证号51010119900307123X", "身份证号5101**********123X"),
    ("旧号510101900307123", "旧号5101*******7123"),
    ("卡号 6222 0212 3456 7890 123", "卡号 6222***********0123"),
    ("6222021234567890", "6222********7890"),
    ("138-1234-5678", "138****5678"),
    ("139 8765 4321", "139****4321"),
    ("+8613612345678", "+86136****5678"),
    ("0086 136 1234 5678", "0086136****5678"),
    ("0818-2345678", "0818***5678"),
    ("028-12345678", "0281***5678"),
    ("港澳通行证H12345678", "港澳通行证H1*****78"),
    ("M1234567890", "M1*******90"),
    ("台胞证 12345678", "台胞证 12****78"),
    ("1234567890(B)", "12***********"),
    ("护照E12345678", "护照E1*****78"),
    ("EA1234567", "EA1****67"),
    ("联系人邮箱 zhang.san@example.com。", "联系人邮箱 z***@example.com。"),
    ("电话：2345678", "电话：23***78"),
]
# Public facts that look a little like identifiers and must stay as they are.
PUBLIC = ["达市监处罚〔2024〕12号", "（2026）川17执123号", "2024-03-05", "2024年3月5日", "罚款10000元",
          "91511700MA62XXXX1Y", "915117001234500010", "GB11643-1999", "达州市通川区西外镇朝阳路12号",
          "JY15117020012345", "违法所得1,000,000元"]


@pytest.mark.parametrize(("written", "public"), HOSTILE)
def test_hostile_formats_are_masked(written: str, public: str) -> None:
    assert scrub_text(written) == public


@pytest.mark.parametrize("text", PUBLIC)
def test_public_facts_stay(text: str) -> None:
    assert scrub_text(text) == text


def test_scrubbing_is_idempotent() -> None:
    for written, public in HOSTILE:
        assert scrub_text(public) == public, written


def test_scrub_row_leaves_only_the_named_columns_alone() -> None:
    row = {"subject_name": "张三511702198503120011", "id_number": "511702198503120011", "facts": None}
    scrub_row(row, {"id_number"})
    assert row == {"subject_name": "张三5117**********0011", "id_number": "511702198503120011", "facts": None}


def assert_hidden(ident: Ident, public: str) -> None:
    for needle in ident.needles:
        assert needle not in public, (ident, public)
        assert needle.lower() not in public.lower(), (ident, public)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(before=surrounding, ident=any_identifier, after=surrounding)
def test_no_generated_identifier_survives(before: str, ident: Ident, after: str) -> None:
    written = before + ident.text + after
    # As ingest sees it: after the one-line clean-up (tabs, zero-width spaces, width folding), and raw.
    for text in (written, clean_line(written) or ""):
        assert_hidden(ident, scrub_text(text))


@settings(max_examples=100, deadline=None)
@given(idents=st.lists(any_identifier, min_size=2, max_size=4), glue=st.sampled_from(["", " ", "，", "、", "和"]))
def test_several_identifiers_in_one_field(idents: list[Ident], glue: str) -> None:
    public = scrub_text(glue.join(ident.text for ident in idents))
    for ident in idents:
        assert_hidden(ident, public)


def test_every_kind_is_generated() -> None:
    assert set(IDENTIFIER_KINDS) == {"resident_id", "legacy_id", "bank_card", "mobile", "landline",
                                     "hk_macau_pass", "taiwan_pass", "passport", "email"}
