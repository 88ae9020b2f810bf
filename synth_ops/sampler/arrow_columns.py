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


class _GridCodes:
    """Category codes straight from the normal scores, for a category whose values come from a
    tabulated inverse (``decoders.lookup``): a score in the grid's step ``k`` gives a value between
    ``table[k]`` and ``table[k] + steps[k]`` (the interpolation's own arithmetic at fractions 0 and
    1; rounding is monotone), so where both ends land in one category every score of the step
    does. Only the rows in the few steps a bound crosses are interpolated and searched. That saves
    the interpolation, the clip and the search on the rest; up to ``LARGEST`` bounds, the rows
    interpolated stay a few percent (a step holds at most ~0.04% of the normal's mass)."""

    LARGEST = 256

    def __init__(self, inverse, codes_of):
        import numpy as np

        self.inverse, self.codes_of = inverse, codes_of
        low = inverse.table[:-1]
        low_codes, high_codes = codes_of(low), codes_of(low + inverse.steps)
        self.codes = np.where(low_codes == high_codes, low_codes, -1)

    @classmethod
    def of(cls, spec: dict, inverse, codes_of):
        """For a category reading a grid inverse's values, with few bounds; else None."""
        import numpy as np

        if inverse is None or inverse.kind != "grid" or spec.get("input") == "score" \
                or len(spec["bounds"]) > cls.LARGEST:
            return None
        if not np.isfinite(inverse.table).all() or (inverse.steps < 0).any():  # not an inverse CDF
            return None
        return cls(inverse, codes_of)

    def __call__(self, z):
        import numpy as np

        _, index = decoders.grid_cells(z, len(self.inverse.table), self.inverse.grid_z)
        codes = self.codes[index]
        redo = np.flatnonzero(codes < 0)
        if len(redo):
            codes[redo] = self.codes_of(self.inverse(z[redo]))
        return codes


class _FixedWidthText:
    """Text categories whose values all have one byte width (airport and carrier codes, states,
    currencies): each row's bytes are gathered from the dictionary with numpy, in pieces of 8, 4, 2
    and 1 bytes, into a string buffer of fixed-width rows: 3-4 ns a row for three bytes against
    ~10 for Arrow's ``take`` of a string array (measured)."""

    WIDEST = 16

    def __init__(self, dictionary, width: int):
        import numpy as np

        self.width = width
        entries = [b"\0" * width if v is None else v.encode() for v in dictionary.to_pylist()]
        raw = np.frombuffer(b"".join(entries), dtype=np.uint8).reshape(len(entries), width)
        names, formats, offsets, self.parts, at = [], [], [], [], 0
        for size in (8, 4, 2, 1):
            while width - at >= size:
                name, kind = f"b{at}", {8: "<u8", 4: "<u4", 2: "<u2", 1: "u1"}[size]
                names.append(name)
                formats.append(kind)
                offsets.append(at)
                self.parts.append((name, np.ascontiguousarray(raw[:, at:at + size]).view(kind).ravel()))
                at += size
        self.layout = np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": width})
        null_entries = np.asarray(dictionary.is_null().to_pylist(), dtype=bool)
        self.null_entries = null_entries if null_entries.any() else None

    @classmethod
    def of(cls, dictionary):
        import pyarrow as pa

        if not pa.types.is_string(dictionary.type):
            return None
        widths = {len(v.encode()) for v in dictionary.to_pylist() if v is not None}
        if len(widths) != 1 or not 1 <= min(widths) <= cls.WIDEST:
            return None
        return cls(dictionary, widths.pop())

    def __call__(self, codes, missing):
        """The rows of ``codes`` (valid positions in the dictionary), null where ``missing``; None
        when they would not fit int32 offsets."""
        import numpy as np
        import pyarrow as pa

        from synth_ops.arrow_numpy import validity

        rows = len(codes)
        if rows * self.width >= 2**31:
            return None
        if self.null_entries is not None:
            entry_nulls = self.null_entries[codes]
            missing = entry_nulls if missing is None else missing | entry_nulls
        out = np.empty(rows, dtype=self.layout)
        for name, table in self.parts:
            out[name] = table[codes]
        offsets = np.arange(0, (rows + 1) * self.width, self.width, dtype=np.int32)
        bitmap, nulls = validity(missing)
        return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(out), bitmap, nulls)


def _dictionary(values: list, target):
    """A category column's values as an Arrow array of its field's type. Text, numbers and booleans
    are built from buffers; other types through ``pa.array`` (which imports pandas)."""
    import numpy as np
    import pyarrow as pa

    from synth_ops import arrow_numpy

    present = [v for v in values if v is not None]
    missing = np.array([v is None for v in values], dtype=bool)
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        if all(isinstance(v, str) for v in present):
            return _cast(arrow_numpy.strings(values), target)
    elif pa.types.is_integer(target):
        if all(type(v) is int for v in present):  # bool is an int to Python, not to Arrow
            numbers = np.array([0 if v is None else v for v in values], dtype="int64")
            return _cast(arrow_numpy.from_numpy(numbers, pa.int64(), missing), target)
    elif pa.types.is_floating(target):
        if all(type(v) in (int, float) for v in present):
            numbers = np.array([np.nan if v is None else v for v in values], dtype="float64")
            return _cast(arrow_numpy.from_numpy(numbers, pa.float64(), missing | np.isnan(numbers)), target)
    elif pa.types.is_boolean(target):
        if all(type(v) is bool for v in present):
            return arrow_numpy.from_numpy(np.array([bool(v) for v in values]), pa.bool_(), missing)
    return pa.array(values, type=target, from_pandas=True)


def _whole(ops) -> bool:
    """Whether ``ops`` leave whole numbers (or NaN): a last ``round`` to no decimals, or ``floor``."""
    return bool(ops) and (ops[-1][0] == "floor" or (ops[-1][0] == "round" and ops[-1][1] <= 0))


def _cast(array, target):
    """``array`` as ``target``; a cast to the type it already has still copies every value."""
    return array if array.type == target else array.cast(target)


class Column:
    """One output column of a sampler: its decoder spec and Arrow field (None for a child-count
    column, which is not written), and how it is built."""

    def __init__(self, spec: dict[str, Any], field, inverse=None):
        import pyarrow as pa

        self.spec, self.field, self.name = spec, field, spec["name"]
        self.dictionary = self.intervals = self.grid_codes = self.fixed_text = None
        value_range = (None, None) if inverse is None else inverse.value_range
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
                self.dictionary = _dictionary(spec["values"], target)
                self.fixed_text = _FixedWidthText.of(self.dictionary)
                self.fast = True
                if kind == "category":
                    self.intervals = _Intervals.of(spec, value_range)
                    self.grid_codes = _GridCodes.of(spec, inverse, self._value_codes)
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

        from synth_ops.arrow_numpy import from_numpy

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
                return _cast(from_numpy(values, pa.float64(), missing), target)
            if not _whole(self.spec.get("ops")):
                values = np.round(values)
            values[missing] = 0.0
            return _cast(from_numpy(values.astype("int64"), pa.int64(), missing), target)
        values[missing] = 0.0
        nanoseconds = _floor(values.astype("int64"), self.spec.get("floor") or "ns")
        mask = missing if missing.any() else None
        if self.spec.get("format"):
            from synth_ops.datetime_text import format_seconds

            return format_seconds(nanoseconds // _NANOSECONDS["s"], self.spec["format"], mask)
        if pa.types.is_date32(target):
            return from_numpy((nanoseconds // _NANOSECONDS["D"]).astype("int32"), pa.date32(), mask)
        # learned in UTC nanoseconds; a zoned column's instants are those same nanoseconds
        floored = _floor(nanoseconds, target.unit)
        return _cast(from_numpy(floored, pa.timestamp("ns", tz=target.tz), mask), target)

    def _boolean(self, batch, nulls):
        import numpy as np
        import pyarrow as pa

        from synth_ops.arrow_numpy import from_numpy

        values = np.round(np.array(batch.value(self.spec["from"]), dtype="float64"))
        missing = np.isnan(values)
        if nulls is not None:
            missing |= nulls
        return from_numpy(values >= 0.5, pa.bool_(), missing)

    def _value_codes(self, x):
        """A category's codes of values (or of scores, for ``"input": "score"``): clipped, then
        searched among the bounds."""
        import numpy as np

        spec = self.spec
        if spec.get("clip"):
            x = np.clip(x, *spec["clip"])
        if self.intervals is not None:
            return self.intervals(x)
        return np.searchsorted(np.asarray(spec["bounds"], dtype="float64"), x, side=spec.get("side", "left"))

    def _take(self, batch, nulls):
        """Categories and label codes: positions in the dictionary, then one ``take``."""
        import numpy as np
        import pyarrow as pa

        from synth_ops.arrow_numpy import from_numpy

        spec, size = self.spec, len(self.dictionary)
        if spec["kind"] == "category":
            source = spec["from"]
            if spec.get("input") == "score":
                codes = self._value_codes(batch.score(source))
            elif self.grid_codes is not None and not batch.has_value(source):
                codes = self.grid_codes(batch.score(source))
            else:
                codes = self._value_codes(batch.value(source))
            missing = codes >= size if spec.get("overflow", "null") == "null" else None
            np.minimum(codes, size - 1, out=codes)
        else:
            values = decoders._apply(np.array(batch.value(spec["from"]), dtype="float64"), spec.get("ops", []))
            missing = np.isnan(values)
            codes = np.clip(np.round(np.nan_to_num(values, nan=0.0)), spec["first_code"],
                            spec["first_code"] + size - 1).astype("int64") - spec["first_code"]
        if nulls is not None:
            missing = nulls if missing is None else missing | nulls
        if self.fixed_text is not None:
            text = self.fixed_text(codes, missing)
            if text is not None:
                return text
        return self.dictionary.take(from_numpy(codes.astype("int32"), pa.int32(), missing))
