"""Runs that overlap or die: two concurrent runs of one spec, and runs killed with SIGKILL during fit
and during generate, then re-run, end with exactly one complete current release and no staging
files left behind."""

import json
import os
import signal
import subprocess
import sys
import time

from synth_ops import read_latest
from synth_ops.spec import load_spec
from synth_ops.steps.pipeline import run
from tests.conftest import REPO, penguins_doc, write_spec


def _start_run(spec):
    return subprocess.Popen(
        [sys.executable, "-m", "synth_ops.cli", "run", str(spec)],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_when(process, ready, timeout=240):
    """SIGKILL ``process`` as soon as ``ready()`` holds; True if it was still running then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            alive = process.poll() is None
            process.send_signal(signal.SIGKILL)
            process.wait()
            return alive
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    process.kill()
    raise AssertionError("the run never reached the point to kill it at")


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


def test_a_run_killed_during_fit_then_rerun(tmp_path, flights_sample_csv):
    # a 3,000-row flights sample fits for seconds under SDV's copula, long after split.json (written
    # just before) appears
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(flights_sample_csv)}},
        "synthesizer": {"kind": "gaussian_copula", "fit_rows": None},
        "generate": {"rows": 3000, "shards": 2},
        "gates": {"discriminator_auc_max": None},
    }  # SDV's copula on flights is told apart: not this test's subject
    spec = write_spec(tmp_path, doc)
    process = _start_run(spec)
    artifacts = tmp_path / "artifacts"
    assert _kill_when(process, lambda: any(artifacts.rglob("split.json")))
    assert not any(artifacts.rglob("model.json")) and not (tmp_path / "warehouse" / "penguins").exists()
    assert run(load_spec(spec)).status == "published"  # the re-run, in-process: same code as the CLI
    _one_complete_current_release(tmp_path, 3000)


def test_a_run_killed_during_generate_then_rerun(tmp_path):
    # SDV's own sampling path: seconds per shard, so the poll catches one mid-write (the portable
    # sampler writes these shards in a fraction of a second; both paths stage through the same writer)
    spec = write_spec(
        tmp_path,
        penguins_doc(
            generate={"rows": 300_000, "shards": 2, "batch_rows": 10_000},
            synthesizer={"kind": "gaussian_copula", "seed": 7, "fast_sampling": False},
        ),
    )
    process = _start_run(spec)
    artifacts = tmp_path / "artifacts"
    assert _kill_when(process, lambda: any(artifacts.rglob(".part-*.partial")))  # a shard being written
    assert list(artifacts.rglob(".part-*.partial")), "SIGKILL skips every finally: the staging file is left"
    assert not (tmp_path / "warehouse" / "penguins" / "_latest.json").exists()
    assert run(load_spec(spec)).status == "published"  # the re-run, in-process: same code as the CLI
    _one_complete_current_release(tmp_path, 300_000)


def test_staging_files_of_dead_processes_are_swept_whatever_their_name(tmp_path):
    from synth_ops.io.staging import staging_path

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / f".model-0123.pkl.{pid}-{pid}.partial").write_bytes(b"half a model")
    (tmp_path / f".part-00000.parquet.{pid}-{pid}.partial").write_bytes(b"half a shard")
    mine = staging_path(tmp_path, "model-4567.pkl")  # another name: a refit under another content hash
    assert [p.name for p in tmp_path.iterdir()] == [mine.rsplit("/", 1)[1]]
