"""Text folding shared by indexing and querying.

Both sides of a match must be folded the same way, so there is exactly one function for it. Folding is
NFKC (full-width → half-width), case folding, then traditional → simplified Chinese (OpenCC ``t2s``), per character.

OpenCC is applied per character through a ``str.translate`` table built once from OpenCC's own ``t2s``
conversion of every character in its traditional→simplified character dictionary. Per-character conversion
keeps folding *substring-preserving* (the folded query is a substring of the folded name whenever the query
is a substring of the name), which whole-string phrase conversion does not guarantee, and ``translate``
runs in C, which matters at a million entries.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import opencc

_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    converter = opencc.OpenCC("t2s")
    dictionary = resources.files("opencc").joinpath("dictionary", "TSCharacters.txt").read_text("utf-8")
    table: dict[int, str] = {}
    for line in dictionary.splitlines():
        traditional = line.split("\t", 1)[0].strip()
        if len(traditional) != 1:
            continue
        simplified = converter.convert(traditional)
        if simplified and simplified != traditional:
            table[ord(traditional)] = simplified
    return table


# Above this code point no character changes under NFKC, case folding or t2s (a test checks every one).
FOLD_TABLE_SIZE = 0x30000


@lru_cache(maxsize=1)
def _fold_table() -> list[str]:
    """Each character's fold (NFKC, case fold, traditional→simplified), indexed by code point.

    One ``str.translate`` over a list: ~2.5 µs for an 80-character text, against ~15 µs for whole-string
    NFKC followed by a dict translate (highlighting folds every field of every hit, indexing every field of
    every entry). A list, not a dict: ``translate`` pays for a raised KeyError on every character a dict
    lacks. Per-character NFKC differs from whole-string NFKC only in composing combining sequences, which
    no name or decision text relies on; index, query and highlighting all fold the same way.
    """
    t2s = _t2s_table()
    table = [chr(code) for code in range(FOLD_TABLE_SIZE)]
    for code in range(FOLD_TABLE_SIZE):
        char = table[code]
        if 0xD800 <= code <= 0xDFFF:  # lone surrogates: not characters, left as they are
            continue
        nfkc = char if unicodedata.is_normalized("NFKC", char) else unicodedata.normalize("NFKC", char)
        table[code] = nfkc.casefold().translate(t2s)
    return table


def fold(text: str) -> str:
    """NFKC, case fold and traditional→simplified, character by character; keeps punctuation and spaces."""
    return text.translate(_fold_table())


@lru_cache(maxsize=1)
def _fold_sources() -> dict[str, str]:
    """For each character, every character whose fold contains it (达 → 达達, a → aAａＡ…)."""
    sources: dict[str, list[str]] = {}
    for code, folded in enumerate(_fold_table()):
        for char in set(folded):
            sources.setdefault(char, []).append(chr(code))
    return {char: "".join(found) for char, found in sources.items()}


def warm_folding() -> None:
    """Build the folding tables now (a server calls this before it takes requests)."""
    _fold_sources()


def may_contain(text: str, key: str) -> bool:
    """False when ``fold(text)`` cannot contain ``key``: no character of ``text`` folds to anything holding
    ``key``'s first character. A few ``in`` tests in C instead of folding the text: most fields of most hits
    do not mention the query, and highlighting checks every one."""
    return any(source in text for source in _fold_sources().get(key[0], key[0]))


def search_key(text: str | None) -> str:
    """The folded text with everything but letters and digits removed: what matching compares."""
    if not text:
        return ""
    return _NON_ALNUM.sub("", fold(text))


def char_tokens(text: str | None) -> str:
    """The search key with a space between characters: one FTS5 unicode61 token per character."""
    return " ".join(search_key(text))


def bigram_tokens(text: str | None) -> str:
    """The search key as overlapping character pairs plus its last character alone, space separated.

    One FTS5 unicode61 token per position: a key of two or more characters is found by the phrase of its
    pairs (:func:`bigram_phrase`), a single character by a prefix query. Pairs are far rarer than single
    characters, so a two-character name is one short doclist and a four-character fragment a phrase of three
    short doclists, instead of phrases over the doclists of common characters (有, 公, 司 occur in most rows).
    """
    return bigram_phrase_tokens(search_key(text), final=True)


def bigram_phrase_tokens(key: str, *, final: bool = False) -> str:
    """The pairs of ``key`` (and, with ``final``, its last character) separated by spaces."""
    if len(key) < 2:
        return key
    pairs = [key[index:index + 2] for index in range(len(key) - 1)]
    if final:
        pairs.append(key[-1])
    return " ".join(pairs)


def match_spans(text: str, key: str) -> list[tuple[int, int]]:
    """Spans of ``text`` (original character positions) whose folded letters and digits equal ``key``.

    Each folded character is mapped back to the original character it came from, so a match found on the
    folded form (达州) points at the visitor's own spelling (達州).
    """
    if not key or not may_contain(text, key) or key not in search_key(text):
        # The folded text (computed in C) does not contain the key: skip the per-character walk below,
        # which is what most fields of most hits would otherwise pay for nothing.
        return []
    folded_chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for folded in fold(char):
            if folded.isalnum():
                folded_chars.append(folded)
                origin.append(index)
    folded_text = "".join(folded_chars)
    spans: list[tuple[int, int]] = []
    start = folded_text.find(key)
    while start != -1:
        spans.append((origin[start], origin[start + len(key) - 1] + 1))
        start = folded_text.find(key, start + len(key))
    return spans


def highlight(text: str, key: str, *, context: int | None = None) -> str | None:
    """HTML-escaped ``text`` with every match of the folded ``key`` wrapped in ``<mark>``; None without match.

    With ``context``, the text is first cut to ``context`` characters either side of the first match.
    """
    spans = match_spans(text, key)
    if not spans:
        return None
    prefix = suffix = ""
    if context is not None:
        window_start = max(0, spans[0][0] - context)
        window_end = min(len(text), spans[0][1] + context)
        prefix = "…" if window_start > 0 else ""
        suffix = "…" if window_end < len(text) else ""
        text = text[window_start:window_end]
        spans = [(a - window_start, b - window_start) for a, b in spans if a >= window_start and b <= window_end]
    parts: list[str] = [prefix]
    cursor = 0
    for first, end in spans:
        parts.append(html.escape(text[cursor:first]))
        parts.append("<mark>" + html.escape(text[first:end]) + "</mark>")
        cursor = end
    parts.append(html.escape(text[cursor:]))
    parts.append(suffix)
    return "".join(parts)
