import json

import pandas as pd
import pytest

from synth_ops.errors import SynthOpsError
from synth_ops.gates.expectations import automatic_suite
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.generate import generate
from synth_ops.steps.profile import profile
from synth_ops.steps.validate import validate
from tests.conftest import REPO, fitted_workspace, penguins_doc, rewrite_shard, run_cli, write_spec


def _generated(directory, **sections):
    ws = fitted_workspace(directory, penguins_doc(**sections))
    return ws, generate(ws, "penguins")


def _results(record):
    return {r["name"].split("/", 1)[1]: r for r in record.results if r["gate"] == "expectations"}


def test_automatic_suite_follows_the_profile(penguins_spec):
    ws = Workspace.open(load_spec(penguins_spec))
    profile(ws, "penguins")
    suite = automatic_suite(ws.read("penguins", "profile.json"))
    kinds = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_not_be_null", "species") in kinds  # no nulls in the real column
    assert ("expect_column_values_to_not_be_null", "sex") not in kinds  # the real column has nulls
    assert ("expect_column_values_to_be_in_set", "year") in kinds  # categorical by override
    assert ("expect_column_values_to_be_between", "body_mass_g") in kinds
    in_set = next(
        e
        for e in suite["expectations"]
        if e["kwargs"].get("column") == "island" and e["type"] == "expect_column_values_to_be_in_set"
    )
    assert sorted(in_set["kwargs"]["value_set"]) == ["Biscoe", "Dream", "Torgersen"]


def test_a_real_fit_passes_every_expectation(tmp_path):
    ws, _ = _generated(tmp_path, gates={"suites": [str(REPO / "expectations" / "penguins.json")]})
    record = validate(ws, "penguins")
    assert record.passed, record.failures()
    names = _results(record)
    assert "expect_column_values_to_be_in_set[species]" in names
    assert any(r["name"].startswith("penguins_domain/") for r in record.results)  # the hand-written suite ran


@pytest.mark.parametrize("batch_rows", [1_000_000, 64])
def test_out_of_domain_rows_fail_the_automatic_suite(tmp_path, batch_rows):
    ws, records = _generated(tmp_path, gates={"validate_batch_rows": batch_rows})
    frame = pd.read_parquet(ws.artifacts.local_path(records[0].key))
    frame.loc[:4, "species"] = "Emperor"  # 5 unknown categories
    frame.loc[10:12, "body_mass_g"] = 99999.0  # 3 values above the real maximum
    frame.loc[20:21, "island"] = None  # 2 nulls where the real column has none
    rewrite_shard(ws, "penguins", records[0], frame)
    record = validate(ws, "penguins")
    assert not record.passed
    results = _results(record)
    assert results["expect_column_values_to_be_in_set[species]"]["value"] == 5
    assert results["expect_column_values_to_be_between[body_mass_g]"]["value"] == 3
    assert results["expect_column_values_to_not_be_null[island]"]["value"] == 2
    assert results["expect_column_values_to_be_between[bill_length_mm]"]["passed"]
    stored = ws.artifacts.read_bytes(record.gates_key).decode()
    assert json.loads(stored)["passed"] is False
    assert "Emperor" not in stored and "99999" not in stored  # counts only, never values


def test_a_modified_shard_is_refused(tmp_path):
    ws, records = _generated(tmp_path)
    with open(ws.artifacts.local_path(records[1].key), "ab") as handle:
        handle.write(b"junk")
    with pytest.raises(SynthOpsError, match="sha256 does not match its shard record"):
        validate(ws, "penguins")


def test_failing_hand_written_suite_blocks_publication(tmp_path):
    suite = tmp_path / "strict.json"
    suite.write_text(
        json.dumps(
            {
                "name": "only_adelie",
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_in_set",
                        "kwargs": {"column": "species", "value_set": ["Adelie"]},
                    }
                ],
            }
        )
    )
    spec = write_spec(tmp_path, penguins_doc(gates={"suites": [str(suite)]}))
    result = run_cli("run", str(spec))
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stderr.splitlines() if "gate failed" in line]
    assert len(failed) == 1
    assert "only_adelie/expect_column_values_to_be_in_set[species]" in failed[0]
    assert "threshold 0" in failed[0] and "value " in failed[0]
    assert not (tmp_path / "warehouse").exists()
    # the failed shards stay in staging, with gates.json saying why
    gates = list((tmp_path / "artifacts").rglob("gates.json"))
    assert len(gates) == 1 and json.loads(gates[0].read_text())["passed"] is False
    assert list((tmp_path / "artifacts").rglob("part-*.parquet"))
    # publishing the failed run on its own is refused too
    again = run_cli("publish", str(spec))
    assert again.returncode == 1 and not (tmp_path / "warehouse").exists()


def test_expectations_validate_the_release_in_batches_across_shards(tmp_path):
    from synth_ops.gates.expectations import release_batches

    ws, records = _generated(tmp_path, generate={"rows": 750, "shards": 3})  # shards of 250 rows
    paths = [ws.artifacts.local_path(r.key) for r in records]
    assert [len(b) for b in release_batches(paths, 400)] == [400, 350]  # shards joined, not one batch each
    assert [len(b) for b in release_batches(paths, 100)] == [100] * 7 + [50]
    rows = pd.concat(b.to_pandas() for b in release_batches(paths, 300))
    assert rows.reset_index(drop=True).equals(pd.concat(pd.read_parquet(p) for p in paths).reset_index(drop=True))


@pytest.mark.parametrize("asks", ["membership off", "everything on"])
def test_the_checks_a_table_reports_under_are_the_registrys(tmp_path, asks):
    """Dagster builds a table's asset checks from ``gate_names``; a run's results must land in exactly
    those checks, whatever the spec switches on (utility, attribute inference) or off (membership)."""
    from synth_ops.gates.checks import check_of, gate_names

    doc = penguins_doc(gates={"membership_inference": None})
    if asks == "everything on":
        doc = penguins_doc(gates={"utility": {"target": "species"}})
        doc["tables"]["penguins"] |= {"quasi_identifiers": ["island", "sex"], "sensitive": ["body_mass_g"]}
    ws = fitted_workspace(tmp_path, doc)
    generate(ws, "penguins")
    names = gate_names(ws.spec, "penguins")
    assert {check_of(r) for r in validate(ws, "penguins").results} == set(names)
    switched = {"utility", "attribute_inference", "membership_inference"}
    assert (switched <= set(names)) if asks == "everything on" else not switched & set(names)
