"""Purposes of movements (ACC-4) and which flows each one permits.

The client-collateral accounts may be touched only for the seven permitted uses of
the CSRC measures (art. 28).  Every other movement of the book names one of a few
firm-side purposes that never take anything out of a client's collateral.
Invariant: a purpose permits an account kind to decrease (or increase) only if it is
listed in ``PURPOSE_FLOWS``; no purpose outside the seven lets a collateral account decrease,
except ``LOCK_RELEASE``, which moves a client's own cash between its two sub-accounts.
"""

from __future__ import annotations

from enum import Enum

from liangrong.domain.accounts import AccountKind as K


class Purpose(Enum):
    # The seven permitted uses of the collateral accounts (ACC-4).
    SETTLEMENT = "settlement"  # clearing and settling the client's trades
    COLLECT_DEBT = "collect_debt"  # collecting the cash and securities the client owes
    INTEREST_FEES_TAXES = "interest_fees_taxes"  # interest, fees and taxes the client owes
    DISPOSE_COLLATERAL = "dispose_collateral"  # disposing collateral under the agreement
    PENALTY = "penalty"  # collecting a penalty (违约金)
    WITHDRAW_SURPLUS = "withdraw_surplus"  # the client takes out what is left over
    LAWFUL = "lawful"  # other cases the law provides for
    # Movements that take nothing out of a client's collateral.
    DEPOSIT = "deposit"  # bank -> credit cash (third-party depository)
    COLLATERAL_TRANSFER_IN = "collateral_transfer_in"  # ordinary -> credit securities
    POOL_FUNDING = "pool_funding"  # the firm's own funds or securities -> a lending pool
    POOL_RETURN = "pool_return"  # unlent pool balance -> the firm's own funds
    CHARGE_ACCRUAL = "charge_accrual"  # interest, fees or penalty fall due (no cash moves)
    CHARGE_POSTING = "charge_posting"  # pending charges reach their contracts (结转, no cash)
    LOCK_RELEASE = "lock_release"  # a closed short's proceeds become free cash


PERMITTED_USES = frozenset(
    {
        Purpose.SETTLEMENT,
        Purpose.COLLECT_DEBT,
        Purpose.INTEREST_FEES_TAXES,
        Purpose.DISPOSE_COLLATERAL,
        Purpose.PENALTY,
        Purpose.WITHDRAW_SURPLUS,
        Purpose.LAWFUL,
    }
)

_TRADE_DECREASE = frozenset(
    {
        K.CLIENT_CASH,
        K.CLIENT_LOCKED_CASH,
        K.CLIENT_SECURITIES,
        K.FINANCING_POOL,
        K.LENDING_POOL,
        K.CASH_SETTLEMENT,
        K.SECURITIES_SETTLEMENT,
        K.MARKET,
        K.CLIENT_FINANCING_DEBT,
        K.CLIENT_SHORT_DEBT,
    }
)
_TRADE_INCREASE = frozenset(
    {
        K.CLIENT_CASH,
        K.CLIENT_LOCKED_CASH,
        K.CLIENT_SECURITIES,
        K.CASH_SETTLEMENT,
        K.SECURITIES_SETTLEMENT,
        K.MARKET,
        K.RECEIVABLE,
        K.TAX_AND_LEVIES,
        K.INCOME,
    }
)

# purpose -> (kinds that may decrease, kinds that may increase)
PURPOSE_FLOWS: dict[Purpose, tuple[frozenset[K], frozenset[K]]] = {
    Purpose.SETTLEMENT: (_TRADE_DECREASE, _TRADE_INCREASE),
    Purpose.DISPOSE_COLLATERAL: (_TRADE_DECREASE, _TRADE_INCREASE),
    Purpose.COLLECT_DEBT: (
        frozenset({K.CLIENT_CASH, K.CLIENT_SECURITIES, K.RECEIVABLE}),
        frozenset({K.FINANCING_POOL, K.LENDING_POOL, K.CLIENT_FINANCING_DEBT, K.CLIENT_SHORT_DEBT}),
    ),
    Purpose.INTEREST_FEES_TAXES: (
        frozenset({K.CLIENT_CASH, K.CLIENT_LOCKED_CASH, K.RECEIVABLE}),
        frozenset({K.INCOME, K.TAX_AND_LEVIES, K.CLIENT_CHARGES_DEBT}),
    ),
    Purpose.PENALTY: (
        frozenset({K.CLIENT_CASH, K.RECEIVABLE}),
        frozenset({K.INCOME, K.CLIENT_CHARGES_DEBT}),
    ),
    Purpose.WITHDRAW_SURPLUS: (
        frozenset({K.CLIENT_CASH, K.CLIENT_SECURITIES}),
        frozenset({K.CLIENT_BANK, K.CLIENT_ORDINARY}),
    ),
    Purpose.LAWFUL: (
        frozenset({K.CLIENT_CASH, K.CLIENT_SECURITIES}),
        frozenset({K.AUTHORITY}),
    ),
    Purpose.DEPOSIT: (frozenset({K.CLIENT_BANK}), frozenset({K.CLIENT_CASH})),
    Purpose.COLLATERAL_TRANSFER_IN: (
        frozenset({K.CLIENT_ORDINARY}),
        frozenset({K.CLIENT_SECURITIES}),
    ),
    Purpose.POOL_FUNDING: (frozenset({K.CAPITAL}), frozenset({K.FINANCING_POOL, K.LENDING_POOL})),
    Purpose.POOL_RETURN: (frozenset({K.FINANCING_POOL, K.LENDING_POOL}), frozenset({K.CAPITAL})),
    Purpose.CHARGE_ACCRUAL: (
        frozenset({K.CLIENT_CHARGES_DEBT, K.CHARGES_CONTROL}),
        frozenset({K.RECEIVABLE}),
    ),
    Purpose.CHARGE_POSTING: (
        frozenset({K.CLIENT_CHARGES_DEBT}),
        frozenset({K.CHARGES_CONTROL}),
    ),
    Purpose.LOCK_RELEASE: (frozenset({K.CLIENT_LOCKED_CASH}), frozenset({K.CLIENT_CASH})),
}

# Purposes whose legs must take new financing from the pools and return repayments to them.
POOL_PAIRED = frozenset({Purpose.SETTLEMENT, Purpose.DISPOSE_COLLATERAL, Purpose.COLLECT_DEBT})


def parse_purpose(text: str) -> Purpose | None:
    try:
        return Purpose(text)
    except ValueError:
        return None
