"""numpy arrays as Arrow arrays, zero-copy, without pandas.

``pa.array`` checks every input for pandas types and so imports pandas, about 0.3 s of a sampling
process that otherwise needs only numpy and pyarrow. The sampler builds its arrays from buffers
instead: the values' own buffer and a validity bitmap packed from a null mask.
"""

from __future__ import annotations


def validity(mask):
    """(Arrow validity bitmap, null count) of a boolean null mask (True: null); (None, 0) for none."""
    import numpy as np
    import pyarrow as pa

    if mask is None:
        return None, 0
    nulls = int(np.count_nonzero(mask))
    if not nulls:
        return None, 0
    return pa.py_buffer(np.packbits(~mask, bitorder="little")), nulls


def from_numpy(values, arrow_type, mask=None):
    """``values`` (a 1-d numpy array whose items are ``arrow_type``'s physical values: int64 for
    timestamps, int32 for dates) as an Arrow array, null where ``mask``; booleans are bit-packed."""
    import numpy as np
    import pyarrow as pa

    bitmap, nulls = validity(mask)
    if pa.types.is_boolean(arrow_type):
        data = pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values))
    return pa.Array.from_buffers(arrow_type, len(values), [bitmap, data], null_count=nulls)


def strings(values):
    """A list of str (None: null) as an Arrow string array."""
    import numpy as np
    import pyarrow as pa

    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    bitmap, nulls = validity(np.array([v is None for v in values], dtype=bool))
    kind, offsets = (pa.string(), offsets.astype(np.int32)) if offsets[-1] < 2**31 else (pa.large_string(), offsets)
    return pa.Array.from_buffers(
        kind, len(encoded), [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))], null_count=nulls
    )


def fixed_width_text(data, rows: int, width: int, mask=None):
    """``rows`` strings of ``width`` bytes each, laid end to end in ``data`` (any buffer), as an Arrow
    string array null where ``mask``; None when they would not fit int32 offsets."""
    import numpy as np
    import pyarrow as pa

    if (rows + 1) * width >= 2**31:
        return None
    bitmap, nulls = validity(mask)
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32) if width else np.zeros(rows + 1, np.int32)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls)


def repeated(text: str, rows: int, mask=None):
    """``text`` in each of ``rows`` rows (null where ``mask``) as an Arrow string array; None when
    the rows would not fit int32 offsets."""
    raw = text.encode()
    return fixed_width_text(raw * rows, rows, len(raw), mask)


def cast(array, target):
    """``array`` as ``target``; a cast to the type it already has still copies every value."""
    return array if array.type == target else array.cast(target)
