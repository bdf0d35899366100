"""POST /check: a batch of subjects (by USCC, ID number or exact name) against the public lists."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import SecretStr

from search_api.digests import digest_number
from search_api.engines.base import Engine
from search_api.models import CheckHit, CheckRequest
from search_api.settings import MAX_HITS_PER_SUBJECT
from search_api.validity import identifier_problems


def check_subjects(engine: Engine, today_fn: Callable[[], date], hmac_key: SecretStr,
                   body: CheckRequest) -> list[dict[str, Any]]:
    """The per-subject hits of one /check call (one executor job for the whole batch)."""
    today = today_fn()
    key = hmac_key.get_secret_value()
    results: list[dict[str, Any]] = []
    for index, subject in enumerate(body.subjects):
        # an identifier with a wrong check character is reported as invalid, never checked as "no record"
        if problems := identifier_problems(subject.uscc, subject.id_number):
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
