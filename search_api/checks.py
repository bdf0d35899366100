"""POST /check: a batch of subjects (by USCC, ID number or exact name) against the public lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import SecretStr

from portal.public.codes import (
    RIC15_RE,
    RIC18_RE,
    IdentifierError,
    normalise_code,
    normalise_ric,
    normalise_uscc,
)
from search_api.digests import digest_number
from search_api.engines.base import Engine
from search_api.models import CheckHit, CheckRequest
from search_api.settings import MAX_HITS_PER_SUBJECT


def uscc_problem(code: str) -> str | None:
    """Why ``code`` (normalised) is not a valid USCC (GB 32100-2015), in Chinese; None when it is valid."""
    try:
        normalise_uscc(code)
    except IdentifierError as exc:
        return exc.zh
    return None


def id_number_problem(number: str) -> str | None:
    """Why a number shaped as a 居民身份证 number (18 characters, or 15 digits) is not valid; None otherwise.

    Other documents (passports, passes) have no check character and are compared as given.
    """
    compact = normalise_code(number)
    if not (RIC18_RE.match(compact) or RIC15_RE.match(compact)):
        return None
    try:
        normalise_ric(compact)
    except IdentifierError as exc:
        return exc.zh
    return None


def check_subjects(engine: Engine, today_fn: Callable[[], date], hmac_key: SecretStr,
                   body: CheckRequest) -> list[dict[str, Any]]:
    """The per-subject hits of one /check call (one executor job for the whole batch)."""
    today = today_fn()
    key = hmac_key.get_secret_value()
    results: list[dict[str, Any]] = []
    for index, subject in enumerate(body.subjects):
        # an identifier with a wrong check character is reported as invalid, never checked as "no record"
        problems = [f"统一社会信用代码：{p}" for p in [uscc_problem(normalise_code(subject.uscc))] if p] \
            if subject.uscc else []
        if subject.id_number and (p := id_number_problem(subject.id_number)):
            problems.append(f"证件号码：{p}")
        if problems:
            results.append({"index": index, "ref": subject.ref, "valid": False, "problems": problems,
                            "black": False, "watch": False, "red": False, "hits": []})
            continue
        hits: dict[str, dict[str, Any]] = {}
        if subject.uscc:
            for item in engine.by_uscc(subject.uscc, today, MAX_HITS_PER_SUBJECT):
                hits.setdefault(item["id"], {**item, "matched_by": "uscc"})
        if subject.id_number:
            digest = digest_number(subject.id_number, key)
            for item in engine.by_digest(digest, today, MAX_HITS_PER_SUBJECT):
                by = "id_number" if item.get("is_person") or item.get("id_number") else "legal_rep_id_number"
                hits.setdefault(item["id"], {**item, "matched_by": by})
        if subject.name and not subject.uscc and not subject.id_number:
            for item in engine.by_exact_name(subject.name, today, MAX_HITS_PER_SUBJECT):
                hits.setdefault(item["id"], {**item, "matched_by": "name"})
        shown = [{name: item.get(name) for name in CheckHit.model_fields} for item in hits.values()]
        kinds = {item["list_kind"] for item in shown}
        results.append({"index": index, "ref": subject.ref, "valid": True, "problems": [],
                        "black": "black" in kinds, "watch": "watch" in kinds, "red": "red" in kinds, "hits": shown})
    return results
