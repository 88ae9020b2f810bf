import json
import os

import pandas as pd
import pytest

from synth_ops.errors import ModelIntegrityError
from synth_ops.io.fingerprints import library_versions
from synth_ops.profiling.holdout import load_training_rows
from synth_ops.runtime.models import load as load_model
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.fit import fit
from synth_ops.steps.profile import profile
from tests.conftest import penguins_doc, run_cli, write_spec


@pytest.fixture
def fitted(penguins_spec):
    ws = Workspace.open(load_spec(penguins_spec))
    profile(ws, "penguins")
    return ws, fit(ws, "penguins")


def test_fit_records_versions_checksum_and_split(fitted, penguins_frame):
    ws, record = fitted
    info = ws.read("penguins", "model.json")
    assert info["model_sha256"] == record.model_sha256
    assert info["libraries"] == library_versions()
    assert {"synth-ops", "sdv", "rdt", "pandas"} <= set(info["libraries"])
    assert info["spec_hash"] == ws.spec_hash and info["source_fingerprint"] == ws.source_fingerprints["penguins"]
    assert info["fit_seconds"] > 0
    split = ws.read("penguins", "split.json")
    assert split["holdout_rows"] == round(344 * 0.2) == record.holdout_rows
    assert split["train_rows"] + split["holdout_rows"] == len(penguins_frame)


def test_holdout_split_is_seeded_and_disjoint(fitted, penguins_frame):
    ws, _ = fitted
    train, holdout = load_training_rows(ws, "penguins")
    again, _ = load_training_rows(ws, "penguins")
    pd.testing.assert_frame_equal(train, again)
    merged = pd.concat([train, holdout]).sort_values(list(penguins_frame.columns)).reset_index(drop=True)
    expected = penguins_frame.sort_values(list(penguins_frame.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, expected)


def test_verified_model_loads_and_samples(fitted):
    ws, _ = fitted
    model = load_model(ws, "penguins")
    assert len(next(model.sample("penguins", 5, seed=0, batch_rows=5))) == 5


def test_tampered_pickle_is_refused_before_unpickling(fitted):
    ws, record = fitted
    path = ws.artifacts.local_path(record.model_key)
    blob = bytearray(open(path, "rb").read())
    blob[len(blob) // 2] ^= 0xFF
    open(path, "wb").write(bytes(blob))
    with pytest.raises(ModelIntegrityError, match="sha256 does not match"):
        load_model(ws, "penguins")


def test_model_from_other_library_versions_is_refused(fitted):
    ws, _ = fitted
    info = ws.read("penguins", "model.json")
    info["libraries"]["sdv"] = "1.9.0"
    ws.write("penguins", "model.json", info)
    with pytest.raises(ModelIntegrityError, match=r"sdv 1\.9\.0 \(installed"):
        load_model(ws, "penguins")


def test_cli_generate_refuses_tampered_model_with_exit_2(tmp_path):
    # fast_sampling off: no portable sampler, so generate loads the pickle (the sampler path is
    # version-independent by design; tests/test_sampler.py covers its integrity checks)
    spec = write_spec(
        tmp_path, penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7, "fast_sampling": False})
    )
    assert run_cli("profile", str(spec)).returncode == 0
    assert run_cli("fit", str(spec)).returncode == 0
    ws = Workspace.open(load_spec(spec))
    info_path = ws.artifacts.local_path(ws.key("penguins", "model.json"))
    info = json.loads(open(info_path).read())
    info["libraries"]["rdt"] = "0.0.1"
    open(info_path, "w").write(json.dumps(info))
    result = run_cli("generate", str(spec))
    assert result.returncode == 2
    assert "pickled under other library versions: rdt 0.0.1" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("kind", ["ctgan", "tvae", "copulagan"])
def test_neural_synthesizers_fit_seeded_and_sample(tmp_path, kind):
    doc = penguins_doc(
        synthesizer={"kind": kind, "seed": 3, "params": {"epochs": 2}}, generate={"rows": 50, "shards": 1}
    )
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "penguins")
    record = fit(ws, "penguins")
    assert record.kind == kind
    from synth_ops.steps.generate import generate

    first = generate(ws, "penguins")[0]
    again = generate(ws, "penguins", force=True)[0]
    assert first.rows == 50 and first.sha256 == again.sha256


def test_an_intact_model_is_reused_and_a_damaged_one_refitted(fitted):
    ws, record = fitted
    path = ws.artifacts.local_path(record.model_key)
    stamp = os.stat(path).st_mtime_ns
    assert fit(ws, "penguins") == record and os.stat(path).st_mtime_ns == stamp
    with open(path, "ab") as handle:
        handle.write(b"x")
    refitted = fit(ws, "penguins")
    # refitted (a pickle embeds a fresh synthesizer id, so its bytes differ) and verifiable again
    assert refitted.model_sha256 != record.model_sha256 and os.stat(path).st_mtime_ns != stamp
    assert len(next(load_model(ws, "penguins").sample("penguins", 3, seed=0, batch_rows=3))) == 3


def test_bad_synthesizer_param_names_the_field(tmp_path):
    doc = penguins_doc(synthesizer={"kind": "gaussian_copula", "params": {"no_such_param": 1}})
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    from synth_ops.errors import SpecError

    with pytest.raises(SpecError, match="synthesizer.params.no_such_param: unknown parameter"):
        profile(ws, "penguins")  # found before any fitting
