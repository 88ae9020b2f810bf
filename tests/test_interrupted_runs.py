"""Runs that overlap or die: two concurrent runs of one spec, and runs killed with SIGKILL during fit
and during generate (at a failpoint: deterministic), then re-run, end with exactly one complete
current release and no staging files left behind."""

import json
import os
import signal
import subprocess
import sys

from synth_ops import read_latest
from synth_ops.runtime import failpoints
from synth_ops.spec import load_spec
from synth_ops.steps.pipeline import run
from tests.conftest import REPO, penguins_doc, write_spec


def _start_run(spec, failpoint: str | None = None):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if failpoint:  # the run SIGKILLs itself there (synth_ops/runtime/failpoints.py): no race with a poller
        env[failpoints.VARIABLE] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "synth_ops.cli", "run", str(spec)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _killed_at(spec, failpoint: str) -> None:
    process = _start_run(spec, failpoint)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL, (failpoint, process.returncode)


def _one_complete_current_release(directory, rows):
    pointer = json.loads((directory / "warehouse" / "penguins" / "_latest.json").read_text())
    releases = list((directory / "warehouse" / "penguins" / "_releases").glob("*.json"))
    assert [p.stem for p in releases] == [pointer["version"]]
    assert len(read_latest(str(directory / "warehouse"), "penguins", "penguins")) == rows  # checksums verified
    leftovers = [p for p in directory.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    assert not leftovers, leftovers


def test_two_concurrent_runs_of_one_spec_publish_one_complete_release(tmp_path):
    spec = write_spec(tmp_path, penguins_doc(generate={"rows": 20_000, "shards": 3, "batch_rows": 2000}))
    first, second = _start_run(spec), _start_run(spec)
    outcomes = [process.communicate(timeout=300) + (process.returncode,) for process in (first, second)]
    assert [code for _, _, code in outcomes] == [0, 0], outcomes
    said = sorted(out.split()[0] for out, _, _ in outcomes)
    assert said in (["published", "published"], ["published", "up"]), said  # racing to one version
    _one_complete_current_release(tmp_path, 20_000)


def test_a_run_killed_during_fit_then_rerun(tmp_path):
    spec = write_spec(tmp_path, penguins_doc(generate={"rows": 3000, "shards": 2}))
    _killed_at(spec, "fit.before_model")  # every split written, no model yet
    artifacts = tmp_path / "artifacts"
    assert any(artifacts.rglob("split.json")) and not any(artifacts.rglob("model.json"))
    assert not (tmp_path / "warehouse" / "penguins").exists()
    assert run(load_spec(spec)).status == "published"  # the re-run, in-process: same code as the CLI
    _one_complete_current_release(tmp_path, 3000)


def test_a_run_killed_during_generate_then_rerun(tmp_path):
    spec = write_spec(tmp_path, penguins_doc(generate={"rows": 30_000, "shards": 2, "batch_rows": 5_000}))
    _killed_at(spec, "generate.batch_written")  # a shard's first batch staged, the shard unfinished
    artifacts = tmp_path / "artifacts"
    assert list(artifacts.rglob(".part-*.partial")), "SIGKILL skips every finally: the staging file is left"
    assert not any(artifacts.rglob("part-*.json"))  # no shard record: nothing counts as generated
    assert not (tmp_path / "warehouse" / "penguins" / "_latest.json").exists()
    assert run(load_spec(spec)).status == "published"  # the re-run, in-process: same code as the CLI
    _one_complete_current_release(tmp_path, 30_000)


def test_staging_files_of_dead_processes_are_swept_whatever_their_name(tmp_path):
    from synth_ops.io.staging import staging_path

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".model-0123.pkl.{pid}-{pid}.partial").write_bytes(b"half a model")
    (tmp_path / f".part-00000.parquet.{pid}-{pid}.partial").write_bytes(b"half a shard")
    mine = staging_path(tmp_path, "model-4567.pkl")  # another name: a refit under another content hash
    assert [p.name for p in tmp_path.iterdir()] == [mine.rsplit("/", 1)[1]]
