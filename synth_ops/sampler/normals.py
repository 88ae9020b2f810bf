"""Standard normal draws for the Gaussian copulas, from a numpy Generator's uniforms, numpy only.

numpy's ``standard_normal`` (a ziggurat, one branchy C loop per value) cost 12-16 ns a value on the
2-core development machine: 18 a row is flights' largest sampling cost. Here each value is the
inverse normal CDF of a uniform ``u`` from ``Generator.random``, in a handful of array passes over
a chunk at a time (8-12 ns a value there). The distance to the nearer tail, ``p = 0.5 - |u - 0.5|``,
indexes a table by its float's exponent and top ``CELL_BITS`` mantissa bits (256 cells an octave:
the cells shrink with ``p``, as the tails need) and is interpolated linearly within its cell; the
sign of ``u - 0.5`` gives the sign of the draw. Interpolation moves a draw by at most 8e-7 (at
|z| = 1.15, less in the tails), a thousandth of the copula grid's own steps (``decoders.lookup``);
``u`` takes 2^53 values, so the draws reach -8.29 and +8.21 sigma.

Where the install built ``synth_ops.sampler._kernels``, the passes are one compiled loop doing the same
arithmetic (``kernels.py``), the same bits; for SFC64 (the copulas' stream) the loop also steps the
generator as numpy does: 3.0-3.7 ns a value against 5.4-5.9 with numpy's uniforms and 8.2 for the
numpy passes.

The draws depend only on the Generator's uniforms, in order: the same seed gives the same draws
whatever the chunks or batches (and numpy promises its bit streams across versions, not its
ziggurat's output), and every step is exact IEEE arithmetic, so no CPU's vector units change them.
The copula backend (``synthesizers/copula``) and the portable sampler (``sampler/``) both draw
here, so the sampler repeats the backend's rows.
"""

from __future__ import annotations

import functools

from synth_ops.sampler import kernels

CELL_BITS = 8
CHUNK = 16_384  # values a pass: the scratch arrays stay in the core's cache (128 KB each)
_SHIFT = 52 - CELL_BITS  # a float64's bits shifted right by this: exponent and top mantissa bits
_SIGN = 1 << 63


@functools.cache
def _tables():
    """(intercepts, slopes): a draw is ``intercepts[k] + slopes[k] * p`` for the tail share ``p``
    whose bits give key ``k``. Keys run from 0 to 0.5's; the arrays start as untouched zero pages
    and only the 13,313 cells from 2^-53 to 0.5 (and key 0, for ``u`` = 0) are written."""
    from statistics import NormalDist

    import numpy as np

    first, last = (1023 - 53) << CELL_BITS, 1022 << CELL_BITS  # keys of 2^-53 and of 0.5
    keys = np.arange(first, last + 2, dtype=np.uint64)
    edges = (keys << np.uint64(_SHIFT)).view(np.float64)  # each cell's lowest p, and the next cell's
    upper_tail = NormalDist().inv_cdf
    z = np.array([-upper_tail(float(p)) for p in edges])  # Phi^-1(1 - p)
    slopes = np.zeros(last + 1)
    intercepts = np.zeros(last + 1)
    slopes[first:] = np.diff(z) / np.diff(edges)
    intercepts[first:] = z[:-1] - edges[:-1] * slopes[first:]
    intercepts[0] = -upper_tail(2.0**-54)  # u = 0 exactly: p = 0, half a step below the last
    return intercepts, slopes


class NormalDraws:
    """Independent standard normals from ``rng`` (a numpy Generator), in order across calls."""

    def __init__(self, rng):
        import numpy as np

        self.rng = rng
        self.intercepts, self.slopes = _tables()
        self.uniforms = np.empty(CHUNK)
        self.keys = np.empty(CHUNK, dtype=np.uint64)
        self.signs = np.empty(CHUNK, dtype=np.uint64)

    def fill(self, out):
        """Fill ``out`` (a C-contiguous float64 array of any shape) with draws, in its memory order."""
        import numpy as np

        if not out.flags.c_contiguous or out.dtype != np.float64:
            raise ValueError("NormalDraws.fill needs a C-contiguous float64 array")
        flat = out.reshape(-1)
        fused = kernels.compiled
        if fused is not None and isinstance(getattr(self.rng, "bit_generator", None), np.random.SFC64):
            self._fill_sfc64(flat, fused)
            return out
        for start in range(0, len(flat), CHUNK):
            z = flat[start : start + CHUNK]
            self.rng.random(out=z)
            self.quantiles(z)
        return out

    def quantiles(self, uniforms):
        """``uniforms`` (a C-contiguous float64 array of uniforms in [0, 1)) replaced in place by their
        normal scores, by the draws' own table: what ``fill`` makes of the same uniforms (a
        Generator's are multiples of 2^-53; others are moved by at most their rounding)."""
        import numpy as np

        flat, fused = uniforms.reshape(-1), kernels.compiled
        for start in range(0, len(flat), CHUNK):
            z = flat[start : start + CHUNK]
            if fused is not None:  # the same passes in one (kernels.py)
                fused.normal_scores(z, self.intercepts, self.slopes)
                continue
            rows = len(z)
            u, keys, signs = self.uniforms[:rows], self.keys[:rows], self.signs[:rows]
            bits = u.view(np.uint64)
            np.copyto(u, z)
            u -= 0.5  # exact: u is a multiple of 2^-53
            np.bitwise_and(bits, np.uint64(_SIGN), out=signs)
            np.bitwise_and(bits, np.uint64(_SIGN - 1), out=bits)  # |u - 0.5|
            np.subtract(0.5, u, out=u)  # p, the share beyond the draw: exact, in [0, 0.5]
            np.right_shift(bits, np.uint64(_SHIFT), out=keys)
            index = keys.view(np.int64)
            np.take(self.slopes, index, out=z, mode="clip")  # keys are within the table: no check
            z *= u
            np.take(self.intercepts, index, out=u, mode="clip")
            z += u
            np.bitwise_xor(z.view(np.uint64), signs, out=z.view(np.uint64))
        return uniforms

    def _fill_sfc64(self, flat, fused) -> None:
        """The draws of SFC64's next uniforms, the generator stepped inline by the kernel (numpy's
        own step, checked against ``Generator.random`` by the tests): its public state goes in and
        the advanced state comes back, under the bit generator's lock as numpy's own methods hold."""
        import numpy as np

        bit_generator = self.rng.bit_generator
        with bit_generator.lock:
            state = bit_generator.state
            words = np.array(state["state"]["state"], dtype=np.uint64)
            fused.sfc64_normal_scores(flat, words, self.intercepts, self.slopes)
            state["state"]["state"] = words
            bit_generator.state = state


def sampling_stream(seed: int, name: str):
    """The Generator the copulas sample table (or child table) ``name``'s rows from: SFC64, whose
    uniforms cost ~20% less than PCG64's (the draws' largest single pass), seeded as
    ``numpy.random.default_rng([seed, crc32(name)])`` would seed PCG64."""
    import zlib

    import numpy as np

    return np.random.Generator(np.random.SFC64(np.random.SeedSequence([seed, zlib.crc32(name.encode())])))


def standard_normal(rng, shape):
    """A new array of ``shape`` filled with draws (``Generator.standard_normal(shape)``'s role)."""
    import numpy as np

    return NormalDraws(rng).fill(np.empty(shape))
