"""Seeded weighted draws shared by the generators: the same draws for the same seed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def pick_in_buckets(rng: random.Random, buckets: Sequence[tuple[int, int, int]]) -> int:
    """A bucket (low, high, weight) drawn by weight, then a uniform integer inside it."""
    draw = rng.randrange(sum(weight for _, _, weight in buckets))
    for low, high, weight in buckets:
        if draw < weight:
            return rng.randint(low, high)
        draw -= weight
    raise AssertionError("unreachable")


def choose_weighted(rng: random.Random, options: Sequence[tuple[T, int]]) -> T:
    """A value drawn from (value, weight) pairs by weight."""
    draw = rng.randrange(sum(weight for _, weight in options))
    for value, weight in options:
        if draw < weight:
            return value
        draw -= weight
    raise AssertionError("unreachable")
