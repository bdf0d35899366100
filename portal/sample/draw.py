"""Cheap draws for the per-row hot path.

``random.Random.choice``/``choices`` cost 0.4–1 µs each because they guard against bias and accept any
input; at ~30 draws per row and a million rows that is most of the run time. Scaling one ``random()`` float
is five times cheaper and, for the pool sizes used here (< 10,000 items), its bias is far below anything
that matters for sample data. Results stay fully determined by the seed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Generic, TypeVar

T = TypeVar("T")
RandomFloat = Callable[[], float]


def pick(random: RandomFloat, items: Sequence[T]) -> T:
    """One item, uniformly."""
    return items[int(random() * len(items))]


def between(random: RandomFloat, low: int, high: int) -> int:
    """An integer in [low, high], both included (like ``randint``)."""
    return low + int(random() * (high - low + 1))


class Weighted(Generic[T]):
    """Items drawn in proportion to their weights."""

    __slots__ = ("items", "cumulative", "total")

    def __init__(self, pairs: Sequence[tuple[T, int | float]]) -> None:
        self.items = [item for item, _ in pairs]
        self.cumulative = list(accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def draw(self, random: RandomFloat) -> T:
        return self.items[bisect_right(self.cumulative, random() * self.total)]
