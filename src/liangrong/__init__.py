"""liangrong (两融): the margin financing and securities lending book.

Packages, top to bottom (arrows point down only):
cli -> sim -> store -> ledger -> domain.
"""

__version__ = "0.1.0"
