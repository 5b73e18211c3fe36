"""Front-end checks: checks per second and latency of ``check_order`` on mixed orders.

    .venv/bin/python benchmarks/pretrade.py                    # 100,000 accounts, 1M orders
    .venv/bin/python benchmarks/pretrade.py --accounts 1000 --orders 5000 --seed 7

The book: ``--accounts`` credit accounts over the demo universe (800 real CSI 300/500 stocks,
ETFs, bonds; generated prices), each with 1–6 positions, some shorts, financing, today's
buys, restricted shares, credit limits, available margin and cash drawn from plausible
ranges; 2% of accounts below the liquidation line, 1% in liquidation, 1% insiders of a
holding, 2% with client margin ratios.  The daily lists are drawn per security (about 85%
collateral, 70% financing targets, 60% short targets, 1% halted each way).

The stream: every order kind in a retail-like mix (collateral buys and sells most, then margin
buys, shorts, repayments and covers, a few forced orders), prices around the last trade
(some below it, some off the tick or past the limits), quantities mostly in lots (some odd,
some beyond the holding), a few ordinary-account and banned-business orders.  Sales and covers
mostly name a security the account holds or is short of.  About half are accepted.

Measured: each ``check_order`` call alone with ``time.perf_counter_ns`` (latency percentiles,
timer overhead included), and a second untimed pass over the same stream for checks per
second.  Everything is built before timing and moved out of the collector's sight with
``gc.freeze()``, as a long-running book process would do after loading; the collector stays
enabled while timing.  No state is changed by the checks (the book applies reservations).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from liangrong.domain.order_codes import OrderCode
from liangrong.domain.orders import AccountType, BusinessType, Order, OrderKind
from liangrong.domain.pretrade import check_order
from liangrong.domain.pretrade_state import (
    AccountState,
    AccountStatus,
    CreditLimits,
    FirmState,
    PositionState,
    SecurityState,
)
from liangrong.domain.securities import Board, Kind, Status
from liangrong.sim.fee_seed import fee_schedule_on
from liangrong.sim.universe import load_demo_universe

FEES = fee_schedule_on(date(2026, 3, 2))  # the dated schedule in force: 0.025%, 0.05%, 0.001%
K = OrderKind
KIND_WEIGHTS = (
    (K.COLLATERAL_BUY, 26),
    (K.COLLATERAL_SELL, 22),
    (K.MARGIN_BUY, 18),
    (K.SELL_TO_REPAY, 9),
    (K.SHORT_SELL, 10),
    (K.BUY_TO_COVER, 9),
    (K.FORCED_SELL, 4),
    (K.FORCED_BUY, 2),
)
SEED = 20240102


def build_securities(rng: random.Random) -> dict[str, SecurityState]:
    universe = load_demo_universe()
    states: dict[str, SecurityState] = {}
    for sec in universe.securities:
        price = universe.price_li[sec.symbol]
        tick = sec.tick_li
        stock = sec.kind is Kind.STOCK
        band = 20 if sec.board in (Board.STAR, Board.CHINEXT) else 10  # percent
        up = price * (100 + band) // 100 // tick * tick if stock else 0
        down = -(-price * (100 - band) // 100 // tick) * tick if stock else 0
        normal = sec.status is Status.NORMAL
        financing = normal and rng.random() < 0.7
        states[sec.symbol] = SecurityState(
            symbol=sec.symbol,
            lot_minimum=sec.lot.minimum,
            lot_step=sec.lot.step,
            tick_li=tick,
            financing_target=financing,
            short_target=financing and rng.random() < 0.85,
            collateral=rng.random() < 0.85,
            haircut_bp=rng.choice((5_000, 6_000, 6_500, 7_000)),
            financing_margin_bp=rng.choice((10_000, 10_000, 12_000, 15_000)),
            short_margin_bp=rng.choice((10_000, 12_000, 15_000)),
            financing_halted=rng.random() < 0.01,
            short_halted=rng.random() < 0.01,
            suspended=sec.status is Status.SUSPENDED,
            last_price_li=price,
            limit_up_li=up,
            limit_down_li=down,
            money_market=sec.symbol in universe.money_market,
        )
    return states


def lot_quantity(rng: random.Random, sec: SecurityState, lots: int) -> int:
    """Whole lots: 1 to ``lots`` times the minimum (valid on every board)."""
    return sec.lot_minimum * rng.randint(1, lots)


def build_account(
    rng: random.Random, index: int, symbols: list[str], securities: dict[str, SecurityState]
) -> AccountState:
    positions: dict[str, PositionState] = {}
    collateral = 0
    for symbol in rng.sample(symbols, rng.randint(1, 6)):
        sec = securities[symbol]
        quantity = lot_quantity(rng, sec, 50)
        if rng.random() < 0.05:
            quantity += rng.randrange(1, 100)  # an odd lot from a bonus issue
        short = lot_quantity(rng, sec, 20) if sec.short_target and rng.random() < 0.15 else 0
        value = quantity * sec.last_price_li
        collateral += value
        positions[symbol] = PositionState(
            quantity=quantity,
            bought_today=quantity // 2 if rng.random() < 0.1 else 0,
            restricted=quantity // 4 if rng.random() < 0.02 else 0,
            financed_quantity=quantity if rng.random() < 0.4 else 0,
            short_quantity=short,
            short_opened_today=short // 2 if rng.random() < 0.2 else 0,
            value_li=value,
        )
    cash = rng.randrange(0, 2_000_000_00)
    financing_limit = rng.choice((1_000_000_00, 3_000_000_00, 10_000_000_00))
    status_draw = rng.random()
    status = (
        AccountStatus.LIQUIDATION
        if status_draw < 0.01
        else AccountStatus.CALL_RESTRICTED
        if status_draw < 0.03
        else AccountStatus.NORMAL
    )
    held = list(positions)
    return AccountState(
        account_id=f"E{index:08d}",
        client_id=f"C{index:08d}",
        account_type=AccountType.CREDIT,
        status=status,
        limits=CreditLimits(
            financing_limit_fen=financing_limit,
            short_limit_fen=financing_limit // 2,
            total_limit_fen=financing_limit,
            financing_used_fen=rng.randrange(0, financing_limit),
            short_used_fen=rng.randrange(0, financing_limit // 4),
        ),
        available_margin_li=rng.randrange(-100_000_000, 3_000_000_000),
        valued_at="2026-03-02T10:00:00",
        cash_free_fen=cash,
        cash_locked_fen=rng.randrange(0, 500_000_00) if rng.random() < 0.2 else 0,
        collateral_value_li=collateral,
        concentration_limit_bp=rng.choice((3_000, 5_000, 7_000, 1_000_000)),
        reserved_margin_e4li=rng.randrange(0, 10**12),
        positions=positions,
        margin_overrides_bp=(
            {(held[0], K.MARGIN_BUY): 15_000, (held[0], K.SHORT_SELL): 12_000}
            if rng.random() < 0.02
            else {}
        ),
        insider_symbols=frozenset(held[:1]) if rng.random() < 0.01 else frozenset(),
        lockup_symbols=frozenset(held[-1:]) if rng.random() < 0.005 else frozenset(),
        has_open_financing=rng.random() < 0.6,
    )


def make_order(
    rng: random.Random,
    n: int,
    account: AccountState,
    kind: OrderKind,
    symbols: list[str],
    securities: dict[str, SecurityState],
) -> tuple[Order, SecurityState]:
    held = list(account.positions)
    if kind in (K.BUY_TO_COVER, K.FORCED_BUY):
        held = [symbol for symbol in held if account.positions[symbol].short_quantity] or held
    draws_held = kind not in (K.COLLATERAL_BUY, K.MARGIN_BUY, K.SHORT_SELL)
    symbol = rng.choice(held) if draws_held and rng.random() < 0.9 else rng.choice(symbols)
    sec = securities[symbol]
    position = account.positions.get(symbol)
    if kind in (K.BUY_TO_COVER, K.FORCED_BUY) and position and position.short_quantity:
        quantity = sec.lot_minimum * rng.randint(1, max(1, position.short_quantity // 200))
    elif draws_held and position and position.quantity:
        quantity = min(lot_quantity(rng, sec, 10), position.quantity)
    else:
        quantity = lot_quantity(rng, sec, 30)
    if rng.random() < 0.03:
        quantity += rng.randrange(1, sec.lot_step + 1)  # off the lot
    ticks = rng.choice((-3, -2, -1, -1, 0, 0, 0, 1, 1, 2, 3))
    price = sec.last_price_li + ticks * sec.tick_li
    if rng.random() < 0.01:
        price += 1 if sec.tick_li > 1 else 0  # off the tick
    if rng.random() < 0.005:
        price = sec.limit_up_li + sec.tick_li if sec.limit_up_li else price
    draw = rng.random()
    return (
        Order(
            order_id=f"O{n}",
            account_id=account.account_id,
            account_type=AccountType.ORDINARY if draw < 0.005 else AccountType.CREDIT,
            trading_unit="12345",
            symbol=symbol,
            kind=kind,
            side=kind.side,
            price_li=max(price, sec.tick_li),
            quantity=quantity,
            business=BusinessType.REPO if 0.005 <= draw < 0.01 else BusinessType.TRADE,
        ),
        sec,
    )


def build(
    accounts: int, orders: int, seed: int
) -> tuple[list[tuple[Order, AccountState, SecurityState]], FirmState]:
    rng = random.Random(seed)
    securities = build_securities(rng)
    symbols = sorted(securities)
    book = [build_account(rng, i, symbols, securities) for i in range(accounts)]
    firm = FirmState(
        financing_pool_available_fen=rng.randrange(10**11, 10**12),
        lending_pool_available={
            s: rng.randrange(0, 5_000_000) for s, sec in securities.items() if sec.short_target
        },
    )
    kinds = [kind for kind, _ in KIND_WEIGHTS]
    weights = [weight for _, weight in KIND_WEIGHTS]
    stream = []
    for n, kind in enumerate(rng.choices(kinds, weights, k=orders)):
        account = book[rng.randrange(accounts)]
        order, sec = make_order(rng, n, account, kind, symbols, securities)
        stream.append((order, account, sec))
    return stream, firm


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest rank, in microseconds."""
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1_000


def measure(
    stream: list[tuple[Order, AccountState, SecurityState]], firm: FirmState
) -> dict[str, float]:
    check, fees, clock = check_order, FEES, time.perf_counter_ns
    for order, account, sec in stream[: min(len(stream), 20_000)]:  # warm up
        check(order, account, sec, firm, fees)
    latencies = [0] * len(stream)
    outcomes: Counter[str] = Counter()
    for i, (order, account, sec) in enumerate(stream):
        started = clock()
        result = check(order, account, sec, firm, fees)
        latencies[i] = clock() - started
        outcomes[result.name if isinstance(result, OrderCode) else "ACCEPTED"] += 1
    started = clock()
    for order, account, sec in stream:
        check(order, account, sec, firm, fees)
    elapsed_ns = clock() - started
    latencies.sort()
    figures = {
        "checks": float(len(stream)),
        "checks_per_s": len(stream) / (elapsed_ns / 1e9),
        "p50_us": percentile(latencies, 0.50),
        "p90_us": percentile(latencies, 0.90),
        "p99_us": percentile(latencies, 0.99),
        "p999_us": percentile(latencies, 0.999),
        "max_us": latencies[-1] / 1_000,
        "accepted_share": outcomes["ACCEPTED"] / len(stream),
    }
    top = ", ".join(f"{name} {count}" for name, count in outcomes.most_common(8))
    print(f"outcomes: {top}")
    return figures


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    stream, firm = build(args.accounts, args.orders, args.seed)
    build_s = time.perf_counter() - started
    gc.collect()
    gc.freeze()
    try:
        figures = measure(stream, firm)
    finally:
        gc.unfreeze()
    figures["accounts"] = float(args.accounts)
    figures["build_s"] = build_s
    print(
        f"{args.accounts:,} accounts, {args.orders:,} orders (built in {build_s:.1f} s): "
        f"{figures['checks_per_s']:,.0f} checks/s; latency µs p50 {figures['p50_us']:.2f} "
        f"p90 {figures['p90_us']:.2f} p99 {figures['p99_us']:.2f} "
        f"p99.9 {figures['p999_us']:.2f} max {figures['max_us']:.1f}; "
        f"accepted {figures['accepted_share']:.0%}"
    )
    return figures


if __name__ == "__main__":
    main()
