"""The compiled sampler loops (``synth_ops/sampler/_kernels.c``) give the bits of the numpy (or Arrow) code
they stand in for: the normal draws (SFC64's steps included), a tabulated inverse CDF with its
clip/round/floor/scale operations and integer columns' rounding, category codes by grid cell, and
mixed-width text; whole samplers sample the same rows with and without them."""

import numpy as np
import pytest

from synth_ops.sampler import decoders, kernels
from synth_ops.sampler.arrow_columns import Column
from synth_ops.sampler.normals import _SHIFT, CHUNK, NormalDraws, _tables
from tests.test_sampler import _every_kind_sampler


@pytest.fixture
def numpy_only(monkeypatch):
    """Runs a block with the numpy path alone, as on a machine that did not build the module."""

    def switch():
        monkeypatch.setattr(kernels, "compiled", None)

    return switch


def test_the_install_built_the_kernels():
    # make install compiles them; without them every other test here compares numpy with itself
    assert kernels.compiled is not None, "synth_ops.sampler._kernels is missing: pip install -e . needs a C compiler"


def _uniforms():
    """Uniforms as Generator.random gives them (multiples of 2^-53), with the edges: 0, 0.5, the
    largest below 1, and the uniforms whose tail share falls on a table cell's edge or next to it."""
    _, slopes = _tables()
    edges = (np.flatnonzero(slopes).astype(np.uint64) << np.uint64(_SHIFT)).view(np.float64)
    shares = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 1)])
    shares = np.round(shares * 2.0**53) / 2.0**53  # as a uniform can give them
    special = np.concatenate([[0.0, 0.5, 1 - 2.0**-53, 2.0**-53], shares, 1 - shares])
    special = special[(special >= 0) & (special < 1)]
    return np.concatenate([np.random.default_rng(8).random(5 * CHUNK + 3), special])


class _Replay:
    """A Generator stand-in whose ``random(out=)`` hands out fixed uniforms in order."""

    def __init__(self, uniforms):
        self.uniforms, self.at = uniforms, 0

    def random(self, out):
        out[:] = self.uniforms[self.at : self.at + len(out)]
        self.at += len(out)
        return out


def test_normal_draws_are_numpys_bits(numpy_only):
    uniforms = _uniforms()
    fused = NormalDraws(_Replay(uniforms)).fill(np.empty(len(uniforms)))
    numpy_only()
    reference = NormalDraws(_Replay(uniforms)).fill(np.empty(len(uniforms)))
    assert np.array_equal(fused.view(np.uint64), reference.view(np.uint64))
    assert np.isfinite(fused).all() and fused.max() > 8 and fused.min() < -8  # the deep tails were in it


def test_sfc64_draws_step_the_generator_as_numpy_does(numpy_only):
    """The copulas' stream (SFC64) is stepped inside the kernel: the same draws as numpy's uniforms
    through the numpy passes, and the generator left where numpy leaves it, across fills of any
    size and other draws from the same generator in between."""
    from synth_ops.sampler.normals import sampling_stream

    def run():
        rng, draws, seen = sampling_stream(4, "flights"), None, []
        draws = NormalDraws(rng)
        for size in (1, CHUNK - 1, 3 * CHUNK + 5, 0, 1000):
            seen.append(draws.fill(np.empty(size)))
            seen.append(rng.random(3))  # the generator's own uniforms continue from the draws' state
        seen.append(rng.integers(0, 2**62, 4).astype(np.float64))
        return np.concatenate(seen)

    fused = run()
    numpy_only()
    assert np.array_equal(fused.view(np.uint64), run().view(np.uint64))


def _table(rng, points, scale):
    return np.sort(rng.normal(0, scale, points)) + np.linspace(0, scale, points)


def _scores(rng, grid_z, points):
    nodes = np.linspace(-grid_z, grid_z, points)
    return np.concatenate(
        [
            rng.normal(0, 2, 20_000),
            rng.uniform(-grid_z - 1, grid_z + 1, 5_000),
            nodes,
            np.nextafter(nodes, np.inf),
            np.nextafter(nodes, -np.inf),
            [-np.inf, np.inf, -50.0, 50.0, 0.0, -0.0],
        ]
    )


OPS = [
    [],
    [["clip", 20.0, 695.0], ["round", 0]],
    [["round", 0], ["clip", 1.3570344e18, 1.3885488e18]],
    [["clip", -9.94, 78.08], ["round", 2]],
    [["clip", 0.0, None], ["round", 15]],
    [["clip", None, 3.5], ["round", -2], ["scale", 0.001]],
    [["floor"], ["clip", 0, 40]],
    [["round", 1], ["clip", 1.5, 2.5], ["round", 0]],
]


@pytest.mark.parametrize("ops", OPS, ids=[str(i) for i in range(len(OPS))])
@pytest.mark.parametrize("scale", [3.0, 2500.0, 1e17])
def test_tabulated_values_and_their_operations_are_numpys_bits(ops, scale, numpy_only):
    rng = np.random.default_rng(len(ops) + int(scale) % 97)
    grid_z, points = 8.3, 1025
    table = _table(rng, points, scale)
    # halves too: ties are where np.round's arithmetic shows
    table[::7] = np.round(table[::7] * 2) / 2
    inverse = decoders.Inverse({"grid": "t.npy"}, {"t.npy": table}, grid_z, "test")
    z = _scores(rng, grid_z, points)
    encoded = kernels.encode_ops(ops)
    assert encoded is not None
    fused = inverse.decoded(z, ops, encoded)
    looked_up = inverse(z)
    whole = bool(ops) and (ops[-1][0] == "floor" or (ops[-1][0] == "round" and ops[-1][1] <= 0))
    integers = inverse.integers(z, encoded, whole)
    numpy_only()
    reference = decoders._apply(np.array(inverse(z), dtype="float64"), ops)
    assert np.array_equal(fused, reference, equal_nan=True)
    assert np.array_equal(looked_up, inverse(z), equal_nan=True)
    rounded = reference if whole else np.round(reference)
    with np.errstate(invalid="ignore"):  # 1e17-scale tables overflow int64 after scale: both give its least value
        assert np.array_equal(integers, rounded.astype("int64"))


def test_a_nan_value_sends_integers_back_to_the_float_path():
    table = np.linspace(0.0, 10.0, 65)
    table[30] = np.nan
    inverse = decoders.Inverse({"grid": "t.npy"}, {"t.npy": table}, 8.0, "test")
    z = np.linspace(-1, 1, 101)
    encoded = kernels.encode_ops([["round", 0]])
    assert inverse.integers(z, encoded, True) is None  # the caller then masks NaN as the reference does
    assert np.isnan(inverse.decoded(z, [["round", 0]], encoded)).sum() == np.isnan(inverse(z)).sum() > 0
    assert inverse.integers(z[:5], encoded, True) is not None  # cell 28, clear of the NaN


def test_every_decoder_kind_builds_the_same_arrays_without_the_module(numpy_only):
    """Every decoder kind through Arrow (``Column.build``), with and without the module, over two
    batches of one sampler: the same arrays, nulls included."""
    sampler = _every_kind_sampler()
    fields = {f.name: f for f in sampler.schema()}

    def build():
        columns = [Column(spec, fields.get(spec["name"]), sampler.inverses[spec["from"]]) for spec in sampler.decoders]
        normal, streams = sampler._random_streams(3)
        return [
            [column.build(batch, streams[column.name]) for column in columns]
            for batch in sampler._score_batches(normal, 4000, 2500)
        ]

    fused = build()
    numpy_only()
    reference = build()
    for fused_batch, reference_batch in zip(fused, reference):
        for got, expected in zip(fused_batch, reference_batch):
            assert (got == expected).all() if isinstance(got, np.ndarray) else got.equals(expected)


def test_samplers_sample_the_same_rows_without_the_module(numpy_only):
    sampler = _every_kind_sampler()
    fused = sampler.sample(5000, seed=9, shard=2, batch_rows=1700)
    numpy_only()
    assert fused.equals(sampler.sample(5000, seed=9, shard=2, batch_rows=1700))


@pytest.mark.parametrize("bound_count", [3, 200, 4003, 8000])
def test_category_codes_by_grid_cell_are_numpys(bound_count, numpy_only):
    """``GridCodes`` (categories read through a tabulated inverse) at each split, on random scores,
    scores beyond the grid, every node and cell edge and their neighbouring floats."""
    import pyarrow as pa

    points, grid_z = 16385, 8.3
    nodes = np.linspace(-grid_z, grid_z, points)
    table = np.round(0.5 + 0.5 * np.tanh(nodes / 2), 4)  # onto [0, 1], with flat stretches
    inverse = decoders.Inverse({"grid": "t.npy"}, {"t.npy": table}, grid_z, "test")
    rng = np.random.default_rng(bound_count)
    cells = (nodes[:-1, None] + np.arange(8) / 8 * np.diff(nodes)[:, None]).ravel()
    z = np.concatenate(
        [
            rng.standard_normal(100_000) * 3,
            nodes,
            cells,
            np.nextafter(cells, np.inf),
            np.nextafter(cells, -np.inf),
            [-np.inf, np.inf, -grid_z, grid_z, 0.0, -0.0],
        ]
    )
    bounds = sorted(float(b) for b in np.sort(rng.uniform(0, 1, bound_count)))
    spec = {
        "name": "c",
        "kind": "category",
        "from": 0,
        "input": "value",
        "clip": [0.0, 1.0],
        "bounds": bounds,
        "values": [f"v{i}" for i in range(bound_count)],
    }
    column = Column(spec, pa.field("c", pa.string()), inverse)
    fused = column.grid_codes(z)
    numpy_only()
    assert fused.dtype == np.int32 and np.array_equal(fused, column.grid_codes(z))


@pytest.mark.parametrize(
    "values",
    [
        ["Biscoe", "Dream", "Torgersen"],
        ["MALE", "FEMALE", None],
        ["", "a", "é"],
        ["x" * 17, "y", "z" * 40],
        [f"N{i}" + "X" * (i % 5) for i in range(4000)],
        [None],
    ],
)
def test_text_gathered_by_the_kernel_is_arrows_take(values):
    """Mixed-width text categories: the kernel's rows equal Arrow's ``take`` of the dictionary,
    null rows and null entries included, short entries (copied 16 bytes at a time) and long ones."""
    import pyarrow as pa

    from synth_ops.sampler.dictionaries import GatheredText

    dictionary = pa.array(values, type=pa.string())
    text = GatheredText.of(dictionary)
    rng = np.random.default_rng(len(values))
    codes = rng.integers(0, len(values), 5000)
    for missing in (None, rng.random(5000) < 0.1, np.ones(5000, dtype=bool)):
        got = text(codes, missing)
        expected = dictionary.take(pa.array(codes.astype("int32"), mask=missing))
        assert got.equals(expected) and got.null_count == expected.null_count
        assert got.to_pylist() == expected.to_pylist()
    assert GatheredText.of(pa.array(["a", "b"], type=pa.large_string())) is None


def test_text_of_codes_outside_the_dictionary_is_refused():
    offsets, data = np.array([0, 1, 3], dtype=np.int32), b"abc" + bytes(16)
    with pytest.raises(ValueError, match="not a dictionary position"):
        kernels.compiled.take_text(np.array([0, 2], dtype=np.int32), offsets, data, None)
    with pytest.raises(ValueError, match="do not fit"):
        kernels.compiled.take_text(np.array([0], dtype=np.int32), np.array([0, 50], dtype=np.int32), data, None)
    with pytest.raises(ValueError, match="as long as codes"):
        kernels.compiled.take_text(np.array([0], dtype=np.int32), offsets, data, np.zeros(2, dtype=bool))


@pytest.mark.parametrize(
    "ops", [[["unknown"]], [["round", 1.5]], [["round", True]], [["clip", "a", 1]], [["round", 400]], [["scale"]]]
)
def test_operations_the_kernel_does_not_take_stay_with_numpy(ops):
    assert kernels.encode_ops(ops) is None


def test_the_kernels_refuse_arrays_of_other_types_or_lengths():
    z, table = np.zeros(4), np.linspace(0, 1, 5)
    steps, ops = np.diff(table), np.empty((0, 3))
    with pytest.raises(TypeError, match="out must be a contiguous float64 or int64 array"):
        kernels.compiled.grid_values(z, table, steps, 8.0, ops, np.empty(4, dtype=np.float32), False)
    with pytest.raises(TypeError, match="z must be a contiguous float64"):
        kernels.compiled.grid_values(np.zeros(4, dtype=np.int64), table, steps, 8.0, ops, np.empty(4), False)
    with pytest.raises(ValueError, match="not C-contiguous"):  # numpy's own refusal of the buffer
        kernels.compiled.grid_values(np.zeros((4, 2))[:, 0], table, steps, 8.0, ops, np.empty(4), False)
    with pytest.raises(ValueError, match="steps one fewer"):
        kernels.compiled.grid_values(z, table, steps[:-1], 8.0, ops, np.empty(4), False)
    with pytest.raises(ValueError, match="as many values as z"):
        kernels.compiled.grid_values(z, table, steps, 8.0, ops, np.empty(3), False)
    with pytest.raises(ValueError, match="unknown operation code"):
        kernels.compiled.grid_values(z, table, steps, 8.0, np.array([[9.0, 0, 0]]), np.empty(4), False)
    with pytest.raises(TypeError, match="u must be a contiguous float64"):
        kernels.compiled.normal_scores(np.zeros(4, dtype=np.int64), *_tables())
    with pytest.raises(ValueError, match="one length"):
        kernels.compiled.normal_scores(np.zeros(4), _tables()[0], _tables()[1][:-1])
    with pytest.raises(TypeError, match="cell_codes must be a contiguous int32"):
        kernels.compiled.grid_cell_codes(z, 8.0, 5, 1.0, np.zeros(4), np.empty(4, dtype=np.int32))
    with pytest.raises(ValueError, match="as many values as z"):
        kernels.compiled.grid_cell_codes(z, 8.0, 5, 1.0, np.zeros(4, dtype=np.int32), np.empty(3, dtype=np.int32))
    with pytest.raises(ValueError, match="a positive grid_z"):
        kernels.compiled.grid_cell_codes(z, 0.0, 5, 1.0, np.zeros(4, dtype=np.int32), np.empty(4, dtype=np.int32))
    with pytest.raises(TypeError, match="state must be a contiguous uint64"):
        kernels.compiled.sfc64_normal_scores(np.zeros(4), np.zeros(4), *_tables())
    with pytest.raises(ValueError, match="SFC64's 4 words"):
        kernels.compiled.sfc64_normal_scores(np.zeros(4), np.zeros(3, dtype=np.uint64), *_tables())


@pytest.mark.parametrize("source", [0, 2, 3], ids=["grid", "steps", "identity"])
@pytest.mark.parametrize(
    "spec, arrow_type",
    [
        ({"kind": "number", "ops": [["clip", -1.0, 40.0], ["round", 0]]}, "int64"),
        ({"kind": "number", "ops": [["round", 1]], "nulls": {"rate": 0.2}}, "float64"),
        ({"kind": "count", "ops": [["clip", 0.0, None], ["round", 0]]}, None),
        ({"kind": "label", "first_code": 0, "values": ["x", "y", "z"]}, "string"),
    ],
    ids=["int", "float", "count", "label"],
)
def test_a_column_read_first_from_any_inverse_is_the_reference_decoders(source, spec, arrow_type):
    """The first column to read a copula column computes its values (no other column has): through
    the kernel for a tabulated inverse, through numpy for steps and identity inverses."""
    import pyarrow as pa

    from synth_ops.io.schema import to_arrow

    every = _every_kind_sampler()
    inverses = every.inverses + [decoders.Inverse({"identity": True}, {}, 8.3, "test")]
    spec = {**spec, "name": "x", "from": source}
    field = None if arrow_type is None else pa.field("x", arrow_type)
    scores = np.random.default_rng(source).normal(0, 2, (4, 3000))
    built = Column(spec, field, inverses[source]).build(decoders.Batch(scores, inverses), np.random.default_rng(1))
    reference = decoders.decode(spec, decoders.Batch(scores, inverses), np.random.default_rng(1))
    if field is None:
        assert np.array_equal(built, reference.to_numpy())
    else:
        import pandas as pd

        assert built.equals(to_arrow(pd.DataFrame({"x": reference}), pa.schema([field])).column(0).combine_chunks())
