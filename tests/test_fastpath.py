"""The fast sampling path against SDV's own: parity per distribution, and the fallbacks."""
import numpy as np
import pandas as pd
import pytest

from synth_ops.spec import load_spec
from synth_ops.steps.fastpath import roundtrip_format, tabulate_marginals
from synth_ops.steps.fit import fit, load_model, sample_batches
from synth_ops.steps.profile import profile
from synth_ops.workspace import Workspace
from tests.conftest import penguins_doc, write_spec

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _model(tmp_path, **synthesizer):
    doc = penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7, **synthesizer})
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "penguins")
    fit(ws, "penguins")
    return ws


def _draw(ws, fast: bool, rows=4000):
    model = load_model(ws, "penguins")
    return pd.concat(sample_batches(model, "penguins", rows, 1000, seed=11, fast=fast), ignore_index=True)


@pytest.mark.parametrize("distribution", ["beta", "norm", "truncnorm", "uniform", "gamma", "gaussian_kde"])
def test_tabulated_sampling_matches_sdv_row_for_row(tmp_path, penguins_frame, distribution):
    ws = _model(tmp_path, params={"default_distribution": distribution})
    sdv_rows, fast_rows = _draw(ws, fast=False), _draw(ws, fast=True)
    # The same seed draws the same normal vectors: only the inverse CDF differs (table vs scipy).
    pd.testing.assert_series_equal(fast_rows.species, sdv_rows.species)
    for column in NUMERIC:
        span = penguins_frame[column].max() - penguins_frame[column].min()
        both = fast_rows[column].notna() & sdv_rows[column].notna()
        assert (fast_rows[column].isna() == sdv_rows[column].isna()).all()
        # values are rounded to the source's decimals, so a table error can flip one rounding step
        worst = (fast_rows.loc[both, column] - sdv_rows.loc[both, column]).abs().max()
        assert worst <= max(0.002 * span, 1.0), (column, worst)


def test_marginals_that_cannot_be_tabulated_fall_back_to_sdv(tmp_path):
    ws = _model(tmp_path)
    model = load_model(ws, "penguins")
    broken = model._model.univariates[2]
    original = broken.percent_point
    broken.percent_point = lambda u: np.full_like(np.asarray(u, dtype=float), np.nan)
    outcome = tabulate_marginals(model)
    assert outcome["fallback"] == [model._model.columns[2]] and len(outcome["tabulated"]) == 7
    # the fallback column is sampled through its own percent_point: here the broken one, so NaN
    column = model._model.columns[2]
    assert model._model.sample(20)[column].isna().all()
    broken.percent_point = original
    assert model._model.sample(20)[column].notna().all()
    frames = list(sample_batches(load_model(ws, "penguins"), "penguins", 50, 50, seed=1, fast=True))
    assert len(frames[0]) == 50


def test_parallel_marginal_fits_find_the_same_parameters(tmp_path):
    from copulas.multivariate.gaussian import GaussianMultivariate

    (tmp_path / "serial").mkdir()
    (tmp_path / "parallel").mkdir()
    serial = _model(tmp_path / "serial")
    doc = penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7})
    ws = Workspace.open(load_spec(write_spec(tmp_path / "parallel", doc)))
    profile(ws, "penguins")
    fit(ws, "penguins", workers=2)
    assert GaussianMultivariate._fit_columns.__name__ == "_fit_columns" and \
        GaussianMultivariate._fit_columns.__module__ == "copulas.multivariate.gaussian"  # restored
    one, two = load_model(serial, "penguins")._model, load_model(ws, "penguins")._model
    assert one.columns == two.columns
    for a, b in zip(one.univariates, two.univariates):
        assert type(a) is type(b) and a._params == b._params
    np.testing.assert_array_equal(np.asarray(one.correlation), np.asarray(two.correlation))


def test_non_copula_models_use_sdv_sampling(tmp_path):
    doc = penguins_doc(synthesizer={"kind": "tvae", "seed": 1, "params": {"epochs": 1}})
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "penguins"), fit(ws, "penguins")
    model = load_model(ws, "penguins")
    assert tabulate_marginals(model)["tabulated"] == []
    assert len(next(sample_batches(model, "penguins", 20, 20, seed=1, fast=True))) == 20


def test_fit_rows_bounds_the_model_fit_and_is_recorded(tmp_path):
    ws = _model(tmp_path, fit_rows=100)
    info = ws.read("penguins", "model.json")
    assert info["fit_rows"] == 100 and info["train_rows"] == 275
    model = load_model(ws, "penguins")
    # the transformers still saw every training row: every real category can be produced
    assert set(_draw(ws, fast=True).island) == {"Biscoe", "Dream", "Torgersen"}
    del model


def test_datetime_strings_take_the_vectorised_path_and_print_back(tmp_path, flights_sample_csv):
    doc = {"name": "flights", "tables": {"flights": {"source": str(flights_sample_csv), "exclude": ["year"]}},
           "generate": {"rows": 500, "shards": 1}}
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "flights")
    fit(ws, "flights")
    assert ws.read("flights", "model.json")["native_datetimes"] == {"time_hour": "%Y-%m-%dT%H:%M:%SZ"}
    frame = next(sample_batches(load_model(ws, "flights"), "flights", 500, 500, seed=2, fast=True))
    parsed = pd.to_datetime(frame.time_hour, format="%Y-%m-%dT%H:%M:%SZ")
    assert parsed.notna().all() and parsed.min().year == 2013


@pytest.mark.parametrize("fmt", ["%Y-%m-%dT%H:%M:%SZ", "%d/%m/%Y %H:%M", "%b %d %Y", "%Y-%m-%d %H:%M:%S.%f"])
def test_datetimes_print_back_exactly_as_pandas_would(fmt):
    from synth_ops.steps.fastpath import format_datetimes

    rng = np.random.default_rng(0)
    series = pd.Series(pd.to_datetime("1969-12-30") + pd.to_timedelta(rng.uniform(0, 3e9, 5000), unit="s"))
    series[3] = pd.NaT
    expected = series.dt.strftime(fmt)
    pd.testing.assert_series_equal(format_datetimes(series, fmt).fillna("NaT"), expected.fillna("NaT"),
                                   check_names=False)


def test_roundtrip_format_refuses_lossy_formats():
    values = pd.Series(["2013-01-01 05:00", "2013-02-03 10:30", None])
    assert roundtrip_format(values, "%Y-%m-%d %H:%M") == "%Y-%m-%d %H:%M"
    assert roundtrip_format(values, "%Y-%m-%d") is None
    assert roundtrip_format(values, None) is None
