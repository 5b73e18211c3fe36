"""The risk engine: dense arrays of the whole book, revaluation, statuses (issue #4).

Invariants: figures carry the time of the prices they used; a status change is confirmed
by the exact integer computation before it takes effect.  Independent of ``book``: it learns
from the ledger's transactions and the market's prices.

Modules: ``book_arrays`` (the arrays, ``apply`` of posted transactions, exact accounts),
``layout`` (bulk construction), ``loader`` (bulk load from a store), ``revaluation`` (full
and incremental, ``Figures``), ``statuses`` (lines, screen, exact confirmation,
``StatusChange``), ``engine`` (all of it driven by transactions and snapshots).
"""
