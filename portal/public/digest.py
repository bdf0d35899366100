"""Keyed digests (HMAC-SHA256) of identifiers, so that a person who knows a full number can find the entry
while the public data never holds the number.

The key comes from the environment. Production (PORTAL_ENV=production) refuses to run without a real key;
development uses a clearly marked default so that a fresh checkout works.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import warnings

from portal.public.codes import RIC15_RE, normalise_code, upgrade_ric15
from portal.settings import DEV_HMAC_KEY, HMAC_KEY_ENV, MIN_PRODUCTION_KEY_LENGTH, PORTAL_ENV_ENV

DIGEST_HEX_CHARS = 32  # 128 bits: collisions are out of reach, and a million rows stay small


class MissingKeyError(RuntimeError):
    pass


def load_key() -> bytes:
    """The HMAC key from ``PORTAL_HMAC_KEY``; production without a strong key is an error."""
    raw = os.environ.get(HMAC_KEY_ENV, "")
    production = os.environ.get(PORTAL_ENV_ENV, "").lower() == "production"
    if raw:
        if production and (raw == DEV_HMAC_KEY or len(raw.encode()) < MIN_PRODUCTION_KEY_LENGTH):
            raise MissingKeyError(f"生产模式下 {HMAC_KEY_ENV} 至少需要 {MIN_PRODUCTION_KEY_LENGTH} 字节的随机密钥 "
                                  f"/ {HMAC_KEY_ENV} must hold at least {MIN_PRODUCTION_KEY_LENGTH} random bytes in production")
        return raw.encode()
    if production:
        raise MissingKeyError(f"生产模式下必须设置 {HMAC_KEY_ENV} / {HMAC_KEY_ENV} is required when {PORTAL_ENV_ENV}=production")
    warnings.warn(f"{HMAC_KEY_ENV} not set: using the DEVELOPMENT key; never publish with it", stacklevel=2)
    return DEV_HMAC_KEY.encode()


class Digester:
    """HMAC-SHA256 with the key schedule done once (``copy()`` per value is ~3× faster than ``hmac.new``)."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.new(key, digestmod=hashlib.sha256)

    def digest(self, normalised: str) -> str:
        mac = self._base.copy()
        mac.update(normalised.encode())
        return mac.hexdigest()[:DIGEST_HEX_CHARS]


def normalise_for_digest(number: str) -> str:
    """The form every digest is computed on: NFKC, no spaces, upper case, 15-digit IDs upgraded to 18."""
    compact = normalise_code(number)
    if RIC15_RE.match(compact):
        compact = upgrade_ric15(compact)
    return compact


def digest_id(number: str, key: bytes) -> str:
    """Digest of an ID number or USCC as typed by a user (used by the API's lookup and check)."""
    return Digester(key).digest(normalise_for_digest(number))
