"""Who may do what through the service (GOV-6): roles, the actions each may take, and the
client scope.

Invariants:
- every action a route performs is one member of ``Action``; a route names exactly one, and
  ``permits`` is the only place that decides whether a role may take it;
- a client user is bound to one client id and sees or acts on nothing else, even where the
  role permits the action (``in_scope``); staff roles are not bound;
- the auditor only reads: no state-changing action is granted to it, checked at import.
"""

from __future__ import annotations

from enum import Enum


class Role(Enum):
    MARGIN_DESK = "margin_desk"  # 两融业务部: orders for clients, non-trade operations
    RISK_OFFICER = "risk_officer"  # 风控: risk figures, calls, forced liquidation
    OPERATIONS = "operations"  # 运营: end of day, reports, users
    CLIENT = "client"  # 客户: their own account only
    AUDITOR = "auditor"  # 稽核: reads everything, changes nothing


class Action(Enum):
    READ_ACCOUNTS = "read_accounts"  # accounts, positions, contracts, figures
    READ_ORDERS = "read_orders"
    PLACE_ORDER = "place_order"
    CANCEL_ORDER = "cancel_order"
    NON_TRADE = "non_trade"  # repayments, returns, transfers, deposits, withdrawals
    READ_RISK = "read_risk"  # the book's risk figures, calls, notices
    LIQUIDATE = "liquidate"
    RECORD_DEFAULT = "record_default"  # a client's default (CLI-5) and its cure
    READ_EOD = "read_eod"  # end-of-day status and report files
    RUN_EOD = "run_eod"
    SUBMIT_REPORT = "submit_report"  # the day's files to the exchanges' intake
    CALCULATE = "calculate"
    READ_AUDIT = "read_audit"
    MANAGE_USERS = "manage_users"

    @property
    def changes_state(self) -> bool:
        return self in _STATE_CHANGING


_STATE_CHANGING = frozenset(
    {
        Action.PLACE_ORDER,
        Action.CANCEL_ORDER,
        Action.NON_TRADE,
        Action.LIQUIDATE,
        Action.RECORD_DEFAULT,
        Action.RUN_EOD,
        Action.SUBMIT_REPORT,
        Action.MANAGE_USERS,
    }
)
_READS = frozenset(action for action in Action if not action.changes_state)

_GRANTS: dict[Role, frozenset[Action]] = {
    Role.MARGIN_DESK: frozenset(
        {
            Action.READ_ACCOUNTS,
            Action.READ_ORDERS,
            Action.PLACE_ORDER,
            Action.CANCEL_ORDER,
            Action.NON_TRADE,
            Action.READ_RISK,
            Action.CALCULATE,
        }
    ),
    Role.RISK_OFFICER: frozenset(
        {
            Action.READ_ACCOUNTS,
            Action.READ_ORDERS,
            Action.READ_RISK,
            Action.LIQUIDATE,
            Action.RECORD_DEFAULT,
            Action.READ_EOD,
            Action.CALCULATE,
        }
    ),
    Role.OPERATIONS: frozenset(
        {
            Action.READ_ACCOUNTS,
            Action.READ_ORDERS,
            Action.READ_EOD,
            Action.RUN_EOD,
            Action.SUBMIT_REPORT,
            Action.CALCULATE,
            Action.MANAGE_USERS,
        }
    ),
    Role.CLIENT: frozenset(
        {
            Action.READ_ACCOUNTS,
            Action.READ_ORDERS,
            Action.PLACE_ORDER,
            Action.CANCEL_ORDER,
            Action.NON_TRADE,
            Action.CALCULATE,
        }
    ),
    Role.AUDITOR: _READS,
}
assert not any(action.changes_state for action in _GRANTS[Role.AUDITOR]), "auditor reads only"


def permits(role: Role, action: Action) -> bool:
    return action in _GRANTS[role]


def granted(role: Role) -> frozenset[Action]:
    return _GRANTS[role]


def in_scope(role: Role, own_client_id: str | None, client_id: str) -> bool:
    """Whether a user of ``role`` (bound to ``own_client_id`` if a client) may see or act on
    ``client_id``'s account."""
    if role is Role.CLIENT:
        return own_client_id is not None and own_client_id == client_id
    return True
