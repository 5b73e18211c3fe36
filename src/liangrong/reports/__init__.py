"""Report files built from the ledger and the domain's report rows (REP-1, REP-2).

``daily_source`` reads the day's debt movements and the debts at the close from the ledger
and builds the exchange daily report; ``exchange_files`` writes and reads its files and the
default-record file (CSV UTF-8, CSV GB18030, XLSX; layout in ``docs/reports.md``).

Invariants: a file is written only after its rows validated against their identities and
the ledger; a failed validation publishes nothing; the same rows give the same bytes.
"""
