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

Generated columns are vectorised; keys come from the row's position in the release, so shards own
disjoint key blocks whatever their number. Their random parts (nulls, ids drawn among the source's
count, replaced text, a template's free positions) are drawn a block of ``BLOCK_ROWS`` release rows
at a time, each block seeded from ``(shard seed, column, block)``: the values do not depend on the
batches a shard is generated in.
"""
from __future__ import annotations

import zlib
from typing import Any

LEARNED, KEY, ID, REPLACED, CONSTANT, NULL = "learned", "key", "id", "replaced", "constant", "null"
FOREIGN = "foreign"
GENERATED = (KEY, ID, REPLACED, CONSTANT, NULL)


def learned_columns(plan: dict[str, dict]) -> list[str]:
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


def unique_columns(plan: dict[str, dict]) -> list[str]:
    """Columns that must not repeat anywhere in a release: the key and ids unique in the source."""
    return [c for c, e in plan.items() if e["role"] == KEY or (e["role"] == ID and e.get("unique"))]


# Divides generate.batch_rows' default: a shard that starts on a block edge draws no block twice at
# default batches; elsewhere a block across a batch edge is drawn by both batches.
BLOCK_ROWS = 10_000


def column_rng(seed: int, column: str, block: int = 0):
    """The random stream of one generated column in one block of ``BLOCK_ROWS`` release rows."""
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(repr(column).encode()), block])


def _draws(entry: dict[str, Any]) -> bool:
    """Whether a generated column's values take random draws (else no stream is made for it)."""
    role = entry["role"]
    if role == NULL:
        return False
    if entry.get("null_share", 0.0) > 0 and role != KEY:
        return True
    if role == CONSTANT:
        return False
    if role == KEY or (role == ID and entry.get("unique")):
        return entry["format"]["kind"] not in ("integer", "numbered")
    return True  # ids drawn among the source's count, replaced text


def _blockwise(entry: dict[str, Any], rows: int, first_row: int, seed: int, column: str, build, join):
    """``build(counter, rng)`` for release rows ``first_row`` .. ``first_row + rows - 1``: at once when
    the column draws nothing, else a whole block at a time from the block's own stream, keeping the
    rows asked for (``join`` puts the pieces together)."""
    import numpy as np

    if not _draws(entry):
        return build(np.arange(first_row, first_row + max(rows, 0), dtype="int64"), None)
    if rows <= 0:
        return build(np.zeros(0, dtype="int64"), column_rng(seed, column, first_row // BLOCK_ROWS))
    last, pieces = first_row + rows - 1, []
    for block in range(first_row // BLOCK_ROWS, last // BLOCK_ROWS + 1):
        start = block * BLOCK_ROWS
        counter = np.arange(start, start + BLOCK_ROWS, dtype="int64")
        if start < first_row or start + BLOCK_ROWS - 1 > last:
            # rows of the block outside the batch are dropped; their counters stay within the
            # batch's, so that a key format's capacity is checked against the rows kept only
            np.clip(counter, first_row, last, out=counter)
        built = build(counter, column_rng(seed, column, block))
        rows_kept = slice(max(first_row - start, 0), min(last + 1 - start, BLOCK_ROWS))
        pieces.append(built.iloc[rows_kept] if hasattr(built, "iloc") else built[rows_kept])
    return join(pieces)


def generate_column(entry: dict[str, Any], rows: int, first_row: int, seed: int, column: str):
    """One generated column for ``rows`` rows whose first is release row ``first_row``: a pandas
    Series, integers as Int64 (exact beyond 2**53 even with nulls), text as objects with None."""
    import pandas as pd

    return _blockwise(entry, rows, first_row, seed, column, lambda counter, rng: _series(entry, counter, rng),
                      lambda pieces: pd.concat(pieces, ignore_index=True))


def _series(entry: dict[str, Any], counter, rng):
    import numpy as np
    import pandas as pd

    from synth_ops import keys

    role, rows = entry["role"], len(counter)
    if role == NULL:
        return pd.Series(np.full(rows, None, dtype=object))
    if role == CONSTANT:
        value = entry["value"]
        values = np.full(rows, value, dtype="int64" if isinstance(value, int) and not isinstance(value, bool)
                         else object)
    elif role == KEY or (role == ID and entry.get("unique")):
        values = keys.generate(entry["format"], counter, rng)
    elif role == ID:
        # as many distinct values as the source has, within what the format can hold
        distinct = min(max(entry["distinct"], 1), keys.capacity(entry["format"]) or entry["distinct"])
        values = keys.generate(entry["format"], rng.integers(0, distinct, rows), rng)
    elif role == REPLACED:
        values = keys.generate(entry["format"], np.zeros(rows, dtype="int64"), rng)
    else:
        raise ValueError(f"column role {role!r} is not generated")
    missing = np.zeros(rows, dtype=bool)
    share = entry.get("null_share", 0.0)
    if share > 0 and role != KEY:
        missing = rng.random(rows) < share
    if values.dtype.kind == "i":
        return pd.Series(pd.arrays.IntegerArray(values.astype("int64"), missing))
    values = values.astype(object)
    values[missing] = None
    return pd.Series(values)


def generate_arrow(entry: dict[str, Any], field, rows: int, first_row: int, seed: int, column: str):
    """``generate_column`` straight to an Arrow array of ``field``'s type, without pandas, for the
    columns a sampler meets most (integer keys and ids, constants of the field's own type, all-null
    columns): the same values from the same streams (a test compares the two). None for any other
    column, which goes through ``generate_column``. Their only random part is the null mask, so
    only it is drawn a block at a time."""
    import numpy as np
    import pyarrow as pa

    from synth_ops import arrow_numpy, keys

    role, target = entry["role"], field.type
    if role == NULL:
        return pa.nulls(rows, target)
    value = entry.get("value")
    if role == KEY or (role == ID and entry.get("unique")):
        if entry["format"]["kind"] != "integer" or not pa.types.is_integer(target):
            return None
        values = keys.generate(entry["format"], np.arange(first_row, first_row + rows, dtype="int64"), None)
        kind = pa.int64()
    elif role == CONSTANT and type(value) is str and pa.types.is_string(target):
        values, kind = None, pa.string()
    elif role == CONSTANT:
        kind = {int: pa.int64(), float: pa.float64(), bool: pa.bool_()}.get(type(value))  # bool: not an int here
        if kind is None or not _same_kind(kind, target):
            return None
        values = np.full(rows, value)
    else:
        return None
    share = entry.get("null_share", 0.0)
    mask = None
    if share > 0 and role != KEY:  # the draw ``_series`` makes for these columns, from the same streams
        mask = _blockwise(entry, rows, first_row, seed, column,
                          lambda counter, rng: rng.random(len(counter)) < share, np.concatenate)
    built = arrow_numpy.repeated(value, rows, mask) if values is None else arrow_numpy.from_numpy(values, kind, mask)
    return None if built is None else arrow_numpy.cast(built, target)


def _same_kind(kind, target) -> bool:
    import pyarrow as pa

    return any(test(kind) and test(target) for test in (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean))


def fill(learned, plan: dict[str, dict], rows: int, first_row: int, seed: int):
    """The full table in source column order: ``learned`` (a DataFrame, may lack columns) plus every
    generated column. ``first_row`` is the release row number of the batch's first row; the values
    do not depend on where batches start."""
    import pandas as pd

    columns = {}
    for column, entry in plan.items():
        if entry["role"] in (LEARNED, FOREIGN):  # foreign keys: set from the parents before filling
            columns[column] = learned[column].reset_index(drop=True)
        else:
            columns[column] = generate_column(entry, rows, first_row, seed, column)
    return pd.DataFrame(columns)
