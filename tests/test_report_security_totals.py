"""The exchange report's per-security debt totals (REP-1), grouped in bulk, against the rule
read row by row: a debt is placed on its security (a short's asset, a financing contract's
security; an unknown contract on none), summed by column, and counted when it owes."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given
from hypothesis import strategies as st

from liangrong.domain.contracts import ContractKind
from liangrong.ledger.columns import ContractTable
from liangrong.reports.daily_source import _securities_of, _security_totals

SECURITIES = ("600000.SH", "600036.SH", "000001.SZ")
KNOWN = {"k1": "600000.SH", "k2": "000001.SZ", "k3": "600000.SH"}
# the same contracts as a table holds them (its last row: a row -1 must not read it)
TABLE = ContractTable(
    [*KNOWN, "k9"], ["c1"] * 4, ["financing"] * 4, [*KNOWN.values(), "000002.SZ"], {}
)

debts = st.lists(
    st.tuples(
        st.sampled_from([ContractKind.FINANCING, ContractKind.SHORT]),
        st.sampled_from(["k1", "k2", "k3", "unknown"]),
        st.sampled_from(SECURITIES),
        # beyond 64 bits too: the sums must stay exact
        st.one_of(st.integers(-(10**6), 10**9), st.integers(2**62, 2**70), st.just(0)),
    ),
    max_size=60,
)


def by_row(rows: list[tuple[ContractKind, str, str, int]]) -> tuple[dict, dict]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    counts: dict[str, int] = defaultdict(int)
    for kind, contract, asset, value in rows:
        security = asset if kind is ContractKind.SHORT else KNOWN.get(contract)
        if value and security is not None:
            totals[security][0 if kind is ContractKind.FINANCING else 1] += value
            counts[security] += 1
    return dict(totals), dict(counts)


@given(debts)
def test_bulk_totals_equal_the_row_by_row_rule(rows: list[tuple[ContractKind, str, str, int]]):
    kinds = [kind for kind, _, _, _ in rows]
    contracts = [contract for _, contract, _, _ in rows]
    assets = [asset for _, _, asset, _ in rows]
    values = [value for _, _, _, value in rows]
    placed = _securities_of(kinds, contracts, assets, KNOWN)
    # placed through a table's own index of rows, the same (``k9``: a contract it holds)
    known = {**KNOWN, "k9": "000002.SZ"}
    assert _securities_of(kinds, contracts, assets, TABLE.securities_by_id()) == [
        asset if kind is ContractKind.SHORT else known.get(contract)
        for kind, contract, asset in zip(kinds, contracts, assets, strict=True)
    ]
    totals, counts = _security_totals(placed, kinds, values)
    expected_totals, expected_counts = by_row(rows)
    assert totals == expected_totals and counts == expected_counts
    assert list(totals) == list(expected_totals)  # in the order the first owing debt is read


def test_an_unknown_contract_and_zero_balances_are_on_no_security():
    kinds = [ContractKind.FINANCING, ContractKind.FINANCING, ContractKind.SHORT]
    placed = _securities_of(kinds, ["unknown", "k1", "k9"], ["CNY", "CNY", "600036.SH"], KNOWN)
    assert placed == [None, "600000.SH", "600036.SH"]
    totals, counts = _security_totals(placed, kinds, [500, 0, 0])
    assert totals == {} and counts == {}
