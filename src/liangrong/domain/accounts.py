"""The chart of accounts: the firm's six accounts, each client's credit accounts, debts.

Account names are colon paths.  A client's credit cash and credit securities accounts are
sub-accounts of the firm's client-collateral accounts (ACC-2), so the firm-level balance is
the roll-up of its children.  Invariants: every name parses to exactly one ``AccountKind``;
each kind has one sign rule, which the ledger enforces after every entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

CASH_ASSET = "CNY"
_CLIENT_ID = r"[A-Za-z0-9_\-]{1,32}"
_CONTRACT_ID = r"[A-Za-z0-9_\-]{1,48}"
_SECURITY_ASSET = re.compile(r"^\d{6}\.(SH|SZ)$")


class Sign(Enum):
    NON_NEGATIVE = "non_negative"  # holdings: may never go below zero
    NON_POSITIVE = "non_positive"  # debts: the client's liability, never turns into a credit
    ANY = "any"  # the outside world and the firm's equity

    def allows(self, value: int) -> bool:
        """Whether a balance of ``value`` keeps the rule; of a change: whether a change in
        that direction can never break it."""
        if self is Sign.NON_NEGATIVE:
            return value >= 0
        return value <= 0 if self is Sign.NON_POSITIVE else True


class AccountKind(Enum):
    # The firm's six accounts (ACC-1).
    FINANCING_POOL = "financing_pool"  # 融资专用资金账户
    LENDING_POOL = "lending_pool"  # 融券专用证券账户
    COLLATERAL_CASH = "collateral_cash"  # 客户信用交易担保资金账户 (client sub-accounts)
    COLLATERAL_SECURITIES = "collateral_securities"  # 客户信用交易担保证券账户 (sub-accounts)
    CASH_SETTLEMENT = "cash_settlement"  # 信用交易资金交收账户
    SECURITIES_SETTLEMENT = "securities_settlement"  # 信用交易证券交收账户
    # A client's sub-accounts and debts.
    CLIENT_CASH = "client_cash"  # the client's credit cash account, free part
    CLIENT_LOCKED_CASH = "client_locked_cash"  # short-sale proceeds, locked (ORD-5)
    CLIENT_SECURITIES = "client_securities"  # the client's credit securities account
    CLIENT_FINANCING_DEBT = "client_financing_debt"  # principal owed on one contract
    CLIENT_SHORT_DEBT = "client_short_debt"  # shares owed on one contract
    CLIENT_CHARGES_DEBT = "client_charges_debt"  # interest, fees, penalty owed on one contract
    # The firm's claims, equity and income.
    RECEIVABLE = "receivable"
    CHARGES_CONTROL = "charges_control"  # clients' charges booked, not yet on their contracts
    CAPITAL = "capital"
    INCOME = "income"
    # Outside the book.
    CLIENT_BANK = "client_bank"  # the client's bank account (third-party depository)
    CLIENT_ORDINARY = "client_ordinary"  # the client's ordinary securities account
    MARKET = "market"  # counterparties through the clearing house
    TAX_AND_LEVIES = "tax_and_levies"  # stamp duty, exchange and transfer fees
    AUTHORITY = "authority"  # a court or authority acting under the law


SIGN_OF_KIND: dict[AccountKind, Sign] = {
    AccountKind.CLIENT_FINANCING_DEBT: Sign.NON_POSITIVE,
    AccountKind.CLIENT_SHORT_DEBT: Sign.NON_POSITIVE,
    AccountKind.CLIENT_CHARGES_DEBT: Sign.NON_POSITIVE,
    AccountKind.CHARGES_CONTROL: Sign.NON_POSITIVE,  # −Σ pending (docs/charges-subledger.md)
    AccountKind.CAPITAL: Sign.ANY,
    AccountKind.CLIENT_BANK: Sign.ANY,
    AccountKind.CLIENT_ORDINARY: Sign.ANY,
    AccountKind.MARKET: Sign.ANY,
    AccountKind.TAX_AND_LEVIES: Sign.ANY,
    AccountKind.AUTHORITY: Sign.ANY,
}

POOL_KINDS = frozenset({AccountKind.FINANCING_POOL, AccountKind.LENDING_POOL})
CLIENT_COLLATERAL_KINDS = frozenset(
    {AccountKind.CLIENT_CASH, AccountKind.CLIENT_LOCKED_CASH, AccountKind.CLIENT_SECURITIES}
)


def sign_of(kind: AccountKind) -> Sign:
    return SIGN_OF_KIND.get(kind, Sign.NON_NEGATIVE)


@dataclass(frozen=True, slots=True)
class ParsedAccount:
    kind: AccountKind
    client_id: str | None = None
    exchange: str | None = None
    contract_id: str | None = None


# Fixed firm-level names.
FINANCING_POOL = "firm:financing_pool"
LENDING_POOL = "firm:lending_pool"
CASH_SETTLEMENT = "firm:cash_settlement"
SECURITIES_SETTLEMENT = "firm:securities_settlement"
FIRM_CAPITAL = "firm:capital"
RECEIVABLE_FINANCING = "firm:receivable:financing"
RECEIVABLE_LENDING = "firm:receivable:lending"
RECEIVABLE_CHARGES = "firm:receivable:charges"
CHARGES_ACCRUED = "firm:charges:accrued"  # control account of the charges subledger
INCOME_INTEREST = "firm:income:interest"
INCOME_FEES = "firm:income:fees"
INCOME_PENALTY = "firm:income:penalty"
MARKET = "external:market"
TAX_AND_LEVIES = "external:tax_and_levies"
AUTHORITY = "external:authority"


def client_cash(client_id: str) -> str:
    return f"firm:collateral_cash:{client_id}"


def client_locked_cash(client_id: str) -> str:
    return f"firm:collateral_cash:{client_id}:locked"


def client_securities(client_id: str, exchange: str) -> str:
    return f"firm:collateral_securities:{client_id}:{exchange}"


def financing_debt(client_id: str, contract_id: str) -> str:
    return f"client:{client_id}:financing:{contract_id}"


def short_debt(client_id: str, contract_id: str) -> str:
    return f"client:{client_id}:short:{contract_id}"


def charges_debt(client_id: str, contract_id: str) -> str:
    return f"client:{client_id}:charges:{contract_id}"


def client_bank(client_id: str) -> str:
    return f"external:bank:{client_id}"


def client_ordinary(client_id: str, exchange: str) -> str:
    return f"external:ordinary:{client_id}:{exchange}"


_FIXED: dict[str, AccountKind] = {
    FINANCING_POOL: AccountKind.FINANCING_POOL,
    LENDING_POOL: AccountKind.LENDING_POOL,
    CASH_SETTLEMENT: AccountKind.CASH_SETTLEMENT,
    SECURITIES_SETTLEMENT: AccountKind.SECURITIES_SETTLEMENT,
    FIRM_CAPITAL: AccountKind.CAPITAL,
    RECEIVABLE_FINANCING: AccountKind.RECEIVABLE,
    RECEIVABLE_LENDING: AccountKind.RECEIVABLE,
    RECEIVABLE_CHARGES: AccountKind.RECEIVABLE,
    CHARGES_ACCRUED: AccountKind.CHARGES_CONTROL,
    INCOME_INTEREST: AccountKind.INCOME,
    INCOME_FEES: AccountKind.INCOME,
    INCOME_PENALTY: AccountKind.INCOME,
    MARKET: AccountKind.MARKET,
    TAX_AND_LEVIES: AccountKind.TAX_AND_LEVIES,
    AUTHORITY: AccountKind.AUTHORITY,
}

_CLIENT = f"(?P<client>{_CLIENT_ID})"
_EXCHANGE = "(?P<exchange>SH|SZ)"
_CONTRACT = f"(?P<contract>{_CONTRACT_ID})"
_PATTERNS: tuple[tuple[str, AccountKind], ...] = (
    (f"firm:collateral_cash:{_CLIENT}", AccountKind.CLIENT_CASH),
    (f"firm:collateral_cash:{_CLIENT}:locked", AccountKind.CLIENT_LOCKED_CASH),
    (f"firm:collateral_securities:{_CLIENT}:{_EXCHANGE}", AccountKind.CLIENT_SECURITIES),
    (f"client:{_CLIENT}:financing:{_CONTRACT}", AccountKind.CLIENT_FINANCING_DEBT),
    (f"client:{_CLIENT}:short:{_CONTRACT}", AccountKind.CLIENT_SHORT_DEBT),
    (f"client:{_CLIENT}:charges:{_CONTRACT}", AccountKind.CLIENT_CHARGES_DEBT),
    (f"external:bank:{_CLIENT}", AccountKind.CLIENT_BANK),
    (f"external:ordinary:{_CLIENT}:{_EXCHANGE}", AccountKind.CLIENT_ORDINARY),
)


def _one_pattern() -> tuple[re.Pattern[str], dict[str, tuple[AccountKind, int, int, int]]]:
    """The chart's owned accounts as one alternation, each alternative an outer
    named group (so ``lastgroup`` names it) with its own inner groups: one C-level match per
    name, however many shapes the chart has (a name is parsed once per posting)."""
    alternatives, groups = [], {}
    offset = 0
    for number, (body, kind) in enumerate(_PATTERNS):
        inner = re.compile(body).groupindex
        renamed = body
        for name in inner:
            renamed = renamed.replace(f"(?P<{name}>", f"(?P<{name}{number}>")
        alternatives.append(f"(?P<a{number}>{renamed})")
        # group numbers: the outer one, then the inner ones in the order they open
        where = {name: offset + 1 + index for name, index in inner.items()}
        groups[f"a{number}"] = (
            kind,
            where.get("client", 0),
            where.get("exchange", 0),
            where.get("contract", 0),
        )
        offset += 1 + len(inner)
    return re.compile("|".join(alternatives)), groups


_CHART, _GROUPS = _one_pattern()


@lru_cache(maxsize=1 << 16)
def parse_account(name: str) -> ParsedAccount | None:
    """The kind and owner of an account name, or None if it is not in the chart (cached:
    names repeat)."""
    return parse_account_uncached(name)


def parse_account_uncached(name: str) -> ParsedAccount | None:
    """``parse_account`` for names seen once: no cache to churn."""
    fixed = _FIXED.get(name)
    if fixed is not None:
        return ParsedAccount(fixed)
    match = _CHART.fullmatch(name)  # the whole name: ``$`` would let a final newline in
    if match is None:
        return None
    kind, client, exchange, contract = _GROUPS[match.lastgroup or ""]
    return ParsedAccount(
        kind,
        match.group(client) if client else None,
        match.group(exchange) if exchange else None,
        match.group(contract) if contract else None,
    )


def is_security_asset(asset: str) -> bool:
    return _SECURITY_ASSET.match(asset) is not None


def is_valid_asset(asset: str) -> bool:
    return asset == CASH_ASSET or is_security_asset(asset)


_CASH_ONLY = frozenset(
    {
        AccountKind.FINANCING_POOL,
        AccountKind.CASH_SETTLEMENT,
        AccountKind.CLIENT_CASH,
        AccountKind.CLIENT_LOCKED_CASH,
        AccountKind.CLIENT_FINANCING_DEBT,
        AccountKind.CLIENT_CHARGES_DEBT,
        AccountKind.CLIENT_BANK,
        AccountKind.INCOME,
    }
)
_SECURITIES_ONLY = frozenset(
    {
        AccountKind.LENDING_POOL,
        AccountKind.SECURITIES_SETTLEMENT,
        AccountKind.CLIENT_SECURITIES,
        AccountKind.CLIENT_SHORT_DEBT,
        AccountKind.CLIENT_ORDINARY,
    }
)


def holds_cash_only(kind: AccountKind) -> bool:
    return kind in _CASH_ONLY


def holds_securities_only(kind: AccountKind) -> bool:
    return kind in _SECURITIES_ONLY
