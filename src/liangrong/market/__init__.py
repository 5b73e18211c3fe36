"""The exchange's and CSF's side of the business: what they receive from members and what
they make of it (``intake``: the members' daily submissions, reviewed and recorded).

Invariants: this side reads members only through what they submitted, never through a
member's own ledger; a submission that fails the review records nothing.
"""
