from datetime import date

import pytest

from portal.ingest.identifiers import (
    IdentifierError,
    normalise_ric,
    normalise_uscc,
    ric_check_digit,
    upgrade_ric15,
)
from portal.ingest.normalize import clean_line, clean_text
from portal.public.dates import DateError, add_months, format_zh, parse_date


def make_ric(body17: str) -> str:
    return body17 + ric_check_digit(body17)


def test_uscc_check_character_accepts_valid_and_rejects_wrong() -> None:
    assert normalise_uscc("91110000600037341L") == "91110000600037341L"
    assert normalise_uscc(" ９１110000600037341l ") == "91110000600037341L"  # full width, case, spaces
    with pytest.raises(IdentifierError, match="check"):
        normalise_uscc("91110000600037341M")
    with pytest.raises(IdentifierError) as exc:
        normalise_uscc("9111000060003734")
    assert "18位" in exc.value.zh
    with pytest.raises(IdentifierError):
        normalise_uscc("9111000060003734IL")  # I is not in the GB 32100 alphabet


def test_resident_id_check_digit_and_birth_date() -> None:
    valid = make_ric("51170219850307123")
    assert normalise_ric(valid) == valid
    wrong = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    with pytest.raises(IdentifierError, match="check digit"):
        normalise_ric(wrong)
    with pytest.raises(IdentifierError, match="birth date"):
        normalise_ric(make_ric("51170219851307123"))  # month 13
    assert normalise_ric("11010519491231002x") == "11010519491231002X"


def test_check_digit_agrees_with_stdnum_on_a_known_number() -> None:
    assert ric_check_digit("11010519491231002") == "X"  # the GB 11643-1999 worked example


def test_legacy_15_digit_numbers_are_upgraded_to_18() -> None:
    upgraded = upgrade_ric15("110105491231002")
    assert upgraded == "11010519491231002X"
    assert normalise_ric("110105491231002") == upgraded


@pytest.mark.parametrize("text, expected", [
    ("2024-03-05", date(2024, 3, 5)),
    ("2024年3月5日", date(2024, 3, 5)),
    ("2024/3/5", date(2024, 3, 5)),
    ("2024.03.05", date(2024, 3, 5)),
    ("20240305", date(2024, 3, 5)),
    ("2024-03-05 00:00:00", date(2024, 3, 5)),
    ("45356", date(2024, 3, 5)),  # Excel serial
    ("45356.0", date(2024, 3, 5)),
])
def test_dates_in_department_forms(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "3/5/2024", "昨天", "12", ""])
def test_bad_dates_are_errors_with_chinese_reason(text: str) -> None:
    with pytest.raises(DateError) as exc:
        parse_date(text)
    assert exc.value.zh


def test_date_display_and_month_arithmetic() -> None:
    assert format_zh(date(2024, 3, 5)) == "2024年3月5日"
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_clean_line_strips_control_characters_and_folds_width() -> None:
    assert clean_line("达州\x00市\x07某某\u3000公司  ＡＢＣ１２３ ") == "达州市某某 公司 ABC123"
    assert clean_line(" \t ") is None
    assert clean_line("拖欠工资，情节严重。") == "拖欠工资，情节严重。"  # Chinese punctuation kept


def test_clean_text_keeps_paragraphs() -> None:
    assert clean_text("第一段\r\n\r\n第二段\x1b") == "第一段\n第二段"


def test_uscc_check_character_agrees_with_stdnum() -> None:
    import random

    from stdnum.cn import uscc

    from portal.ingest.identifiers import USCC_ALPHABET, uscc_check_character

    rng = random.Random(20261123)
    for _ in range(2_000):
        body = "".join(rng.choice(USCC_ALPHABET) for _ in range(17))
        assert uscc_check_character(body) == uscc.calc_check_digit(body)
