"""Decoders straight to Arrow arrays of the source's types: the sampler's fast path.

``decoders.decode`` builds a pandas Series per column and ``schema.to_arrow`` converts it; that
reference path costs more than sampling itself (object arrays of Python strings for every
category, pandas datetime arithmetic). Here each output column is prepared once per sampler (its
Arrow field, category dictionaries as Arrow arrays) and each batch becomes Arrow arrays from numpy
buffers: categories are a ``take`` from their dictionary, numbers and datetimes a null mask over the
numbers. A (decoder, field type) pair this module does not know goes through the reference path,
which gives the same values (a test compares both on every kind).
"""
from __future__ import annotations

from typing import Any

from synth_ops.sampler import decoders

_NANOSECONDS = {"D": 86_400_000_000_000, "h": 3_600_000_000_000, "min": 60_000_000_000, "s": 1_000_000_000,
                "ms": 1_000_000, "us": 1_000, "ns": 1}


def _floor(nanoseconds, unit: str):
    step = _NANOSECONDS[unit]
    return nanoseconds if step == 1 else nanoseconds // step * step  # numpy's // floors negatives too


class _Intervals:
    """``np.searchsorted(bounds, x, side)`` for many ``x``, without a binary search per value (one
    cost more per row than the rest of a column's decoding). Up to ``COUNTED`` bounds, each value's
    position is counted: one comparison pass per bound. Beyond, for values within a known
    [``low``, ``high``], a table of 4-8x as many equal cells as there are bounds gives each value
    its cell's answer, which is checked against the neighbouring bounds; the few values whose cell
    holds a bound are searched. NaN lands past the last bound, as numpy sorts it."""

    COUNTED = 16
    LARGEST = 1 << 18  # the table (8 bytes a cell) stays within 16 MB

    def __init__(self, bounds, side: str, low: float | None = None, high: float | None = None):
        import numpy as np

        self.bounds, self.side, self.low, self.cells = bounds, side, low, None
        if len(bounds) > self.COUNTED:
            self.cells = 1 << (4 * len(bounds)).bit_length()
            self.scale = self.cells / (high - low)
            self.first = np.searchsorted(bounds, low + np.arange(self.cells) / self.scale, side).astype(np.intp)
            self.padded = np.concatenate([[-np.inf], bounds, [np.inf]])  # padded[c], padded[c + 1]: around code c

    @classmethod
    def of(cls, spec: dict, inverse_range):
        """For a category decoder, when its bounds allow it; else None (a binary search)."""
        import math

        import numpy as np

        bounds = np.asarray(spec["bounds"], dtype="float64")
        if np.isnan(bounds).any() or (np.diff(bounds) < 0).any():
            return None
        side = spec.get("side", "left")
        if len(bounds) <= cls.COUNTED:
            return cls(bounds, side)
        if spec.get("input") == "score" or len(bounds) > cls.LARGEST:  # normal scores: unbounded
            return None
        low, high = spec["clip"] if spec.get("clip") else inverse_range
        if low is None or high is None or not math.isfinite(high - low) or high <= low:
            return None
        return cls(bounds, side, float(low), float(high))

    def __call__(self, x):
        import numpy as np

        if self.cells is None:
            past = np.greater if self.side == "left" else np.greater_equal
            codes = np.zeros(len(x), dtype=np.intp)
            for bound in self.bounds:
                codes += past(x, bound)
            np.copyto(codes, len(self.bounds), where=np.isnan(x))
            return codes
        cell = (x - self.low) * self.scale
        cell = np.nan_to_num(cell, nan=0.0, posinf=self.cells - 1, neginf=0.0).astype(np.intp)
        np.clip(cell, 0, self.cells - 1, out=cell)
        codes = self.first[cell]
        below, above = self.padded[codes], self.padded[codes + 1]
        if self.side == "left":
            wrong = ~((below < x) & (x <= above))
        else:
            wrong = ~((below <= x) & (x < above))
        redo = np.flatnonzero(wrong)
        if len(redo):
            codes[redo] = np.searchsorted(self.bounds, x[redo], side=self.side)
        return codes


def _cast(array, target):
    """``array`` as ``target``; a cast to the type it already has still copies every value."""
    return array if array.type == target else array.cast(target)


class Column:
    """One output column of a sampler: its decoder spec and Arrow field (None for a child-count
    column, which is not written), and how it is built."""

    def __init__(self, spec: dict[str, Any], field, value_range=(None, None)):
        import pyarrow as pa

        self.spec, self.field, self.name = spec, field, spec["name"]
        self.dictionary = self.intervals = None
        kind = spec["kind"]
        target = None if field is None else field.type
        if kind == "count" or target is None:
            self.fast = kind == "count"
        elif kind == "number":
            self.fast = pa.types.is_integer(target) or pa.types.is_floating(target)
        elif kind == "boolean":
            self.fast = pa.types.is_boolean(target)
        elif kind == "datetime":
            if spec.get("format"):
                self.fast = pa.types.is_string(target) and "%f" not in spec["format"]
            else:
                self.fast = (pa.types.is_timestamp(target) and target.unit in _NANOSECONDS) or pa.types.is_date32(target)
            self.fast = self.fast and (spec.get("floor") or "ns") in _NANOSECONDS
        elif kind in ("category", "label"):
            try:
                self.dictionary = pa.array(spec["values"], type=target, from_pandas=True)
                self.fast = True
                if kind == "category":
                    self.intervals = _Intervals.of(spec, value_range)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                self.fast = False
        else:
            self.fast = False

    def build(self, batch: decoders.Batch, rng):
        """This column of ``batch``: an Arrow array of its field's type (a numpy int64 array for a
        child-count column)."""
        if not self.fast:
            return self._reference(batch, rng)
        spec, kind = self.spec, self.spec["kind"]
        nulls = decoders.null_mask(spec.get("nulls"), batch, spec["from"], rng)
        if kind in ("number", "count", "datetime"):
            return self._numbers(batch, nulls)
        if kind == "boolean":
            return self._boolean(batch, nulls)
        return self._take(batch, nulls)

    def _reference(self, batch, rng):
        import pandas as pd

        from synth_ops.schema import to_arrow
        import pyarrow as pa

        series = decoders.decode(self.spec, batch, rng)
        if self.field is None:
            return series.to_numpy()
        return to_arrow(pd.DataFrame({self.name: series}), pa.schema([self.field])).column(0).combine_chunks()

    def _numbers(self, batch, nulls):
        import numpy as np
        import pyarrow as pa

        values = decoders._apply(np.array(batch.value(self.spec["from"]), dtype="float64"), self.spec.get("ops", []))
        missing = np.isnan(values)
        if nulls is not None:
            missing |= nulls
        kind, target = self.spec["kind"], None if self.field is None else self.field.type
        if kind == "count":  # child counts: whole, never null
            values[missing] = 0.0
            return values.astype("int64")
        if kind == "number":
            if pa.types.is_floating(target):
                return _cast(pa.array(values, mask=missing if missing.any() else None), target)
            values = np.round(values)
            values[missing] = 0.0
            return _cast(pa.array(values.astype("int64"), mask=missing if missing.any() else None), target)
        values[missing] = 0.0
        nanoseconds = _floor(values.astype("int64"), self.spec.get("floor") or "ns")
        mask = missing if missing.any() else None
        if self.spec.get("format"):
            from synth_ops.synthesizers.sdv.fastpath import format_seconds

            seconds = pa.array(nanoseconds // _NANOSECONDS["s"], type=pa.timestamp("s"), mask=mask)
            return format_seconds(seconds, self.spec["format"])
        if pa.types.is_date32(target):
            return pa.array((nanoseconds // _NANOSECONDS["D"]).astype("int32"), type=pa.date32(), mask=mask)
        # learned in UTC nanoseconds; a zoned column's instants are those same nanoseconds
        floored = _floor(nanoseconds, target.unit)
        return _cast(pa.array(floored, type=pa.timestamp("ns", tz=target.tz), mask=mask), target)

    def _boolean(self, batch, nulls):
        import numpy as np
        import pyarrow as pa

        values = np.round(np.array(batch.value(self.spec["from"]), dtype="float64"))
        missing = np.isnan(values)
        if nulls is not None:
            missing |= nulls
        return pa.array(values >= 0.5, type=pa.bool_(), mask=missing if missing.any() else None)

    def _take(self, batch, nulls):
        """Categories and label codes: positions in the dictionary, then one ``take``."""
        import numpy as np
        import pyarrow as pa

        spec, size = self.spec, len(self.dictionary)
        if spec["kind"] == "category":
            source = spec["from"]
            x = batch.score(source) if spec.get("input") == "score" else batch.value(source)
            if spec.get("clip"):
                x = np.clip(x, *spec["clip"])
            if self.intervals is not None:
                codes = self.intervals(x)
            else:
                codes = np.searchsorted(np.asarray(spec["bounds"], dtype="float64"), x, side=spec.get("side", "left"))
            missing = codes >= size if spec.get("overflow", "null") == "null" else None
            np.minimum(codes, size - 1, out=codes)
        else:
            values = decoders._apply(np.array(batch.value(spec["from"]), dtype="float64"), spec.get("ops", []))
            missing = np.isnan(values)
            codes = np.clip(np.round(np.nan_to_num(values, nan=0.0)), spec["first_code"],
                            spec["first_code"] + size - 1).astype("int64") - spec["first_code"]
        if nulls is not None:
            missing = nulls if missing is None else missing | nulls
        mask = missing if missing is not None and missing.any() else None
        return self.dictionary.take(pa.array(codes.astype("int32"), mask=mask))
