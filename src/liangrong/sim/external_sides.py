"""The clearing house and the depository bank together, as a trading day meets them: opened
from their last files (or the book's opening delivery), fed through the day, and closed by
delivering both files of the day to the store (ACC-7).

Invariant: the bank settles the clearing house's net cash of the day before its file is
written, and nothing may post after the files are delivered (the bank's book listener
refuses a closed day).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine

from liangrong.domain.fees import FeeSchedule
from liangrong.sim.bank import DepositoryBank
from liangrong.sim.clearing import BOOK_PREFIX, ClearingHouse
from liangrong.store.clearing_records import save_bank_file, save_clearing_file


@dataclass
class ExternalSides:
    clearing: ClearingHouse
    bank: DepositoryBank

    @classmethod
    def open(
        cls, engine: Engine, day: date, fees: FeeSchedule, opening_prefix: str = BOOK_PREFIX
    ) -> ExternalSides:
        clearing = ClearingHouse.resume(engine, day, opening_prefix)
        clearing.open_day(day, fees)
        bank = DepositoryBank.resume(engine, day, opening_prefix)
        bank.open_day(day)
        return cls(clearing, bank)

    def deliver(self, engine: Engine, day: date, clock: Callable[[], datetime]) -> None:
        """Close the day on both sides and record their files."""
        cleared = self.clearing.close_day()
        self.bank.on_settlement(cleared)
        balances = self.bank.close_day()
        save_clearing_file(engine, day, cleared.positions, clock=clock)
        save_bank_file(engine, day, balances, clock=clock)
