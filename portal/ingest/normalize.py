"""Text clean-up applied to every imported value before validation.

Why not plain NFKC: it would also turn Chinese punctuation (，。：（）) into ASCII and change how facts read.
Free text keeps its Chinese punctuation; only full-width letters, digits and spaces become half-width, and
control characters (NUL, BEL, ESC …, often pasted from old systems) are removed. Identifier fields get
full NFKC (``portal.public.codes.normalise_code``).
"""

from __future__ import annotations

import re

from portal.public.codes import normalise_code

# Full-width ASCII letters/digits (U+FF10–FF19, FF21–FF3A, FF41–FF5A) and the ideographic space.
_WIDTH_TABLE: dict[int, int | str | None] = {
    **{cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)},
    **{cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)},
    **{cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)},
    0x3000: " ",
    0x00A0: " ",  # no-break space from HTML/Excel exports
    0xFEFF: None,  # stray BOM inside a cell
    0x200B: None,  # zero-width space
}
# C0/C1 control characters: removed; tab and line breaks become spaces in one-line fields.
_CONTROL_TABLE: dict[int, int | str | None] = {
    **{cp: None for cp in range(0x00, 0x20)},
    **{cp: None for cp in range(0x7F, 0xA0)},
    0x09: " ", 0x0A: " ", 0x0D: " ",
}
LINE_TABLE = str.maketrans({**_CONTROL_TABLE, **_WIDTH_TABLE})
# Anything clean_line would change; most cells have none of it and skip the (slower) translate.
_NEEDS_LINE_CLEANING = re.compile(
    "[\x00-\x1f\x7f-\xa0\u3000\ufeff\u200b\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]|\\s\\s|^\\s|\\s$")
TEXT_TABLE = str.maketrans({**_CONTROL_TABLE, **_WIDTH_TABLE, 0x0A: "\n", 0x0D: None})


def clean_line(value: str | None) -> str | None:
    """One-line field: strip control characters, fold width, collapse whitespace. Empty → None."""
    if value is None:
        return None
    if not _NEEDS_LINE_CLEANING.search(value):
        return value or None
    text = " ".join(value.translate(LINE_TABLE).split())
    return text or None


def clean_text(value: str | None) -> str | None:
    """Multi-line free text (facts, basis): like ``clean_line`` but keeps paragraph breaks."""
    if value is None:
        return None
    lines = (" ".join(line.split()) for line in value.translate(TEXT_TABLE).split("\n"))
    text = "\n".join(line for line in lines if line)
    return text or None


# The identifier form (NFKC, no whitespace, upper case) has one definition, shared with the API.
nfkc_compact = normalise_code
