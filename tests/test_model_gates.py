"""Gates that judge the synthetic rows by what a model learns: utility (train on synthetic, test on
real, and augmentation) and the discriminator. Each fails on rows built to fail it (a stand-in for a
bad synthesizer, written into the shards) and passes rows as good as real ones, on penguins."""

import numpy as np
import pandas as pd
import pytest

from synth_ops.cli import main
from synth_ops.profiling.holdout import load_training_rows
from synth_ops.steps.generate import generate
from synth_ops.steps.validate import validate
from tests.conftest import fitted_workspace, penguins_doc, rewrite_shard


def _staged(directory, doc):
    ws = fitted_workspace(directory, doc)
    return ws, generate(ws, "penguins")


def _replace_output(ws, records, make_rows):
    for record in records:
        rewrite_shard(ws, "penguins", record, make_rows(record.rows).reset_index(drop=True))


def _results(record, gate):
    return {r["name"]: r for r in record.results if r["gate"] == gate}


def _gate(ws, name: str) -> list[dict]:
    """One gate alone on the staged shards, as validate runs it."""
    from synth_ops.gates import GateInput
    from synth_ops.gates.discriminator import discriminator_gate
    from synth_ops.gates.utility import utility_gate
    from synth_ops.runtime.shards import verified_shards
    from synth_ops.steps.generate import shard_records

    gate = {"discriminator": discriminator_gate, "utility": utility_gate}[name]
    shards = shard_records(ws, "penguins")
    with verified_shards(ws, shards) as paths:
        gate_input = GateInput(
            ws=ws, table="penguins", profile=ws.read("penguins", "profile.json"), shard_paths=paths, shards=shards
        )
        return [result.to_dict() for result in gate(gate_input)]


def _discriminator(ws) -> dict:
    return _gate(ws, "discriminator")[0]


def test_two_targets_are_reported_and_real_rows_pass_utility(tmp_path):
    gates = {"utility": {"targets": ["species", "body_mass_g"]}}
    ws, records = _staged(tmp_path, penguins_doc(gates=gates))
    train, _ = load_training_rows(ws, "penguins")
    # a synthesizer as good as the real rows: the training rows drawn again
    _replace_output(ws, records, lambda n: train.sample(n, replace=True, random_state=n))
    utility = _results(validate(ws, "penguins"), "utility")
    assert set(utility) == {
        "utility_ratio[species]",
        "augmentation[species]",
        "utility_ratio[body_mass_g]",
        "augmentation[body_mass_g]",
    }
    species, mass = utility["utility_ratio[species]"], utility["utility_ratio[body_mass_g]"]
    assert species["measures"]["metric"] == "balanced_accuracy" and mass["measures"]["metric"] == "r2"
    for ratio in (species, mass):
        assert ratio["passed"] and ratio["value"] > 0.9 and ratio["threshold"] == 0.9
        assert ratio["bound"] >= ratio["value"]  # the upper bound the threshold is compared with
    augmented = utility["augmentation[species]"]
    assert augmented["threshold"] is None and augmented["passed"]  # reported, not gated by default
    assert augmented["measures"]["augmented"] == pytest.approx(
        augmented["value"] * augmented["measures"]["real"], abs=2e-3
    )


def test_a_useless_target_fails_utility_exit_1_nothing_published(tmp_path, capsys):
    doc = penguins_doc(gates={"utility": {"targets": ["sex", "species"]}})
    ws, records = _staged(tmp_path, doc)
    train, _ = load_training_rows(ws, "penguins")

    def shuffled_species(n):  # species no longer follows the measurements: nothing to learn
        rows = train.sample(n, replace=True, random_state=n).reset_index(drop=True)
        rows["species"] = rows["species"].sample(frac=1, random_state=1).to_numpy()
        return rows

    _replace_output(ws, records, shuffled_species)
    assert main(["run", str(tmp_path / "spec.yaml")]) == 1
    err = capsys.readouterr().err
    assert "gate utility/utility_ratio[species] failed" in err and "utility_ratio[sex] failed" not in err
    assert not (tmp_path / "warehouse").exists()
    species = _results(validate(ws, "penguins"), "utility")["utility_ratio[species]"]
    assert species["value"] < 0.6 and species["bound"] < 0.9


def test_a_target_real_rows_cannot_predict_is_not_measured(tmp_path, penguins_frame):
    frame = penguins_frame.assign(noise=np.random.default_rng(3).normal(size=len(penguins_frame)))
    source = tmp_path / "noisy.csv"
    frame.to_csv(source, index=False)
    ws, _ = _staged(tmp_path, penguins_doc(source=source, gates={"utility": {"targets": ["noise"]}}))
    noise = _results(validate(ws, "penguins"), "utility")["utility_ratio[noise]"]
    assert noise["value"] is None and noise["passed"], noise
    assert noise["detail"].startswith("not measured: a model trained on the real rows scores")


def test_holdout_rows_that_copy_a_training_row_are_not_scored(tmp_path, penguins_frame):
    # a panel-like table: 150 rows appear twice, so some holdout rows copy a training row
    frame = pd.concat([penguins_frame, penguins_frame.sample(150, random_state=1)], ignore_index=True)
    source = tmp_path / "twice.csv"
    frame.to_csv(source, index=False)
    ws, records = _staged(tmp_path, penguins_doc(source=source, gates={"utility": {"targets": ["species"]}}))
    train, holdout = load_training_rows(ws, "penguins")
    rows = lambda frame: frame.astype(str).apply(tuple, axis=1)  # noqa: E731 - NaN equal to NaN, as text
    copies = rows(holdout).isin(set(rows(train)))
    assert 10 < copies.sum() < len(holdout)
    species = next(r for r in _gate(ws, "utility") if r["name"] == "utility_ratio[species]")
    measures = species["measures"]
    assert measures["holdout_copies_left_out"] == copies.sum()
    assert measures["holdout_rows"] == len(holdout) - copies.sum()  # the others are all scored


def test_the_discriminator_catches_a_broken_dependence_and_passes_real_rows(tmp_path):
    from statsmodels.datasets import fair

    source = tmp_path / "fair.csv"
    fair.load_pandas().data.to_csv(source, index=False)  # 6,366 marriages: age goes with years married
    doc = penguins_doc(
        source=source, gates={"discriminator_auc_max": 0.1, "model_rows": 1000}, generate={"rows": 1200, "shards": 2}
    )
    doc["tables"]["penguins"]["metadata"] = {}
    ws, records = _staged(tmp_path, doc)
    _, holdout = load_training_rows(ws, "penguins")
    fresh = holdout.sample(frac=1, random_state=0).reset_index(drop=True)  # real rows the model never saw
    parts = iter([fresh.iloc[:600], fresh.iloc[600:1200]])
    _replace_output(ws, records, lambda n: next(parts))
    passed = _discriminator(ws)
    assert passed["passed"] and passed["bound"] <= 0.1 and abs(passed["baseline"] - 0.5) < 0.05, passed

    # the same real rows with years married shuffled: every value real, the dependence broken
    broken = fresh.assign(yrs_married=fresh["yrs_married"].sample(frac=1, random_state=1).to_numpy())
    parts = iter([broken.iloc[:600], broken.iloc[600:1200]])
    _replace_output(ws, records, lambda n: next(parts))
    caught = _discriminator(ws)
    assert not caught["passed"] and caught["value"] > 0.75 and caught["bound"] > 0.1, caught


def test_the_discriminator_is_gated_by_default_for_a_table_alone_and_only_reported_when_null(tmp_path):
    from synth_ops.spec import DISCRIMINATOR_AUC_MAX

    (tmp_path / "default").mkdir()
    (tmp_path / "null").mkdir()
    ws, _ = _staged(tmp_path / "default", penguins_doc())
    result = _results(validate(ws, "penguins"), "discriminator")["discriminator_auc"]
    assert result["threshold"] == DISCRIMINATOR_AUC_MAX and result["passed"]
    assert 0 <= result["value"] <= 1 and result["measures"]["holdout_rows"] == len(
        load_training_rows(ws, "penguins")[1]
    )
    ws, _ = _staged(tmp_path / "null", penguins_doc(gates={"discriminator_auc_max": None}))
    result = _results(validate(ws, "penguins"), "discriminator")["discriminator_auc"]
    assert result["threshold"] is None and result["passed"] and "reported, not gated" in result["detail"]


def test_bootstrap_scores_equal_the_metrics_on_resampled_rows():
    from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score

    from synth_ops.gates.utility import _Task, _weighted_scores

    rng = np.random.default_rng(0)
    n = 200
    rows = rng.integers(0, n, (5, n))
    weights = np.stack([np.bincount(r, minlength=n) for r in rows]).astype(float)
    y = rng.normal(size=n)
    guess = y + rng.normal(size=n)
    labels = np.array(["a", "b"], dtype=object)[(rng.random(n) < 0.3).astype(int)]
    scores = np.round(rng.random(n), 1) + (labels == "b") * 0.3  # rounded: ties across classes
    many = np.array(list("abc"), dtype=object)[rng.integers(0, 3, n)]
    predicted = np.where(rng.random(n) < 0.6, many, "a")
    cases = [
        (_Task("regress", "r2", 0.0), y, guess, r2_score),
        (_Task("classify", "roc_auc", 0.5, ["a", "b"]), labels, scores, lambda t, p: roc_auc_score(t == "b", p)),
        (_Task("classify", "balanced_accuracy", 1 / 3, list("abc")), many, predicted, balanced_accuracy_score),
    ]
    for task, truth, guessed, metric in cases:
        expected = [metric(truth[r], guessed[r]) for r in rows]
        assert _weighted_scores(task, truth, guessed, weights) == pytest.approx(expected, abs=1e-12)


def test_heavy_tailed_numeric_targets_are_scored_on_a_log_scale():
    from synth_ops.gates.utility import _Task

    amounts = pd.Series(np.random.default_rng(1).lognormal(3, 1.5, 500))
    assert _Task.of(amounts, "numerical").transform == "signed log1p"
    assert _Task.of(pd.Series(np.arange(500.0)), "numerical").transform == "none"
