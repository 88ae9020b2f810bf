"""synthesizer.kind: tabular_argn (MOSTLY AI's TabularARGN, mostlyai-engine) on the real penguins
table: a whole run with a tiny training budget, seeded rows, bad params refused before fitting,
and an engine that imports in a fresh interpreter (torchvision built for another torch breaks it)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

import synth_ops.spec.kinds
from synth_ops.cli import main
from tests.conftest import PENGUINS_CSV, penguins_doc, write_spec

# until the registry names it; registering again is harmless once it does
synth_ops.spec.kinds.register("tabular_argn", "synth_ops.synthesizers.argn.backend:TabularARGNSynthesizer")

# a few seconds of training: the contract and the types, not the model's quality, are under test
TINY = {"max_training_time": 0.05, "max_epochs": 1}


def test_a_run_fits_samples_and_publishes_the_sources_types(tmp_path, capsys):
    doc = penguins_doc(
        synthesizer={"kind": "tabular_argn", "seed": 5, "params": TINY},
        generate={"rows": 300, "shards": 2, "batch_rows": 100},
    )
    code = main(["run", str(write_spec(tmp_path, doc))])
    capsys.readouterr()
    model = json.loads(next(tmp_path.rglob("penguins/model.json")).read_text())
    assert model["kind"] == "tabular_argn" and model["tabular_argn"]["engine"] == "2.7.3"
    assert model["tabular_argn"]["encodings"]["year"] == "TABULAR_CATEGORICAL"  # declared categorical
    assert model["tabular_argn"]["encodings"]["body_mass_g"] == "TABULAR_NUMERIC_AUTO"
    gates = {g["name"]: g["passed"] for g in json.loads(next(tmp_path.rglob("gates.json")).read_text())["results"]}
    assert code == (0 if all(gates.values()) else 1), gates
    shards = sorted(tmp_path.rglob("penguins/shards/*.parquet")) or sorted(tmp_path.rglob("*.parquet"))
    frame = pd.concat([pq.read_table(p).to_pandas() for p in shards], ignore_index=True)
    real = pd.read_csv(PENGUINS_CSV)
    assert len(frame) == 300 and list(frame.columns) == list(real.columns)
    assert frame["year"].dtype == "int64" and set(frame["year"]) <= {2007, 2008, 2009}
    assert set(frame["species"].dropna()) <= set(real["species"].dropna())  # never the engine's _RARE_
    assert frame["body_mass_g"].between(real["body_mass_g"].min(), real["body_mass_g"].max()).all()


def test_same_seed_same_rows_through_a_pickled_model(tmp_path):
    import cloudpickle

    from synth_ops.runtime import models
    from tests.conftest import fitted_workspace

    doc = penguins_doc(synthesizer={"kind": "tabular_argn", "seed": 3, "params": TINY})
    model = models.load(fitted_workspace(tmp_path, doc), "penguins")
    first = pd.concat(model.sample("penguins", 90, seed=11, batch_rows=40), ignore_index=True)
    revived = cloudpickle.loads(models.dumps(model))
    again = pd.concat(revived.sample("penguins", 90, seed=11, batch_rows=40), ignore_index=True)
    other = pd.concat(model.sample("penguins", 90, seed=12, batch_rows=40), ignore_index=True)
    assert len(first) == 90 and [len(b) for b in model.sample("penguins", 90, 11, 40)] == [40, 40, 10]
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert first["year"].dtype == "int64" and first["species"].dtype == object


BAD_PARAMS = {
    "unknown": ({"epochs": 5}, "synthesizer.params.epochs: unknown parameter of tabular_argn"),
    "time_zero": ({"max_training_time": 0}, "synthesizer.params.max_training_time: expected minutes above 0"),
    "time_text": ({"max_training_time": "1m"}, "synthesizer.params.max_training_time: expected minutes above 0"),
    "epochs_float": ({"max_epochs": 1.5}, "synthesizer.params.max_epochs: expected an integer of at least 1"),
}


@pytest.mark.parametrize("case", list(BAD_PARAMS))
def test_bad_params_exit_2_before_fitting(tmp_path, capsys, case):
    params, expected = BAD_PARAMS[case]
    spec = write_spec(tmp_path, penguins_doc(synthesizer={"kind": "tabular_argn", "params": params}))
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synth-ops: error: ") and expected in lines[0], lines
    assert not list(tmp_path.rglob("model*.pkl"))


def test_every_problem_is_named_at_once():
    from synth_ops.errors import SpecError
    from synth_ops.synthesizers.argn.backend import read_params

    with pytest.raises(SpecError) as raised:
        read_params({"max_training_time": -1, "max_epochs": 0, "layers": 3})
    assert all(f"synthesizer.params.{n}" in str(raised.value) for n in ("max_training_time", "max_epochs", "layers"))


def test_the_backend_module_imports_neither_torch_nor_the_engine():
    code = (
        "import sys, synth_ops.synthesizers.argn.backend; "
        "print(sorted(m for m in ('torch', 'mostlyai.engine') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]


def test_the_engine_imports_in_a_fresh_interpreter():
    # torchvision or torchaudio built for another torch fail here ("operator torchvision::nms does not exist")
    code = "import mostlyai.engine, torch; print(mostlyai.engine.__version__, torch.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "2.7.3"
