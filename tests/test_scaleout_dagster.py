"""Scale-out on Dagster: PostgreSQL instance storage (dagster-postgres) and the multiprocess executor.

The job runs as a deployment runs it: `dagster job execute` in a subprocess whose DAGSTER_HOME has
a dagster.yaml pointing run, event-log and schedule storage at a fresh PostgreSQL database; the
shard ops run as separate processes, at most two at a time. Everything is read back from PostgreSQL.
"""

import json
import os
import subprocess
import textwrap

import pytest

from synth_ops import read_latest
from tests.celery_cluster import create_database, drop_database, postgres_connect
from tests.conftest import penguins_doc, venv_script, write_spec

ROWS, SHARDS = 3000, 4


@pytest.fixture
def postgres_home(tmp_path):
    """A DAGSTER_HOME whose instance keeps runs and events in a new PostgreSQL database.

    ``scheme`` names the driver: SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, and
    dagster-postgres depends on psycopg2 only."""
    database = create_database("synthops_dg")
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        textwrap.dedent(f"""
        storage:
          postgres:
            postgres_db:
              hostname: 127.0.0.1
              username: postgres
              password: ""
              db_name: {database}
              port: 5432
              scheme: postgresql+psycopg2
    """)
    )
    yield home, database
    drop_database(database)


def _query(database: str, sql: str, params: tuple = ()) -> list[tuple]:
    connection = postgres_connect(database)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        connection.close()


def test_shards_run_in_separate_processes_with_postgres_instance_storage(tmp_path, postgres_home):
    home, database = postgres_home
    # SDV's own sampling path keeps each shard step in the seconds (SDV loads inside it), so two steps
    # overlap measurably; through the portable sampler a shard can end before the next process starts
    spec = write_spec(
        tmp_path,
        penguins_doc(
            generate={"rows": ROWS, "shards": SHARDS},
            synthesizer={"kind": "gaussian_copula", "seed": 7, "fast_sampling": False},
        ),
    )
    defs = tmp_path / "defs.py"
    defs.write_text(
        textwrap.dedent(f"""
        from synth_ops.dagster import SynthOpsResource, build_definitions
        defs = build_definitions([{str(spec)!r}], resource=SynthOpsResource(root={str(tmp_path)!r}))
    """)
    )
    config = tmp_path / "run_config.yaml"
    config.write_text("execution:\n  config:\n    multiprocess:\n      max_concurrent: 2\n")
    result = subprocess.run(
        [venv_script("dagster"), "job", "execute", "-f", str(defs), "-j", "penguins_synthesize", "-c", str(config)],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    # the run and its events are in PostgreSQL, not in SQLite files under DAGSTER_HOME
    ((run_id, status),) = _query(database, "SELECT run_id, status FROM runs")
    assert status == "SUCCESS"
    assert not list(home.rglob("*.db"))
    starts = _query(
        database,
        "SELECT step_key, event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_START'",
        (run_id,),
    )
    ends = dict(
        _query(
            database,
            "SELECT step_key, timestamp FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'",
            (run_id,),
        )
    )
    pids = {step: json.loads(event)["dagster_event"]["pid"] for step, event in starts}
    shard_steps = sorted(step for step in pids if "generate_shard" in step)
    assert len(shard_steps) == SHARDS
    # each shard op ran in a process of its own, none in the process that ran the run
    shard_pids = {pids[step] for step in shard_steps}
    orchestrator = {
        json.loads(event)["dagster_event"]["pid"]
        for (event,) in _query(
            database, "SELECT event FROM event_logs WHERE run_id = %s AND dagster_event_type = 'RUN_START'", (run_id,)
        )
    }
    assert len(shard_pids) == SHARDS and not shard_pids & orchestrator

    # the executor ran steps side by side, never more than max_concurrent at once
    started = dict(
        _query(
            database,
            "SELECT step_key, timestamp FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_START'",
            (run_id,),
        )
    )
    spans = [(started[step], ends[step]) for step in started]
    overlap = max(sum(start <= moment < end for start, end in spans) for moment, _ in spans)
    assert overlap == 2, spans

    # one complete release: every shard's rows, read back through _latest.json
    frame = read_latest(str(tmp_path / "warehouse"), "penguins", "penguins")
    assert len(frame) == ROWS
    (manifest,) = (tmp_path / "warehouse" / "penguins" / "penguins").rglob("_manifest.json")
    parts = json.loads(manifest.read_text())["parts"]
    assert [p["key"].rsplit("/", 1)[-1] for p in parts] == [f"part-{i:05d}.parquet" for i in range(SHARDS)]
    assert sum(p["rows"] for p in parts) == ROWS


def test_shard_ops_sample_through_the_portable_sampler_without_modelling_libraries(tmp_path):
    """`dagster job execute` with the multiprocess executor: every shard op process loads the sampler
    and imports none of SDV, RDT, copulas, sdmetrics, torch or scipy, while the fit step's process
    does import SDV (the recorder sees step processes)."""
    from dagster import DagsterEventType, DagsterInstance, EventRecordsFilter

    from tests.conftest import IMPORT_RECORDER, REPO, import_records

    home, log = tmp_path / "dagster_home", tmp_path / "imports"
    home.mkdir()
    log.mkdir()
    spec = write_spec(tmp_path, penguins_doc(generate={"rows": 2000, "shards": 2}))
    defs = tmp_path / "defs.py"
    defs.write_text(
        textwrap.dedent(f"""
        from synth_ops.dagster import SynthOpsResource, build_definitions
        defs = build_definitions([{str(spec)!r}], resource=SynthOpsResource(root={str(tmp_path)!r}))
    """)
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "SYNTH_OPS_IMPORT_LOG": str(log),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(IMPORT_RECORDER), str(REPO), os.environ.get("PYTHONPATH")])),
    }
    result = subprocess.run(
        [venv_script("dagster"), "job", "execute", "-f", str(defs), "-j", "penguins_synthesize"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    instance = DagsterInstance.from_config(str(home))
    starts = instance.get_event_records(EventRecordsFilter(event_type=DagsterEventType.STEP_START))
    pids = {r.event_log_entry.step_key: r.event_log_entry.dagster_event.pid for r in starts}
    shard_pids = {pid for step, pid in pids.items() if "generate_shard" in step}
    fit_pids = {pid for step, pid in pids.items() if step.endswith("model")}
    assert len(shard_pids) == 2 and len(fit_pids) == 1, pids
    records = import_records(log)
    loads = [r for r in records if r["module"] == "synth_ops.sampler.sampler" and r["pid"] in shard_pids]
    assert {r["pid"] for r in loads} == shard_pids and all(r["held"] == [] for r in loads), loads
    assert not [r for r in records if r["pid"] in shard_pids and r["module"] != "synth_ops.sampler.sampler"]
    assert "sdv" in {r["module"] for r in records if r["pid"] in fit_pids}
