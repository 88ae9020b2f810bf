"""Scale-out on Airflow 3 with the CeleryExecutor: real scheduler, API server, dag-processor and two
Celery workers (tests/celery_cluster.py), PostgreSQL metadata, Redis broker.

Shows the mapped shard tasks spread over both workers and combined into one release, and a worker
killed mid-shard: Airflow notices the missing heartbeat, retries the shard on the other worker,
and the release is complete. Everything is read back from the metadata database and the store.
"""

import json
import os
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from synth_ops import read_latest
from tests.celery_cluster import CeleryCluster, running, wait_until, write_synth_dag
from tests.conftest import IMPORT_RECORDER, REPO, copy_repo_layout, import_records

# Shards long enough to overlap: with one slot per worker and prefetch 1 (acks late), a shard queued
# while worker A is busy can only go to worker B. Through the portable sampler a penguins shard takes a
# fraction of a second, and A alone drained all four; SDV's own path keeps each in the seconds.
SPREAD = {"rows": 4000, "shards": 4, "batch_rows": 100}
# ~3 s of sampling per shard so a running shard can be caught: SDV's own sampling path (the portable
# sampler writes such a shard in a fraction of a second) in small batches, many of them; two shards:
# one per worker, and the survivor retries the other
KILL = {"rows": 30000, "shards": 2, "batch_rows": 100}
SLOW_SAMPLING = {"fast_sampling": False}
LIGHT = {"rows": 2000, "shards": 2}  # through the portable sampler (the default)
GENERATE = "synth_penguins_{name}.generate"


def _missing_dependencies() -> list[str]:
    from packaging.version import Version

    missing = []
    if find_spec("asyncpg") is None:
        missing.append("asyncpg (Airflow 3's API server opens an async engine on the PostgreSQL metadata DB)")
    if Version(version("celery")) >= Version("5.7"):
        missing.append(
            f"celery<5.7 (celery {version('celery')} dropped celery.backends.database.retry, "
            "which apache-airflow-providers-celery 3.26 imports)"
        )
    return missing


def _spec(root: Path, name: str, generate: dict, synthesizer: dict | None = None) -> Path:
    doc = yaml.safe_load((root / "examples" / "penguins.yaml").read_text())
    doc["name"] = f"penguins_{name}"  # Airflow Assets are named by spec and table: one name per DAG
    doc["generate"] = generate
    doc["synthesizer"].update(synthesizer or {})
    doc["publish"] = {"uri": f"warehouse_{name}"}
    doc["artifacts"] = {"uri": f".synth-ops/artifacts_{name}"}  # one run directory per spec
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def celery(tmp_path_factory):
    missing = _missing_dependencies()
    assert not missing, "the CeleryExecutor needs: " + "; ".join(missing)
    base = tmp_path_factory.mktemp("celery")
    root = base / "root"
    root.mkdir()
    copy_repo_layout(root)
    dags = base / "dags"
    dags.mkdir()
    for name, generate, synthesizer in (
        ("spread", SPREAD, SLOW_SAMPLING),
        ("kill", KILL, SLOW_SAMPLING),
        ("light", LIGHT, None),
    ):
        # all parsed while the cluster starts
        write_synth_dag(dags, f"synth_{name}", _spec(root, name, generate, synthesizer), root)
    imports = base / "imports"  # what tests/import_recorder records in every Airflow process
    imports.mkdir()
    python_path = os.pathsep.join(filter(None, [str(IMPORT_RECORDER), str(REPO), os.environ.get("PYTHONPATH")]))
    with CeleryCluster(
        base / "cluster", dags, extra_env={"PYTHONPATH": python_path, "SYNTH_OPS_IMPORT_LOG": str(imports)}
    ) as cluster:
        yield SimpleNamespace(cluster=cluster, root=root, imports=imports)


def _shard_xcoms(cluster, dag_id: str, run_id: str) -> dict[int, dict]:
    """Each generate task's return value (its shard record), by shard."""
    rows = cluster.query(
        "SELECT map_index, value FROM xcom WHERE dag_id = %s AND run_id = %s AND key = "
        "'return_value' AND task_id LIKE %s",
        (dag_id, run_id, "%.generate"),
    )
    records = {}
    for row in rows:
        value = row["value"] if not isinstance(row["value"], str) else json.loads(row["value"])
        (record,) = value
        records[row["map_index"]] = record
    return records


def _manifest(warehouse: Path, name: str) -> dict:
    (path,) = (warehouse / name / "penguins").rglob("_manifest.json")
    return json.loads(path.read_text())


def _assert_complete_release(celery, name: str, dag_id: str, run_id: str, generate: dict) -> None:
    """The release holds every shard exactly as its generate task produced it, and nothing else."""
    warehouse = celery.root / f"warehouse_{name}"
    frame = read_latest(str(warehouse), f"penguins_{name}", "penguins")  # part checksums verified
    assert len(frame) == generate["rows"]
    parts = _manifest(warehouse, f"penguins_{name}")["parts"]
    assert [p["key"].rsplit("/", 1)[-1] for p in parts] == [f"part-{i:05d}.parquet" for i in range(generate["shards"])]
    produced = _shard_xcoms(celery.cluster, dag_id, run_id)
    assert {i: (r["sha256"], r["rows"]) for i, r in produced.items()} == {
        i: (p["sha256"], p["rows"]) for i, p in enumerate(parts)
    }
    staged = celery.root / ".synth-ops" / f"artifacts_{name}"
    assert not list(staged.rglob("*.partial"))  # no staging file left behind


def test_mapped_shards_run_on_both_workers_and_combine_into_one_release(celery):
    cluster = celery.cluster
    cluster.ensure_workers()
    run_id = cluster.trigger("synth_spread")
    state = cluster.wait_for_run("synth_spread", run_id)
    assert state == "success", cluster.explain("synth_spread", run_id)
    tis = cluster.task_instances("synth_spread", run_id)
    shards = [t for t in tis if t["task_id"] == GENERATE.format(name="spread")]
    assert sorted(t["map_index"] for t in shards) == list(range(SPREAD["shards"]))
    assert {t["state"] for t in shards} == {"success"}
    # each worker reports its Celery name as the task instance's hostname: both ran shards
    assert {t["hostname"].split("@")[0] for t in shards} == {"worker-a", "worker-b"}, shards
    assert len({t["pid"] for t in shards}) == SPREAD["shards"]  # one task process per shard
    _assert_complete_release(celery, "spread", "synth_spread", run_id, SPREAD)


def test_worker_killed_mid_shard_is_retried_and_the_release_stays_complete(celery):
    cluster = celery.cluster
    cluster.ensure_workers()
    run_id = cluster.trigger("synth_kill")
    artifacts = celery.root / ".synth-ops" / "artifacts_kill" / "penguins_kill"

    def shard_being_written_on_worker_a():
        """A generate task running on worker A whose process has started writing its shard file."""
        for ti in cluster.task_instances("synth_kill", run_id):
            if (
                ti["task_id"] == GENERATE.format(name="kill")
                and ti["state"] == "running"
                and (ti["hostname"] or "").startswith("worker-a@")
                and ti["pid"]
            ):
                staged = list(
                    artifacts.glob(f"*/penguins/shards/.part-{ti['map_index']:05d}.parquet.{ti['pid']}-*.partial")
                )
                if staged:
                    return ti, staged
        return None

    victim, staged = wait_until(
        shard_being_written_on_worker_a,
        180,
        "a shard being written on worker A",
        interval=0.1,
        on_timeout=lambda: cluster.tail("worker-a"),
    )
    # the shard's process belongs to worker A's process tree (the task runner has a process group
    # of its own, so the whole session is killed, as losing the machine would)
    assert os.getsid(victim["pid"]) == cluster.processes["worker-a"].pid
    cluster.kill_worker("worker-a")
    assert not running(victim["pid"])
    assert all(path.exists() for path in staged)  # SIGKILL left the half-written shard behind

    state = cluster.wait_for_run("synth_kill", run_id)
    assert state == "success", cluster.explain("synth_kill", run_id)
    tis = cluster.task_instances("synth_kill", run_id)
    shard = victim["map_index"]
    (killed,) = [
        h
        for h in cluster.task_instances("synth_kill", run_id, history=True)
        if h["task_id"] == GENERATE.format(name="kill") and h["map_index"] == shard
    ]
    assert (killed["try_number"], killed["state"], killed["pid"]) == (1, "failed", victim["pid"])
    assert killed["hostname"].startswith("worker-a@")
    (retried,) = [t for t in tis if t["task_id"] == GENERATE.format(name="kill") and t["map_index"] == shard]
    assert (retried["try_number"], retried["state"]) == (2, "success")
    assert retried["hostname"].startswith("worker-b@")
    # the retry swept the dead process's staging file (checked below) and replaced the shard atomically
    _assert_complete_release(celery, "kill", "synth_kill", run_id, KILL)


def test_generate_tasks_sample_without_modelling_libraries(celery):
    """Through the portable sampler, the task processes of the mapped generate tasks import none of
    SDV, RDT, copulas, sdmetrics, torch or scipy and hold none when they load the sampler; the fit
    task's process of the same DAG imports SDV (the recorder sees task processes), and parsing the
    DAG files (dag-processor, workers) imports none either."""
    cluster = celery.cluster
    cluster.ensure_workers()
    run_id = cluster.trigger("synth_light")
    state = cluster.wait_for_run("synth_light", run_id)
    assert state == "success", cluster.explain("synth_light", run_id)
    records = import_records(celery.imports)
    generate = GENERATE.format(name="light")
    ours = [r for r in records if r["dag"] == "synth_light"]
    loads = [r for r in ours if r["task"] == generate and r["module"] == "synth_ops.sampler.sampler"]
    shard_pids = {t["pid"] for t in cluster.task_instances("synth_light", run_id) if t["task_id"] == generate}
    assert len(loads) == LIGHT["shards"] and all(r["held"] == [] for r in loads), loads
    assert {r["pid"] for r in loads} == shard_pids  # the task instances' own processes
    assert not [r for r in ours if r["task"] == generate and r["module"] != "synth_ops.sampler.sampler"]
    assert "sdv" in {r["module"] for r in ours if r["task"] == "synth_penguins_light.fit"}
    assert not [r for r in records if r["task"] is None and r["module"] != "synth_ops.sampler.sampler"], (
        "a modelling library was imported outside a task (while parsing DAGs?)"
    )
