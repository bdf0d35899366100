"""In-process token buckets: per client IP for searches and lookups, per API key for /check.

One process serves the API (uvicorn with one worker per machine); a multi-worker deployment would divide
the effective limit by the worker count, which errs on the permissive side and is documented.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# Most buckets kept at once; the least recently used are dropped first (a dropped bucket is simply full).
MAX_TRACKED_CLIENTS = 100_000


# One IPv6 customer gets a whole /64 (2^64 addresses); limiting per address would let a scraper rotate them.
IPV6_CLIENT_PREFIX = 64


def rate_limit_key(client_ip: str) -> str:
    """The bucket key of a client address: IPv4 as it is, IPv6 as its /64 network, anything else unchanged."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False))
    return str(address)


class TokenBucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.updated = now


class RateLimiter:
    """``allow(key)`` → None when allowed, else the seconds to wait before the next token."""

    def __init__(self, per_minute: int, burst_factor: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute * burst_factor)
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, cost: float = 1.0) -> float | None:
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.capacity, now)
                self._buckets[key] = bucket
                if len(self._buckets) > MAX_TRACKED_CLIENTS:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
                bucket.updated = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return None
            if self.rate <= 0:
                return 60.0
            return max(1.0, math.ceil((cost - bucket.tokens) / self.rate))
