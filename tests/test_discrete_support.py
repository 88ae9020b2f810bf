"""Discrete numbers keep their support: a learned number of few distinct values (randhie's
``lncoins``: log(1 + coinsurance rate), five values) comes out with only those values through every
path, the profile records them, and the automatic suite checks them; a number of many values is
left alone."""

import numpy as np
import pandas as pd
import pytest

from synth_ops.errors import ModelIntegrityError
from synth_ops.runtime import models
from synth_ops.sampler.sampler import Sampler
from synth_ops.spec.columns import DISCRETE_MAX, discrete_support, snap_to_support
from tests.conftest import fitted_workspace

TABLE = "randhie"
DISCRETE = ("lncoins", "physlm")  # 5 values (4 in the slice of 400 rows is possible too), 11 in all
MANY = "lpi"  # 619 distinct values in all


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """400 rows of the RAND health insurance experiment (statsmodels), as a CSV."""
    from statsmodels.datasets import randhie

    frame = randhie.load_pandas().data.sample(400, random_state=0).reset_index(drop=True)
    path = tmp_path_factory.mktemp("randhie-data") / "randhie.csv"
    frame.to_csv(path, index=False)
    return path, pd.read_csv(path)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, source):
    """kind -> workspace, fitted on demand (once per kind)."""
    done = {}

    def get(kind, params=None):
        if kind not in done:
            doc = {
                "name": "randhie",
                "tables": {TABLE: {"source": str(source[0])}},
                "synthesizer": {"kind": kind, "seed": 7, "params": params or {}},
                "generate": {"rows": 1000, "shards": 2, "batch_rows": 300},
            }
            done[kind] = fitted_workspace(tmp_path_factory.mktemp(kind), doc)
        return done[kind]

    return get


def _support(real: pd.DataFrame, column: str) -> list:
    return sorted(real[column].dropna().unique().tolist())


def _backend_rows(ws, rows=4000, seed=3) -> pd.DataFrame:
    return pd.concat(list(models.load(ws, TABLE).sample(TABLE, rows, seed, 1500)), ignore_index=True)


def _sampler(ws) -> Sampler:
    record = ws.read(TABLE, "model.json")["sampler"][TABLE]
    assert "reason" not in record, record
    return Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])


def _tvd(a: pd.Series, b: pd.Series) -> float:
    left, right = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return float(0.5 * left.sub(right, fill_value=0).abs().sum())


def _ks(a: pd.Series, b: pd.Series) -> float:
    a, b = np.sort(a.dropna().to_numpy(float)), np.sort(b.dropna().to_numpy(float))
    both = np.concatenate([a, b])
    return float(np.abs(np.searchsorted(a, both, "right") / len(a) - np.searchsorted(b, both, "right") / len(b)).max())


def test_snap_takes_the_nearest_value_ties_to_the_lower_and_keeps_nulls():
    support = np.array([0.0, 25.0, 50.0, 95.0])
    values = np.array([-3.0, 12.5, 12.6, 37.5, 80.0, 72.5, 200.0, np.nan])
    assert np.array_equal(
        snap_to_support(values, support), [0.0, 0.0, 25.0, 25.0, 95.0, 50.0, 95.0, np.nan], equal_nan=True
    )
    # explicit cuts (a copula's quantiles): the interval (cuts[i - 1], cuts[i]] is support[i]
    assert snap_to_support(np.array([1.0, 1.5, 60.0]), support, [1.0, 2.0, 60.0]).tolist() == [0.0, 25.0, 50.0]


def test_only_few_distinct_values_make_a_support():
    assert discrete_support([3.0, 1.0, np.nan, 3.0]).tolist() == [1.0, 3.0]
    assert discrete_support(np.arange(DISCRETE_MAX, dtype=float)) is not None
    assert discrete_support(np.arange(DISCRETE_MAX + 1, dtype=float)) is None
    assert discrete_support([np.nan, np.nan]) is None


def test_the_profile_records_the_support_of_discrete_numbers_only(fitted, source):
    real = source[1]
    columns = fitted("copula").read(TABLE, "profile.json")["columns"]
    for column in DISCRETE:
        assert columns[column]["support"] == _support(real, column)
        assert all(isinstance(v, (int, float)) for v in columns[column]["support"])
    assert "support" not in columns[MANY] and real[MANY].nunique() > DISCRETE_MAX
    assert "support" not in columns["idp"]  # detected as a category (0/1 integers): it has categories


@pytest.mark.parametrize("kind", ["copula", "gaussian_copula"])
def test_backend_and_sampler_give_only_support_values(fitted, source, kind):
    real = source[1]
    ws = fitted(kind)
    backend = _backend_rows(ws)
    sampled = pd.concat(list(_sampler(ws).learned_batches(4000, seed=3, batch_rows=1500)), ignore_index=True)
    for rows in (backend, sampled):
        for column in DISCRETE:
            assert rows[column].dropna().isin(_support(real, column)).all(), (kind, column)
        assert not rows[MANY].dropna().isin(real[MANY]).all(), kind  # many values: not snapped
    # the real frequencies, up to sampling noise (measured: TVD 0.011 and 0.017 at 20,000 rows; SDV's
    # beta fit of physlm, 83% zeros, has most of its mass near 1: no cut recovers that column)
    for column in DISCRETE if kind == "copula" else DISCRETE[:1]:
        assert _tvd(backend[column], real[column]) < 0.06, (kind, column)
        assert _tvd(sampled[column], real[column]) < 0.06, (kind, column)
    if kind == "copula":  # the same random stream and the same step function: the same rows
        for column in DISCRETE:
            assert backend[column].equals(sampled[column]), column
    else:  # snapped at the marginal's quantiles, each column is closer to the real one than unsnapped
        model = models.load(ws, TABLE)
        model.supports = {}
        raw = pd.concat(list(model.sample(TABLE, 4000, 3, 1500)), ignore_index=True)
        for column in DISCRETE:
            assert _ks(backend[column], real[column]) < _ks(raw[column], real[column]), column


def test_generated_shards_keep_the_support(fitted, source):
    """``synth-ops generate`` (through the portable sampler) writes only support values."""
    from synth_ops.steps.generate import generate

    ws = fitted("gaussian_copula")
    records = generate(ws, TABLE)
    frame = pd.concat([pd.read_parquet(ws.artifacts.local_path(r.key)) for r in records], ignore_index=True)
    assert len(frame) == 1000
    for column in DISCRETE:
        assert frame[column].dropna().isin(_support(source[1], column)).all(), column


def test_neural_backends_snap_to_the_support(fitted, source):
    """ctgan, tvae and copulagan share SDVSingleTable's sampling, which snaps: one of them here."""
    ws = fitted("tvae", {"epochs": 1})
    rows = _backend_rows(ws, rows=1000)
    for column in DISCRETE:
        assert rows[column].dropna().isin(_support(source[1], column)).all(), column


def test_the_automatic_suite_checks_the_support(fitted, source):
    from synth_ops.gates.expectations import automatic_suite

    suite = automatic_suite(fitted("copula").read(TABLE, "profile.json"))
    in_set = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    between = {
        e["kwargs"]["column"] for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_between"
    }
    for column in DISCRETE:
        assert in_set[column] == _support(source[1], column) and column not in between
    assert MANY not in in_set and MANY in between


def test_a_malformed_snap_operation_is_refused():
    from synth_ops.sampler.decoders import _apply

    assert _apply(np.array([0.4, 0.6]), [["snap", [0.0, 1.0], [0.5]]]).tolist() == [0.0, 1.0]
    for op in (["snap", [1.0, 0.0], [0.5]], ["snap", [0.0, 1.0], []], ["snap", [0.0, 1.0]], ["snap", [], []]):
        with pytest.raises(ModelIntegrityError):
            _apply(np.array([0.5]), [op])


def test_a_dp_fit_keeps_a_discrete_number_to_its_declared_values():
    """A DP backend never reads the real support (the set of values is what it must not release
    unmeasured); a discrete number declared as public categories keeps to those."""
    from synth_ops.errors import SpecError
    from synth_ops.synthesizers.dp.domains import column_domains

    metadata = {"columns": {"coins": {"sdtype": "numerical"}}}
    privacy = {"categories": {"t": {"coins": [0, 25, 50, 95]}}}
    domain = column_domains("t", ["coins"], metadata, privacy, 16)["coins"]
    codes = domain.encode(pd.Series([0.0, 25.0, 95.0, np.nan, 30.0]))
    assert np.array_equal(codes, [0, 1, 3, np.nan, np.nan], equal_nan=True)
    decoded = domain.decode(np.array([0, 1, 2, 3, -1]), np.random.default_rng(0))
    assert decoded.tolist() == [0, 25, 50, 95, None]
    with pytest.raises(SpecError, match="privacy.categories.t.coins: expected numbers"):
        column_domains("t", ["coins"], metadata, {"categories": {"t": {"coins": ["low", "high"]}}}, 16)


def test_the_snap_operation_gives_the_same_rows_on_the_arrow_and_reference_paths():
    """A hand-written sampler: integer and float targets, with and without nulls, the ops before the
    snap in the compiled kernel's terms (the arrow path) or numpy's (the reference path)."""
    from synth_ops.io.schema import to_arrow
    from synth_ops.sampler.generated import fill

    snap_int = ["snap", [1.0, 2.0, 3.0, 5.0], [1.5, 2.5, 4.0]]
    snap_float = ["snap", [0.0, 0.144292, 1.0], [0.45, 0.55]]
    decoders = [
        {"name": "rating", "kind": "number", "from": 0, "ops": [["clip", 1.0, 5.0], ["round", 0], snap_int]},
        {"name": "rating_null", "kind": "number", "from": 0, "nulls": {"rate": 0.2}, "ops": [snap_int]},
        {"name": "share", "kind": "number", "from": 1, "nulls": {"below": -1.0}, "ops": [["round", 3], snap_float]},
    ]
    schema = {"rating": "int64", "rating_null": "int32", "share": "double"}
    doc = {
        "table": "t",
        "schema": [[c, t] for c, t in schema.items()],
        "columns_plan": {c: {"role": "learned"} for c in schema},
        "grid": {"z": 8.3, "points": 65},
        "copula": {"columns": ["a", "b"], "factor": "factor.npy", "inverse": [{"grid": "a.npy"}, {"grid": "b.npy"}]},
        "columns": decoders,
    }
    arrays = {
        "factor.npy": np.linalg.cholesky(np.array([[1.0, 0.4], [0.4, 1.0]])),
        "a.npy": np.linspace(-2.0, 8.0, 65),
        "b.npy": np.linspace(-0.5, 1.5, 65),
    }
    sampler = Sampler(doc, arrays)
    ((table, _),) = list(sampler.batches(2000, seed=4, batch_rows=2000))
    learned = next(sampler.learned_batches(2000, seed=4, batch_rows=2000))
    reference = to_arrow(fill(learned, sampler.columns_plan, 2000, 0, 4), sampler.schema())
    for column in schema:
        assert table.column(column).equals(reference.column(column)), column
    frame = table.to_pandas()
    assert set(frame["rating"]) == {1, 2, 3, 5} and set(frame["rating_null"].dropna()) <= {1, 2, 3, 5}
    assert frame["rating_null"].isna().any() and frame["share"].isna().any()
    assert set(frame["share"].dropna()) == {0.0, 0.144292, 1.0}
