"""Reference-data loading, the seeded demo universe and simulators.

Invariants: I/O and randomness live here, never in ``liangrong.domain``; every random draw
comes from a ``random.Random`` seeded by the caller, so a seeded run is reproducible to the byte;
shipped data files under ``data/`` are read through ``importlib.resources`` only.
"""
