"""Who a row is about, for the rules across lists (red/black conflict, red-list exclusions).

The same organisation arrives with different identifiers: a USCC, an old 注册号, a 组织机构代码 (characters
9–17 of a USCC are the 组织机构代码, GB 32100-2015), or only its name (an organisation's name is unique within
its registration authority, so the normalised full name identifies it when a row carries no code). A row's
*identity keys* are all of these it has; two rows are the same subject when they share a key, except that
two different USCCs are two different subjects whatever their names say. Natural persons are matched by the
keyed digest of their ID number only, never by name.

Keys live only in the staging database of one import (never in the snapshot); a person key is a digest.
"""

from __future__ import annotations

import re
import unicodedata

import orjson

USCC_KEY = "u:"  # 统一社会信用代码
ORG_CODE_KEY = "o:"  # 组织机构代码 (9 characters)
REG_NO_KEY = "g:"  # 工商注册号
NAME_KEY = "n:"  # normalised full name (organisations only)
PERSON_KEY = "p:"  # keyed digest of a natural person's ID number
LEGAL_REP_KEY = "r:"  # the row's 法定代表人/负责人, as the person key they would have ("r:" + digest)
MATCH_LABELS = {USCC_KEY: "uscc", ORG_CODE_KEY: "org_code", REG_NO_KEY: "reg_no", NAME_KEY: "name",
                PERSON_KEY: "id_number", LEGAL_REP_KEY: "legal_rep"}

_ORG_CODE = re.compile(r"^[0-9A-Z]{8}[0-9X]$")
_NAME_DROP = re.compile(r"[\s·•.。,，、\"'“”‘’]+")


def org_code_from_uscc(uscc: str) -> str | None:
    """Characters 9–17 of a USCC; None when they are a placeholder (all one character)."""
    code = uscc[8:17]
    return code if len(set(code)) > 1 else None


def normalise_org_code(raw: str | None) -> str | None:
    """``12345678-9`` / ``123456789`` → ``123456789``; None when it is not 9 code characters."""
    if not raw:
        return None
    code = unicodedata.normalize("NFKC", raw).upper().replace("-", "").replace(" ", "")
    return code if _ORG_CODE.match(code) and len(set(code)) > 1 else None


def normalise_name(name: str) -> str:
    """Width, spaces, bracket style and dots folded: 达州市甲（集团）有限公司 = 达州市甲(集团)有限公司."""
    if not unicodedata.is_normalized("NFKC", name):  # most names are: skip the (slower) normalisation
        name = unicodedata.normalize("NFKC", name)
    if _NAME_DROP.search(name):
        name = _NAME_DROP.sub("", name)
    return name.casefold()


def subject_keys(*, is_person: bool, is_organisation: bool, name: str, uscc: str | None, reg_no: str | None,
                 org_code: str | None, id_digest: str | None, legal_rep_digest: str | None) -> str | None:
    """The identity keys of one row as a JSON array (USCC first when there is one), or None."""
    keys: list[str] = []
    if is_person:
        if id_digest:
            keys.append(PERSON_KEY + id_digest)
    else:
        if uscc:
            keys.append(USCC_KEY + uscc)
            derived = org_code_from_uscc(uscc)
            if derived:
                keys.append(ORG_CODE_KEY + derived)
        code = normalise_org_code(org_code)
        if code and ORG_CODE_KEY + code not in keys:
            keys.append(ORG_CODE_KEY + code)
        if reg_no:
            keys.append(REG_NO_KEY + reg_no)
        if is_organisation:  # 个体工商户 names need not be unique (nor present): codes only
            keys.append(NAME_KEY + normalise_name(name))
        if legal_rep_digest:
            keys.append(LEGAL_REP_KEY + legal_rep_digest)
    if not keys:
        return None
    joined = '","'.join(keys)
    # Codes are letters, digits and '-', digests hex; only a name could hold a character JSON must escape.
    return f'["{joined}"]' if '"' not in joined and "\\" not in joined else orjson.dumps(keys).decode()
