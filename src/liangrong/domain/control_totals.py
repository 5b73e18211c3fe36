"""Control totals of the ledger (ACC-7): one number that stands for every key's amount, so
the daily reconciliation can compare the balances with the journal in time proportional to
the day's postings, not to the journal's whole history.

Each key (account, asset) has a fixed pseudo-random weight ``w`` in ``[1, P)`` (BLAKE2b of the
key), ``P = 2^61 − 1`` (a prime).  The control total of amounts by key is
``Σ amount × w(key) mod P``.  It is linear, so:
- the journal's total through sequence number ``N``, plus the total of the postings after
  ``N``, is the journal's total through the last one (a checkpoint carries over);
- when every key's balance equals the sum of its postings, the balances' total equals the
  journal's (and the journal's total can be learnt from the balances' after a full check).

Conversely, keys whose balance differs from their postings by ``d`` leave the totals equal
only if ``Σ d × w ≡ 0 (mod P)``: never for a single key (``0 < |d| < P`` for every amount
the ledger admits, ``w`` is not 0), and with probability about ``2^-61`` otherwise.

Invariants: pure; integer arithmetic; a key's weight never changes (stored checkpoints
depend on it), so neither the hash nor ``P`` may.
"""

from __future__ import annotations

from collections.abc import Iterable
from hashlib import blake2b

MODULUS = (1 << 61) - 1  # a Mersenne prime
DIGEST_SIZE = 8  # bytes of BLAKE2b: a weight's 64 bits before the modulus
SEPARATOR = "\x1f"  # between a key's account and asset in the text its weight hashes


def key_weight(account: str, asset: str) -> int:
    """The key's weight, in ``[1, MODULUS)``."""
    return weight_of(_digest(f"{account}{SEPARATOR}{asset}".encode()))


def digests(keys: Iterable[bytes]) -> bytes:
    """The 8-byte digests of keys encoded as ``"{account}\\x1f{asset}"`` in UTF-8, one after
    the other: the weights of many keys at once (``weight_of`` each digest)."""
    return b"".join([blake2b(key, digest_size=DIGEST_SIZE).digest() for key in keys])


def weight_of(digest: bytes) -> int:
    """The weight of a key from its digest: the digest as a little-endian integer, mapped
    into ``[1, MODULUS)``."""
    return int.from_bytes(digest, "little") % (MODULUS - 1) + 1


def _digest(key: bytes) -> bytes:
    return blake2b(key, digest_size=DIGEST_SIZE).digest()


def control_total(amounts: Iterable[tuple[str, str, int]]) -> int:
    """The control total of ``(account, asset, amount)`` rows; a key may come many times
    (its amounts are summed first, so each key is hashed once)."""
    by_key: dict[tuple[str, str], int] = {}
    for account, asset, amount in amounts:
        key = (account, asset)
        by_key[key] = by_key.get(key, 0) + amount
    return weighted(by_key.items())


def weighted(sums: Iterable[tuple[tuple[str, str], int]]) -> int:
    """The control total of one amount per key."""
    total = 0
    for (account, asset), amount in sums:
        if amount:
            total += amount * key_weight(account, asset)
    return total % MODULUS


def plus(*totals: int) -> int:
    """Control totals of disjoint sets of rows, together."""
    return sum(totals) % MODULUS


def minus(total: int, part: int) -> int:
    """``total`` without ``part`` (a set of rows it includes)."""
    return (total - part) % MODULUS
