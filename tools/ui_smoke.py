"""make ui-smoke: the two UIs as a platform engineer first sees them, with penguins run in both.

Starts ``dagster dev -f assets/definitions.py`` and ``airflow standalone`` (DAGs folder: dags/,
SQLite, simple auth manager with everyone admin) on free loopback ports, each in a temporary home;
observes the penguins source and runs the penguins job in Dagster (GraphQL, following the run's live
log subscription), triggers ``synth_penguins`` in Airflow (REST API v2) and waits for both to succeed;
then saves headless-Chromium screenshots into --out and prints their paths. The servers are stopped
whatever happens. The example spec writes to ./warehouse and ./.synth-ops of the repository.

    .venv/bin/python tools/ui_smoke.py --out ui-smoke
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PENGUINS = ["penguins", "penguins"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]


def log(message: str) -> None:
    print(f"ui-smoke: {message}", file=sys.stderr, flush=True)


def environment(**overrides: str) -> dict:
    # the venv's scripts first: airflow standalone starts its components as `airflow ...` from PATH
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server process in its own session, so stopping it stops the workers it spawned too."""

    def __init__(self, name: str, command: list[str], env: dict, logfile: Path):
        self.name, self.logfile = name, logfile
        self.handle = logfile.open("wb")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=self.handle, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for sig, grace in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if not self.alive():
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        # workers left behind by a parent that exited first
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.handle.close()


def http(url: str, body: dict | None = None, method: str | None = None, timeout: float = 30) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text.strip().startswith(("{", "[")) else {"text": text})
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        return error.code, {"error": text[:2000]}


def wait_until(what: str, probe, server: Server, timeout: float, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"{server.name} exited while waiting for {what}:\n{server.tail()}")
        with contextlib.suppress(OSError, ValueError):
            result = probe()
            if result:
                return result
        time.sleep(every)
    raise TimeoutError(f"{what}: not within {timeout:.0f}s; {server.name} log:\n{server.tail()}")


def screenshot(url: str, path: Path, profile: Path, budget_ms: int = 20000) -> Path:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise RuntimeError("chromium not found: run `make chromium`")
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={path}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    if not path.exists() or path.stat().st_size < 5000:
        raise RuntimeError(f"{path}: no screenshot of {url}")
    return path


# ---- Dagster ----------------------------------------------------------------------------------


def start_dagster(home: Path, port: int) -> Server:
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = environment(DAGSTER_HOME=str(home))
    return Server(
        "dagster dev",
        [str(BIN / "dagster"), "dev", "-f", "assets/definitions.py", "-h", "127.0.0.1", "-p", str(port)],
        env,
        home / "dagster-dev.log",
    )


def graphql(base: str, query: str, **variables) -> dict:
    status, doc = http(f"{base}/graphql", {"query": query, "variables": variables}, timeout=120)
    if status != 200 or doc.get("errors"):
        raise RuntimeError(f"GraphQL {status}: {json.dumps(doc)[:2000]}")
    return doc["data"]


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on UnauthorizedError { message }
  }
}"""

RUN_LOGS = """
subscription($runId: ID!) {
  pipelineRunLogs(runId: $runId) {
    __typename
    ... on PipelineRunLogsSubscriptionSuccess {
      messages { __typename ... on MessageEvent { eventType level stepKey } }
      hasMorePastEvents
    }
    ... on PipelineRunLogsSubscriptionFailure { message missingRunId }
  }
}"""


def launch(base: str, location: str, job: str, assets: list[list[str]] | None = None) -> str:
    selector = {"repositoryLocationName": location, "repositoryName": "__repository__", "jobName": job}
    if assets:
        selector["assetSelection"] = [{"path": key} for key in assets]
    result = graphql(base, LAUNCH, params={"selector": selector})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launching {job}: {json.dumps(result)}")
    return result["run"]["runId"]


def follow_run_logs(port: int, run_id: str, timeout: float) -> dict:
    """The run page's live log stream: the pipelineRunLogs subscription over graphql-ws, to the run's end."""
    import websocket  # websocket-client

    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-ws"], timeout=30)
    events: dict[str, int] = {}
    try:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ws.send(
            json.dumps({"id": "1", "type": "start", "payload": {"query": RUN_LOGS, "variables": {"runId": run_id}}})
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = json.loads(ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            if message["type"] in ("error", "connection_error"):
                raise RuntimeError(f"log subscription: {json.dumps(message)[:2000]}")
            if message["type"] != "data":
                continue
            if message["payload"].get("errors"):
                raise RuntimeError(f"log subscription: {json.dumps(message['payload']['errors'])[:2000]}")
            payload = message["payload"]["data"]["pipelineRunLogs"]
            if payload["__typename"] != "PipelineRunLogsSubscriptionSuccess":
                raise RuntimeError(f"log subscription: {json.dumps(payload)}")
            for event in payload["messages"]:
                events[event["__typename"]] = events.get(event["__typename"], 0) + 1
            if events.keys() & {"RunSuccessEvent", "RunFailureEvent", "RunCanceledEvent"}:
                return events
        raise TimeoutError(f"run {run_id}: no end within {timeout:.0f}s; events so far {events}")
    finally:
        with contextlib.suppress(Exception):
            ws.send(json.dumps({"id": "1", "type": "stop"}))
        ws.close()


def dagster_smoke(port: int, server: Server, out: Path, profile: Path, timeout: float) -> list[Path]:
    base = f"http://127.0.0.1:{port}"
    wait_until("dagster webserver", lambda: http(f"{base}/server_info")[0] == 200, server, 180)
    location = wait_until(
        "code location",
        lambda: next(
            (
                e["name"]
                for e in graphql(
                    base,
                    "{ workspaceOrError { ... on Workspace { locationEntries { name "
                    "locationOrLoadError { __typename } } } } }",
                )["workspaceOrError"]["locationEntries"]
                if e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            ),
            None,
        ),
        server,
        180,
    )
    keys = {
        "/".join(node["assetKey"]["path"])
        for node in graphql(base, "{ assetNodes { assetKey { path } } }")["assetNodes"]
    }
    expected = {"/".join(PENGUINS + [stage]) for stage in ("source", "profile", "model", "synthetic", "published")}
    missing = expected - keys
    if missing:
        raise RuntimeError(f"asset nodes missing from the UI's graph: {sorted(missing)}")
    log(f"dagster: {len(keys)} asset nodes in location {location!r}")

    observation = launch(base, location, "__ASSET_JOB", [PENGUINS + ["source"]])
    log(f"dagster: observation run {observation}: {follow_run_logs(port, observation, 120)}")
    run_id = launch(base, location, "penguins_synthesize")
    log(f"dagster: launched penguins_synthesize run {run_id}; following its live logs")
    events = follow_run_logs(port, run_id, timeout)
    # the run record turns terminal just after its last event
    status = wait_until(
        "run status",
        lambda: (lambda s: s if s in ("SUCCESS", "FAILURE", "CANCELED") else None)(
            graphql(base, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", id=run_id)[
                "runOrError"
            ]["status"]
        ),
        server,
        60,
        every=1,
    )
    log(
        f"dagster: run {run_id} {status}; subscription delivered {sum(events.values())} events "
        f"({', '.join(f'{k}={v}' for k, v in sorted(events.items()))})"
    )
    if status != "SUCCESS":
        raise RuntimeError(f"dagster run {run_id} ended {status}: {base}/runs/{run_id}")

    # the "Join the Dagster community" dialog a fresh instance shows on loopback would hide every page
    graphql(base, "mutation { setNuxSeen }")
    pages = {
        "dagster-published-asset.png": f"{base}/assets/{'/'.join(PENGUINS)}/published",
        # the gates are blocking checks of the synthetic asset: publication waits for them
        "dagster-synthetic-checks.png": f"{base}/assets/{'/'.join(PENGUINS)}/synthetic?view=checks",
        "dagster-source-asset.png": f"{base}/assets/{'/'.join(PENGUINS)}/source",
        "dagster-run.png": f"{base}/runs/{run_id}",
    }
    return [screenshot(url, out / name, profile) for name, url in pages.items()]


# ---- Airflow ----------------------------------------------------------------------------------


def start_airflow(home: Path, port: int) -> Server:
    base = f"http://127.0.0.1:{port}"
    env = environment(
        **{
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
            # one secret for every component: task tokens signed by the API server verify in the workers
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "SYNTH_OPS_ROOT": str(REPO),
        }
    )
    return Server("airflow standalone", [str(BIN / "airflow"), "standalone"], env, home / "standalone.log")


def airflow_smoke(port: int, server: Server, out: Path, profile: Path, timeout: float) -> list[Path]:
    base = f"http://127.0.0.1:{port}"
    api = f"{base}/api/v2"
    wait_until("airflow api-server", lambda: http(f"{api}/monitor/health")[0] == 200, server, 300)
    wait_until("synth_penguins parsed", lambda: http(f"{api}/dags/synth_penguins")[0] == 200, server, 300)
    status, doc = http(f"{api}/dags/synth_penguins", {"is_paused": False}, method="PATCH")
    if status != 200:
        raise RuntimeError(f"unpausing synth_penguins: {status} {doc}")
    status, doc = http(f"{api}/dags/synth_penguins/dagRuns", {"logical_date": None, "note": "make ui-smoke"})
    if status != 200:
        raise RuntimeError(f"triggering synth_penguins: {status} {doc}")
    run_id = doc["dag_run_id"]
    log(f"airflow: triggered synth_penguins run {run_id}")
    quoted = urllib.request.quote(run_id, safe="")
    state = wait_until(
        "synth_penguins run",
        lambda: (lambda s: s if s in ("success", "failed") else None)(
            http(f"{api}/dags/synth_penguins/dagRuns/{quoted}")[1].get("state")
        ),
        server,
        timeout,
        every=5,
    )
    tasks = http(f"{api}/dags/synth_penguins/dagRuns/{quoted}/taskInstances?limit=100")[1]
    summary = {}
    for ti in tasks.get("task_instances", []):
        summary[ti["state"]] = summary.get(ti["state"], 0) + 1
    log(f"airflow: run {run_id} {state}; task instances {summary}")
    if state != "success":
        raise RuntimeError(f"airflow run {run_id} ended {state}: {base}/dags/synth_penguins/runs/{quoted}")
    pages = {
        "airflow-dag-grid.png": f"{base}/dags/synth_penguins",
        "airflow-dag-run.png": f"{base}/dags/synth_penguins/runs/{quoted}",
    }
    return [screenshot(url, out / name, profile) for name, url in pages.items()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="ui-smoke", help="directory for the screenshots (default: ui-smoke)")
    parser.add_argument("--run-timeout", type=float, default=1200, help="seconds each penguins run may take")
    parser.add_argument("--keep-homes", action="store_true", help="keep the temporary DAGSTER_HOME/AIRFLOW_HOME")
    args = parser.parse_args()
    out = (REPO / args.out).resolve() if not Path(args.out).is_absolute() else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="synth-ops-ui-smoke-"))
    (scratch / "dagster").mkdir()
    (scratch / "airflow").mkdir()
    servers: list[Server] = []
    shots: list[Path] = []
    ok = False
    try:
        dagster_port, airflow_port = free_port(), free_port()
        # both start at once (startup is the slow part); the runs go one after the other, as both
        # write the same spec's ./warehouse and ./.synth-ops
        servers.append(start_dagster(scratch / "dagster", dagster_port))
        servers.append(start_airflow(scratch / "airflow", airflow_port))
        log(
            f"dagster dev on http://127.0.0.1:{dagster_port}, airflow on http://127.0.0.1:{airflow_port} "
            f"(homes and logs in {scratch})"
        )
        shots += dagster_smoke(dagster_port, servers[0], out, scratch / "chromium", args.run_timeout)
        shots += airflow_smoke(airflow_port, servers[1], out, scratch / "chromium", args.run_timeout)
        ok = True
    except Exception as error:
        log(f"FAILED: {error}")
        for server in servers:
            log(f"{server.name} log: {server.logfile}")
        return 1
    finally:
        for server in servers:
            server.stop()
        if ok and not args.keep_homes:  # a failure keeps the servers' logs for reading
            shutil.rmtree(scratch, ignore_errors=True)
    for path in shots:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
