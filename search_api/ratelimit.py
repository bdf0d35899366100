"""In-process token buckets: per client and per network for searches and lookups, per API key for /check.

A request from an address draws one token from two buckets, and is refused unless both have one:

- the **client** bucket: an IPv4 address, or an IPv6 /64 (``IPV6_CLIENT_PREFIX``: one customer gets a whole
  /64, 2^64 addresses; limiting per address would let a scraper rotate them);
- the **network** bucket: the IPv4 /24 or the IPv6 /48 around it (``IPV4_NETWORK_PREFIX``,
  ``IPV6_NETWORK_PREFIX``: a /48 is what one site or customer is usually given), ``NETWORK_RATE_FACTOR``
  times the client rate. A scraper holding a /24 or a /48 gets that factor, not 256 or 65,536 times the
  client rate; and because its network bucket is touched by every one of its requests, rotating through
  more /64s than the table holds cannot evict it (an evicted bucket would come back full).

Other keys (``key:<id>`` for /check, anything that is not an address) have one bucket. One process serves
the API (one uvicorn worker per machine); a multi-worker deployment would multiply the effective limits.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

# Most buckets kept at once per level; the least recently used are dropped first (a dropped bucket is full).
MAX_TRACKED_CLIENTS = 100_000
# One IPv6 customer gets a whole /64 (2^64 addresses); limiting per address would let a scraper rotate them.
IPV6_CLIENT_PREFIX = 64
# The network around a client: IPv4 /24 (the smallest block routed on the Internet), IPv6 /48 (one site).
IPV4_NETWORK_PREFIX = 24
IPV6_NETWORK_PREFIX = 48
# A network's rate and bucket size as a multiple of one client's: a few busy offices or households in one
# block stay unhindered, a block of addresses held by one scraper gains this factor and no more.
NETWORK_RATE_FACTOR = 4


def rate_limit_key(client_ip: str) -> str:
    """The client bucket key of an address: IPv4 as it is, IPv6 as its /64 network, anything else unchanged."""
    return _keys(client_ip)[0]


def network_key(client_ip: str) -> str | None:
    """The network bucket key of an address: its IPv4 /24 or IPv6 /48; None for keys that are no address."""
    return _keys(client_ip)[1]


def _keys(client_ip: str) -> tuple[str, str | None]:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip, None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address):
        return (str(ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)),
                str(ipaddress.IPv6Network((address, IPV6_NETWORK_PREFIX), strict=False)))
    return str(address), str(ipaddress.IPv4Network((address, IPV4_NETWORK_PREFIX), strict=False))


class TokenBucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.tokens = capacity
        self.updated = now


class _Buckets:
    """One level of buckets (clients or networks) with its rate, size and LRU table."""

    def __init__(self, per_minute: float, capacity: float, max_tracked: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = capacity
        self.max_tracked = max_tracked
        self.table: OrderedDict[str, TokenBucket] = OrderedDict()

    def get(self, key: str, now: float) -> TokenBucket:
        bucket = self.table.get(key)
        if bucket is None:
            bucket = TokenBucket(self.capacity, now)
            self.table[key] = bucket
            if len(self.table) > self.max_tracked:
                self.table.popitem(last=False)
        else:
            self.table.move_to_end(key)
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def wait(self, bucket: TokenBucket, cost: float) -> float:
        if self.rate <= 0:
            return 60.0
        return max(1.0, math.ceil((cost - bucket.tokens) / self.rate))


class RateLimiter:
    """``allow(address_or_key)`` → None when allowed, else the seconds to wait before the next token."""

    def __init__(self, per_minute: int, burst_factor: float, clock: Callable[[], float] = time.monotonic, *,
                 max_tracked: int = MAX_TRACKED_CLIENTS) -> None:
        capacity = max(1.0, per_minute * burst_factor)
        self.clients = _Buckets(per_minute, capacity, max_tracked)
        self.networks = _Buckets(per_minute * NETWORK_RATE_FACTOR, capacity * NETWORK_RATE_FACTOR, max_tracked)
        self.clock = clock
        self._lock = threading.Lock()

    @property
    def capacity(self) -> float:
        return self.clients.capacity

    def allow(self, client: str, cost: float = 1.0) -> float | None:
        client_key, net_key = _keys(client)
        with self._lock:
            now = self.clock()
            levels = [(self.clients, self.clients.get(client_key, now))]
            if net_key is not None:
                levels.append((self.networks, self.networks.get(net_key, now)))
            short = [level.wait(bucket, cost) for level, bucket in levels if bucket.tokens < cost]
            if short:  # refused: no bucket pays for it
                return max(short)
            for _, bucket in levels:
                bucket.tokens -= cost
            return None
