"""Decoders straight to Arrow arrays of the source's types: the sampler's fast path.

``decoders.decode`` builds a pandas Series per column and ``schema.to_arrow`` converts it; that
reference path costs more than sampling itself (object arrays of Python strings for every
category, pandas datetime arithmetic). Here each output column is prepared once per sampler (its
Arrow field, category dictionaries as Arrow arrays) and each batch becomes Arrow arrays from numpy
buffers: categories are codes (``category_codes``) into their dictionary (``dictionaries``),
numbers and datetimes a validity bitmap over the numbers. A (decoder, field type) pair this module
does not know goes through the reference path, which gives the same values (a test compares both
on every kind).
"""

from __future__ import annotations

from typing import Any

from synth_ops.io.arrow_numpy import cast, from_numpy
from synth_ops.sampler import decoders, kernels
from synth_ops.sampler.category_codes import GridCodes, Intervals
from synth_ops.sampler.dictionaries import FixedWidthText, GatheredText, dictionary_array

_NANOSECONDS = {
    "D": 86_400_000_000_000,
    "h": 3_600_000_000_000,
    "min": 60_000_000_000,
    "s": 1_000_000_000,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}


def _floor(nanoseconds, unit: str):
    step = _NANOSECONDS[unit]
    return nanoseconds if step == 1 else nanoseconds // step * step  # numpy's // floors negatives too


def _whole(ops) -> bool:
    """Whether ``ops`` leave whole numbers (or NaN): a last ``round`` to no decimals, or ``floor``."""
    return bool(ops) and (ops[-1][0] == "floor" or (ops[-1][0] == "round" and ops[-1][1] <= 0))


class Column:
    """One output column of a sampler: its decoder spec and Arrow field (None for a child-count
    column, which is not written), and how it is built."""

    def __init__(self, spec: dict[str, Any], field, inverse=None):
        import pyarrow as pa

        self.spec, self.field, self.name, self.inverse = spec, field, spec["name"], inverse
        ops = spec.get("ops") or []
        # a discrete number's last op, ``snap``: applied after the others, so those keep the kernel
        self.snap = ops[-1] if ops and isinstance(ops[-1], list) and ops[-1][:1] == ["snap"] else None
        self.ops = ops[:-1] if self.snap else ops
        # the column's ops in the compiled kernel's terms (None: the numpy path applies them)
        self.encoded_ops = None if inverse is None else kernels.encode_ops(self.ops)
        self.dictionary = self.intervals = self.grid_codes = self.fixed_text = self.gathered_text = None
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
                self.fast = (pa.types.is_timestamp(target) and target.unit in _NANOSECONDS) or pa.types.is_date32(
                    target
                )
            self.fast = self.fast and (spec.get("floor") or "ns") in _NANOSECONDS
        elif kind in ("category", "label"):
            try:
                self.dictionary = dictionary_array(spec["values"], target)
                self.fixed_text = FixedWidthText.of(self.dictionary)
                self.gathered_text = None if self.fixed_text else GatheredText.of(self.dictionary)
                self.fast = True
                if kind == "category":
                    self.intervals = Intervals.of(spec, value_range)
                    self.grid_codes = GridCodes.of(spec, inverse, self._value_codes)
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
        import pyarrow as pa

        from synth_ops.io.schema import to_arrow

        series = decoders.decode(self.spec, batch, rng)
        if self.field is None:
            return series.to_numpy()
        return to_arrow(pd.DataFrame({self.name: series}), pa.schema([self.field])).column(0).combine_chunks()

    def _values(self, batch):
        """The column's values with its ops applied: a new float64 array. A value the batch has
        computed already (another column reads it too) is reused; otherwise the inverse and ops
        run in one pass where the kernel takes them (``Inverse.decoded``)."""
        import numpy as np

        source, ops = self.spec["from"], self.ops
        if self.inverse is None or batch.has_value(source):
            values = decoders._apply(np.array(batch.value(source), dtype="float64"), ops)
        else:
            values = self.inverse.decoded(batch.score(source), ops, self.encoded_ops)
        return values if self.snap is None else decoders._apply(values, [self.snap])

    def _integers(self, batch):
        """An integer column's int64 values in one compiled pass from its scores (rounded as
        ``_numbers`` rounds them), or None: the kernel is not built, does not take its ops, the
        batch has its values already, or one is NaN."""
        source = self.spec["from"]
        if self.inverse is None or batch.has_value(source) or self.snap is not None:
            return None
        return self.inverse.integers(batch.score(source), self.encoded_ops, _whole(self.spec.get("ops")))

    def _numbers(self, batch, nulls):
        import numpy as np
        import pyarrow as pa

        target = None if self.field is None else self.field.type
        if self.spec["kind"] == "number" and pa.types.is_integer(target):
            integers = self._integers(batch)
            if integers is not None:  # no value is NaN: the nulls are the null draws
                if nulls is not None:
                    integers[nulls] = 0
                return cast(from_numpy(integers, pa.int64(), nulls), target)
        values = self._values(batch)
        missing = np.isnan(values)
        if nulls is not None:
            missing |= nulls
        kind, target = self.spec["kind"], None if self.field is None else self.field.type
        if kind == "count":  # child counts: whole, never null
            values[missing] = 0.0
            return values.astype("int64")
        if kind == "number":
            if pa.types.is_floating(target):
                return cast(from_numpy(values, pa.float64(), missing), target)
            if not _whole(self.spec.get("ops")):
                values = np.round(values)
            values[missing] = 0.0
            return cast(from_numpy(values.astype("int64"), pa.int64(), missing), target)
        values[missing] = 0.0
        nanoseconds = _floor(values.astype("int64"), self.spec.get("floor") or "ns")
        mask = missing if missing.any() else None
        if self.spec.get("format"):
            from synth_ops.io.datetime_text import format_seconds

            return format_seconds(nanoseconds // _NANOSECONDS["s"], self.spec["format"], mask)
        if pa.types.is_date32(target):
            return from_numpy((nanoseconds // _NANOSECONDS["D"]).astype("int32"), pa.date32(), mask)
        # learned in UTC nanoseconds; a zoned column's instants are those same nanoseconds
        floored = _floor(nanoseconds, target.unit)
        return cast(from_numpy(floored, pa.timestamp("ns", tz=target.tz), mask), target)

    def _boolean(self, batch, nulls):
        import numpy as np
        import pyarrow as pa

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
            values = self._values(batch)
            missing = np.isnan(values)
            codes = (
                np.clip(
                    np.round(np.nan_to_num(values, nan=0.0)), spec["first_code"], spec["first_code"] + size - 1
                ).astype("int64")
                - spec["first_code"]
            )
        if nulls is not None:
            missing = nulls if missing is None else missing | nulls
        for text_of in (self.fixed_text, self.gathered_text):
            text = None if text_of is None else text_of(codes, missing)
            if text is not None:
                return text
        return self.dictionary.take(from_numpy(codes.astype("int32"), pa.int32(), missing))
