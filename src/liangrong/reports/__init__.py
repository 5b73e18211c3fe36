"""Report files built from the ledger and the domain's report rows (REP-1, REP-2).

Invariant: a file is written only after its rows validated against their identities and
the ledger; a failed validation publishes nothing.
"""
