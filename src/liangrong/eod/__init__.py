"""The end of day (日终) as resumable steps: settle the day, accrue interest and fees, process
maturities and extensions, apply the suspension and delisting term rules, evaluate statuses
and margin calls, apply the next day's lists and parameters, write the reports, reconcile.

Invariants:
- the steps run in one fixed order (``steps.STEPS``); each is recorded in ``eod_steps``
  with a digest of what it produced only once it has completed, and a run skips the steps
  recorded for its date, so a crash at any point followed by a rerun continues where it
  stopped;
- every effect of a step is keyed by a deterministic id (ledger command ids
  ``eod:{date}:…``, contract event ids, the desk's call and notice ids) and computed only
  from what the steps before it left, so re-running a step that was interrupted half way
  adds exactly what was missing: the rerun's journal, records and files are those of an
  uninterrupted run, byte for byte (``recorded_at`` included: ``context.StepRun.moment``);
- files are written under a temporary name and renamed over the final one;
- nothing is fixed behind the books' back: reconciliation lists differences, the exchange
  report refuses to publish a figure that disagrees with the ledger.
"""
