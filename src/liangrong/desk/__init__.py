"""The margin desk: the book and the risk engine run together over one trading day, with
margin calls after settlement and forced liquidation through the trading path (RISK-5…7).

Invariants:
- the risk engine learns every transaction the ledger accepted, through the book's
  listeners, before anything else acts on its figures; its statuses are the exact ones;
- an account's trading restriction (``AccountStatus``) is whatever the latest margin-call
  decision says, recorded in the store first and then applied to the book, or LIQUIDATION
  while an overdue contract whose liquidation day has come is owed (an uncleared
  ``overdue`` record);
- forced orders go through ``Book.submit`` like any order (the same checks, the same
  reservations, the same fills); the desk never posts a trade itself.
"""
