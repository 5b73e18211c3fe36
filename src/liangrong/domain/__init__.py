"""Pure rules and values of the margin business.

Invariants:
- imports nothing with I/O, clocks or randomness, and no other liangrong package;
- money is integer fen, prices integer li (0.001 CNY), quantities integer shares;
- ratios are exact ``Fraction``s wherever a decision depends on them;
- rule values are dated parameters handed in by the caller, never constants here.
"""
