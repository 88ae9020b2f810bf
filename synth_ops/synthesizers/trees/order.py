"""The visit order: which learned column is drawn first (from its marginal), and which columns each
later column's tree may split on (all the ones before it).

Default: fewest distinct values first (null counted as a value), ties in the source's column order.
Why: a column of few values (a category, a flag, a month) is drawn exactly from its marginal or
from a small tree, and then serves as a predictor of everything after it; the columns of many
values (measurements, times, identifiers) come last, where their trees have the most predictors
and their leaves' donor pools carry the finest detail. It also keeps the wide categories (a
tail number, a flight number) out of the early predictors, where their frequency-rank codes
would say little.

Except: a category most of whose training rows hold values too rare to be drawn (``rare_min``) comes
last. Drawn, it takes only its few common values, so as a predictor of the columns after it, it
would send every synthetic row down the branches of those few values, where the real rows mostly
took the rare values' shared code: vega_airports' towns (2,674 in 3,376 rows, one of them drawn
for every row on one split) shifted every synthetic longitude by 10 degrees and a discriminator
told the rows apart (AUC 0.99). Last, it is drawn given everything else and predicts nothing.

``synthesizer.params.order`` replaces the order with any permutation of the learned columns
(synthpop's ``visit.sequence``).
"""

from __future__ import annotations


def visit_order(encoded: dict, requested=None) -> list[str]:
    """The learned columns (``encoded``: name -> encoding.Encoded, in the source's order) in visit order."""
    if requested is not None:
        return list(requested)
    position = {name: i for i, name in enumerate(encoded)}
    return sorted(encoded, key=lambda name: (mostly_undrawn(encoded[name]), encoded[name].distinct, position[name]))


def mostly_undrawn(column) -> bool:
    """Whether ``column`` (encoding.Encoded) is a category whose rare values hold most training rows."""
    return column.kind == "category" and column.kept is not None and len(column.kept) > 0 and column.kept.mean() < 0.5
