"""The visit order: which learned column is drawn first (from its marginal), and which columns each
later column's tree may split on (all the ones before it).

Default: fewest distinct values first (null counted as a value), ties in the source's column order.
Why: a column of few values (a category, a flag, a month) is drawn exactly from its marginal or
from a small tree, and then serves as a predictor of everything after it; the columns of many
values (measurements, times, identifiers) come last, where their trees have the most predictors
and their leaves' donor pools carry the finest detail. It also keeps the wide categories (a
tail number, a flight number) out of the early predictors, where their frequency-rank codes
would say little. ``synthesizer.params.order`` replaces it with any permutation of the learned
columns (synthpop's ``visit.sequence``).
"""

from __future__ import annotations


def visit_order(encoded: dict, requested=None) -> list[str]:
    """The learned columns (``encoded``: name -> encoding.Encoded, in the source's order) in visit order."""
    if requested is not None:
        return list(requested)
    position = {name: i for i, name in enumerate(encoded)}
    return sorted(encoded, key=lambda name: (encoded[name].distinct, position[name]))
