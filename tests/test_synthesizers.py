"""One contract for every registered backend: fit, seeded sample, reproducible rows, a tampered
model refused; and the pieces of synth-ops' own copula that multi-table sampling relies on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import fitted_workspace, penguins_doc

# small settings per kind: the contract, not the model quality, is under test
PARAMS = {
    "ctgan": {"epochs": 2},
    "tvae": {"epochs": 2},
    "copulagan": {"epochs": 2},
    "dp_mst": {"iters": 30, "bins": 8},
    "dp_aim": {"iters": 30, "bins": 8, "rounds": 4},
    "tabular_argn": {"max_training_time": 0.02, "max_epochs": 1},
    "auto": {"candidates": ["trees", "gaussian_copula"]},  # tabular_argn: test_auto.py
}
# DP backends learn declared domains only; three numeric columns fewer keep their fits short
PRIVACY = {
    "epsilon": 1.0,
    "budget": {"epsilon": 10.0},
    "bounds": {"penguins": {"body_mass_g": [2500, 6500]}},
    "categories": {
        "penguins": {
            "species": ["Adelie", "Gentoo", "Chinstrap"],
            "sex": ["male", "female"],
            "island": ["Biscoe", "Dream", "Torgersen"],
            "year": [2007, 2008, 2009],
        }
    },
}


def _kinds():
    from synth_ops import synthesizers

    return synthesizers.kinds()


@pytest.mark.parametrize("kind", _kinds())
def test_every_backend_keeps_the_contract(tmp_path, kind, penguins_frame):
    import cloudpickle

    from synth_ops.errors import ModelIntegrityError
    from synth_ops.runtime import models
    from synth_ops.steps.generate import generate
    from synth_ops.synthesizers.base import Synthesizer

    doc = penguins_doc(
        synthesizer={"kind": kind, "seed": 3, "params": PARAMS.get(kind, {})},
        generate={"rows": 200, "shards": 1, "batch_rows": 80},
    )
    if kind.startswith("dp_"):
        doc["privacy"] = PRIVACY
        doc["tables"]["penguins"]["exclude"] = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    ws = fitted_workspace(tmp_path, doc)
    model = models.load(ws, "penguins")
    # kind auto stores the winning candidate's own model
    stored = ws.read("penguins", "model.json")["auto"]["winner"] if kind == "auto" else kind
    assert isinstance(model, Synthesizer) and model.kind == stored and model.tables == ("penguins",)

    learned = ws.read("penguins", "model.json")["learned_columns"]
    first = pd.concat(model.sample("penguins", 200, seed=11, batch_rows=80), ignore_index=True)
    again = pd.concat(model.sample("penguins", 200, seed=11, batch_rows=80), ignore_index=True)
    other = pd.concat(model.sample("penguins", 200, seed=12, batch_rows=80), ignore_index=True)
    assert list(first.columns) == learned and len(first) == 200
    pd.testing.assert_frame_equal(first, again)  # same seed, same rows
    assert not first.equals(other)
    # a model survives its own serialisation with the same rows
    revived = cloudpickle.loads(models.dumps(model))  # what models.load unpickles
    pd.testing.assert_frame_equal(first, pd.concat(revived.sample("penguins", 200, 11, 80), ignore_index=True))
    # categories stay within the real ones
    assert set(first["species"].dropna()) <= set(penguins_frame["species"].dropna())

    # generation goes through the same contract: two runs of the shard give identical files
    records = generate(ws, "penguins")
    again = generate(ws, "penguins", force=True)
    assert [r.sha256 for r in records] == [r.sha256 for r in again]

    # a tampered model is refused before it is unpickled
    info = ws.read("penguins", "model.json")
    blob = bytearray(ws.artifacts.read_bytes(info["model_key"]))
    blob[len(blob) // 2] ^= 0xFF
    ws.artifacts.write_bytes(info["model_key"], bytes(blob))
    with pytest.raises(ModelIntegrityError, match="sha256 does not match"):
        models.load(ws, "penguins")


def test_registering_a_backend_touches_only_the_registry():
    from synth_ops import synthesizers
    from synth_ops.synthesizers.copula.backend import CopulaSynthesizer

    class Tuned(CopulaSynthesizer):
        kinds = ("tuned_copula",)

    import sys
    import types

    module = types.ModuleType("tests_tuned_backend")
    module.Tuned = Tuned
    sys.modules["tests_tuned_backend"] = module
    synthesizers.register("tuned_copula", "tests_tuned_backend:Tuned")
    try:
        from synth_ops.spec import parse_spec

        spec = parse_spec(
            {"name": "t", "tables": {"t": {"source": "x.csv"}}, "synthesizer": {"kind": "tuned_copula"}},
            check_files=False,
        )
        assert isinstance(synthesizers.create(spec.synthesizer), Tuned)
    finally:
        synthesizers.REGISTRY.pop("tuned_copula")
        del sys.modules["tests_tuned_backend"]


def test_unknown_kind_lists_the_registered_ones():
    from synth_ops.errors import SpecError
    from synth_ops.spec import parse_spec

    with pytest.raises(SpecError, match=r"synthesizer\.kind: Input should be one of .*copula.*got 'hma3'"):
        parse_spec(
            {"name": "t", "tables": {"t": {"source": "x.csv"}}, "synthesizer": {"kind": "hma3"}}, check_files=False
        )


def test_unique_within_spaces_values_by_the_step_inside_each_group():
    from synth_ops.synthesizers.copula.backend import unique_within

    rng = np.random.default_rng(0)
    groups = np.repeat([4, 9, 2], [50, 30, 1])
    values = rng.normal(100, 5, len(groups))
    out = unique_within(values, groups, step=1.0, origin=0.5)
    frame = pd.DataFrame({"g": groups, "v": out})
    assert not frame.duplicated().any()
    assert np.allclose((out - 0.5) % 1.0, 0)  # on the grid
    gaps = frame.sort_values(["g", "v"]).groupby("g")["v"].diff().dropna()
    assert (gaps >= 1.0 - 1e-9).all()
    # values already spaced are left where they are
    spaced = np.array([3.5, 7.5, 1.5])
    assert np.allclose(unique_within(spaced, np.zeros(3, dtype=int), 1.0, 0.5), spaced)


def test_balanced_counts_keep_the_real_total_even_when_few_parents_hold_the_children():
    from synth_ops.steps.generate import balanced_counts

    rng = np.random.default_rng(1)
    # 3 of 1,458 airports have weather: a shard of 486 where none drew any gives them to one
    none = balanced_counts(np.zeros(486), target=70.0, rng=rng, share_with=3 / 1458)
    assert none.sum() == 70 and (none > 0).sum() == 1
    # at most the real maximum per parent: one-to-one stays one-to-one
    capped = balanced_counts(np.r_[np.ones(50), np.zeros(50)], target=80.0, rng=rng, most=1)
    assert capped.max() == 1 and capped.sum() == 50
    drawn = rng.poisson(2.0, 1000)
    out = balanced_counts(drawn, target=4000.0, rng=rng)
    assert abs(out.sum() - 4000) < 100 and np.corrcoef(out, drawn)[0, 1] > 0.95
    assert balanced_counts(drawn, target=0.0, rng=rng).sum() == 0


def test_conditional_sampling_follows_the_parent(penguins_frame):
    """Rows drawn given a context value move with it, as the real rows do."""
    from synth_ops.synthesizers.copula.marginals import NumericMarginal
    from synth_ops.synthesizers.copula.model import GaussianCopula

    frame = penguins_frame[["bill_length_mm", "body_mass_g"]].dropna()
    marginals = {c: NumericMarginal.fit(frame[c].to_numpy(), decimals=1) for c in frame.columns}
    model = GaussianCopula.fit(frame, marginals, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    light = model.sample_given({"body_mass_g": np.full(2000, 3200.0)}, rng, ["bill_length_mm"])["bill_length_mm"]
    heavy = model.sample_given({"body_mass_g": np.full(2000, 5800.0)}, rng, ["bill_length_mm"])["bill_length_mm"]
    assert heavy.mean() - light.mean() > 3.0
