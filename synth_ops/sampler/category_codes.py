"""Category codes (positions among a category column's bounds) for many values at once, without a
binary search per value: the sampler's categories cost more than the rest of a row's decoding
while each value was searched. ``Intervals`` finds the codes of values, ``GridCodes`` those of
normal scores read through a tabulated inverse without interpolating most of them. Both are
checked against ``np.searchsorted`` on the interpolated values in ``tests/test_sampler.py``.
"""

from __future__ import annotations

from synth_ops.sampler import decoders, kernels


class Intervals:
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


class GridCodes:
    """Category codes straight from the normal scores, for a category whose values come from a
    tabulated inverse (``decoders.lookup``). Each grid step is cut into ``split`` equal cells (a
    power of 2): a score in cell ``j`` of step ``k`` interpolates at a fraction within
    [j / split, (j + 1) / split], so its value lies between the interpolation's own arithmetic at
    those two fractions (rounding is monotone), and where both ends land in one category every
    score of the cell does. Only the rows in the few cells a bound crosses are interpolated and
    searched. That saves the interpolation, the clip and the search on the rest. The cells number
    at least ``CELLS_PER_BOUND`` times the bounds, so the rows interpolated stay a few percent (a
    step holds at most ~0.04% of the normal's mass): up to 256 bounds the grid's own steps
    suffice; flights' 4,003 tail numbers take 16 cells a step, and 6% of their rows are
    interpolated."""

    LARGEST = 1 << 13
    CELLS_PER_BOUND = 64

    def __init__(self, inverse, codes_of, split: int = 1):
        import numpy as np

        self.inverse, self.codes_of, self.split = inverse, codes_of, split
        fractions = np.arange(split + 1) / split  # exact: split is a power of 2
        ends = inverse.table[:-1, None] + fractions * inverse.steps[:, None]  # lookup's arithmetic
        low_codes, high_codes = codes_of(ends[:, :-1].ravel()), codes_of(ends[:, 1:].ravel())
        self.codes = np.where(low_codes == high_codes, low_codes, -1).astype(np.int32)

    @classmethod
    def of(cls, spec: dict, inverse, codes_of):
        """For a category reading a grid inverse's values, with few enough bounds; else None."""
        import numpy as np

        if (
            inverse is None
            or inverse.kind != "grid"
            or spec.get("input") == "score"
            or len(spec["bounds"]) > cls.LARGEST
        ):
            return None
        if not np.isfinite(inverse.table).all() or (inverse.steps < 0).any():  # not an inverse CDF
            return None
        split = 1
        while len(inverse.steps) * split < cls.CELLS_PER_BOUND * len(spec["bounds"]):
            split *= 2
        return cls(inverse, codes_of, split)

    def __call__(self, z):
        import numpy as np

        if kernels.reads(z) and z.ndim == 1 and self.inverse.grid_z > 0:
            # the same arithmetic in one pass (kernels.py)
            codes = np.empty(len(z), dtype=np.int32)
            if kernels.compiled.grid_cell_codes(
                z, float(self.inverse.grid_z), len(self.inverse.table), float(self.split), self.codes, codes
            ):
                redo = np.flatnonzero(codes < 0)
                codes[redo] = self.codes_of(self.inverse(z[redo]))
            return codes
        position = decoders.grid_position(z, len(self.inverse.table), self.inverse.grid_z)
        # floor(position * split) // split is the step lookup interpolates in (exact: the split is
        # a power of 2); a score at the grid's top end interpolates at fraction 1 of the last step
        if self.split > 1:
            position *= self.split
        cell = position.astype(np.intp)
        np.minimum(cell, len(self.codes) - 1, out=cell)
        codes = self.codes[cell]
        redo = np.flatnonzero(codes < 0)
        if len(redo):
            codes[redo] = self.codes_of(self.inverse(z[redo]))
        return codes
