"""The S3 store end to end, over HTTP to moto's server on loopback (no patched clients)."""

import os
import random
import re
import subprocess
import sys
import time

import pandas as pd
import pytest

from synth_ops import read_latest
from synth_ops.errors import StoreError
from synth_ops.runtime import releases
from synth_ops.spec import S3Options, load_spec
from synth_ops.steps.pipeline import run
from synth_ops.stores import open_store
from tests.conftest import PENGUINS_CSV, penguins_doc, run_cli, start_publisher, write_spec
from tests.s3_server import FaultProxy


def _s3_spec(tmp_path, bucket, filename="spec.yaml", **sections):
    doc = penguins_doc(publish={"uri": f"s3://{bucket}/synthetic"}, **sections)
    return write_spec(tmp_path, doc, filename)


def _all_objects(client, bucket):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_run_publishes_to_s3_encrypted_then_pull(tmp_path, s3, penguins_frame):
    spec = _s3_spec(tmp_path, s3["bucket"])
    result = run_cli("run", str(spec))
    assert result.returncode == 0, result.stderr
    assert f"to s3://{s3['bucket']}/synthetic" in result.stdout
    keys = _all_objects(s3["client"], s3["bucket"])
    assert "synthetic/penguins/_latest.json" in keys
    assert sum(k.endswith(".parquet") for k in keys) == 2 and any(k.endswith("_manifest.json") for k in keys)
    for key in keys:
        head = s3["client"].head_object(Bucket=s3["bucket"], Key=key)
        assert head["ServerSideEncryption"] == "AES256", key
    out = tmp_path / "pulled.csv"
    pulled = run_cli("pull", str(spec), "--out", str(out))
    assert pulled.returncode == 0, pulled.stderr
    assert len(pd.read_csv(out)) == 600
    again = run_cli("run", str(spec))
    assert again.returncode == 0 and again.stdout.startswith("up to date")


def test_source_and_artifacts_on_s3(tmp_path, s3, monkeypatch):
    s3["client"].upload_file(str(PENGUINS_CSV), s3["bucket"], "raw/penguins.csv")
    doc = penguins_doc(
        source=f"s3://{s3['bucket']}/raw/penguins.csv",
        publish={"uri": f"s3://{s3['bucket']}/synthetic"},
        artifacts={"uri": f"s3://{s3['bucket']}/private"},
    )
    spec = load_spec(write_spec(tmp_path, doc))
    import tempfile

    # a temp directory of this test's own: other tests (another pytest worker) stage files too
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    release = run(spec, workers=2)
    assert release.status == "published"
    # shards staged from remote artifacts for validate and publish are removed afterwards
    assert not list(temp.iterdir())
    keys = _all_objects(s3["client"], s3["bucket"])
    run_keys = [k for k in keys if k.startswith("private/penguins/")]
    assert any(re.search(r"/model-[0-9a-f]{16}\.pkl$", k) for k in run_keys) and any(
        k.endswith("report.html") for k in run_keys
    )
    profile = [k for k in run_keys if k.endswith("profile.json")][0]
    import json

    doc = json.loads(s3["client"].get_object(Bucket=s3["bucket"], Key=profile)["Body"].read())
    assert doc["source_fingerprint"].startswith("s3-etag:")
    frame = read_latest(f"s3://{s3['bucket']}/synthetic", "penguins", "penguins")
    assert len(frame) == 600


def test_kms_encryption_is_configurable(s3):
    store = open_store(f"s3://{s3['bucket']}", S3Options(sse="aws:kms", kms_key_id="alias/synthetic-data"))
    store.write_bytes("k.json", b"{}")
    head = s3["client"].head_object(Bucket=s3["bucket"], Key="k.json")
    assert head["ServerSideEncryption"] == "aws:kms" and "synthetic-data" in head["SSEKMSKeyId"]


def test_missing_bucket_is_one_line_exit_3(tmp_path, s3):
    spec = _s3_spec(tmp_path, "no-such-bucket-for-synth-ops")
    result = run_cli("run", str(spec))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "synth-ops: error: s3://no-such-bucket-for-synth-ops/synthetic: "
        "bucket 'no-such-bucket-for-synth-ops' does not exist"
    ]  # before any work
    assert "Traceback" not in result.stderr


@pytest.fixture
def proxy(s3, monkeypatch):
    fault = FaultProxy(s3["port"])
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault.endpoint)
    yield fault
    fault.stop()


def test_denied_access_is_one_line_exit_3(tmp_path, s3, proxy):
    proxy.deny("_latest.json")
    result = run_cli("run", str(_s3_spec(tmp_path, s3["bucket"])))
    assert result.returncode == 3, result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].endswith("access denied (check the AWS credentials and bucket policy)")
    )


def test_slowdown_and_5xx_are_retried(tmp_path, s3, proxy):
    spec = load_spec(_s3_spec(tmp_path, s3["bucket"]))
    proxy.fail_next(3, status=503, code="SlowDown")
    assert run(spec).status == "published"
    assert proxy.injected == 3
    frame = read_latest(spec.publish.uri, "penguins", "penguins")
    assert len(frame) == 600


def _validated(tmp_path, bucket, filename, **sections):
    """A run that passed its gates and waits to be published."""
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.steps.fit import fit
    from synth_ops.steps.generate import generate
    from synth_ops.steps.profile import profile
    from synth_ops.steps.validate import validate

    path = _s3_spec(tmp_path, bucket, filename, **sections)
    ws = Workspace.open(load_spec(path))
    profile(ws, "penguins"), fit(ws, "penguins"), generate(ws, "penguins")
    assert validate(ws, "penguins").passed
    return path, ws


def test_faults_mid_publish_leave_the_previous_release_current(tmp_path, s3, proxy):
    s3_section = {"max_attempts": 2}
    old_path, old_ws = _validated(
        tmp_path, s3["bucket"], "old.yaml", s3=s3_section, generate={"rows": 300, "shards": 1}
    )
    assert start_publisher(old_path).wait(timeout=60) == 0
    uri = f"s3://{s3['bucket']}/synthetic"
    old_frame = read_latest(uri, "penguins", "penguins")
    new_path, new_ws = _validated(
        tmp_path, s3["bucket"], "new.yaml", s3=s3_section, generate={"rows": 3000, "shards": 30, "batch_rows": 100}
    )
    store = open_store(uri)
    rng = random.Random(7)

    # 1. injected 503s on every write, beyond the retry budget: the publish fails, nothing switches
    proxy.fail_next(10_000, methods=("PUT",))
    failed = start_publisher(new_path)
    assert failed.wait(timeout=120) == 3
    assert "S3 error" in failed.stderr.read()
    assert releases.current_version(store, "penguins") != new_ws.run_id
    proxy.fail_next(0)
    pd.testing.assert_frame_equal(read_latest(uri, "penguins", "penguins"), old_frame)

    # 2. the server disappears at random points mid-publish
    for _ in range(3):
        proc = start_publisher(new_path)
        assert proc.stdout.readline().strip() == "start"
        time.sleep(rng.uniform(0.05, 0.4))
        proxy.stop()
        code = proc.wait(timeout=120)
        proxy.start()
        current = releases.current_version(store, "penguins")
        # Whatever the exit code (a pointer PUT can land while its response is lost), the current
        # release is a complete one: the old or the new, never a mixture.
        if code == 0:
            assert current == new_ws.run_id
        if current == new_ws.run_id:
            assert len(read_latest(uri, "penguins", "penguins")) == 3000
        else:
            assert current == old_ws.run_id
            pd.testing.assert_frame_equal(read_latest(uri, "penguins", "penguins"), old_frame)
    # 3. a re-run completes
    assert start_publisher(new_path).wait(timeout=120) == 0
    assert releases.current_version(store, "penguins") == new_ws.run_id
    assert len(read_latest(uri, "penguins", "penguins")) == 3000


def test_two_racing_publishers_leave_one_complete_current_release(tmp_path, s3):
    uri = f"s3://{s3['bucket']}/synthetic"
    paths = {}
    for seed in (1, 2):
        path, ws = _validated(
            tmp_path,
            s3["bucket"],
            f"seed{seed}.yaml",
            synthesizer={"kind": "gaussian_copula", "seed": seed},
            generate={"rows": 2000, "shards": 20, "batch_rows": 100},
        )
        paths[ws.run_id] = path
    procs = {version: start_publisher(path) for version, path in paths.items()}
    codes = {version: proc.wait(timeout=120) for version, proc in procs.items()}
    assert 0 in codes.values()
    for version, code in codes.items():
        if code != 0:
            assert "another publisher switched it" in procs[version].stderr.read()
    store = open_store(uri)
    current = releases.current_version(store, "penguins")
    assert current in paths
    frame = read_latest(uri, "penguins", "penguins")
    assert len(frame) == 2000
    manifest = releases.read_table(store, releases.latest_release(store, "penguins"), "penguins")
    assert manifest.num_rows == 2000


# VmHWM, not getrusage: ru_maxrss survives fork+exec on Linux and would report pytest's own size.
DOWNLOADER = """
import sys
from synth_ops.stores import open_store
store = open_store(sys.argv[1])
store.get_file(sys.argv[2], sys.argv[3])
print(next(int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:")))
"""


def test_large_objects_stream_to_disk_not_memory(tmp_path, s3):
    big = tmp_path / "big.parquet"
    with open(big, "wb") as handle:
        for _ in range(200):
            handle.write(os.urandom(1024 * 1024))
    s3["client"].upload_file(str(big), s3["bucket"], "raw/big.parquet")
    big.unlink()
    out = tmp_path / "copy.parquet"
    result = subprocess.run(
        [sys.executable, "-c", DOWNLOADER, f"s3://{s3['bucket']}", "raw/big.parquet", str(out)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    peak_mb = int(result.stdout.strip())
    assert out.stat().st_size == 200 * 1024 * 1024
    assert peak_mb < 120, f"downloading a 200 MB object peaked at {peak_mb} MB"


def test_only_a_501_makes_a_conditional_write_unconditional(s3, proxy):
    store = open_store(f"s3://{s3['bucket']}/p501")  # "501" in every message: the type decides, not the text
    store.write_bytes("pointer", b"one")
    _, etag = store.read_versioned("pointer")
    proxy.fail_next(10, status=500, code="InternalError", methods=("PUT",))
    with pytest.raises(StoreError, match="InternalError"):
        store.write_if("pointer", b"two", etag)
    proxy.fail_next(0)
    assert store.read_bytes("pointer") == b"one"
    proxy.fail_next(1, status=501, code="NotImplemented", methods=("PUT",))
    store.write_if("pointer", b"three", etag)
    assert store.read_bytes("pointer") == b"three"


def test_a_privacy_ledger_never_falls_back_to_an_unconditional_write(s3, proxy):
    """A server without conditional writes could let two fits spend the same last epsilon: the
    ledger refuses to write rather than overwrite (exit 3), and writes nothing."""
    from synth_ops.errors import StoreError
    from synth_ops.privacy.ledger import Budget, Charge, ledger_key, reserve
    from synth_ops.stores import ConditionalWriteUnsupported

    store = open_store(f"s3://{s3['bucket']}/ledgers")
    proxy.fail_next(1, status=501, code="NotImplemented", methods=("PUT",))
    with pytest.raises(ConditionalWriteUnsupported) as refused:
        reserve(store, "shared", "run1", "t", Charge(1.0, 1e-9), Budget(3.0, 1e-6))
    assert isinstance(refused.value, StoreError) and refused.value.exit_code == 3
    assert not store.exists(ledger_key("shared"))


def test_explicit_credentials_reach_the_session_and_nothing_else(tmp_path, s3, monkeypatch):
    """Keys held outside the spec (an Airflow connection's) with none in the environment: the
    workspace's sources and artifacts, a store a worker process unpickles, and every store opened
    in an ``s3_credentials`` scope use them; nothing shows them and the environment stays clean."""
    import pickle

    from synth_ops.runtime.workspace import Workspace
    from synth_ops.stores import S3Credentials, s3_credentials

    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    for name in names:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to fall back on either
    secrets = ("AKIASYNTHOPSUNIT0001", "unit-test-secret-4bQ", "unit-test-token-9pL")
    keys = S3Credentials(*secrets)
    uri = f"s3://{s3['bucket']}/explicit"
    with pytest.raises(StoreError, match="NoCredentialsError"):
        open_store(uri).write_bytes("k", b"x")  # the standard chain is empty here

    store = open_store(uri, None, keys)
    store.write_bytes("k", b"one")
    assert pickle.loads(pickle.dumps(store)).read_bytes("k") == b"one"
    with s3_credentials(keys):
        assert open_store(uri).read_bytes("k") == b"one"
    with pytest.raises(StoreError, match="NoCredentialsError"):
        open_store(uri).read_bytes("k")  # the scope ended with its block

    s3["client"].upload_file(str(PENGUINS_CSV), s3["bucket"], "raw/penguins.csv")
    doc = penguins_doc(
        source=f"s3://{s3['bucket']}/raw/penguins.csv", artifacts={"uri": f"s3://{s3['bucket']}/private"}
    )
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)), keys)
    assert ws.source_fingerprints["penguins"].startswith("s3-etag:")
    ws.write("penguins", "probe.json", {"ok": True})
    assert ws.read("penguins", "probe.json") == {"ok": True}
    shown = " ".join([repr(keys), str(keys), repr(store), repr(ws), f"{keys}"])
    assert not any(secret in shown for secret in secrets)
    assert not any(name in os.environ for name in names)
