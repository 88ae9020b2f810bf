"""A category column's values as an Arrow array of its field's type, and text rows taken from it.
Built from buffers, not ``pa.array``, which imports pandas (``synth_ops/io/arrow_numpy.py``).
"""

from __future__ import annotations

from synth_ops.io.arrow_numpy import cast
from synth_ops.sampler import kernels


class FixedWidthText:
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
                self.parts.append((name, np.ascontiguousarray(raw[:, at : at + size]).view(kind).ravel()))
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

        from synth_ops.io.arrow_numpy import fixed_width_text

        rows = len(codes)
        if self.null_entries is not None:
            entry_nulls = self.null_entries[codes]
            missing = entry_nulls if missing is None else missing | entry_nulls
        out = np.empty(rows, dtype=self.layout)
        for name, table in self.parts:
            out[name] = table[codes]
        return fixed_width_text(out, rows, self.width, missing)


class GatheredText:
    """Text categories of mixed byte widths (penguins' islands, tail numbers): each row's bytes
    copied from the dictionary by the compiled ``take_text`` (``kernels.py``), the same strings
    as Arrow's ``take`` of the dictionary: 5.2 against 12.2 ns a row for penguins' three islands,
    3.8 against 5.8 for 4,000 tail numbers (50,000-row batches, 1% null)."""

    def __init__(self, dictionary):
        import numpy as np

        entries = [b"" if v is None else v.encode() for v in dictionary.to_pylist()]
        self.offsets = np.zeros(len(entries) + 1, dtype=np.int32)
        np.cumsum([len(e) for e in entries], out=self.offsets[1:])
        self.data = b"".join(entries) + bytes(16)  # the kernel copies short entries 16 bytes at a time
        null_entries = np.asarray(dictionary.is_null().to_pylist(), dtype=bool)
        self.null_entries = null_entries if null_entries.any() else None

    @classmethod
    def of(cls, dictionary):
        import pyarrow as pa

        if kernels.compiled is None or not pa.types.is_string(dictionary.type) or not len(dictionary):
            return None
        if sum(len(v.encode()) for v in dictionary.to_pylist() if v is not None) >= 2**31:
            return None
        return cls(dictionary)

    def __call__(self, codes, missing):
        """The rows of ``codes`` (valid positions in the dictionary), null where ``missing``; None
        when the compiled module is not there or the text would not fit int32 offsets."""
        import numpy as np
        import pyarrow as pa

        from synth_ops.io.arrow_numpy import validity

        if kernels.compiled is None:
            return None
        if self.null_entries is not None:
            entry_nulls = self.null_entries[codes]
            missing = entry_nulls if missing is None else missing | entry_nulls
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        missing = None if missing is None else np.ascontiguousarray(missing, dtype=bool)
        taken = kernels.compiled.take_text(codes, self.offsets, self.data, missing)
        if taken is None:
            return None
        bitmap, nulls = validity(missing)
        return pa.StringArray.from_buffers(len(codes), pa.py_buffer(taken[0]), pa.py_buffer(taken[1]), bitmap, nulls)


def dictionary_array(values: list, target):
    """A category column's values as an Arrow array of its field's type. Text, numbers and booleans
    are built from buffers; other types through ``pa.array`` (which imports pandas)."""
    import numpy as np
    import pyarrow as pa

    from synth_ops.io import arrow_numpy

    present = [v for v in values if v is not None]
    missing = np.array([v is None for v in values], dtype=bool)
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        if all(isinstance(v, str) for v in present):
            return cast(arrow_numpy.strings(values), target)
    elif pa.types.is_integer(target):
        if all(type(v) is int for v in present):  # bool is an int to Python, not to Arrow
            numbers = np.array([0 if v is None else v for v in values], dtype="int64")
            return cast(arrow_numpy.from_numpy(numbers, pa.int64(), missing), target)
    elif pa.types.is_floating(target):
        if all(type(v) in (int, float) for v in present):
            numbers = np.array([np.nan if v is None else v for v in values], dtype="float64")
            return cast(arrow_numpy.from_numpy(numbers, pa.float64(), missing | np.isnan(numbers)), target)
    elif pa.types.is_boolean(target):
        if all(type(v) is bool for v in present):
            return arrow_numpy.from_numpy(np.array([bool(v) for v in values]), pa.bool_(), missing)
    return pa.array(values, type=target, from_pandas=True)
