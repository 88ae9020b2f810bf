"""The fast sampling path against SDV's own: parity per distribution, and the fallbacks."""

import numpy as np
import pandas as pd
import pytest

from synth_ops.runtime import models
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.fit import fit
from synth_ops.steps.profile import profile
from synth_ops.synthesizers.sdv.fastpath import roundtrip_format, tabulate_marginals
from tests.conftest import fitted_workspace, penguins_doc, write_spec

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _model(tmp_path, **synthesizer):
    return fitted_workspace(tmp_path, penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7, **synthesizer}))


def _batches(ws, table, rows, batch_rows, seed, fast=True):
    backend = models.load(ws, table)
    backend.options["fast_sampling"] = fast
    return list(backend.sample(table, rows, seed, batch_rows))


def _draw(ws, fast: bool, rows=4000):
    return pd.concat(_batches(ws, "penguins", rows, 1000, seed=11, fast=fast), ignore_index=True)


@pytest.mark.parametrize("distribution", ["beta", "norm", "truncnorm", "uniform", "gamma", "gaussian_kde"])
def test_tabulated_sampling_matches_sdv_row_for_row(tmp_path, penguins_frame, distribution):
    ws = _model(tmp_path, params={"default_distribution": distribution})
    # every marginal tabulated, finite and monotone: the fit exported a portable sampler (a KDE's
    # infinite ends once made every KDE marginal fall back to SDV, and this test compare SDV to SDV)
    assert "key" in ws.read("penguins", "model.json")["sampler"]["penguins"], distribution
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
    model = models.load(ws, "penguins").model
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
    frames = _batches(ws, "penguins", 50, 50, seed=1)
    assert len(frames[0]) == 50


def test_non_copula_models_use_sdv_sampling(tmp_path):
    doc = penguins_doc(synthesizer={"kind": "tvae", "seed": 1, "params": {"epochs": 1}})
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "penguins"), fit(ws, "penguins")
    assert tabulate_marginals(models.load(ws, "penguins").model)["tabulated"] == []
    assert len(_batches(ws, "penguins", 20, 20, seed=1)[0]) == 20


def test_fit_rows_bounds_the_marginal_fits_and_is_recorded(tmp_path, penguins_frame):
    ws = _model(tmp_path, fit_rows=100)
    info = ws.read("penguins", "model.json")
    assert info["fit_rows"] == 100 and info["train_rows"] == 275
    marginals = info["marginals"]
    # flipper lengths take ~55 distinct values: fitted on every row; bill lengths take ~160: sampled
    assert marginals["flipper_length_mm"]["fitted_on"] == "all rows"
    assert marginals["flipper_length_mm"]["rows"] == 275
    assert marginals["bill_length_mm"] == {"fitted_on": "sample", "rows": 100}
    # the transformers still saw every training row: every real category can be produced
    assert set(_draw(ws, fast=True).island) == {"Biscoe", "Dream", "Torgersen"}


def test_datetime_strings_take_the_vectorised_path_and_print_back(tmp_path, flights_sample_csv):
    doc = {
        "name": "flights",
        "tables": {"flights": {"source": str(flights_sample_csv), "exclude": ["year"]}},
        "synthesizer": {"kind": "gaussian_copula"},
        "generate": {"rows": 500, "shards": 1},
    }
    ws = fitted_workspace(tmp_path, doc)
    assert ws.read("flights", "model.json")["native_datetimes"] == {"time_hour": "%Y-%m-%dT%H:%M:%SZ"}
    frame = _batches(ws, "flights", 500, 500, seed=2)[0]
    parsed = pd.to_datetime(frame.time_hour, format="%Y-%m-%dT%H:%M:%SZ")
    assert parsed.notna().all() and parsed.min().year == 2013


def test_roundtrip_format_refuses_lossy_formats():
    values = pd.Series(["2013-01-01 05:00", "2013-02-03 10:30", None])
    assert roundtrip_format(values, "%Y-%m-%d %H:%M") == "%Y-%m-%d %H:%M"
    assert roundtrip_format(values, "%Y-%m-%d") is None
    assert roundtrip_format(values, None) is None


class _Holder:
    """The attributes the fast-path helpers read from an SDV synthesizer."""

    def __init__(self, hyper):
        self._data_processor = type("Processor", (), {"_hyper_transformer": hyper})()


@pytest.mark.parametrize("fmt", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y/%m/%d %H", "%Y-%m-%d", "%d/%m/%Y %H:%M"])
def test_datetime_truncation_matches_rdts_print_and_parse(fmt):
    from rdt.transformers.datetime import UnixTimestampEncoder

    from synth_ops.synthesizers.sdv.fastpath import truncate_datetimes_natively

    rng = np.random.default_rng(4)
    train = pd.DataFrame({"t": pd.to_datetime("1969-06-01") + pd.to_timedelta(rng.uniform(0, 2e8, 500), unit="s")})
    outputs = []
    for native in (False, True):
        encoder = UnixTimestampEncoder(datetime_format=fmt)
        encoder.fit(train, "t")

        model = _Holder(type("Hyper", (), {"field_transformers": {"t": encoder}})())
        changed = truncate_datetimes_natively(model) if native else []
        assert changed == (["t"] if native and fmt != "%d/%m/%Y %H:%M" else [])
        values = pd.DataFrame({"t": rng.uniform(-2e16, 2e17, 2000)}) if not native else outputs[0][1]
        outputs.append((encoder.reverse_transform(values.copy()), values))
    pd.testing.assert_frame_equal(outputs[0][0], outputs[1][0])


def test_columnwise_reverse_transform_gives_rdts_rows(penguins_frame):
    from rdt import HyperTransformer
    from rdt.transformers import FloatFormatter, UniformEncoder

    from synth_ops.synthesizers.sdv.fastpath import columnwise_reverse_transform

    frame = penguins_frame.copy()
    hyper = HyperTransformer()
    hyper.detect_initial_config(frame)
    # one transformer with two output columns (value + is_null), one with random reverse draws
    hyper.update_transformers(
        {
            "body_mass_g": FloatFormatter(missing_value_generation="from_column"),
            "sex": UniformEncoder(),
            "island": UniformEncoder(),
        }
    )
    hyper.fit(frame)
    transformed = hyper.transform(frame)
    assert "body_mass_g.is_null" in transformed.columns
    hyper.reset_randomization()
    expected = hyper.reverse_transform_subset(transformed.copy())
    hyper.reset_randomization()
    assert columnwise_reverse_transform(_Holder(hyper))
    got = hyper.reverse_transform_subset(transformed.copy())
    pd.testing.assert_frame_equal(got, expected)
    # a strict full reverse keeps RDT's own path and its subset check
    hyper.reset_randomization()
    pd.testing.assert_frame_equal(hyper.reverse_transform(transformed.copy()), expected)


@pytest.mark.parametrize("dataset", ["penguins", "flights"])
def test_columnwise_reverse_keeps_the_sampled_rows(tmp_path, flights_sample_csv, monkeypatch, dataset):
    from synth_ops.synthesizers.sdv import fastpath

    if dataset == "penguins":
        ws = _model(tmp_path)
    else:
        doc = {"name": "flights", "tables": {"flights": {"source": str(flights_sample_csv), "exclude": ["year"]}}}
        ws = fitted_workspace(tmp_path, doc)

    def draw():
        return pd.concat(_batches(ws, dataset, 3000, 1000, seed=5), ignore_index=True)

    fast = draw()
    monkeypatch.setattr(fastpath, "columnwise_reverse_transform", lambda model: False)
    pd.testing.assert_frame_equal(fast, draw())
