"""The compiled loops of ``_kernels.c``, where the install built them, and how ops reach them.

Each loop does in one pass what the sampler's numpy code does in one pass per operation, and that
numpy code stays beside each call as the path without the module:

- the normal draws (``normals.NormalDraws``: 11 passes, and for SFC64 the generator's own steps);
- a tabulated inverse CDF then its clip/round/floor/scale ops, and an integer column's rounding
  and conversion (``decoders.lookup``, ``decoders._apply``, ``arrow_columns.Column._numbers``);
- category codes by grid cell (``category_codes.GridCodes``);
- mixed-width text categories (``dictionaries.GatheredText``; Arrow's ``take`` without it).

They repeat numpy's arithmetic operation for operation, so both give the same bits (tests compare
them on random and edge-case inputs, and whole samplers' output): rows never depend on whether
this machine built the module. ``compiled`` is None where it did not (no C compiler at install);
the numpy code is then the whole path, about 1.4x slower.
"""

from __future__ import annotations

try:
    from synth_ops.sampler import _kernels as compiled
except ImportError:  # installed without a C compiler: the numpy path gives the same rows
    compiled = None

CLIP, ROUND, FLOOR, SCALE = 1, 2, 3, 4


def reads(*arrays) -> bool:
    """Whether the compiled module is here and each array has the layout its loops read: a
    C-contiguous float64 numpy array (others take the numpy path, which gives the same bits)."""
    import numpy as np

    return compiled is not None and all(
        isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous for a in arrays
    )


_MAX_DIGITS = 300  # beyond, 10**digits overflows: left to numpy


def encode_ops(ops: list | None):
    """A sampler's ``ops`` (``decoders._apply``) as the rows of [code, a, b] ``grid_values`` reads,
    or None when one of them is not a kernel operation (then the numpy path decodes, and refuses
    what it does not know)."""
    import numpy as np

    rows = []
    for op in ops or []:
        try:
            if op[0] == "clip":
                low, high = op[1], op[2]
                rows.append([CLIP, -np.inf if low is None else float(low), np.inf if high is None else float(high)])
            elif (
                op[0] == "round" and isinstance(op[1], int) and not isinstance(op[1], bool) and abs(op[1]) < _MAX_DIGITS
            ):
                rows.append([ROUND, float(op[1]), 0.0])
            elif op[0] == "floor":
                rows.append([FLOOR, 0.0, 0.0])
            elif op[0] == "scale":
                rows.append([SCALE, float(op[1]), 0.0])
            else:
                return None
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return np.array(rows, dtype=np.float64).reshape(-1, 3)
