"""The HTTP service (issue #5 item 7, GOV-6, ORD-1/ORD-2 through the API): every route needs a
key; each role is allowed exactly its actions and refused the rest; a client user is
confined to their own account; orders and requests go through the book and change it
exactly; refusals are 4xx with the book's code; every state-changing call is in the audit
log; the end of day runs after the close and its files download byte for byte."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from api_helpers import ROLES, Live, open_live
from conftest import make_sqlite_engine
from liangrong.book.service import OrderStatus
from liangrong.domain.access import Action, Role, permits
from liangrong.domain.calculator import calculate
from liangrong.domain.order_codes import OrderCode
from liangrong.eod.files import day_dir
from liangrong.ledger.resident import CAUGHT_UP, FRESH
from liangrong.store.api_access import audit_entries, issue_key

CALCULATOR_DOC = {
    "cash": "100000.00",
    "holdings": [{"security": "600000.SH", "quantity": 10000, "price": "10.00", "haircut": "0.7"}],
    "financing": [
        {
            "security": "600036.SH",
            "quantity": 1000,
            "amount": "30000.00",
            "price": "32.10",
            "haircut": "0.6",
            "margin_ratio": "1.0",
        }
    ],
    "lines": {"warning": "1.4", "liquidation": "1.3", "withdrawal": "3"},
    "questions": [{"withdrawable": {}}],
}


@pytest.fixture
def live(tmp_path: Path) -> Live:
    return open_live(make_sqlite_engine(tmp_path), tmp_path / "reports")


def _operations(live: Live) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document but ``/health``."""
    paths = live.app.openapi()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() if p != "/health" for m in ops]


def _concrete(path: str, live: Live) -> str:
    return (
        path.replace("{client_id}", live.own)
        .replace("{order_id}", "NOPE-1")
        .replace("{day}", live.service.session.day.isoformat())
        .replace("{name}", "none.csv")
        .replace("{record_id}", "NOPE-1")
    )


def test_every_route_but_health_refuses_a_missing_or_unknown_key(live: Live) -> None:
    operations = _operations(live)
    assert len(operations) >= 20
    for method, template in operations:
        path = _concrete(template, live)
        for headers in ({}, {"X-API-Key": "not-a-key"}):
            answer = live.client.request(method, path, headers=headers, json={})
            assert answer.status_code == 401, (method, path, answer.text)
            assert answer.json()["code"] == "UNAUTHENTICATED"
    assert live.client.get("/health").json()["trading_date"] == "2026-11-20"


def _calls(live: Live) -> list[tuple[Action, str, str, Any]]:
    """One call per action (method, path, body), chosen to pass the role check."""
    day = live.service.session.day.isoformat()
    order = {
        "client_id": live.own,
        "kind": "collateral_buy",
        "symbol": "600000.SH",
        "price": "1.00",
        "quantity": 100,
    }
    deposit = {"client_id": live.own, "kind": "cash_deposit", "amount": "1.00"}
    default = {"client_id": live.own, "kind": "bad_credit", "occurred_on": day, "note": "征信"}
    return [
        (Action.READ_ACCOUNTS, "GET", f"/api/v1/accounts/{live.own}", None),
        (Action.READ_ORDERS, "GET", "/api/v1/orders", None),
        (Action.PLACE_ORDER, "POST", "/api/v1/orders", order),
        (Action.CANCEL_ORDER, "DELETE", "/api/v1/orders/NOPE-1", None),
        (Action.NON_TRADE, "POST", "/api/v1/requests", deposit),
        (Action.READ_RISK, "GET", "/api/v1/risk", None),
        (Action.LIQUIDATE, "POST", f"/api/v1/liquidations/{live.own}", None),
        (Action.RECORD_DEFAULT, "POST", "/api/v1/defaults", default),
        (Action.RECORD_DEFAULT, "POST", "/api/v1/defaults/NOPE-1/withdraw", {"reason": "录错"}),
        (Action.READ_EOD, "GET", f"/api/v1/eod/{day}", None),
        (Action.RUN_EOD, "POST", f"/api/v1/eod/{day}", None),
        (Action.SUBMIT_REPORT, "POST", f"/api/v1/submissions/{day}", {"exchange": "SH"}),
        (Action.CALCULATE, "POST", "/api/v1/calculator", CALCULATOR_DOC),
        (Action.READ_AUDIT, "GET", "/api/v1/audit", None),
        (Action.MANAGE_USERS, "POST", "/api/v1/users", {"user_id": "new", "role": "auditor"}),
    ]


def test_each_role_is_allowed_its_actions_and_refused_the_others(live: Live) -> None:
    calls = _calls(live)
    assert {action for action, *_ in calls} == set(Action)
    for user, role in ROLES.items():
        for action, method, path, body in calls:
            answer = live.client.request(method, path, headers=live.headers(user), json=body)
            if permits(role, action):
                assert answer.status_code not in (401, 403), (user, action, answer.text)
            else:
                assert answer.status_code == 403, (user, action, answer.text)
                assert answer.json()["code"] == "FORBIDDEN"
                assert role.value in answer.json()["reason"]


def test_the_grants_are_the_ones_the_business_needs() -> None:
    assert not any(permits(Role.AUDITOR, a) for a in Action if a.changes_state)
    assert all(permits(Role.AUDITOR, a) for a in Action if not a.changes_state)
    assert permits(Role.RISK_OFFICER, Action.LIQUIDATE)
    assert not permits(Role.MARGIN_DESK, Action.LIQUIDATE)
    assert not permits(Role.CLIENT, Action.READ_RISK)
    assert permits(Role.CLIENT, Action.PLACE_ORDER)
    assert permits(Role.OPERATIONS, Action.RUN_EOD)
    assert not permits(Role.OPERATIONS, Action.PLACE_ORDER)
    # the risk officer keeps the clients' default records (风控: 客户信用记录)
    assert [r for r in Role if permits(r, Action.RECORD_DEFAULT)] == [Role.RISK_OFFICER]


def test_a_client_user_sees_and_acts_on_their_own_account_only(live: Live) -> None:
    page = live.get("client", "/api/v1/accounts").json()
    assert page["total"] == 1 and page["accounts"][0]["client_id"] == live.own
    assert live.get("client", f"/api/v1/accounts/{live.own}").status_code == 200
    for path in ("", "/positions", "/contracts"):
        refused = live.get("client", f"/api/v1/accounts/{live.other}{path}")
        assert refused.status_code == 403 and refused.json()["code"] == "OUT_OF_SCOPE"
    assert live.get("client", f"/api/v1/orders?client_id={live.other}").status_code == 403
    order = {
        "client_id": live.other,
        "kind": "collateral_buy",
        "symbol": "600000.SH",
        "price": "1.00",
        "quantity": 100,
    }
    before = len(live.service.session.book.orders)
    assert live.post("client", "/api/v1/orders", order).status_code == 403
    assert len(live.service.session.book.orders) == before
    assert live.get("desk", "/api/v1/accounts").json()["total"] == 20


def _resting_buy(live: Live, user: str, order_id: str) -> dict[str, Any]:
    """A collateral buy 3% under the last price: inside the day's limits, below the ask."""
    session = live.service.session
    session.step()
    symbol = max(session.book.mirrors[live.own].holdings)
    last = session.book.market.prices_li[symbol]
    tick = session.book.market.securities[symbol].tick_li
    price_li = (last * 97 // 100) // tick * tick
    return {
        "client_id": live.own,
        "kind": "collateral_buy",
        "symbol": symbol,
        "price": f"{price_li / 1000:.3f}",
        "quantity": 100,
        "order_id": order_id,
    }


def _cash(live: Live) -> int:
    return int(live.get("desk", f"/api/v1/accounts/{live.own}").json()["cash_free_fen"])


def test_an_order_is_placed_held_and_cancelled_through_the_book(live: Live) -> None:
    cash_before = _cash(live)
    body = _resting_buy(live, "desk", "T-1")
    placed = live.post("desk", "/api/v1/orders", body)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "open" and placed.json()["filled_quantity"] == 0
    held = live.service.session.book.orders["T-1"].held
    assert held.cash_fen > 0 and _cash(live) == cash_before - held.cash_fen
    listed = live.get("client", "/api/v1/orders?open_only=true").json()
    assert [o["order_id"] for o in listed] == ["T-1"]
    again = live.post("desk", "/api/v1/orders", body)
    assert again.status_code == 422 and again.json()["code"] == "DUPLICATE_ORDER_ID"
    cancelled = live.delete("client", "/api/v1/orders/T-1")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert live.service.session.book.orders["T-1"].status is OrderStatus.CANCELLED
    assert _cash(live) == cash_before
    twice = live.delete("desk", "/api/v1/orders/T-1")
    assert twice.status_code == 409 and "cancelled" in twice.json()["reason"]
    assert live.delete("desk", "/api/v1/orders/NOPE-1").status_code == 404


def test_the_book_refuses_with_its_code_in_both_languages_and_nothing_changes(
    live: Live,
) -> None:
    body = _resting_buy(live, "desk", "T-2")
    body["quantity"] = 150  # not a whole lot
    journal = live.service.session.book.ledger
    refused = live.post("desk", "/api/v1/orders", body)
    assert refused.status_code == 422
    code = OrderCode[refused.json()["code"]]
    assert refused.json() == {"code": code.name, "reason": code.en, "reason_zh": code.zh}
    assert "T-2" not in live.service.session.book.orders
    outside = {**body, "quantity": 100, "price": "0.01", "order_id": "T-3"}
    answer = live.post("desk", "/api/v1/orders", outside)
    assert answer.json()["code"] == OrderCode.PRICE_OUTSIDE_LIMITS.name
    assert journal is live.service.session.book.ledger


def test_requests_post_exactly_and_malformed_ones_say_why(live: Live) -> None:
    before = _cash(live)
    done = live.post(
        "client",
        "/api/v1/requests",
        {"client_id": live.own, "kind": "cash_deposit", "amount": "1234.56"},
    )
    assert done.status_code == 201 and done.json()["amount_fen"] == 123456
    assert _cash(live) == before + 123456
    too_much = live.post(
        "desk",
        "/api/v1/requests",
        {"client_id": live.own, "kind": "cash_withdrawal", "amount": "999999999.99"},
    )
    assert too_much.status_code == 422 and too_much.json()["code"] in OrderCode.__members__
    assert _cash(live) == before + 123456
    mixed = live.post(
        "desk",
        "/api/v1/requests",
        {
            "client_id": live.own,
            "kind": "cash_deposit",
            "amount": "1.00",
            "symbol": "600000.SH",
            "quantity": 100,
        },
    )
    assert mixed.status_code == 422 and mixed.json()["code"] == "INVALID_REQUEST"
    places = live.post(
        "desk",
        "/api/v1/requests",
        {"client_id": live.own, "kind": "cash_deposit", "amount": "1.001"},
    )
    assert places.status_code == 422 and "amount" in places.json()["reason"]
    reused = {"client_id": live.own, "kind": "cash_deposit", "amount": "1.00", "request_id": "Q1"}
    assert live.post("desk", "/api/v1/requests", reused).status_code == 201
    assert live.post("desk", "/api/v1/requests", reused).status_code == 409
    assert _cash(live) == before + 123456 + 100


def test_malformed_bodies_are_422_with_the_field_named(live: Live) -> None:
    answer = live.post("desk", "/api/v1/orders", {"client_id": live.own, "kind": "margin_buy"})
    assert answer.status_code == 422 and answer.json()["code"] == "INVALID_REQUEST"
    assert "symbol" in answer.json()["reason"] and "price" in answer.json()["reason"]
    wrong = live.post(
        "desk",
        "/api/v1/orders",
        {
            "client_id": live.own,
            "kind": "forced_sell",
            "symbol": "600000.SH",
            "price": "1",
            "quantity": 1,
        },
    )
    assert wrong.status_code == 422 and "kind" in wrong.json()["reason"]
    unknown = live.get("desk", "/api/v1/accounts/C999999")
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


def _finish_day(live: Live) -> None:
    session = live.service.session
    while session.step():
        pass
    live.service.market.close_day()


def test_the_end_of_day_catches_up_the_book_the_service_read_before_its_session(
    live: Live,
) -> None:
    """The service reads its resident book before the session (its market thread does so
    before the first step); the end of day reads only what the session posted since."""
    market = live.service.market
    market.load_book()
    _finish_day(live)
    day = live.service.session.day.isoformat()
    ran = live.post("ops", f"/api/v1/eod/{day}")
    assert ran.status_code == 200 and ran.json()["complete"] is True
    reads = market.resident.reads
    assert reads[("contracts", FRESH)] == 1 and reads[("debts", FRESH)] == 1  # the load
    assert reads[("contracts", CAUGHT_UP)] >= 1 and reads[("debts", CAUGHT_UP)] >= 1


def test_the_end_of_day_runs_after_the_close_and_its_files_download(live: Live) -> None:
    day = live.service.session.day.isoformat()
    early = live.post("ops", f"/api/v1/eod/{day}")
    assert early.status_code == 409 and "after the close" in early.json()["reason"]
    assert live.get("ops", f"/api/v1/reports/{day}").status_code == 404
    _finish_day(live)
    order = _resting_buy(live, "desk", "LATE-1")
    late = live.post("desk", "/api/v1/orders", order)
    assert late.status_code == 409 and late.json()["code"] == "MARKET_CLOSED"
    assert live.post("ops", "/api/v1/eod/2026-11-19").status_code == 409
    ran = live.post("ops", f"/api/v1/eod/{day}")
    assert ran.status_code == 200 and ran.json()["complete"] is True
    status = live.get("audit", f"/api/v1/eod/{day}").json()
    assert [s["digest"] for s in status["steps"]] == [s["digest"] for s in ran.json()["steps"]]
    files = {f["name"]: f["bytes"] for f in live.get("risk", f"/api/v1/reports/{day}").json()}
    folder = day_dir(live.service.reports_dir, live.service.session.day)
    assert files == {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    report = next(
        name for name in files if name.startswith("rzrq_daily_SH") and name.endswith(".csv")
    )
    got = live.get("audit", f"/api/v1/reports/{day}/{report}")
    assert got.status_code == 200 and got.content == (folder / report).read_bytes()
    for name in ("..", "..%2F..%2Fetc%2Fpasswd", ".hidden", "nothing.csv"):
        assert live.get("ops", f"/api/v1/reports/{day}/{name}").status_code in (404, 422)
    _submits_the_days_files(live, day)


def _submits_the_days_files(live: Live, day: str) -> None:
    """After the end of day, operations hands the files to the exchanges' intake at the
    session's (simulated) time, before 22:00: on time; what the exchanges hold is listed."""
    path = f"/api/v1/submissions/{day}"
    sent = live.post("ops", path, {"exchange": "SH"})
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert (body["status"], body["of_record"], body["submitted_by"]) == ("on_time", True, "ops")
    assert body["submitted_at"] == live.service.session.at.astimezone(UTC).isoformat()
    assert body["identities_checked"] is False  # the exchange holds no report of 11-19
    assert live.post("ops", path, {"exchange": "SZ", "report": "defaults"}).status_code == 201
    again = live.post("ops", path, {"exchange": "SH"})  # the same instant: nothing new
    assert again.status_code == 201 and again.json() == body
    for bad in ({"exchange": "NY"}, {"exchange": "SH", "report": "weekly"}, {}):
        assert live.post("ops", path, bad).status_code == 422
    other = live.post("ops", "/api/v1/submissions/2026-11-19", {"exchange": "SH"})
    assert other.status_code == 409 and "runs 2026-11-20" in other.json()["reason"]
    held = live.get("audit", path).json()
    assert [(h["report"], h["exchange"], h["of_record"]) for h in held] == [
        ("daily", "SH", True), ("defaults", "SZ", True),
    ]  # fmt: skip
    assert held[0] == body
    entries = [e for e in audit_entries(live.service.engine) if e.action == "submit_report"]
    assert [e.status_code for e in entries] == [201, 201, 201, 422, 422, 422, 409]


def _default(live: Live, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"client_id": live.own, "kind": "bad_credit",
                               "occurred_on": "2026-11-16", "note": "征信报告逾期"}  # fmt: skip
    return {**body, **fields}


def test_defaults_are_recorded_cured_and_listed_and_refused_with_their_codes(
    live: Live,
) -> None:
    record_id = f"default:{live.own}:bad_credit:2026-11-16"
    made = live.post("risk", "/api/v1/defaults", _default(live, malicious=True))
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("record_id", "malicious", "recorded_by", "cured_on")} == {
        "record_id": record_id, "malicious": True, "recorded_by": "risk", "cured_on": None,
    }  # fmt: skip
    again = live.post("risk", "/api/v1/defaults", _default(live, malicious=True))
    assert again.status_code == 200 and again.json() == body
    charges = _default(live, kind="overdue_charges", amount_owed="12.50", note="",
                       record_id="OC-1")  # fmt: skip
    assert live.post("risk", "/api/v1/defaults", charges).json()["amount_owed_fen"] == 1_250
    for fields, status, code in (
        ({"note": "另一份报告"}, 409, "RECORDED_OTHERWISE"),
        ({"client_id": "C9999999"}, 404, "UNKNOWN_CLIENT"),
        ({"kind": "overdue_debt"}, 422, "DERIVED_KIND"),
        ({"note": ""}, 422, "NOTE_REQUIRED"),
        ({"note": "two\nlines"}, 422, "INVALID_NOTE"),
        ({"occurred_on": "2026-11-21"}, 422, "IN_THE_FUTURE"),
        ({"kind": "overdue_charges", "record_id": "OC-2"}, 422, "AMOUNT_REQUIRED"),
        ({"occurred_on": "2026-02-30"}, 422, "INVALID_REQUEST"),
        ({"amount_owed": "1.234"}, 422, "INVALID_REQUEST"),
        ({"record_id": "a:b"}, 422, "INVALID_REQUEST"),
        ({"kind": "fraud"}, 422, "INVALID_REQUEST"),
    ):
        refused = live.post("risk", "/api/v1/defaults", _default(live, **fields))
        assert (refused.status_code, refused.json()["code"]) == (status, code), fields
    assert len(live.get("risk", "/api/v1/defaults").json()) == 2  # nothing else recorded
    cure_path = f"/api/v1/defaults/{record_id}/cure"
    cured = live.post("risk", cure_path, {"cured_on": "2026-11-20", "note": "异议已更正"})
    assert cured.status_code == 201, cured.text
    assert (cured.json()["cured_on"], cured.json()["cured_by"]) == ("2026-11-20", "risk")
    assert live.post("risk", cure_path, {"cured_on": "2026-11-20", "note": "异议已更正"}
                     ).status_code == 200  # fmt: skip
    for path, cure, status, code in (
        (cure_path, {"cured_on": "2026-11-19"}, 409, "ALREADY_CURED"),
        ("/api/v1/defaults/NOPE-1/cure", {"cured_on": "2026-11-19"}, 404, "UNKNOWN_RECORD"),
        ("/api/v1/defaults/OC-1/cure", {"cured_on": "2026-11-15"}, 422,
         "CURED_BEFORE_OCCURRED"),
        ("/api/v1/defaults/OC-1/cure", {"cured_on": "2026-11-21"}, 422, "IN_THE_FUTURE"),
    ):  # fmt: skip
        refused = live.post("risk", path, cure)
        assert (refused.status_code, refused.json()["code"]) == (status, code), cure
        assert refused.json()["reason_zh"]
    listed = live.get("audit", f"/api/v1/defaults?client_id={live.own}").json()
    assert [(d["record_id"], d["cured_on"]) for d in listed] == [
        ("OC-1", None), (record_id, "2026-11-20"),
    ]  # fmt: skip
    as_of = live.get("desk", "/api/v1/defaults?on=2026-11-19").json()  # before the cure
    assert [(d["record_id"], d["cured_on"]) for d in as_of] == [("OC-1", None), (record_id, None)]
    assert live.get("desk", "/api/v1/defaults?on=2026-11-15").json() == []
    assert live.get("risk", f"/api/v1/defaults?client_id={live.other}").json() == []
    assert live.get("ops", "/api/v1/defaults").status_code == 403
    assert live.post("desk", "/api/v1/defaults", _default(live)).status_code == 403
    logged = [e for e in audit_entries(live.service.engine) if e.action == "record_default"]
    assert [e.status_code for e in logged][:3] == [201, 200, 201]
    assert len(logged) == 3 + 11 + 2 + 4 + 1 and logged[0].subject == live.own
    assert logged[-1].user_id == "desk" and logged[-1].status_code == 403


def _second_risk_officer(live: Live) -> str:
    live.keys["risk2"] = live.service.issue("risk2", Role.RISK_OFFICER, None).key
    return "risk2"


def test_a_default_is_withdrawn_by_another_risk_officer_and_refused_with_its_codes(
    live: Live,
) -> None:
    record_id = "BC-ERR"
    recorded = _default(live, record_id=record_id, malicious=True)
    assert live.post("risk", "/api/v1/defaults", recorded).status_code == 201
    path = f"/api/v1/defaults/{record_id}/withdraw"
    mistake = {"reason": "客户代码录错", "withdrawn_on": "2026-11-18"}
    four_eyes = live.post("risk", path, mistake)  # the recorder withdraws: refused
    assert (four_eyes.status_code, four_eyes.json()["code"]) == (409, "SAME_USER")
    assert four_eyes.json()["reason_zh"] == "撤销人不得为记录人"
    other = _second_risk_officer(live)
    for target, body, status, code in (
        ("/api/v1/defaults/NOPE-1/withdraw", mistake, 404, "UNKNOWN_RECORD"),
        (path, {**mistake, "reason": ""}, 422, "REASON_REQUIRED"),
        (path, {**mistake, "reason": "a\nb"}, 422, "INVALID_REASON"),
        (path, {**mistake, "withdrawn_on": "2026-11-21"}, 422, "IN_THE_FUTURE"),
        (path, {**mistake, "withdrawn_on": "2026-11-15"}, 422, "WITHDRAWN_BEFORE_OCCURRED"),
        (path, {**mistake, "withdrawn_on": "2026-11-31"}, 422, "INVALID_REQUEST"),
        (path, {"withdrawn_on": "2026-11-18"}, 422, "INVALID_REQUEST"),  # no reason
    ):  # fmt: skip
        refused = live.post(other, target, body)
        assert (refused.status_code, refused.json()["code"]) == (status, code), body
    (listed,) = live.get("risk", "/api/v1/defaults").json()
    assert listed["withdrawn_on"] is None  # nothing written
    made = live.post(other, path, mistake)
    assert made.status_code == 201, made.text
    body = made.json()
    assert {k: body[k] for k in ("withdrawn_on", "withdrawn_by", "withdrawal_reason")} == {
        "withdrawn_on": "2026-11-18", "withdrawn_by": "risk2", "withdrawal_reason": "客户代码录错",
    }  # fmt: skip
    assert body["withdrawn_at"] and body["recorded_by"] == "risk"
    again = live.post(other, path, mistake)
    assert again.status_code == 200 and again.json() == body
    for user, fields, status, code in (
        (other, {"reason": "另一原因"}, 409, "ALREADY_WITHDRAWN"),
        (other, {"withdrawn_on": None}, 409, "ALREADY_WITHDRAWN"),  # today, not the 18th
        ("risk", {}, 409, "SAME_USER"),
    ):
        refused = live.post(user, path, {**mistake, **fields})
        assert (refused.status_code, refused.json()["code"]) == (status, code), fields
    cure = live.post(other, f"/api/v1/defaults/{record_id}/cure", {"cured_on": "2026-11-20"})
    assert (cure.status_code, cure.json()["code"]) == (409, "WITHDRAWN")
    assert live.get("audit", "/api/v1/defaults").json() == [body]
    (as_of,) = live.get("desk", "/api/v1/defaults?on=2026-11-17").json()  # before it
    assert as_of["withdrawn_on"] is None and as_of["withdrawn_at"] is None
    assert live.post("desk", path, mistake).status_code == 403
    logged = [e for e in audit_entries(live.service.engine) if e.path == path]
    assert [e.status_code for e in logged] == [409, *[422] * 6, 201, 200, 409, 409, 409, 403]
    assert {e.action for e in logged} == {"record_default"} and logged[7].subject == record_id
    assert logged[7].request == mistake and logged[7].user_id == "risk2"


def test_a_liquidation_takes_its_reason_and_refuses_an_unknown_one(live: Live) -> None:
    path = f"/api/v1/liquidations/{live.own}"
    plan = live.get("risk", f"{path}/plan?reason=judicial_enforcement").json()
    assert (plan["reason"], plan["mode"]) == ("judicial_enforcement", "repay_all")
    refused = live.get("risk", f"{path}/plan?reason=a_whim")
    assert refused.status_code == 422 and "reason" in refused.text
    answer = live.client.post(f"{path}?reason=early_termination", headers=live.headers("risk"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["reason"] == "early_termination"


def test_the_calculator_answers_as_the_domain_does(live: Live) -> None:
    answer = live.post("client", "/api/v1/calculator", CALCULATOR_DOC)
    assert answer.status_code == 200 and answer.json() == json.loads(
        json.dumps(calculate(CALCULATOR_DOC))
    )
    bad = live.post("client", "/api/v1/calculator", {"account": {"cash": "-x"}})
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_REQUEST"


def _audit_of(engine: Engine) -> list[tuple[str, str, str, int]]:
    return [(e.user_id, e.action, e.method, e.status_code) for e in audit_entries(engine)]


def test_every_state_changing_call_is_in_the_append_only_audit_log(live: Live) -> None:
    engine = live.service.engine
    body = _resting_buy(live, "desk", "A-1")
    live.post("desk", "/api/v1/orders", body)
    live.post("audit", "/api/v1/orders", {**body, "order_id": "A-2"})
    live.client.post("/api/v1/orders", json=body)
    live.post("desk", "/api/v1/orders", {"nonsense": True})
    live.delete("desk", "/api/v1/orders/A-1")
    made = live.post(
        "ops", "/api/v1/users", {"user_id": "u2", "role": "client", "client_id": live.other}
    )
    live.get("desk", "/api/v1/orders")  # a read: not logged
    assert _audit_of(engine) == [
        ("desk", "place_order", "POST", 201),
        ("audit", "place_order", "POST", 403),
        ("(unauthenticated)", "place_order", "POST", 401),
        ("desk", "place_order", "POST", 422),
        ("desk", "cancel_order", "DELETE", 200),
        ("ops", "manage_users", "POST", 201),
    ]
    entries = audit_entries(engine)
    assert entries[0].subject == live.own and entries[0].request["order_id"] == "A-1"
    assert entries[0].outcome["status"] == "open"
    assert entries[5].outcome["api_key"] == "(redacted)"
    key = made.json()["api_key"]
    assert key not in json.dumps([e.outcome for e in entries])
    mine = live.client.get("/api/v1/me", headers={"X-API-Key": key}).json()
    assert mine["client_id"] == live.other and mine["role"] == "client"
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE api_audit SET status_code = 200"))


def test_a_body_no_column_can_hold_is_refused_and_logged_by_its_size(live: Live) -> None:
    """A JSON escape of a lone surrogate is valid JSON but no text: the caller gets a 4xx
    and the log the body's size, never a server error."""
    fields = f'"client_id": "{live.own}", "kind": "bad_credit", "occurred_on": "2026-11-16"'
    raw = ("{" + fields + ', "note": "\\ud800"}').encode()
    headers = {**live.headers("risk"), "content-type": "application/json"}
    answer = live.client.post("/api/v1/defaults", headers=headers, content=raw)
    # the body's own parser refuses the surrogate before the route sees it
    assert answer.status_code == 422 and answer.json()["code"] == "INVALID_REQUEST"
    (entry,) = audit_entries(live.service.engine)
    assert (entry.status_code, entry.request) == (422, {"undecodable_bytes": len(raw)})


def test_a_client_user_needs_a_client_and_staff_none(live: Live) -> None:
    engine, now = live.service.engine, live.service.now()
    with pytest.raises(ValueError):
        issue_key(engine, "c", Role.CLIENT, None, now)
    with pytest.raises(ValueError):
        issue_key(engine, "s", Role.AUDITOR, live.own, now)
    refused = live.post("ops", "/api/v1/users", {"user_id": "desk", "role": "auditor"})
    assert refused.status_code == 409


def test_orders_and_audit_on_both_stores(store: Engine, tmp_path: Path) -> None:
    live = open_live(store, tmp_path / "reports", clients=8, minutes=1)
    body = _resting_buy(live, "client", "B-1")
    assert live.post("client", "/api/v1/orders", body).status_code == 201
    assert live.delete("client", "/api/v1/orders/B-1").json()["status"] == "cancelled"
    assert _audit_of(store) == [
        ("client", "place_order", "POST", 201),
        ("client", "cancel_order", "DELETE", 200),
    ]
    # a default recorded and cured through the service, on either store
    made = live.post("risk", "/api/v1/defaults", _default(live, record_id="BC-1"))
    assert made.status_code == 201, made.text
    assert live.post("risk", "/api/v1/defaults/BC-1/cure", {"cured_on": "2026-11-20"}
                     ).status_code == 201  # fmt: skip
    refused = live.post("risk", "/api/v1/defaults", _default(live, record_id="BC-1", note="x"))
    assert refused.status_code == 409
    (listed,) = live.get("risk", "/api/v1/defaults").json()
    assert (listed["record_id"], listed["cured_on"]) == ("BC-1", "2026-11-20")
    # and withdrawn by another risk officer, as recorded in error
    withdrawn = live.post(_second_risk_officer(live), "/api/v1/defaults/BC-1/withdraw",
                          {"reason": "录入错误"})  # fmt: skip
    assert withdrawn.status_code == 201, withdrawn.text
    assert (withdrawn.json()["withdrawn_on"], withdrawn.json()["cured_on"]) == (
        "2026-11-20", "2026-11-20"
    )  # fmt: skip
