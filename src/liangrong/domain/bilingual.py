"""Enumerations whose members carry their text in Chinese and in English.

Invariant: a member's value starts with its Chinese text, then its English text (further
items, when a member has them, are the enumeration's own)."""

from __future__ import annotations

from enum import Enum


class Bilingual(Enum):
    @property
    def zh(self) -> str:
        return str(self.value[0])

    @property
    def en(self) -> str:
        return str(self.value[1])
