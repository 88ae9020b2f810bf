"""Airflow: DAGs run with dag.test() against a real SQLite metadata DB in a temporary AIRFLOW_HOME.

Airflow reads its configuration at import, so everything Airflow runs in subprocesses
(tests/airflow_driver.py) whose environment points at the temporary home.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest
import yaml

from tests.conftest import REPO, copy_repo_layout, venv_script

DRIVER = str(REPO / "tests" / "airflow_driver.py")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    base = tmp_path_factory.mktemp("airflow")
    root = base / "root"
    root.mkdir()
    copy_repo_layout(root)
    env = {**os.environ, "AIRFLOW_HOME": str(base / "home"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "SYNTH_OPS_ROOT": str(root)}
    migrated = subprocess.run([venv_script("airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    return {"env": env, "root": root}


def _driver(env, *args) -> dict:
    result = subprocess.run([sys.executable, DRIVER, *args], env=env, capture_output=True, text=True, timeout=600)
    marker = [line for line in result.stdout.splitlines() if line.startswith("DRIVER-JSON ")]
    if args[0] == "dagbag":
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])
    assert marker, (result.stdout[-3000:], result.stderr[-3000:])
    out = json.loads(marker[0].removeprefix("DRIVER-JSON "))
    out["log"] = result.stdout + result.stderr
    return out


def test_every_dag_imports_without_heavy_libraries(airflow_home):
    dags = sorted(str(p) for p in (REPO / "dags").glob("*.py"))
    out = _driver(airflow_home["env"], "dagbag", *dags)
    assert out["import_errors"] == {}
    assert out["dag_ids"] == ["synth_penguins", "train_on_synthetic"]
    assert out["heavy_modules"] == []
    print("DAG parse seconds:", out["parse_seconds"])


def test_provider_is_registered(airflow_home):
    listed = subprocess.run([venv_script("airflow"), "providers", "list"], env=airflow_home["env"], capture_output=True,
                            text=True, timeout=120)
    assert listed.returncode == 0 and "synth-ops" in listed.stdout
    hooks = subprocess.run([venv_script("airflow"), "providers", "hooks"], env=airflow_home["env"], capture_output=True,
                           text=True, timeout=120)
    assert "synth_ops.airflow.hooks.SynthOpsHook" in hooks.stdout


def test_synth_penguins_then_train_on_synthetic(airflow_home):
    out = _driver(airflow_home["env"], "test", "synth_penguins")
    assert out["run_state"] == "success", out["log"][-3000:]
    states = {(t["task_id"], t["map_index"]): t["state"] for t in out["tasks"]}
    assert set(states.values()) == {"success"}
    shards = sorted(i for (task, i) in states if task.endswith(".generate"))
    assert shards == [0, 1, 2, 3]  # one mapped task instance per shard of examples/penguins.yaml
    latest = airflow_home["root"] / "warehouse" / "penguins" / "_latest.json"
    assert latest.exists()
    version = json.loads(latest.read_text())["version"]
    (event,) = out["asset_events"]
    assert event["uri"] == latest.as_uri() and event["extra"]["version"] == version
    assert event["extra"]["rows"] == 10000
    assert 0.5 < event["extra"]["quality_score"] <= 1 and 0 <= event["extra"]["dcr_share"] <= 0.75
    # the grid labels mapped shards by table and shard; validate's XCom keeps the measured gates
    labels = sorted(t["label"] for t in out["tasks"] if t["task_id"].endswith(".generate"))
    assert labels == [f"penguins shard {i}" for i in range(4)]
    (validated,) = out["xcoms"]["synth_penguins.validate[-1]"]
    assert {g["name"] for g in validated["gates"]} >= {"quality_score", "discriminator_auc", "exact_match", "dcr_share",
                                                       "pii_leak"}
    discriminator = next(g for g in validated["gates"] if g["name"] == "discriminator_auc")
    assert discriminator["threshold"] == 0.2 and discriminator["baseline"] is not None  # the default, alone
    membership = {g["name"]: g for g in validated["gates"] if g["gate"] == "membership"}
    assert set(membership) == {"membership[distance]", "membership[density]", "empirical_epsilon"}
    distance = membership["membership[distance]"]
    assert distance["threshold"] == 0.65 and distance["baseline"] == 0.5 and distance["bound"] < distance["value"]
    assert "roc" not in distance["measures"] and membership["empirical_epsilon"]["threshold"] is None
    assert validated["expectations"]["checked"] > 10 and validated["expectations"]["failed"] == 0
    # XCom carries small records only
    assert all(len(json.dumps(v)) < 5000 for v in out["xcoms"].values())

    trained = _driver(airflow_home["env"], "test", "train_on_synthetic")
    assert trained["run_state"] == "success", trained["log"][-3000:]
    result = trained["xcoms"]["train_species_classifier[-1]"]
    assert result["rows"] == 10000 and 0.0 <= result["accuracy"] <= 1.0
    assert "held-out synthetic accuracy" in trained["log"]


def test_failed_gate_fails_validate_and_skips_publish(airflow_home, tmp_path):
    root = airflow_home["root"]
    doc = yaml.safe_load((root / "examples" / "penguins.yaml").read_text())
    doc["gates"]["quality_min"] = 0.99
    doc["publish"] = {"uri": str(tmp_path / "strict_warehouse")}
    spec = tmp_path / "strict.yaml"
    spec.write_text(yaml.safe_dump(doc))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "synth_strict.py").write_text(textwrap.dedent(f"""
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG("synth_strict", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            synth_task_group({str(spec)!r}, root={str(root)!r})
    """))
    env = {**airflow_home["env"], "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    out = _driver(env, "test", "synth_strict")
    states = {t["task_id"].split(".")[-1]: t["state"] for t in out["tasks"] if t["map_index"] <= 0}
    assert out["run_state"] == "failed"
    assert states["validate"] == "failed" and states["publish"] == "upstream_failed"
    assert "gate quality/quality_score failed: value 0." in out["log"] and "threshold 0.99" in out["log"]
    assert not (tmp_path / "strict_warehouse").exists()


HOOK = """
import json, os, sys
from synth_ops.airflow.hooks import SynthOpsHook
from synth_ops.errors import SpecError
spec_path, root = sys.argv[1], sys.argv[2]
hook = SynthOpsHook(spec_path, "synth_ops_default", root, {"rows": "50", "seed": 3})
out = {"publish": hook.spec.publish.uri, "artifacts": hook.spec.artifacts.uri, "rows": hook.spec.generate.rows,
       "seed": hook.spec.synthesizer.seed}
try:
    SynthOpsHook(spec_path, None, root, {"rows": -1}).spec
except SpecError as error:
    out["error"] = str(error)
print(json.dumps(out))
"""


def test_hook_takes_locations_from_a_connection_and_validates_overrides(airflow_home, tmp_path):
    conn = {"conn_type": "fs", "extra": {"path": str(tmp_path / "pub"), "artifacts_path": str(tmp_path / "art")}}
    env = {**airflow_home["env"], "AIRFLOW_CONN_SYNTH_OPS_DEFAULT": json.dumps(conn)}
    root = airflow_home["root"]
    result = subprocess.run([sys.executable, "-c", HOOK, str(root / "examples" / "penguins.yaml"), str(root)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["publish"] == str(tmp_path / "pub") and out["artifacts"] == str(tmp_path / "art")
    assert (out["rows"], out["seed"]) == (50, 3)
    assert out["error"].startswith("generate.rows: Input should be greater than 0")


def test_related_tables_generate_in_dependency_order(airflow_home, tmp_path, nyc_slice):
    from tests.conftest import NYC_TABLES, nyc_doc, write_spec

    spec = write_spec(tmp_path, nyc_doc(nyc_slice, generate={"shards": 2, "batch_rows": 2000},
                                        # the multi-table copula's empirical marginals sit denser around
                                        # training values: on this slice's flights the density attack's
                                        # bound lands at 0.652 (README, "Privacy attacks"); this test is
                                        # about ordering, not privacy
                                        gates={"membership_inference": {"auc_max": None}}))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "synth_nyc.py").write_text(textwrap.dedent(f"""
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG("synth_nyc", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            synth_task_group({str(spec)!r})
    """))
    env = {**airflow_home["env"], "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    out = _driver(env, "test", "synth_nyc")
    assert out["run_state"] == "success", out["log"][-3000:]
    upstream = out["upstream"]
    assert upstream["synth_nyc.generate_flights"] == sorted(f"synth_nyc.generate_{t}" for t in
                                                            ("airlines", "airports", "planes", "weather"))
    assert upstream["synth_nyc.generate_weather"] == ["synth_nyc.generate_airports"]
    spans = {}
    for task in out["tasks"]:
        if ".generate_" in task["task_id"]:
            table = task["task_id"].rsplit("_", 1)[-1]
            start, end = spans.get(table, (float("inf"), 0.0))
            spans[table] = (min(start, task["start"]), max(end, task["end"]))
    assert set(spans) == set(NYC_TABLES)
    assert spans["airports"][1] <= spans["weather"][0] and spans["weather"][1] <= spans["flights"][0]
    assert (tmp_path / "warehouse" / "nyc" / "_latest.json").exists()
    assert {e["name"] for e in out["asset_events"]} >= {f"synth-ops.nyc.{t}" for t in NYC_TABLES}


def test_bad_input_fails_for_good_without_retries(airflow_home, tmp_path):
    """A source with a header and no rows: retrying cannot help, so the task fails, not up_for_retry."""
    from tests.conftest import penguins_doc, write_spec

    source = tmp_path / "empty.csv"
    source.write_text("species,island,bill_length_mm\n")
    spec = write_spec(tmp_path, penguins_doc(source))
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "synth_empty.py").write_text(textwrap.dedent(f"""
        import datetime
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG("synth_empty", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
                 default_args={{"retries": 3, "retry_delay": datetime.timedelta(seconds=1)}}):
            synth_task_group({str(spec)!r})
    """))
    env = {**airflow_home["env"], "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    out = _driver(env, "test", "synth_empty")
    states = {t["task_id"].split(".")[-1]: t["state"] for t in out["tasks"] if t["map_index"] <= 0}
    assert out["run_state"] == "failed"
    assert states["profile"] == "failed", states
    # dag.test() marks an unfinished task failed at the end: what tells is that it never was up for retry
    assert "up_for_retry" not in out["log"].lower() and "AirflowFailException" in out["log"]
    assert "InputError: tables.penguins.source:" in out["log"] and "has a header but no rows" in out["log"]


def test_a_dp_fit_puts_its_charge_and_the_ledger_totals_in_xcom(airflow_home, tmp_path):
    """The fit task's XCom (its record) and the publish task's (the release record) carry the privacy
    charge and the ledger's totals; a second run past the budget fails the fit for good."""
    from tests.conftest import PENGUINS_CSV

    doc = {"name": "penguins_dp", "tables": {"penguins": {
               "source": str(PENGUINS_CSV),
               # two categorical columns: the fit's JAX compilation is what this test waits for
               "exclude": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "year", "body_mass_g", "sex"]}},
           "synthesizer": {"kind": "dp_mst", "seed": 1, "params": {"iters": 50, "bins": 8}},
           "generate": {"rows": 300},
           "privacy": {"epsilon": 1.0, "budget": {"epsilon": 1.0, "delta": 1e-6},
                       "categories": {"penguins": {"species": ["Adelie", "Gentoo", "Chinstrap"],
                                                   "island": ["Biscoe", "Dream", "Torgersen"]}}},
           "publish": {"uri": str(tmp_path / "warehouse")}, "artifacts": {"uri": str(tmp_path / "artifacts")}}
    dags = tmp_path / "dags"
    dags.mkdir()
    for seed in (1, 2):
        doc["synthesizer"]["seed"] = seed
        (tmp_path / f"dp{seed}.yaml").write_text(yaml.safe_dump(doc))
        (dags / f"synth_dp{seed}.py").write_text(textwrap.dedent(f"""
            import datetime
            import pendulum
            from airflow.sdk import DAG
            from synth_ops.airflow import synth_task_group
            with DAG("synth_dp{seed}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
                     default_args={{"retries": 2, "retry_delay": datetime.timedelta(seconds=1)}}):
                synth_task_group({str(tmp_path / f"dp{seed}.yaml")!r})
        """))
    env = {**airflow_home["env"], "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    out = _driver(env, "test", "synth_dp1")
    assert out["run_state"] == "success", out["log"][-3000:]
    (fitted,) = next(v for k, v in out["xcoms"].items() if k.endswith(".fit[-1]"))
    privacy = fitted["privacy"]
    assert privacy["ledger"] == "penguins_dp.penguins" and privacy["charge"]["epsilon"] == 1.0
    assert privacy["fits"] == 1 and 0 < privacy["epsilon_spent"] <= 1.0
    assert privacy["epsilon_remaining"] == pytest.approx(1.0 - privacy["epsilon_spent"])
    (published,) = [v for k, v in out["xcoms"].items() if k.endswith(".publish[-1]")]
    assert published["tables"]["penguins"]["privacy"] == privacy

    refused = _driver(env, "test", "synth_dp2")  # a second fit of epsilon 1 passes a budget of 1
    states = {t["task_id"].split(".")[-1]: t["state"] for t in refused["tasks"] if t["map_index"] <= 0}
    assert refused["run_state"] == "failed" and states["fit"] == "failed"
    assert "up_for_retry" not in refused["log"].lower()
    assert "BudgetExceeded: privacy ledger penguins_dp.penguins: spent epsilon" in refused["log"]
