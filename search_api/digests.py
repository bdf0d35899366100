"""Keyed digests of ID numbers for exact lookup, through ``portal.public.digest`` (one definition of the
normalisation and the HMAC, shared with ingest)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from portal.public import digest
from search_api.errors import ApiError


@lru_cache(maxsize=4)
def digester(key: str) -> Any:
    """A reusable HMAC digester for ``key``; an empty key means the portal's own key loading rules."""
    try:
        raw = key.encode() if key else digest.load_key()
    except digest.MissingKeyError as exc:
        raise ApiError(503, "lookup_unavailable", "证件号码查询暂不可用（服务器未配置密钥）") from exc
    return digest.Digester(raw)


def digest_number(number: str, key: str) -> str:
    return digester(key).digest(digest.normalise_for_digest(number))
