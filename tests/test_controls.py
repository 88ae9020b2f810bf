"""Generation controls (tables.<t>.generate: rebalance, conditions, impute) under the default
synthesizer (trees), on real tables: what the published rows hold, that the other columns follow
the controlled ones, the control gate, and every bad control refused with exit 2 naming its field."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_ops.cli import main
from tests.conftest import PENGUINS_CSV, fitted_workspace, write_spec


def _published(tmp_path, name: str, table: str) -> pd.DataFrame:
    from synth_ops import read_latest

    return read_latest(str(tmp_path / "warehouse"), name, table)


def _gates(tmp_path, table: str) -> dict:
    results = json.loads(next((tmp_path / "artifacts").rglob(f"{table}/gates.json")).read_text())["results"]
    return {r["name"]: r for r in results}


def test_a_rare_class_rebalanced_to_half_brings_its_own_kind_of_rows(tmp_path):
    """seattle_weather: drizzle is 53 of 1,461 days (3.6%). Rebalanced to 50%, half the published
    days are drizzle days drawn as drizzle days are (the other columns given the weather); the
    other classes keep their real proportions; the control gate and every other gate, privacy
    included, pass on the same run. (Snow, 26 days, rebalanced to 50% fails the DCR gate: 1,000 rows
    drawn from 21 training days' leaves sit nearer them than holdout days: 0.72; to 20% it passes.)"""
    from bench.corpus_tables import write_source

    source = write_source("seattle_weather", tmp_path)
    real = pd.read_csv(source)
    assert (real["weather"] == "drizzle").mean() < 0.04
    doc = {
        "name": "seattle",
        "tables": {
            "seattle_weather": {
                "source": str(source),
                "generate": {"rebalance": {"column": "weather", "shares": {"drizzle": 0.5}}},
            }
        },
        "synthesizer": {"seed": 4},
        "generate": {"rows": 2000, "shards": 2, "batch_rows": 700},
    }
    assert main(["run", str(write_spec(tmp_path, doc))]) == 0
    synthetic = _published(tmp_path, "seattle", "seattle_weather")
    shares = synthetic["weather"].value_counts(normalize=True)
    assert abs(shares["drizzle"] - 0.5) < 0.04
    others = real.loc[real["weather"] != "drizzle", "weather"].value_counts(normalize=True)
    kept = synthetic.loc[synthetic["weather"] != "drizzle", "weather"].value_counts(normalize=True)
    assert abs(kept["rain"] - others["rain"]) < 0.05 and abs(kept["sun"] - others["sun"]) < 0.05
    # drawn given the weather: drizzle days are dry more often than rain and fog days (real: 98% of
    # drizzle days record no precipitation, 18% and 25% of rain and fog days; the trees, whose
    # leaves mix drizzle's 42 training days with others, 46%, 26% and 23%), and as warm as real ones
    dry = synthetic.groupby("weather")["precipitation"].apply(lambda p: (p == 0).mean())
    assert dry["drizzle"] > dry["rain"] + 0.1 and dry["drizzle"] > dry["fog"] + 0.1
    warm = synthetic.groupby("weather")["temp_max"].mean()
    assert abs(warm["drizzle"] - real.groupby("weather")["temp_max"].mean()["drizzle"]) < 2
    gates = _gates(tmp_path, "seattle_weather")
    control = gates["rebalance[weather]"]
    assert control["gate"] == "control" and control["passed"] and control["value"] < 0.04
    # fidelity is judged against the real rows weighted to the requested shares: it passes
    assert gates["quality_score"]["passed"] and gates["discriminator_auc"]["passed"]
    assert gates["dcr_share"]["passed"] and gates["membership[distance]"]["passed"]


def test_conditions_with_a_value_and_a_range_and_an_imputed_column(tmp_path):
    doc = {
        "name": "penguins",
        "tables": {
            "penguins": {
                "source": str(PENGUINS_CSV),
                "generate": {
                    "conditions": [
                        {"values": {"island": "Biscoe"}, "rows": 40},
                        {"values": {"bill_length_mm": [50, 60]}, "rows": 30},
                    ],
                    "impute": ["sex"],
                },
            }
        },
        "synthesizer": {"seed": 2},
        "generate": {"rows": 600, "shards": 3, "batch_rows": 100},
    }
    assert main(["run", str(write_spec(tmp_path, doc))]) == 0
    synthetic = _published(tmp_path, "penguins", "penguins")
    real = pd.read_csv(PENGUINS_CSV)
    biscoe, long_bills = synthetic.iloc[:40], synthetic.iloc[40:70]
    assert (biscoe["island"] == "Biscoe").all()
    # the rest of a row is drawn given the condition: no Chinstrap lives on Biscoe
    assert set(biscoe["species"]) <= set(real.loc[real["island"] == "Biscoe", "species"])
    assert long_bills["bill_length_mm"].between(50, 60).all()
    assert synthetic["sex"].notna().all() and real["sex"].isna().any()
    assert not synthetic.iloc[70:]["island"].eq("Biscoe").all()  # the other rows are not conditioned
    gates = _gates(tmp_path, "penguins")
    assert gates["conditions.0"]["passed"] and gates["conditions.0"]["value"] == 40
    assert gates["conditions.1"]["passed"] and gates["impute[sex]"]["passed"]
    # the release says the rows were steered and how; the catalog's words name columns, never values
    from synth_ops.spec.controls import describe

    latest = json.loads((tmp_path / "warehouse" / "penguins" / "_latest.json").read_text())
    release = json.loads((tmp_path / "warehouse" / latest["release"]).read_text())
    assert release["controls"]["penguins"]["conditions"][1]["values"]["bill_length_mm"] == [50, 60]
    words = describe(release["controls"]["penguins"])
    assert words == "condition on island (40 rows); condition on bill_length_mm (30 rows); impute sex"
    page = next(tmp_path.rglob("penguins/report.html")).read_text()
    assert 'id="controls"' in page and "impute sex" in page


def test_fairness_makes_the_target_independent_of_the_sensitive_column(tmp_path):
    """penguins: species depends on the island (Torgersen holds only Adelies; parity gap 0.55).
    Under fairness every island gets the overall species shares; the other columns follow the
    species drawn (a Gentoo's flippers wherever it lives); the gate reports the gap before and after."""
    doc = {
        "name": "penguins",
        "tables": {
            "penguins": {
                "source": str(PENGUINS_CSV),
                "generate": {"fairness": {"target": "species", "sensitive": ["island"]}},
            }
        },
        "synthesizer": {"seed": 3},
        "generate": {"rows": 1000, "shards": 2},
    }
    assert main(["run", str(write_spec(tmp_path, doc))]) == 0
    synthetic = _published(tmp_path, "penguins", "penguins")
    real = pd.read_csv(PENGUINS_CSV)
    overall = synthetic["species"].value_counts(normalize=True)
    for _, rows in synthetic.groupby("island"):
        shares = rows["species"].value_counts(normalize=True).reindex(overall.index, fill_value=0)
        assert (abs(shares - overall) < 0.12).all()
    assert abs(overall["Adelie"] - (real["species"] == "Adelie").mean()) < 0.05  # the overall shares kept
    flippers = synthetic.groupby("species")["flipper_length_mm"].mean()
    assert flippers["Gentoo"] > flippers["Adelie"] + 15
    gate = _gates(tmp_path, "penguins")["fairness[species]"]
    assert gate["passed"] and gate["value"] < 0.06 and gate["baseline"] > 0.4
    assert "overall shares kept" in gate["detail"] and gate["measures"]["share_shift"] < 0.05


def test_fairness_reached_by_dropping_a_target_value_fails_the_gate(penguins_frame):
    """Parity holds when a value is never drawn (tabular_argn did that to planes' rarest engine):
    the control gate also holds the target's overall shares to the real ones."""
    from synth_ops.gates.control import _fairness

    real = penguins_frame.dropna(subset=["species", "island"])
    fairness = {"target": "species", "sensitive": ["island"]}
    rng = np.random.default_rng(0)
    kept = real.assign(species=rng.permutation(real["species"].to_numpy()))  # parity, shares as real
    dropped = kept[kept["species"] != "Chinstrap"]  # parity still, one value gone
    assert _fairness(kept, real, fairness).passed
    result = _fairness(dropped, real, fairness)
    assert not result.passed and result.measures["share_shift"] > 0.19
    assert "overall shares kept (largest shift" in result.detail and result.detail.endswith("no")


@pytest.mark.parametrize("kind", ["trees", "copula", "gaussian_copula"])
def test_the_exported_sampler_draws_the_controlled_rows_the_model_draws(tmp_path, kind):
    """Whatever the batch sizes: the model samples in batches of 128, the sampler of 200."""
    from synth_ops.runtime import models
    from synth_ops.sampler.sampler import Sampler

    controls = {"rebalance": {"column": "species", "shares": {"Chinstrap": 0.6}}, "impute": ["sex"]}
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(PENGUINS_CSV), "generate": controls}},
        "synthesizer": {"kind": kind, "seed": 2},
    }
    ws = fitted_workspace(tmp_path, doc)
    model = models.load(ws, "penguins")
    record = ws.read("penguins", "model.json")["sampler"]["penguins"]
    sampler = Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])
    from_model = pd.concat(list(model.sample("penguins", 500, 9, 128, controls=controls)), ignore_index=True)
    from_sampler = pd.concat(list(sampler.learned_batches(500, 9, 200, controls=controls)), ignore_index=True)
    pd.testing.assert_frame_equal(from_model, from_sampler[from_model.columns], check_dtype=False)
    assert abs((from_model["species"] == "Chinstrap").mean() - 0.6) < 0.07 and from_model["sex"].notna().all()
    # the other columns follow the rebalanced one: Chinstraps' long bills (real means 48.8 and 38.8 mm)
    bills = from_model.groupby("species")["bill_length_mm"].mean()
    assert bills["Chinstrap"] > bills["Adelie"] + 5


@pytest.mark.parametrize("kind", ["copula", "gaussian_copula"])
def test_a_copula_sampler_takes_exact_values_ranges_and_imputation(tmp_path, kind):
    """The sampler steers a model fitted without controls (a copula's fit does not depend on them):
    an exact number and a category, a range, and imputed columns that the real rows leave null."""
    from synth_ops.sampler.controls import ControlError
    from synth_ops.sampler.sampler import Sampler

    doc = {"name": "penguins", "tables": {"penguins": {"source": str(PENGUINS_CSV)}}, "synthesizer": {"kind": kind}}
    ws = fitted_workspace(tmp_path, doc)
    record = ws.read("penguins", "model.json")["sampler"]["penguins"]
    sampler = Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])
    controls = {
        "conditions": [
            {"values": {"body_mass_g": 4000, "island": "Dream"}, "rows": 50},
            {"values": {"bill_length_mm": [40, 45]}, "rows": 50},
        ],
        "impute": ["sex", "bill_length_mm"],
    }
    plain = pd.concat(list(sampler.learned_batches(800, 4)), ignore_index=True)
    rows = pd.concat(list(sampler.learned_batches(800, 4, 300, controls=controls)), ignore_index=True)
    assert (rows["body_mass_g"].iloc[:50] == 4000).all() and (rows["island"].iloc[:50] == "Dream").all()
    assert rows["bill_length_mm"].iloc[50:100].between(40, 45).all()
    assert rows["island"].iloc[100:].nunique() == 3  # the rest are not conditioned
    assert plain["sex"].isna().any() and rows[["sex", "bill_length_mm"]].notna().all().all()
    with pytest.raises(ControlError, match=r"tables\.penguins\.generate\.conditions\.0\.values\.island"):
        list(sampler.learned_batches(10, 4, controls={"conditions": [{"values": {"island": "Atlantis"}, "rows": 5}]}))


BAD = [
    (
        {"rebalance": {"column": "nope", "shares": {"a": 0.5}}},
        r"tables\.penguins\.generate\.rebalance\.column: no column",
    ),
    (
        {"rebalance": {"column": "body_mass_g", "shares": {"1": 0.5}}},
        r"tables\.penguins\.generate\.rebalance\.column: column 'body_mass_g' is not categorical",
    ),
    (
        {"rebalance": {"column": "species", "shares": {"Emperor": 0.5}}},
        r"tables\.penguins\.generate\.rebalance\.shares: 1 value\(s\) do not occur",
    ),
    (
        {"rebalance": {"column": "species", "shares": {"Adelie": 0.7, "Gentoo": 0.6}}},
        r"tables\.penguins\.generate\.rebalance\.shares: the shares add up to 1\.3",
    ),
    (
        {"conditions": [{"values": {"island": ["A", "B"]}, "rows": 5}]},
        r"tables\.penguins\.generate\.conditions\.0\.values\.island: a range needs a number or datetime",
    ),
    (
        {"conditions": [{"values": {"island": "Atlantis"}, "rows": 5}]},
        r"tables\.penguins\.generate\.conditions\.0\.values\.island: the value does not occur",
    ),
    (
        {"conditions": [{"values": {"bill_length_mm": [60, 50]}, "rows": 5}]},
        r"tables\.penguins\.generate\.conditions\.0\.values: bill_length_mm: the range's low end is above",
    ),
    (
        {"conditions": [{"values": {"island": "Dream"}, "rows": 5000}]},
        r"tables\.penguins\.generate\.conditions: 5000 condition rows, more than the 344 rows generated",
    ),
    (
        {
            "rebalance": {"column": "species", "shares": {"Adelie": 0.5}},
            "conditions": [{"values": {"island": "Dream"}, "rows": 5}],
        },
        r"tables\.penguins\.generate: conditions: not combined with rebalance",
    ),
    ({"impute": ["nope"]}, r"tables\.penguins\.generate\.impute\.0: no column 'nope'"),
    (
        {"fairness": {"target": "body_mass_g", "sensitive": ["island"]}},
        r"tables\.penguins\.generate\.fairness\.target: column 'body_mass_g' is not categorical",
    ),
    (
        {"fairness": {"target": "species", "sensitive": ["species"]}},
        r"tables\.penguins\.generate\.fairness\.sensitive: column 'species' is the target",
    ),
    (
        {
            "fairness": {"target": "species", "sensitive": ["island"]},
            "rebalance": {"column": "sex", "shares": {"male": 0.5}},
        },
        r"tables\.penguins\.generate: rebalance: with fairness, only the fairness target",
    ),
    ({"temperature": 0}, r"tables\.penguins\.generate\.temperature: .*greater than 0"),
]


@pytest.mark.parametrize("controls, expected", BAD)
def test_a_bad_control_is_exit_2_naming_its_field_before_any_fit(tmp_path, capsys, controls, expected):
    import re

    doc = {"name": "penguins", "tables": {"penguins": {"source": str(PENGUINS_CSV), "generate": controls}}}
    assert main(["run", str(write_spec(tmp_path, doc))]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(expected, err[0]), err
    assert not list(tmp_path.rglob("model.json")) and not (tmp_path / "warehouse").exists()


def test_a_kind_without_controls_refuses_them(tmp_path, capsys):
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(PENGUINS_CSV), "generate": {"impute": ["sex"]}}},
        "synthesizer": {"kind": "ctgan"},
    }
    assert main(["run", str(write_spec(tmp_path, doc))]) == 2
    assert "tables.penguins.generate.impute: synthesizer.kind ctgan does not support it" in (capsys.readouterr().err)


REBALANCE_IMPUTE = {"rebalance": {"column": "species", "shares": {"Chinstrap": 0.5}}, "impute": ["sex"]}
CONDITIONS = {
    "conditions": [
        {"values": {"island": "Biscoe"}, "rows": 40},
        {"values": {"bill_length_mm": [50, 60]}, "rows": 30},
    ]
}


@pytest.mark.parametrize(
    ("kind", "controls"),
    [
        ("copula", REBALANCE_IMPUTE),
        ("copula", {"fairness": {"target": "species", "sensitive": ["island"]}}),
        ("gaussian_copula", REBALANCE_IMPUTE),
        ("gaussian_copula", CONDITIONS),
    ],
    ids=[
        "copula-rebalance-impute",
        "copula-fairness",
        "gaussian_copula-rebalance-impute",
        "gaussian_copula-conditions",
    ],
)
def test_the_copulas_steer_in_normal_space(tmp_path, kind, controls):
    """The controlled columns set, the rest drawn given them (Schur complement), in the sampler
    generation runs through (sampler/copula_controls.py), whichever library fitted the copula."""
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(PENGUINS_CSV), "generate": controls}},
        "synthesizer": {"kind": kind, "seed": 3},
        "generate": {"rows": 1000, "shards": 2, "batch_rows": 300},
    }
    assert main(["run", str(write_spec(tmp_path, doc))]) == 0
    synthetic = _published(tmp_path, "penguins", "penguins")
    gates = {name: g for name, g in _gates(tmp_path, "penguins").items() if g["gate"] == "control"}
    assert gates and all(g["passed"] for g in gates.values()), gates
    bills = synthetic.groupby("species")["bill_length_mm"].mean()
    assert bills["Chinstrap"] > bills["Adelie"] + 5  # the other columns follow the species drawn
    if "impute" in controls:
        assert synthetic["sex"].notna().all()
        assert abs((synthetic["species"] == "Chinstrap").mean() - 0.5) < 0.05
    if "conditions" in controls:
        assert (synthetic["island"].iloc[:40] == "Biscoe").all()
        assert synthetic["bill_length_mm"].iloc[40:70].between(50, 60).all()


def test_the_lineage_facet_says_the_controls_in_words_and_validates(tmp_path):
    from jsonschema import Draft202012Validator
    from openlineage.client.serde import Serde

    from synth_ops.airflow.lineage import release_run_facet
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from tests.test_openlineage import _facet_schema

    controls = {"fairness": {"target": "species", "sensitive": ["island"]}, "impute": ["sex"]}
    doc = {"name": "penguins", "tables": {"penguins": {"source": str(PENGUINS_CSV), "generate": controls}}}
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    facet = json.loads(Serde.to_json(release_run_facet(ws, "published", ["penguins"])["synthOpsRelease"]))
    assert facet["controls"] == {"penguins": "fairness: species independent of island; impute sex"}
    Draft202012Validator(_facet_schema()).validate({"synthOpsRelease": facet})
