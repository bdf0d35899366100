"""The anti-automation step: a proof of work the server issues and signs, solved in the browser.

No third-party CAPTCHA (no foreign CDN, no tracking, works for screen-reader users): the server hands out
``token = <issued>.<random>.<bits>.<signature>``; the browser finds a ``nonce`` such that SHA-256 of
``token ":" nonce`` starts with ``bits`` zero bits (Web Crypto; ~1 s on a phone at 16 bits) and sends both
with the form. The server checks the signature, the age, the work, and that the token was not used before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from portal.applications.settings import CHALLENGE_TTL_SECONDS, MAX_USED_CHALLENGES


class ChallengeError(ValueError):
    def __init__(self, message_zh: str) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solve(token: str, bits: int) -> str:
    """What the browser does (tests and command-line clients use it)."""
    nonce = 0
    while leading_zero_bits(hashlib.sha256(f"{token}:{nonce}".encode()).digest()) < bits:
        nonce += 1
    return str(nonce)


class Challenges:
    def __init__(self, key: bytes, bits: int, clock: Callable[[], float] = time.time) -> None:
        self.key = key
        self.bits = bits
        self.clock = clock
        self._used: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def _sign(self, body: str) -> str:
        return hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> dict[str, int | str]:
        body = f"{int(self.clock())}.{secrets.token_hex(8)}.{self.bits}"
        return {"token": f"{body}.{self._sign(body)}", "bits": self.bits, "expires_in": CHALLENGE_TTL_SECONDS}

    def redeem(self, token: str, nonce: str) -> None:
        """Accept a solved challenge once; ChallengeError (Chinese) otherwise."""
        parts = token.split(".")
        if len(parts) != 4 or not nonce.isdigit() or len(nonce) > 20:
            raise ChallengeError("验证信息无效，请刷新页面后重新提交")
        body, signature = ".".join(parts[:3]), parts[3]
        if not hmac.compare_digest(self._sign(body), signature):
            raise ChallengeError("验证信息无效，请刷新页面后重新提交")
        issued, _, bits = parts[0], parts[1], int(parts[2])
        if self.clock() - int(issued) > CHALLENGE_TTL_SECONDS:
            raise ChallengeError("页面停留时间过长，验证已过期，请刷新页面后重新提交（已填写的内容请先复制保存）")
        if leading_zero_bits(hashlib.sha256(f"{token}:{nonce}".encode()).digest()) < bits:
            raise ChallengeError("人机验证未通过，请刷新页面后重新提交")
        with self._lock:
            if token in self._used:
                raise ChallengeError("该验证已使用过，请刷新页面后重新提交")
            self._used[token] = self.clock()
            while len(self._used) > MAX_USED_CHALLENGES:
                self._used.popitem(last=False)
