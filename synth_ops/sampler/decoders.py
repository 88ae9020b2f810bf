"""From correlated normal scores to column values, with numpy (and pandas for datetimes) only.

Each copula column has an *inverse*: its marginal's inverse CDF as a function of the normal score,
either tabulated on a grid uniform in normal space (``grid``: the table position is arithmetic
on the score itself, no ``ndtr``, no search), or as a step function (``steps``: the scores where
the value changes, for discrete and categorical marginals, exact). Each output column has a
*decoder* reading one copula column: numbers (nulls, clipping, rounding), datetimes, categories
(interval tables), booleans, label codes, child counts. Decoders are JSON dicts in
``sampler.json``; see ``docs`` of each function for their fields.
"""

from __future__ import annotations

from typing import Any, Required, TypedDict

from synth_ops.errors import ModelIntegrityError
from synth_ops.sampler import kernels


class DecoderSpec(TypedDict, total=False):
    """One output column's decoder in ``sampler.json`` (``columns``): the fields every decoder has,
    then those its ``kind`` reads (each decoding function's docstring says which)."""

    name: Required[str]  # the output column
    kind: Required[str]  # number, datetime, category, boolean, code, count, ...
    input: int  # the copula column it reads
    ops: list  # numbers: clip, round, scale, snap, ... in order (see ``apply_ops``)
    nulls: dict[str, Any]  # where nulls come from (an indicator column, a rate)
    format: str  # datetimes printed as text: the source's format
    values: str  # categories and codes: the array of values
    bounds: str  # categories: the array of interval bounds


def lookup(z, table, grid_z: float, steps=None):
    """Linear interpolation of ``table`` (values at ``len(table)`` scores evenly spaced on
    [-grid_z, grid_z]) at the normal scores ``z``; scores beyond the grid take its ends.
    ``steps``: ``np.diff(table)``, when the caller keeps it."""
    import numpy as np

    fused = _compiled_grid_values(z, table, steps, grid_z)
    if fused is not None:
        return fused[0]
    position, index = grid_cells(z, len(table), grid_z)
    position -= index  # the fraction of the step
    position *= np.diff(table)[index] if steps is None else steps[index]
    position += table[index]
    return position


def _compiled_grid_values(z, table, steps, grid_z: float, ops=None, integers: bool = False, whole: bool = False):
    """(values, how many are NaN) from ``_kernels.grid_values``: the scores ``z`` looked up, then
    ``ops`` (encoded; None: none), as float64, or with ``integers`` as int64 (rounded unless
    ``whole``, NaN as 0). None where the compiled module or the arrays' layout does not allow it:
    then the numpy path gives the same bits."""
    import numpy as np

    ops = np.empty((0, 3)) if ops is None else ops
    if steps is None or not kernels.reads(z, table, steps, ops) or z.ndim != 1 or len(table) < 2 or not grid_z > 0:
        return None
    out = np.empty(len(z), dtype=np.int64 if integers else np.float64)
    return out, kernels.compiled.grid_values(z, table, steps, float(grid_z), ops, out, whole)


def grid_position(z, points: int, grid_z: float):
    """Each score's position on the grid: 0 at -``grid_z``, ``points - 1`` at ``grid_z``."""
    import numpy as np

    position = np.maximum(z, -grid_z)  # np.clip costs twice as much (its Python wrapper, NaN checks)
    np.minimum(position, grid_z, out=position)
    position += grid_z
    position *= (points - 1) / (2 * grid_z)
    return position


def grid_cells(z, points: int, grid_z: float):
    """(position on the grid, index of the step it falls in) of each score: ``lookup`` interpolates
    between ``table[index]`` and ``table[index + 1]``."""
    import numpy as np

    position = grid_position(z, points, grid_z)
    index = position.astype(np.intp)
    np.minimum(index, points - 2, out=index)
    return position, index


class Inverse:
    """One copula column's inverse CDF in normal-score terms (see the module docstring)."""

    def __init__(self, spec: dict, arrays: dict, grid_z: float, where: str):
        self.kind = next((k for k in ("grid", "steps", "identity") if k in spec), None)
        if self.kind == "grid":
            self.table = _array(arrays, spec["grid"], where)
            if self.table.ndim != 1 or len(self.table) < 2:
                raise ModelIntegrityError(f"{where}: inverse table {spec['grid']} has the wrong shape")
            self.steps = self.table[1:] - self.table[:-1]
        elif self.kind == "steps":
            self.thresholds = _array(arrays, spec["steps"]["thresholds"], where)
            self.values = _array(arrays, spec["steps"]["values"], where)
            if len(self.values) != len(self.thresholds) + 1:
                raise ModelIntegrityError(f"{where}: step table {spec['steps']['values']} has the wrong length")
        elif self.kind is None:
            raise ModelIntegrityError(f"{where}: unknown inverse {sorted(spec)}")
        self.grid_z = grid_z
        # the least and greatest value it gives ((None, None): unbounded, or not known)
        self.value_range = _value_range(
            self.table if self.kind == "grid" else self.values if self.kind == "steps" else None
        )

    def decoded(self, z, ops: list, encoded_ops=None):
        """``_apply(self(z), ops)``: in one compiled pass for a tabulated inverse whose ``ops``
        the kernel takes (``encoded_ops``, from ``kernels.encode_ops``), the same bits."""
        import numpy as np

        if self.kind == "grid" and encoded_ops is not None:
            fused = _compiled_grid_values(z, self.table, self.steps, self.grid_z, encoded_ops)
            if fused is not None:
                return fused[0]
        return _apply(np.array(self(z), dtype="float64"), ops)

    def integers(self, z, encoded_ops, whole: bool):
        """``self.decoded(z, ops)`` rounded (unless ``whole``) to int64 in the same compiled pass,
        or None where that pass cannot run or a value is NaN (the caller then takes the float
        values and masks the NaN, as the numpy path does)."""
        if self.kind != "grid" or encoded_ops is None:
            return None
        fused = _compiled_grid_values(z, self.table, self.steps, self.grid_z, encoded_ops, True, whole)
        return None if fused is None or fused[1] else fused[0]

    def __call__(self, z):
        import numpy as np

        if self.kind == "grid":
            return lookup(z, self.table, self.grid_z, self.steps)
        if self.kind == "steps":
            return self.values[np.searchsorted(self.thresholds, z, side="right")].astype("float64")
        return z


def _value_range(values) -> tuple[float | None, float | None]:
    import numpy as np

    if values is None or not len(values) or not np.issubdtype(values.dtype, np.number) or np.isnan(values).all():
        return None, None
    return float(np.nanmin(values)), float(np.nanmax(values))


def _array(arrays: dict, name: str, where: str):
    if name not in arrays:
        raise ModelIntegrityError(f"{where}: sampler.json names {name}, which the manifest does not list")
    return arrays[name]


class Batch:
    """One batch of normal scores and each copula column's values, each computed once. ``columns``
    holds the scores column by column, shape (copula width, rows): each column's decoding then
    reads contiguous memory, about twice as fast as a column of a (rows, width) array."""

    def __init__(self, columns, inverses: list[Inverse]):
        self.z, self.inverses, self._values = columns, inverses, {}
        self.rows = columns.shape[1]
        self.never_null: frozenset[int] = frozenset()  # copula columns whose rate nulls are not drawn (impute)

    @classmethod
    def from_rows(cls, z, inverses: list[Inverse]) -> Batch:
        """A batch of scores laid out a row each, shape (rows, copula width)."""
        import numpy as np

        return cls(np.ascontiguousarray(z.T), inverses)

    def score(self, column: int):
        return self.z[column]

    def has_value(self, column: int) -> bool:
        """Whether ``value(column)`` is computed already."""
        return column in self._values

    def value(self, column: int):
        if column not in self._values:
            self._values[column] = self.inverses[column](self.z[column])
        return self._values[column]


class NullDraws:
    """The rows of one column that are null at a rate (RDT's NullTransformer: each row null with
    that probability, independently), drawn in row order across batches: the same seed gives the
    same rows whatever the batch sizes. At rates below ``SPARSE`` the draws are the gaps between
    null rows (geometric), a few per batch, instead of a uniform per row (about 3.4 ns a row, on a
    column that is almost never null)."""

    SPARSE = 0.05
    CHUNK = 1024  # gaps drawn at a time: fixed, so the stream does not depend on the batches

    def __init__(self, rng):
        self.rng, self.row, self.last = rng, 0, -1
        self.ahead = None  # the rows of the next nulls (counted from the first batch's first row)

    def __call__(self, rows: int, rate: float):
        import numpy as np

        if rate >= self.SPARSE:
            return self.rng.random(rows) < rate
        end, mask = self.row + rows, np.zeros(rows, dtype=bool)
        while rate > 0:
            if self.ahead is None or not len(self.ahead):
                # a gap past 2^40 rows is never reached; capped so the running sum stays an int64
                self.ahead = self.last + np.cumsum(np.minimum(self.rng.geometric(rate, self.CHUNK), 1 << 40))
                self.last = int(self.ahead[-1])
            inside = int(np.searchsorted(self.ahead, end))
            mask[self.ahead[:inside] - self.row] = True
            self.ahead = self.ahead[inside:]
            if len(self.ahead):
                break
        self.row = end
        return mask


def null_mask(spec: DecoderSpec | None, batch: Batch, source: int, rng):
    """Which rows are null: ``{"rate": r}`` at random (RDT's NullTransformer; ``rng`` a NullDraws,
    or a numpy Generator for one batch alone), ``{"indicator": i}`` where copula column ``i`` is
    above 0.5 (RDT's ``from_column``), ``{"below": z}`` where the column's own score is below ``z``
    (synth-ops' copula: nulls are the bottom of [0, 1))."""
    import numpy as np

    if not spec or source in batch.never_null:
        return None
    if "rate" in spec:
        return (rng if isinstance(rng, NullDraws) else NullDraws(rng))(batch.rows, spec["rate"])
    if "indicator" in spec:
        return batch.value(spec["indicator"]) > 0.5
    if "below" in spec:
        return batch.score(source) < spec["below"]
    return np.zeros(batch.rows, dtype=bool)


def _apply(values, ops: list):
    """``["clip", low, high]`` (either may be null), ``["round", digits]``, ``["floor"]``,
    ``["scale", factor]``, ``["snap", support, cuts]`` (a discrete number: each value becomes the
    support value whose interval between cuts holds it, ``columns.snap_to_support``), in order."""
    import numpy as np

    for op in ops:
        if op[0] == "clip":
            low, high = op[1], op[2]
            if low is not None:
                values = np.maximum(values, low)
            if high is not None:
                values = np.minimum(values, high)
        elif op[0] == "round":
            values = np.round(values, op[1])
        elif op[0] == "floor":
            values = np.floor(values)
        elif op[0] == "scale":
            values = values * op[1]
        elif op[0] == "snap":
            values = _snap(values, op)
        else:
            raise ModelIntegrityError(f"unknown sampler operation {op[0]!r}")
    return values


def _snap(values, op: list):
    """A ``snap`` operation's values; ModelIntegrityError for a malformed one (the support must be
    increasing, with one cut fewer than values)."""
    import numpy as np

    from synth_ops.spec.columns import snap_to_support

    try:
        support, cuts = np.asarray(op[1], dtype="float64"), np.asarray(op[2], dtype="float64")
    except (IndexError, TypeError, ValueError):
        support = cuts = None
    if (
        support is None
        or support.ndim != 1
        or not len(support)
        or cuts.shape != (len(support) - 1,)
        or (np.diff(support) <= 0).any()
    ):
        raise ModelIntegrityError("a snap operation without an increasing support and its cuts; refit")
    return snap_to_support(values, support, cuts)


def simplify(ops: list, low: float | None = None, high: float | None = None) -> list:
    """``ops`` without the operations that cannot change a value, given that the values start
    within [``low``, ``high``] (None: unknown). SDV's two layers (RDT's float formatter, then the
    data processor's) each clip and round, so most columns come as clip, round, clip, round: the
    second pair is a no-op, and dropping it halves the decoding arithmetic. Kept exact: a clip is
    dropped only when the values are already within its bounds, a round only when they are
    already rounded to its digits (rounding is monotone, so it keeps them within rounded bounds,
    and clipping rounded values to rounded bounds keeps them rounded)."""
    import numpy as np

    kept, digits = [], None
    for op in ops:
        if op[0] == "clip":
            lower, upper = op[1], op[2]
            if (lower is None or (low is not None and low >= lower)) and (
                upper is None or (high is not None and high <= upper)
            ):
                continue
            low = lower if low is None else (low if lower is None else max(low, lower))
            high = upper if high is None else (high if upper is None else min(high, upper))
            if digits is not None and not all(b is None or float(np.round(b, digits)) == b for b in (lower, upper)):
                digits = None
        elif op[0] == "round":
            if digits == op[1]:
                continue
            digits = op[1]
            low = None if low is None else float(np.round(low, digits))
            high = None if high is None else float(np.round(high, digits))
        else:  # floor, scale: nothing is assumed past them
            low = high = digits = None
        kept.append(op)
    return kept


def _objects(values: list):
    import numpy as np

    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def decode(spec: DecoderSpec, batch: Batch, rng):
    """One output column (a pandas Series) of ``batch``, as ``spec`` describes it."""
    import numpy as np
    import pandas as pd

    kind, source = spec["kind"], spec["from"]
    nulls = null_mask(spec.get("nulls"), batch, source, rng)
    if kind in ("number", "count"):
        values = _apply(np.array(batch.value(source), dtype="float64"), spec.get("ops", []))
        if nulls is not None:
            values[nulls] = np.nan
        if kind == "count":  # child counts: whole, never null
            return pd.Series(np.nan_to_num(values, nan=0.0).astype("int64"))
        return pd.Series(values)
    if kind == "datetime":
        values = _apply(np.array(batch.value(source), dtype="float64"), spec.get("ops", []))
        missing = np.isnan(values) if nulls is None else (nulls | np.isnan(values))
        nanoseconds = np.where(missing, 0.0, values).astype("int64")
        nanoseconds[missing] = np.iinfo("int64").min  # NaT
        stamps = pd.Series(nanoseconds.view("datetime64[ns]"))
        if spec.get("floor"):
            stamps = stamps.dt.floor(spec["floor"])
        if spec.get("format"):
            from synth_ops.io.datetime_text import format_datetimes

            return format_datetimes(stamps, spec["format"]).where(stamps.notna(), None)
        return stamps.dt.tz_localize(spec["tz"]) if spec.get("tz") else stamps
    if kind == "category":
        x = batch.score(source) if spec.get("input") == "score" else batch.value(source)
        if spec.get("clip"):
            x = np.clip(x, *spec["clip"])
        choices = _objects(spec["values"])
        codes = np.searchsorted(np.asarray(spec["bounds"], dtype="float64"), x, side=spec.get("side", "left"))
        overflow = codes >= len(choices)
        out = choices[np.minimum(codes, len(choices) - 1)]
        if spec.get("overflow", "null") == "null":
            out[overflow] = None
        if nulls is not None:
            out[nulls] = None
        return pd.Series(out, dtype=object)
    if kind == "boolean":
        values = np.clip(np.round(np.array(batch.value(source), dtype="float64")), 0, 1)
        missing = np.isnan(values) if nulls is None else (nulls | np.isnan(values))
        out = _objects([False, True])[np.nan_to_num(values, nan=0.0).astype("int64")]
        out[missing] = None
        return pd.Series(out, dtype=object)
    if kind == "label":
        values = _apply(np.array(batch.value(source), dtype="float64"), spec.get("ops", []))
        first = spec["first_code"]
        choices = _objects(spec["values"])
        codes = np.clip(np.round(values), first, first + len(choices) - 1)
        out = choices[np.nan_to_num(codes - first, nan=0.0).astype("int64")]
        if nulls is not None:
            out[nulls] = None
        out[np.isnan(values)] = None
        return pd.Series(out, dtype=object)
    raise ModelIntegrityError(f"unknown sampler decoder {kind!r} for a column")
