"""The column plan: for every source column, whether the synthesizer learns it or synth-ops generates
it, and how. Written into ``profile.json`` under ``"columns_plan"``, so a user sees (and the spec can
change) every column that is not learned, with the reason.

Roles:
    learned   modelled by the synthesizer (the only columns SDV ever sees)
    key       the primary key: unique over the whole release, generated from the release row number
    id        another identifier: same shape as the source (unique if the source's is), never learned
    replaced  identifying text: random values of the source's shape, never a real value
    constant  one value in every row (and nulls where the source has them, at its rate)
    null      every value null, as in the source
    foreign   a foreign key: the primary key of the synthetic parent row the row is sampled under
              (or drawn among), so every non-null value resolves within the release

Generated columns are made by ``synth_ops/sampler/generated.py`` (vectorised; keys from the row's
position in the release, so shards own disjoint key blocks whatever their number).
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

LEARNED, KEY, ID, REPLACED, CONSTANT, NULL = "learned", "key", "id", "replaced", "constant", "null"
FOREIGN = "foreign"
GENERATED = (KEY, ID, REPLACED, CONSTANT, NULL)


class ColumnEntry(TypedDict, total=False):
    """One column of the plan (``profile.json``'s ``columns_plan``: column name -> entry)."""

    role: Required[str]  # one of the roles above
    reason: str  # why it is not learned, in words (no data values)
    sdtype: str  # learned columns: SDV's sdtype
    format: dict[str, Any]  # key, id, replaced: the learned shape of its values (profiling/keys.py)
    unique: bool  # id: unique in the source
    distinct: int  # id: distinct values in the source
    null_share: float  # id, replaced, constant: the source's share of nulls
    value: Any  # constant: the value (a public constant of the table, like its year)
    relationship: str  # foreign: the relationship that sets it


ColumnPlan = dict[str, ColumnEntry]


def learned_columns(plan: ColumnPlan) -> list[str]:
    return [c for c, entry in plan.items() if entry["role"] == LEARNED]


# A learned number with at most this many distinct non-null values is *discrete* (codes, counts,
# ratings, 0/1 indicators stored as floats): every synthetic value is one of them. 20 holds a
# 0-10 or 1-20 scale, a month, small counts and code lists (randhie's coins: 4 values), while a
# measured quantity has far more (penguins' smallest numeric column, flipper length: 55); a column
# just above it is a coarse measurement, where values between the real ones are plausible.
DISCRETE_MAX = 20


def discrete_support(values):
    """The sorted distinct non-null values (float64) of a numeric column with at most
    ``DISCRETE_MAX`` of them, else None. Backends call it on their training rows, the profile on
    the source: a backend's support is within the profile's."""
    import numpy as np

    values = np.asarray(values, dtype="float64")
    support = np.unique(values[~np.isnan(values)])
    if not 0 < len(support) <= DISCRETE_MAX or not np.isfinite(support).all():
        return None
    return support


def support_cuts(support):
    """The cut points between neighbouring support values at which ``snap_to_support`` moves to
    the next one: midpoints, so a value goes to its nearest support value."""
    import numpy as np

    support = np.asarray(support, dtype="float64")
    return support[:-1] + (support[1:] - support[:-1]) / 2


def snap_to_support(values, support, cuts=None):
    """Each value as the support value whose interval holds it: ``support[i]`` for
    ``cuts[i - 1] < value <= cuts[i]`` (default cuts: the nearest value, ties to the lower one);
    NaN stays NaN. numpy only: the portable sampler applies it too (its ``snap`` op)."""
    import numpy as np

    values = np.asarray(values, dtype="float64")
    support = np.asarray(support, dtype="float64")
    cuts = support_cuts(support) if cuts is None else np.asarray(cuts, dtype="float64")
    snapped = support[np.minimum(np.searchsorted(cuts, values, side="left"), len(support) - 1)]
    snapped[np.isnan(values)] = np.nan
    return snapped


def unique_columns(plan: ColumnPlan) -> list[str]:
    """Columns that must not repeat anywhere in a release: the key and ids unique in the source."""
    return [c for c, e in plan.items() if e["role"] == KEY or (e["role"] == ID and e.get("unique"))]
