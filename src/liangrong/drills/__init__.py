"""Emergency drills (GOV-6; SSE member guide ch8 §5: 制定应急预案, 定期或者临时应急演练): each
drill exercises one recovery of ``docs/emergency.md`` on copies of the store and records its
result in the store (``store.drill_records``).

Invariants: a drill never writes to the store it examines but for its own record; its copies
come from a backup of one snapshot (``store.backup``), so a drill can run while the book
trades; a drill passes only when the recovered state equals the reference state row for
row (the backups' content digests) and file for file; a failed drill is recorded as failed.
"""
