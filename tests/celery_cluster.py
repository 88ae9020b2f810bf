"""A real Airflow 3 deployment with the CeleryExecutor on loopback, for the scale-out tests and bench.

    cluster = CeleryCluster(base_dir, dags_folder)   # a fresh PostgreSQL database, a Redis database
    cluster.start()        # db migrate, api-server, scheduler, dag-processor, two Celery workers
    run_id = cluster.trigger("synth_penguins"); cluster.wait_for_run("synth_penguins", run_id)
    cluster.stop()         # every process tree killed, the database dropped, the Redis database flushed

Every process runs in its own session, so stopping (or killing a worker) reaches everything it
started, including the task runners Airflow puts in process groups of their own. Each worker
reports its Celery name as its hostname (``[core] hostname_callable``), so the metadata database's
task instances say which worker ran them. This module imports nothing heavy at the top: the
workers import it for ``worker_hostname``.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS_PORT = 6379
WORKER_VARIABLE = "SYNTH_OPS_CELERY_WORKER"
REDIS_CLAIM = "synth-ops:celery-cluster"  # marks a Redis database as taken by a running cluster


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: ``worker-a@<host>``, as Celery names the worker."""
    return f"{os.environ.get(WORKER_VARIABLE, 'airflow')}@{socket.gethostname()}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.2, on_timeout=None):
    """Poll ``condition`` until it returns something truthy (returned); AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)


def session_members(session: int) -> list[int]:
    """Processes of a session (``start_new_session``), whatever process group they moved to."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state ppid pgrp session ...
        if int(fields[3]) == session:
            members.append(int(entry.name))
    return members


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie whose parent died with it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def kill_session(session: int) -> None:
    """SIGKILL a whole process tree at once, as losing the machine would."""
    for pid in session_members(session):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def postgres_connect(dbname: str):
    import psycopg2

    connection = psycopg2.connect(dbname=dbname, **POSTGRES)
    connection.autocommit = True
    return connection


def postgres_url(dbname: str, driver: str = "postgresql+psycopg2") -> str:
    return f"{driver}://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{dbname}"


def _on_server(sql: str) -> None:
    """One statement against the server's maintenance database (CREATE/DROP DATABASE need autocommit)."""
    connection = postgres_connect("postgres")
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


def create_database(prefix: str) -> str:
    name = f"{prefix}_{secrets.token_hex(4)}"
    _on_server(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_database(token: str) -> int:
    """A Redis database number no other cluster uses: its queue and its worker names stay its own
    (Celery's broadcast channels are per database). A claim expires, so a crashed run frees it."""
    import redis

    for number in secrets.SystemRandom().sample(range(1, 16), 15):
        client = redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=number)
        if client.set(REDIS_CLAIM, token, nx=True, ex=3600):
            return number
    raise RuntimeError("every Redis database 1..15 is claimed by another synth-ops cluster")


def release_redis_database(number: int, token: str) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=REDIS_PORT, db=number)
    if client.get(REDIS_CLAIM) == token.encode():
        client.flushdb()


def write_synth_dag(dags: Path, dag_id: str, spec: Path, root: Path, retries: int = 1) -> Path:
    """A DAG file with synth-ops' task group for ``spec``; ``retries`` on every task but validate
    (a failed gate is final), one second apart so a retried shard starts promptly."""
    path = dags / f"{dag_id}.py"
    path.write_text(
        textwrap.dedent(f"""
        import datetime
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
                 default_args={{"retries": {retries}, "retry_delay": datetime.timedelta(seconds=1)}}):
            synth_task_group({str(spec)!r}, root={str(root)!r})
    """)
    )
    return path


class CeleryCluster:
    """Airflow 3.3 with the CeleryExecutor: PostgreSQL metadata, Redis broker, N Celery workers."""

    def __init__(
        self,
        base: Path,
        dags: Path,
        workers: tuple[str, ...] = ("worker-a", "worker-b"),
        heartbeat_timeout: int = 10,
        extra_env: dict[str, str] | None = None,
    ):
        self.base = Path(base)
        self.dags = Path(dags)
        self.worker_names = workers
        self.heartbeat_timeout = heartbeat_timeout
        self.extra_env = dict(extra_env or {})  # e.g. PYTHONPATH with a sitecustomize, for every component
        self.token = secrets.token_hex(4)
        self.database: str | None = None
        self.redis_db: int | None = None
        self.port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        (self.base / "logs").mkdir(parents=True, exist_ok=True)

    # -- configuration -----------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        url = postgres_url(self.database)
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "AIRFLOW_HOME": str(self.base / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/{self.redis_db}",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{url}",
            # one queue per cluster: nothing else on this Redis server takes its tasks
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"synth_ops_{self.token}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.token * 8,  # every component signs and checks task tokens alike
            "AIRFLOW__API__SECRET_KEY": self.token * 8,
            # a dead worker's task instance is noticed within ~heartbeat_timeout seconds, not 5 minutes
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
            "AIRFLOW__OPENLINEAGE__DISABLED": "True",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            **self.extra_env,
        }

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self, timeout: float = 240) -> CeleryCluster:
        deadline = time.monotonic() + timeout
        self.database = create_database("synthops_af")
        self.redis_db = claim_redis_database(self.token)
        migrated = subprocess.run(
            [self.airflow, "db", "migrate"], env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed: {migrated.stderr[-2000:]}")
        self._launch(
            "api-server",
            [self.airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
        )
        self._launch("scheduler", [self.airflow, "scheduler", "--skip-serve-logs"])
        self._launch("dag-processor", [self.airflow, "dag-processor"])
        for name in self.worker_names:
            self.start_worker(name)
        remaining = lambda: max(5.0, deadline - time.monotonic())  # noqa: E731
        wait_until(self._api_ready, remaining(), "the API server", on_timeout=lambda: self.tail("api-server"))
        for name in self.worker_names:
            self.wait_worker_ready(name, remaining())
        return self

    def start_worker(self, name: str) -> None:
        """A Celery worker with one slot, named ``<name>@<host>``; serve-logs off (two on one port)."""
        self._launch(
            name,
            [
                self.airflow,
                "celery",
                "worker",
                "--concurrency",
                "1",
                "--celery-hostname",
                f"{name}@%h",
                "--queues",
                f"synth_ops_{self.token}",
                "--skip-serve-logs",
            ],
            {"AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.celery_cluster.worker_hostname", WORKER_VARIABLE: name},
        )

    def wait_worker_ready(self, name: str, timeout: float = 120) -> None:
        # Celery logs "<name>@<host> ready." once it consumes from the queue
        wait_until(
            lambda: f"{name}@{socket.gethostname()} ready." in self.log(name) or self._dead(name),
            timeout,
            f"Celery worker {name}",
            on_timeout=lambda: self.tail(name),
        )
        if self._dead(name):
            raise RuntimeError(f"Celery worker {name} exited:{self.tail(name)}")

    def ensure_workers(self) -> None:
        """Restart any worker a test killed, so tests do not depend on their order."""
        dead = [name for name in self.worker_names if self._dead(name)]
        for name in dead:
            self.start_worker(name)
        for name in dead:
            self.wait_worker_ready(name)

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker's whole process tree and wait until none of it runs."""
        process = self.processes[name]
        members = session_members(process.pid)
        kill_session(process.pid)
        process.wait(timeout=30)
        wait_until(lambda: not any(running(pid) for pid in members), 30, f"worker {name}'s processes to die")

    def stop(self) -> None:
        for process in self.processes.values():
            kill_session(process.pid)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if self.redis_db is not None:
            release_redis_database(self.redis_db, self.token)
        if self.database:
            drop_database(self.database)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()

    # -- runs --------------------------------------------------------------------------------------
    def trigger(self, dag_id: str, timeout: float = 120) -> str:
        """Wait until the dag-processor has serialized ``dag_id``, then trigger one run."""
        wait_until(
            lambda: self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)),
            timeout,
            f"the dag-processor to serialize {dag_id}",
            interval=0.5,
            on_timeout=lambda: (
                self.tail("dag-processor") + str(self.query("SELECT filename, stacktrace FROM import_error"))
            ),
        )
        run_id = f"scaleout_{secrets.token_hex(4)}"
        triggered = subprocess.run(
            [self.airflow, "dags", "trigger", dag_id, "--run-id", run_id],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if triggered.returncode != 0:
            raise RuntimeError(f"airflow dags trigger failed: {triggered.stderr[-2000:]}")
        return run_id

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id))
        return rows[0]["state"] if rows else None

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        return wait_until(
            lambda: self.run_state(dag_id, run_id) in ("success", "failed") and self.run_state(dag_id, run_id),
            timeout,
            f"DAG run {run_id}",
            interval=0.5,
            on_timeout=lambda: "\n" + self.explain(dag_id, run_id),
        )

    def task_instances(self, dag_id: str, run_id: str, history: bool = False) -> list[dict]:
        """Task instances of a run (``history``: their earlier tries, which Airflow moves aside on retry)."""
        table = "task_instance_history" if history else "task_instance"
        return self.query(
            f"SELECT task_id, map_index, try_number, state, hostname, pid, start_date, end_date "
            f"FROM {table} WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index, try_number",
            (dag_id, run_id),
        )

    def explain(self, dag_id: str, run_id: str) -> str:
        """Task states and the errors the failed tasks logged: what an assertion message should show."""
        import json

        lines = []
        for ti in self.task_instances(dag_id, run_id):
            lines.append(
                f"{ti['task_id']}[{ti['map_index']}] try {ti['try_number']}: {ti['state']} on {ti['hostname']}"
            )
            if ti["state"] != "failed":
                continue
            folder = self.base / "home" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={ti['task_id']}"
            if ti["map_index"] >= 0:
                folder /= f"map_index={ti['map_index']}"
            path = folder / f"attempt={ti['try_number']}.log"
            for line in path.read_text().splitlines() if path.exists() else []:
                event = json.loads(line) if line.startswith("{") else {"event": line}
                if event.get("level") in ("error", "critical"):
                    lines.append(f"    {event.get('event')} {str(event.get('error_detail', ''))[:1500]}")
        return "\n".join(lines)

    def query(self, sql: str, params: tuple = ()) -> list[dict]:
        import psycopg2.extras

        connection = postgres_connect(self.database)
        try:
            with connection.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor:
                cursor.execute(sql, params)
                return [dict(row) for row in cursor.fetchall()] if cursor.description else []
        finally:
            connection.close()

    # -- processes ---------------------------------------------------------------------------------
    @property
    def airflow(self) -> str:
        import shutil

        return shutil.which("airflow", path=str(Path(sys.executable).parent)) or "airflow"

    def _launch(self, name: str, command: list[str], extra_env: dict[str, str] | None = None) -> None:
        log = open(self.base / "logs" / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(
            command,
            env={**self.env(), **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.base,
        )
        log.close()

    def _dead(self, name: str) -> bool:
        return self.processes[name].poll() is not None

    def _api_ready(self) -> bool:
        import urllib.request

        for name in ("api-server", "scheduler", "dag-processor"):
            if self._dead(name):
                raise RuntimeError(f"airflow {name} exited:{self.tail(name)}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/execution/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def log(self, name: str) -> str:
        path = self.base / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, name: str, chars: int = 3000) -> str:
        return f"\n--- {name} log ---\n{self.log(name)[-chars:]}"
