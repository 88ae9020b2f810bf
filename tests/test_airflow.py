"""Airflow: DAGs run with dag.test() against a real SQLite metadata DB in a temporary AIRFLOW_HOME.

Airflow reads its configuration at import, so everything Airflow runs in subprocesses
(tests/airflow_driver.py) whose environment points at the temporary home.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, copy_repo_layout, migrate_airflow, venv_script

DRIVER = str(REPO / "tests" / "airflow_driver.py")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    base = tmp_path_factory.mktemp("airflow")
    root = base / "root"
    root.mkdir()
    copy_repo_layout(root)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(base / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "SYNTH_OPS_ROOT": str(root),
    }
    migrate_airflow(env, tmp_path_factory)
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
    listed = subprocess.run(
        [venv_script("airflow"), "providers", "list"],
        env=airflow_home["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0 and "synth-ops" in listed.stdout
    hooks = subprocess.run(
        [venv_script("airflow"), "providers", "hooks"],
        env=airflow_home["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
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
    # the module's DB is shared: other tests' DAGs publish other assets into it
    (event,) = [e for e in out["asset_events"] if e["name"] == "synth-ops.penguins.penguins"]
    assert event["uri"] == latest.as_uri() and event["extra"]["version"] == version
    assert event["extra"]["rows"] == 10000
    assert 0.5 < event["extra"]["quality_score"] <= 1 and 0 <= event["extra"]["dcr_share"] <= 0.75
    # the grid labels mapped shards by table and shard; validate's XCom keeps the measured gates
    labels = sorted(t["label"] for t in out["tasks"] if t["task_id"].endswith(".generate"))
    assert labels == [f"penguins shard {i}" for i in range(4)]
    (validated,) = out["xcoms"]["synth_penguins.validate[-1]"]
    assert {g["name"] for g in validated["gates"]} >= {
        "quality_score",
        "discriminator_auc",
        "exact_match",
        "dcr_share",
        "pii_leak",
    }
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
    (dags / "synth_strict.py").write_text(
        textwrap.dedent(f"""
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG("synth_strict", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            synth_task_group({str(spec)!r}, root={str(root)!r})
    """)
    )
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
    result = subprocess.run(
        [sys.executable, "-c", HOOK, str(root / "examples" / "penguins.yaml"), str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["publish"] == str(tmp_path / "pub") and out["artifacts"] == str(tmp_path / "art")
    assert (out["rows"], out["seed"]) == (50, 3)
    assert out["error"].startswith("generate.rows: Input should be greater than 0")


def test_related_tables_generate_in_dependency_order(airflow_home, tmp_path, nyc_slice):
    from tests.conftest import NYC_TABLES, nyc_doc, write_spec

    spec = write_spec(
        tmp_path,
        nyc_doc(
            nyc_slice,
            generate={"shards": 2, "batch_rows": 2000},
            # the multi-table copula's empirical marginals sit denser around
            # training values: on this slice's flights the density attack's
            # bound lands at 0.652 (README, "Privacy attacks"); this test is
            # about ordering, not privacy
            gates={"membership_inference": {"auc_max": None}},
        ),
    )
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "synth_nyc.py").write_text(
        textwrap.dedent(f"""
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG("synth_nyc", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            synth_task_group({str(spec)!r})
    """)
    )
    env = {**airflow_home["env"], "AIRFLOW__CORE__DAGS_FOLDER": str(dags)}
    out = _driver(env, "test", "synth_nyc")
    assert out["run_state"] == "success", out["log"][-3000:]
    upstream = out["upstream"]
    assert upstream["synth_nyc.generate_flights"] == sorted(
        f"synth_nyc.generate_{t}" for t in ("airlines", "airports", "planes", "weather")
    )
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
    (dags / "synth_empty.py").write_text(
        textwrap.dedent(f"""
        import datetime
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG("synth_empty", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
                 default_args={{"retries": 3, "retry_delay": datetime.timedelta(seconds=1)}}):
            synth_task_group({str(spec)!r})
    """)
    )
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

    doc = {
        "name": "penguins_dp",
        "tables": {
            "penguins": {
                "source": str(PENGUINS_CSV),
                # two categorical columns: the fit's JAX compilation is what this test waits for
                "exclude": ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "year", "body_mass_g", "sex"],
            }
        },
        "synthesizer": {"kind": "dp_mst", "seed": 1, "params": {"iters": 50, "bins": 8}},
        "generate": {"rows": 300},
        "privacy": {
            "epsilon": 1.0,
            "budget": {"epsilon": 1.0, "delta": 1e-6},
            "categories": {
                "penguins": {"species": ["Adelie", "Gentoo", "Chinstrap"], "island": ["Biscoe", "Dream", "Torgersen"]}
            },
        },
        "publish": {"uri": str(tmp_path / "warehouse")},
        "artifacts": {"uri": str(tmp_path / "artifacts")},
    }
    dags = tmp_path / "dags"
    dags.mkdir()
    for seed in (1, 2):
        doc["synthesizer"]["seed"] = seed
        (tmp_path / f"dp{seed}.yaml").write_text(yaml.safe_dump(doc))
        (dags / f"synth_dp{seed}.py").write_text(
            textwrap.dedent(f"""
            import datetime
            import pendulum
            from airflow.sdk import DAG
            from synth_ops.airflow import synth_task_group
            with DAG("synth_dp{seed}", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
                     default_args={{"retries": 2, "retry_delay": datetime.timedelta(seconds=1)}}):
                synth_task_group({str(tmp_path / f"dp{seed}.yaml")!r})
        """)
        )
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


# The spec's path is a template (a Variable names its directory): rendered only when each task runs.
# The keys are those of an Airflow connection of the Amazon provider's type; a consumer DAG is
# scheduled on the published table's Asset; a last task reports the AWS variables its process holds
# (dag.test() runs every task in the driver's process).
TEMPLATED_DAG = """
import pendulum
from airflow.sdk import DAG, chain, task
from synth_ops.airflow.operators import (SynthFitOperator, SynthGenerateOperator, SynthProfileOperator,
                                         SynthPublishOperator, SynthValidateOperator)
with DAG("synth_templated", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    common = dict(spec_path="{{ var.value.synth_spec_dir }}/pipeline.yaml", synth_ops_conn_id="synth_s3")

    @task
    def aws_environment() -> list:
        import os
        return sorted(k for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN") if k in os.environ)

    chain(SynthProfileOperator(task_id="profile", **common), SynthFitOperator(task_id="fit", **common),
          SynthGenerateOperator(task_id="generate", **common), SynthValidateOperator(task_id="validate", **common),
          SynthPublishOperator(task_id="publish", **common), aws_environment())
"""
CONSUMER_DAG = """
import pendulum
from airflow.sdk import DAG, task
from synth_ops.airflow import published_asset
with DAG("train_on_templated", schedule=[published_asset({spec!r}, table="penguins")],
         start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    @task
    def train():
        pass

    train()
"""
# Distinct from anything else in the run, so a leak into a record or a log is found by its text
KEYS = {
    "login": "AKIASYNTHOPSTEST7Q2X",
    "password": "synth-ops-test-secret-Zq81vR",
    "aws_session_token": "synth-ops-test-token-Wx5mK",
}


@pytest.fixture(scope="module")
def templated_s3_run(airflow_home, moto_server, tmp_path_factory):
    import uuid

    import boto3

    from tests.conftest import PENGUINS_CSV, penguins_doc, write_spec

    base = tmp_path_factory.mktemp("templated")
    bucket = f"synth-templated-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_server.endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    client.upload_file(str(PENGUINS_CSV), bucket, "raw/penguins.csv")
    # source, artifacts and releases on S3: every store the steps open needs the connection's keys
    spec = write_spec(
        base,
        penguins_doc(
            source=f"s3://{bucket}/raw/penguins.csv",
            name="penguins_s3",
            generate={"rows": 300, "shards": 1},
            publish={"uri": f"s3://{bucket}/synthetic"},
            artifacts={"uri": f"s3://{bucket}/private"},
        ),
        "pipeline.yaml",
    )
    dags = base / "dags"
    dags.mkdir()
    (dags / "synth_templated.py").write_text(TEMPLATED_DAG)
    (dags / "train_on_templated.py").write_text(CONSUMER_DAG.format(spec=str(spec)))
    conn = {
        "conn_type": "aws",
        "login": KEYS["login"],
        "password": KEYS["password"],
        "extra": {
            "aws_session_token": KEYS["aws_session_token"],
            "region_name": "us-east-1",
            "endpoint_url": moto_server.endpoint,
        },
    }
    env = {k: v for k, v in airflow_home["env"].items() if not k.startswith("AWS_")}
    env |= {
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW_VAR_SYNTH_SPEC_DIR": str(base),
        "AIRFLOW_CONN_SYNTH_S3": json.dumps(conn),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",  # the consumer is queued only if unpaused
        # nothing in the worker's own AWS chain: the connection's keys are the only way in
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    out = _driver(env, "test", "synth_templated")
    objects = {
        item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }
    return {"out": out, "bucket": bucket, "objects": objects, "home": airflow_home["env"]["AIRFLOW_HOME"]}


def test_a_templated_spec_path_parses_runs_and_triggers_the_published_asset(templated_s3_run):
    """Before: SynthPublishOperator read the spec in __init__, so the DAG failed to import."""
    import sqlite3

    out, bucket = templated_s3_run["out"], templated_s3_run["bucket"]
    assert out["run_state"] == "success", out["log"][-3000:]
    assert {t["state"] for t in out["tasks"]} == {"success"}
    version = json.loads(templated_s3_run["objects"]["synthetic/penguins_s3/_latest.json"])["version"]
    (event,) = [e for e in out["asset_events"] if e["name"] == "synth-ops.penguins_s3.penguins"]
    assert event["uri"] == f"s3://{bucket}/synthetic/penguins_s3/_latest.json"
    assert event["extra"]["version"] == version and event["extra"]["status"] == "published"
    assert event["extra"]["rows"] == 300 and 0 < event["extra"]["quality_score"] <= 1
    # the event reached the Asset the consumer is scheduled on: a run of it is queued
    with sqlite3.connect(Path(templated_s3_run["home"]) / "airflow.db") as db:
        queued = db.execute(
            "SELECT q.target_dag_id, a.name, a.uri FROM asset_dag_run_queue q JOIN asset a ON a.id = q.asset_id"
        ).fetchall()
    assert ("train_on_templated", event["name"], event["uri"]) in queued


def test_an_aws_connection_keys_go_to_the_s3_session_not_the_environment(templated_s3_run):
    """Before: the hook exported the keys into os.environ for the rest of the task process."""
    out = templated_s3_run["out"]
    assert out["run_state"] == "success", out["log"][-3000:]  # only the connection's keys could reach S3
    (left,) = [v for k, v in out["xcoms"].items() if k.startswith("aws_environment")]
    assert left == []
    written = [(f"s3 {key}", body) for key, body in templated_s3_run["objects"].items()]
    assert any(key.endswith("/gates.json") for key, _ in written)  # records were written, and are read here
    written += [(str(path), path.read_bytes()) for path in Path(templated_s3_run["home"]).rglob("*") if path.is_file()]
    written += [("driver output", out["log"].encode()), ("xcoms", json.dumps(out["xcoms"]).encode())]
    leaked = [(where, name) for where, body in written for name, value in KEYS.items() if value.encode() in body]
    assert leaked == []
