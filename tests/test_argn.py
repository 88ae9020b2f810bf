"""kind tabular_argn (MOSTLY AI's TabularARGN, the [argn] extra) on the real penguins table: the
project's install leaves it importable in a fresh interpreter, the CLI publishes its controlled
rows through the gates, and what it cannot do (a range, DP-SGD, unknown params) is refused with
exit 2 before any fit. The contract (seeds, shards, serialisation) is test_synthesizers.py's."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from synth_ops.cli import main
from tests.conftest import PENGUINS_CSV, write_spec

TINY = {"max_training_time": 0.03, "max_epochs": 2}  # minutes: the contract, not the model, is under test


def _doc(generate=None, **params):
    table = {"source": str(PENGUINS_CSV), "metadata": {"columns": {"year": {"sdtype": "categorical"}}}}
    if generate is not None:
        table["generate"] = generate
    return {
        "name": "penguins",
        "tables": {"penguins": table},
        "synthesizer": {"kind": "tabular_argn", "seed": 5, "params": {**TINY, **params}},
        "generate": {"rows": 1200, "shards": 2},
    }


def test_the_cli_publishes_controlled_rows_from_a_fresh_interpreter(tmp_path):
    generate = {
        "conditions": [{"values": {"island": "Dream", "year": 2009}, "rows": 150}],
        "impute": ["sex"],
        "temperature": 0.9,
    }
    spec = write_spec(tmp_path, _doc(generate))
    # a fresh interpreter, as a CI job runs it: the engine imports after the project's install
    done = subprocess.run(
        [sys.executable, "-m", "synth_ops.cli", "run", str(spec)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.concat(pd.read_parquet(p) for p in sorted((tmp_path / "warehouse").rglob("*.parquet")))
    assert len(rows) == 1200 and list(rows.columns) == list(pd.read_csv(PENGUINS_CSV).columns)
    first = rows.iloc[:150]  # condition rows come first in the release
    assert (first["island"] == "Dream").all() and (first["year"] == 2009).all()
    assert rows["island"].iloc[150:].nunique() > 1  # the rest are not conditioned
    assert rows["sex"].notna().all()  # imputed: never null (the real column has nulls)
    assert set(rows["species"]) <= {"Adelie", "Gentoo", "Chinstrap"}
    model = json.loads(next(tmp_path.rglob("penguins/model.json")).read_text())
    assert model["kind"] == "tabular_argn" and model["tabular_argn"]["value_protection"] is True
    assert model["libraries"]["mostlyai-engine"] == "2.7.3"
    gates = json.loads(next(tmp_path.rglob("penguins/gates.json")).read_text())
    names = {r["name"].split("/")[-1] for r in gates["results"]}
    assert {"conditions.0", "impute[sex]", "dcr_share", "exact_match"} <= names
    release = json.loads(next((tmp_path / "warehouse").rglob("_releases/*.json")).read_text())
    assert release["controls"]["penguins"]["temperature"] == 0.9


def test_rebalance_reaches_the_requested_share(tmp_path, penguins_frame):
    from synth_ops import synthesizers
    from synth_ops.spec import SynthesizerSpec as Settings

    model = synthesizers.create(Settings(kind="tabular_argn", seed=2, params=TINY))
    frame = penguins_frame.drop(columns=["year"])
    columns = {c: {"sdtype": "categorical"} for c in ("species", "island", "sex")}
    columns.update({c: {"sdtype": "numerical"} for c in frame.columns if c not in columns})
    model.fit({"penguins": frame}, {"penguins": {"columns": columns}})
    controls = {"rebalance": {"column": "species", "shares": {"Chinstrap": 0.5}}}
    rows = pd.concat(model.sample("penguins", 1000, seed=3, batch_rows=400, controls=controls))
    share = (rows["species"] == "Chinstrap").mean()
    assert abs(share - 0.5) < 0.06 and (penguins_frame["species"] == "Chinstrap").mean() < 0.21
    assert rows["bill_length_mm"].dtype == "float64" and rows["species"].dtype == object


@pytest.mark.parametrize(
    ("synthesizer", "generate", "message"),
    [
        ({"max_training_time": 0}, None, r"synthesizer\.params\.max_training_time: expected a number above 0"),
        ({"model": "big"}, None, r"synthesizer\.params\.model: expected one of MOSTLY_AI/Small"),
        ({"epochs": 3}, None, r"synthesizer\.params\.epochs: unknown parameter of tabular_argn"),
        (
            {"differential_privacy": {"max_epsilon": 5}},
            None,
            r"synthesizer\.params\.differential_privacy: DP-SGD training is not charged to the privacy ledger",
        ),
        (
            {},
            {"conditions": [{"values": {"body_mass_g": [3000, 4000]}, "rows": 10}]},
            r"tables\.penguins\.generate\.conditions\.0\.values\.body_mass_g: synthesizer\.kind tabular_argn "
            r"does not support a range",
        ),
    ],
)
def test_what_it_cannot_do_is_refused_before_any_fit(tmp_path, capsys, synthesizer, generate, message):
    import re

    spec = write_spec(tmp_path, _doc(generate, **synthesizer))
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0]), err
    assert not (tmp_path / "warehouse").exists()


def test_temperature_is_refused_by_a_backend_that_cannot_honour_it(tmp_path, capsys):
    doc = _doc({"temperature": 1.5})
    doc["synthesizer"] = {"kind": "trees"}
    assert main(["run", str(write_spec(tmp_path, doc))]) == 2
    assert "tables.penguins.generate.temperature: synthesizer.kind trees does not support it" in capsys.readouterr().err


def test_a_missing_engine_is_named_with_its_install(monkeypatch):
    from synth_ops.errors import SpecError
    from synth_ops.synthesizers.argn import backend

    monkeypatch.setattr(backend, "engine_installed", lambda: False)
    with pytest.raises(SpecError, match=r"synthesizer\.kind: tabular_argn needs the \[argn\] extra \(pip install"):
        backend.TabularARGNSynthesizer("tabular_argn", {}, 1).check({})


def test_a_privacy_section_is_refused_never_run_unaccounted(tmp_path, capsys):
    doc = _doc()
    doc["privacy"] = {"epsilon": 1.0, "delta": 1e-6, "budget": {"epsilon": 5.0}}
    assert main(["run", str(write_spec(tmp_path, doc))]) == 2
    err = capsys.readouterr().err
    assert "privacy: synthesizer.kind tabular_argn is not differentially private" in err
    assert not list(tmp_path.rglob("model.json"))
