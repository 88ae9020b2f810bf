"""The values of the columns synth-ops generates rather than learns (the column plan's roles: keys,
ids, stand-ins for identifying text, constants, nulls), and the full table: learned columns plus
generated ones, in source column order. Used by the portable sampler and by generation from a
pickled model alike, so both write the same generated values.

Each generated column draws from its own stream per block of ``BLOCK_ROWS`` release rows, so its
values do not depend on where batches or shards start.
"""

from __future__ import annotations

import zlib

from synth_ops.spec.columns import CONSTANT, FOREIGN, ID, KEY, LEARNED, NULL, REPLACED, ColumnEntry, ColumnPlan

# Divides generate.batch_rows' default: a shard that starts on a block edge draws no block twice at
# default batches; elsewhere a block across a batch edge is drawn by both batches.
BLOCK_ROWS = 10_000


def column_rng(seed: int, column: str, block: int = 0):
    """The random stream of one generated column in one block of ``BLOCK_ROWS`` release rows."""
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(repr(column).encode()), block])


def _draws(entry: ColumnEntry) -> bool:
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


def _blockwise(entry: ColumnEntry, rows: int, first_row: int, seed: int, column: str, build, join):
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


def generate_column(entry: ColumnEntry, rows: int, first_row: int, seed: int, column: str):
    """One generated column for ``rows`` rows whose first is release row ``first_row``: a pandas
    Series, integers as Int64 (exact beyond 2**53 even with nulls), text as objects with None."""
    import pandas as pd

    return _blockwise(
        entry,
        rows,
        first_row,
        seed,
        column,
        lambda counter, rng: _series(entry, counter, rng),
        lambda pieces: pd.concat(pieces, ignore_index=True),
    )


def _series(entry: ColumnEntry, counter, rng):
    import numpy as np
    import pandas as pd

    from synth_ops.profiling import keys

    role, rows = entry["role"], len(counter)
    if role == NULL:
        return pd.Series(np.full(rows, None, dtype=object))
    if role == CONSTANT:
        value = entry["value"]
        values = np.full(
            rows, value, dtype="int64" if isinstance(value, int) and not isinstance(value, bool) else object
        )
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


def generate_arrow(entry: ColumnEntry, field, rows: int, first_row: int, seed: int, column: str):
    """``generate_column`` straight to an Arrow array of ``field``'s type, without pandas, for the
    columns a sampler meets most (integer keys and ids, constants of the field's own type, all-null
    columns): the same values from the same streams (a test compares the two). None for any other
    column, which goes through ``generate_column``. Their only random part is the null mask, so
    only it is drawn a block at a time."""
    import numpy as np
    import pyarrow as pa

    from synth_ops.io import arrow_numpy
    from synth_ops.profiling import keys

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
        mask = _blockwise(
            entry, rows, first_row, seed, column, lambda counter, rng: rng.random(len(counter)) < share, np.concatenate
        )
    built = arrow_numpy.repeated(value, rows, mask) if values is None else arrow_numpy.from_numpy(values, kind, mask)
    return None if built is None else arrow_numpy.cast(built, target)


def _same_kind(kind, target) -> bool:
    import pyarrow as pa

    return any(test(kind) and test(target) for test in (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean))


def fill(learned, plan: ColumnPlan, rows: int, first_row: int, seed: int):
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
