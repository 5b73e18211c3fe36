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


class BilingualRefused(ValueError):
    """A refusal with its code (a ``Bilingual`` member) and the case's detail; nothing was
    changed by the call that raised it."""

    def __init__(self, code: Bilingual, detail: str) -> None:
        self.code, self.detail = code, detail
        super().__init__(f"{code.name}: {code.en} ({detail})")
