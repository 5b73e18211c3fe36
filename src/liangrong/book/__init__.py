"""The broker's service core: orders, checks, reservations, fills and non-trade operations.

Invariants:
- one writer: the book is driven by one thread; every change of money goes through the
  ledger first, and the in-memory mirror learns it only from the transaction that posted;
- an accepted order holds a reservation of everything it can use, so open orders together
  never exceed a limit; a fill consumes its share, a cancel, expiry or exchange rejection
  releases the rest, and a fully done order holds nothing;
- fills are applied once, keyed by the exchange's trade id (the ledger's command id).
Imports domain, ledger and store; never sim, api or cli.
"""
