"""The copulas' standard normal draws (``synth_ops.sampler.normals``): each draw is the normal quantile of
the Generator's next uniform, to within the table's interpolation, so the draws are normal, in
stream order, and the same whatever the chunks."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from synth_ops.sampler.normals import _SHIFT, CHUNK, NormalDraws, _tables, standard_normal

# a cell's linear interpolation of the quantile is off by at most 8.1e-7 (at |z| near 1.15)
INTERPOLATION = 1e-6


def test_each_draw_is_the_quantile_of_the_streams_next_uniform():
    draws = standard_normal(np.random.default_rng(11), 3 * CHUNK + 17)
    uniforms = np.random.default_rng(11).random(3 * CHUNK + 17)
    exact = ndtri(np.clip(uniforms, 2.0**-54, None))
    assert np.abs(draws - exact).max() < INTERPOLATION


def test_the_table_interpolates_the_quantile_everywhere_in_both_tails():
    """Tail shares from 2^-53 to 0.5, log-uniform (every octave, the deep ones included) and
    uniform (where the mass is), plus every cell edge and its neighbouring floats."""
    intercepts, slopes = _tables()
    rng = np.random.default_rng(3)
    shares = np.concatenate([2.0 ** -rng.uniform(1, 53, 500_000), rng.uniform(2.0**-53, 0.5, 500_000)])
    edges = (np.flatnonzero(slopes).astype(np.uint64) << np.uint64(_SHIFT)).view(np.float64)
    shares = np.concatenate([shares, edges, np.nextafter(edges, 0), np.nextafter(edges, 1), [0.5]])
    shares = shares[(shares >= 2.0**-53) & (shares <= 0.5)]  # the shares a uniform can give
    keys = (shares.view(np.uint64) >> np.uint64(_SHIFT)).view(np.int64)
    assert np.abs(intercepts[keys] + slopes[keys] * shares + ndtri(shares)).max() < INTERPOLATION


def test_draws_are_standard_normal_to_the_tails():
    n = 2_000_000
    draws = standard_normal(np.random.default_rng(5), n)
    assert stats.kstest(draws, "norm").pvalue > 0.001
    assert abs(draws.mean()) < 5 / np.sqrt(n) and abs(draws.var() - 1) < 5 * np.sqrt(2 / n)
    for sigma in (1, 2, 3, 4):  # each tail apart: the sign and the magnitude are independent
        for tail in (draws > sigma, draws < -sigma):
            expected = stats.norm.sf(sigma)
            assert abs(tail.mean() - expected) < 5 * np.sqrt(expected * (1 - expected) / n), sigma
    assert np.abs(draws).max() < 8.3


def test_the_same_stream_whatever_the_calls_and_shapes():
    whole = standard_normal(np.random.default_rng(2), (CHUNK + 40, 3))
    draws = NormalDraws(np.random.default_rng(2))
    pieces = [np.empty(size) for size in (5, CHUNK - 1, 2 * CHUNK, 3 * CHUNK + 120 - 5 - (CHUNK - 1) - 2 * CHUNK)]
    for piece in pieces:
        draws.fill(piece)
    assert np.array_equal(whole.ravel(), np.concatenate(pieces))
    assert not np.array_equal(whole, standard_normal(np.random.default_rng(3), (CHUNK + 40, 3)))


def test_a_strided_or_other_typed_array_is_refused():
    draws = NormalDraws(np.random.default_rng(0))
    with pytest.raises(ValueError, match="C-contiguous float64"):
        draws.fill(np.empty((10, 4))[:, 1])
    with pytest.raises(ValueError, match="C-contiguous float64"):
        draws.fill(np.empty(10, dtype=np.float32))
