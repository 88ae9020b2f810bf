"""The fast fitting path against SDV's own: the same model, and every shortcut checked on its own."""

import contextlib
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synth_ops.profiling.holdout import load_training_rows
from synth_ops.runtime import models
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.profile import profile
from synth_ops.synthesizers.sdv.fastfit import DistinctValueMLE, fast_fit
from synth_ops.synthesizers.sdv.single import SDVSingleTable, native_datetimes, seed_everything
from tests.conftest import fitted_workspace, penguins_doc, write_spec


def _integer_column(flights_frame, column="dep_delay", rows=20_000):
    return flights_frame[column].dropna().sample(rows, random_state=3).rename(column)


@pytest.mark.parametrize("name,kwds", [("beta", "minmax"), ("gamma", None), ("loglaplace", None), ("t", None)])
def test_distinct_value_likelihood_finds_scipys_parameters(flights_frame, name, kwds):
    """The calls copulas makes (beta with loc/scale starts, the others bare), on a real column."""
    column = "dep_delay" if name in ("beta", "t") else "air_time"  # gamma/loglaplace need a positive-ish column
    x = _integer_column(flights_frame, column)
    extra = {"loc": x.min(), "scale": x.max() - x.min()} if kwds else {}
    dist = getattr(stats, name)
    fitted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = dist.fit(x, **extra)
        got = DistinctValueMLE(dist, 50_000, 0, fitted).fit(x, **extra)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-8)
    assert fitted[column] == {"fitted_on": "all rows", "rows": len(x), "distinct": x.nunique()}


def test_columns_with_more_distinct_values_than_fit_rows_are_fitted_on_a_seeded_sample(flights_frame):
    x = _integer_column(flights_frame)
    fitted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = DistinctValueMLE(stats.beta, 100, 5, fitted).fit(x, loc=x.min(), scale=x.max() - x.min())
        two = DistinctValueMLE(stats.beta, 100, 5, {}).fit(x, loc=x.min(), scale=x.max() - x.min())
        other = DistinctValueMLE(stats.beta, 100, 6, {}).fit(x, loc=x.min(), scale=x.max() - x.min())
    assert fitted["dep_delay"] == {"fitted_on": "sample", "rows": 100}
    assert one == two and one != other


def test_other_uses_of_the_distribution_go_to_scipy():
    proxy = DistinctValueMLE(stats.beta, 10, 0, {})
    assert proxy.cdf(0.5, 2, 2) == pytest.approx(0.5)
    assert proxy.fit([0.2, 0.4, 0.5, 0.7], floc=0, fscale=1) == stats.beta.fit([0.2, 0.4, 0.5, 0.7], floc=0, fscale=1)


def _uniform_encodings(data):
    """RDT's UniformEncoder output for ``data``, unpatched and inside fast_fit, from one seed."""
    from rdt.transformers.categorical import UniformEncoder

    outputs = []
    for patched in (False, True):
        encoder = UniformEncoder()
        encoder.fit(data, "c")
        encoder.set_random_state(np.random.RandomState(42), "transform")
        with fast_fit(None, 0) if patched else contextlib.nullcontext():
            outputs.append(encoder.transform(data.copy()))
    return outputs


def test_uniform_encoder_draws_the_same_numbers_vectorised():
    rng = np.random.default_rng(1)
    outputs = _uniform_encodings(pd.DataFrame({"c": rng.choice(["a", "b", None, "d"], 5000, p=[0.5, 0.2, 0.1, 0.2])}))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])  # bit for bit, NaN category included


def test_pandas_categoricals_keep_rdts_one_draw_per_category():
    rng = np.random.default_rng(2)
    outputs = _uniform_encodings(pd.DataFrame({"c": pd.Categorical(rng.choice(["a", "b", "c"], 2000))}))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])
    assert outputs[1]["c"].nunique() == 3  # pandas maps a categorical once per category


def test_concurrent_fits_take_turns_and_leave_nothing_patched():
    import threading

    import copulas.univariate.beta
    from rdt.transformers.categorical import UniformEncoder

    before = (copulas.univariate.beta.beta, UniformEncoder._transform)
    inside, seen = threading.Event(), []

    def hold():
        with fast_fit(10, 1):
            inside.set()
            seen.append("first in")
            threading.Event().wait(0.3)
            seen.append("first out")

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(5)
    with fast_fit(20, 2):
        seen.append("second in")
        assert copulas.univariate.beta.beta._fit_rows == 20
    thread.join(5)
    assert seen == ["first in", "first out", "second in"]
    assert (copulas.univariate.beta.beta, UniformEncoder._transform) == before


def test_unseen_categories_keep_rdts_warning_path():
    from rdt.transformers.categorical import UniformEncoder

    encoder = UniformEncoder()
    encoder.fit(pd.DataFrame({"c": ["a", "b", "a"]}), "c")
    with fast_fit(None, 0), pytest.warns(UserWarning, match="new categories"):
        out = encoder.transform(pd.DataFrame({"c": ["a", "zz", "b"]}))
    assert out["c"].between(0, 1).all()


def test_validation_reports_the_same_invalid_values(tmp_path, penguins_frame):
    doc = penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7})
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "penguins")
    bad = penguins_frame.copy()
    bad["body_mass_g"] = bad["body_mass_g"].astype(object)
    bad.loc[[3, 9, 30], "body_mass_g"] = ["heavy", "heavy", "light"]
    messages = []
    for patched in (False, True):
        synthesizer = _sdv_synthesizer(ws, "penguins")
        with pytest.raises(Exception) as raised:
            with fast_fit(None, 0) if patched else contextlib.nullcontext():
                synthesizer.validate({"penguins": bad})
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and "heavy" in messages[1]


def test_invalid_values_are_found_on_distinct_values():
    import sdv.metadata._single_table as single_table
    from sdv._utils import _is_numerical_type

    column = pd.Series([1.0, "x", 2.5, None, "x", True, "y", 3] * 50, name="c")
    original = single_table._SingleTableMetadata._get_invalid_column_values(column, _is_numerical_type)
    with fast_fit(None, 0):
        distinct = single_table._SingleTableMetadata._get_invalid_column_values(column, _is_numerical_type)
    assert distinct == original and {"x", "y"} <= original


def test_datetime_shortcuts_match_sdv():
    import sdv.metadata._single_table as single_table

    series = pd.Series(pd.to_datetime(["2013-01-01 05:00", None, "2013-12-31 23:59"]))
    original_cast, original_check = single_table._cast_to_datetime64, single_table._is_datetime_type
    with fast_fit(None, 0):
        pd.testing.assert_series_equal(single_table._cast_to_datetime64(series), original_cast(series))
        for value in [series[0], pd.NaT, "2013-01-01", "not a date", 5]:
            assert single_table._is_datetime_type(value) == original_check(value)
    assert single_table._cast_to_datetime64 is original_cast  # restored


def test_patches_are_restored_even_after_an_error():
    import copulas.univariate.beta
    from copulas.univariate.base import ScipyModel
    from rdt.transformers.categorical import UniformEncoder

    before = (copulas.univariate.beta.beta, UniformEncoder._transform, ScipyModel.cdf)
    with pytest.raises(RuntimeError), fast_fit(10, 0):
        assert copulas.univariate.beta.beta is not before[0]
        raise RuntimeError("boom")
    assert (copulas.univariate.beta.beta, UniformEncoder._transform, ScipyModel.cdf) == before


def _sdv_synthesizer(ws, table, train=None):
    """An unfitted SDV synthesizer as the backend builds it (string datetimes of ``train`` parsed)."""
    columns = ws.read(table, "metadata.json")["tables"][table]
    columns = {**columns, "columns": {c: dict(m) for c, m in columns["columns"].items()}}
    for column in native_datetimes(columns, train) if train is not None else {}:
        for setting in ("datetime_format", "range_min", "range_max"):
            columns["columns"][column].pop(setting, None)
    return SDVSingleTable("gaussian_copula", ws.spec.synthesizer.params, ws.spec.synthesizer.seed)._build(
        table, columns
    )


def _plain_sdv_fit(ws, table):
    """SDV's own fit of the same training rows, nothing patched."""
    train, _ = load_training_rows(ws, table)
    train = train[ws.read(table, "model.json")["learned_columns"]].copy()
    synthesizer = _sdv_synthesizer(ws, table, train)
    seed_everything(ws.spec.synthesizer.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synthesizer.fit({table: train})
    return synthesizer._model


@pytest.mark.parametrize("dataset", ["penguins", "flights"])
def test_fast_fit_is_sdvs_model(tmp_path, flights_sample_csv, dataset):
    if dataset == "penguins":
        doc = penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7, "fit_rows": None})
    else:
        doc = {
            "name": "flights",
            "synthesizer": {"kind": "gaussian_copula", "fit_rows": None},
            "tables": {"flights": {"source": str(flights_sample_csv), "exclude": ["year"]}},
        }
    ws = fitted_workspace(tmp_path, doc)
    fast, plain = models.load(ws, dataset).model._model, _plain_sdv_fit(ws, dataset)
    assert fast.columns == plain.columns
    for column, a, b in zip(fast.columns, fast.univariates, plain.univariates):
        assert type(a) is type(b), column
        # Compared as distributions: where SDV's beta MLE runs off along a ridge (arr_delay: scale and
        # b grow together without bound) the optimiser stops at different points of one distribution.
        lo, hi = b.percent_point(np.array([1e-4, 1 - 1e-4]))
        grid = np.linspace(lo, hi, 2001)
        assert np.abs(a.cdf(grid) - b.cdf(grid)).max() < 1e-3, column
    np.testing.assert_allclose(np.asarray(fast.correlation), np.asarray(plain.correlation), atol=1e-4)
    marginals = ws.read(dataset, "model.json")["marginals"]
    assert set(marginals) == set(fast.columns) and all(m["fitted_on"] == "all rows" for m in marginals.values())


@pytest.mark.parametrize(
    "values",
    [
        ["2013-01-01", "2013-01-02", "2013-01-01"],  # dates only: printed without a time
        [None, "2013-01-01 05:00", "2013-01-01 05:00", "2013-03-01 00:00"],  # NaT first, times
        ["2013-01-01 05:00", "2013-01-01 05:00", "2013-02-01 06:00:00.25"],  # one fractional value, last
    ],
)
def test_datetime_format_guesses_match_sdv_and_rdt(values):
    import sdv.data_processing.datetime_formatter as datetime_formatter
    from rdt.transformers.datetime import UnixTimestampEncoder

    series = pd.Series(pd.to_datetime(values * 400, format="ISO8601"), name="t")
    expected = datetime_formatter._get_datetime_format(series)
    plain = UnixTimestampEncoder()
    plain.fit(series.to_frame(), "t")
    fast = UnixTimestampEncoder()
    with fast_fit(None, 0):
        assert datetime_formatter._get_datetime_format(series) == expected
        fast.fit(series.to_frame(), "t")
    assert fast.datetime_format == plain.datetime_format and plain.datetime_format is not None


def test_distinct_value_cdf_handles_repeats_and_missing_values():
    from copulas.univariate import BetaUnivariate

    marginal = BetaUnivariate()
    marginal.fit(np.random.default_rng(0).beta(2, 5, 500))
    x = np.tile([0.1, 0.2, np.nan, 0.7], 2000)
    expected = marginal.cdf(x)
    with fast_fit(None, 0):
        np.testing.assert_array_equal(marginal.cdf(x), expected)


def _refusal(monkeypatch, library: str, version: str):
    """The DependencyError a fast fit raises with ``library`` reported at ``version``, or None.
    The guard reads versions through importlib.metadata.version: patched here, the rest real."""
    from importlib import metadata

    from synth_ops.errors import DependencyError
    from synth_ops.synthesizers.sdv import compat

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: version if name == library else real(name))
    monkeypatch.setattr(compat, "_verified", False)  # as in a fresh process: the guard checks on first use
    try:
        with fast_fit(None, 0):
            return None
    except DependencyError as error:
        return error
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize(
    "library,version",
    [
        ("sdv", "2.1.0"),
        ("sdv", "1.17.4"),
        ("sdv", "2.1.0.dev0"),
        ("rdt", "2.1.0"),
        ("copulas", "0.13.0"),
        ("copulas", "0.15.1"),
    ],
)
def test_a_library_outside_the_tested_range_is_refused_in_one_line(monkeypatch, library, version):
    from rdt.transformers.categorical import UniformEncoder

    from synth_ops.synthesizers.sdv.compat import TESTED

    before = UniformEncoder._transform
    error = _refusal(monkeypatch, library, version)
    low, high = TESTED[library]
    assert error is not None and error.exit_code == 2
    message = str(error)
    assert "\n" not in message and f"{library} {version} is installed" in message
    assert f"{library}>={low},<{high}" in message
    assert UniformEncoder._transform is before  # refused before anything was patched


def test_the_installed_versions_and_patch_releases_within_the_range_are_accepted(monkeypatch):
    from synth_ops.synthesizers.sdv.compat import installed_version

    assert installed_version("sdv") is not None
    for library in ("sdv", "rdt", "copulas"):
        assert _refusal(monkeypatch, library, installed_version(library)) is None
    assert _refusal(monkeypatch, "sdv", "2.0.9") is None and _refusal(monkeypatch, "copulas", "0.14.0") is None


def test_the_versions_are_checked_once_on_first_use(monkeypatch):
    from importlib import metadata

    from synth_ops.synthesizers.sdv import compat

    real, asked = metadata.version, []
    monkeypatch.setattr(metadata, "version", lambda name: asked.append(name) or real(name))
    monkeypatch.setattr(compat, "_verified", False)
    for _ in range(3):
        with fast_fit(None, 0):
            pass
    assert sorted(asked) == sorted(compat.TESTED)


def _private_names_defined_in(*libraries: str) -> set[str]:
    """Every _name (not dunder) the libraries' own source defines: functions, classes, attributes."""
    import ast
    import importlib.util
    import pathlib

    names = set()
    for library in libraries:
        for path in pathlib.Path(importlib.util.find_spec(library).origin).parent.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    names.add(node.attr)
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return set(filter(_is_private, names))


def _is_private(name: str) -> bool:
    return len(name) > 1 and name.startswith("_") and not name.startswith("__")  # "_" is a throwaway


def test_no_module_but_compat_reads_sdv_rdt_or_copulas_private_names():
    """An AST scan of synth_ops: outside the ``compat.py`` modules, no attribute access (``x._name``), no name in
    a string (``getattr(x, "_name")``, a patch target) that SDV, RDT or copulas define privately, no
    import of RDT or copulas at all, and no import of any library's private module or name."""
    import ast
    import pathlib

    import synth_ops

    private = _private_names_defined_in("sdv", "rdt", "copulas")
    root = pathlib.Path(synth_ops.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "compat.py" and path.parent.name in ("sdv", "dp"):  # the compat modules of SDV and OpenDP
            continue
        where = path.relative_to(root.parent)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in private
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found.append(f"{where}:{node.lineno} .{node.attr}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in private:
                found.append(f"{where}:{node.lineno} {node.value!r}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                names = [a.name for a in node.names] if isinstance(node, ast.ImportFrom) else []
                for module in modules:
                    parts = module.split(".")
                    if parts[0] == "synth_ops" or (isinstance(node, ast.ImportFrom) and node.level):
                        continue
                    if parts[0] in ("rdt", "copulas") or any(map(_is_private, parts + names)):
                        found.append(f"{where}:{node.lineno} import {module} {' '.join(names)}".rstrip())
    assert found == [], "\n".join(found)
