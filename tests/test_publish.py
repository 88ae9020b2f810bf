import json
import shutil
import signal

import pandas as pd
import pytest

from synth_ops import read_latest
from synth_ops.errors import GateFailed, StoreError
from synth_ops.runtime import releases
from synth_ops.spec import load_spec
from synth_ops.steps.pipeline import run
from synth_ops.stores import open_store
from tests.conftest import penguins_doc, start_publisher, write_spec


def _snapshot(root):
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def test_release_layout_manifest_and_reader(tmp_path):
    spec = load_spec(write_spec(tmp_path, penguins_doc()))
    release = run(spec)
    assert release.status == "published"
    store = open_store(spec.publish.uri)
    pointer = json.loads(store.read_bytes("penguins/_latest.json"))
    assert pointer["version"] == release.version and pointer["release"] == f"penguins/_releases/{release.version}.json"
    doc = json.loads(store.read_bytes(pointer["release"]))
    table = doc["tables"]["penguins"]
    assert table["gates"]["passed"] and table["model_sha256"] and table["source_fingerprint"]
    assert doc["spec_hash"] == spec.content_hash() and "sdv" in doc["libraries"]
    manifest = json.loads(store.read_bytes(table["manifest"]))
    assert [p["key"].rsplit("/", 1)[1] for p in manifest["parts"]] == ["part-00000.parquet", "part-00001.parquet"]
    assert manifest["rows"] == 600 and [n for n, _ in manifest["schema"]][0] == "species"
    frame = read_latest(spec.publish.uri, "penguins", "penguins")
    assert len(frame) == 600 and list(frame.columns)[-1] == "year"


def test_rerun_with_unchanged_inputs_is_up_to_date_and_writes_nothing(tmp_path):
    spec = load_spec(write_spec(tmp_path, penguins_doc()))
    first = run(spec)
    before = {**_snapshot(tmp_path / "warehouse"), **_snapshot(tmp_path / "artifacts")}
    second = run(spec)
    assert second.status == "up_to_date" and second.version == first.version
    assert {**_snapshot(tmp_path / "warehouse"), **_snapshot(tmp_path / "artifacts")} == before
    # a changed input is a new version
    changed = load_spec(
        write_spec(tmp_path, penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 8}), "b.yaml")
    )
    third = run(changed)
    assert third.status == "published" and third.version != first.version
    assert releases.current_version(open_store(spec.publish.uri), "penguins") == third.version


def test_reader_refuses_a_corrupted_part(tmp_path):
    spec = load_spec(write_spec(tmp_path, penguins_doc()))
    run(spec)
    part = next((tmp_path / "warehouse").rglob("part-00001.parquet"))
    part.write_bytes(part.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(StoreError, match="sha256 does not match the manifest"):
        read_latest(spec.publish.uri, "penguins", "penguins")


def test_nothing_published_reads_as_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="nothing published"):
        read_latest(str(tmp_path), "penguins", "penguins")


def test_publish_refuses_a_failed_gate(tmp_path):
    spec = load_spec(write_spec(tmp_path, penguins_doc(gates={"suites": [str(_impossible_suite(tmp_path))]})))
    with pytest.raises(GateFailed):
        run(spec)
    assert not (tmp_path / "warehouse").exists()


def _impossible_suite(tmp_path):
    path = tmp_path / "impossible.json"
    path.write_text(
        json.dumps(
            {
                "name": "impossible",
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_between",
                        "kwargs": {"column": "body_mass_g", "min_value": 0, "max_value": 1},
                    }
                ],
            }
        )
    )
    return path


def test_killed_publish_never_leaves_a_partial_release(tmp_path):
    """SIGKILL a publishing process before and inside each phase of the protocol; readers always see
    a complete release, and a re-run completes the new one."""
    old_spec = load_spec(write_spec(tmp_path, penguins_doc(generate={"rows": 300, "shards": 2}), "old.yaml"))
    old = run(old_spec)
    old_frame = read_latest(old_spec.publish.uri, "penguins", "penguins")
    new_path = write_spec(tmp_path, penguins_doc(generate={"rows": 800, "shards": 4, "batch_rows": 100}), "new.yaml")
    new_spec = load_spec(new_path)
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.steps.fit import fit
    from synth_ops.steps.generate import generate
    from synth_ops.steps.profile import profile
    from synth_ops.steps.validate import validate

    ws = Workspace.open(new_spec)
    profile(ws, "penguins"), fit(ws, "penguins"), generate(ws, "penguins")
    assert validate(ws, "penguins").passed
    store = open_store(new_spec.publish.uri)
    warehouse = tmp_path / "warehouse"

    # One uninterrupted publish lists its writes into the warehouse, in order: the protocol.
    counted = start_publisher(new_path, "count", warehouse)
    out, err = counted.communicate(timeout=120)
    assert counted.returncode == 0, err
    writes = out.split()[2:]
    parts = [releases.part_key("penguins", "penguins", ws.run_id, i) for i in range(4)]
    manifest, release = (
        releases.manifest_key("penguins", "penguins", ws.run_id),
        releases.release_key("penguins", ws.run_id),
    )
    assert writes == [*parts, manifest, release, releases.latest_key("penguins")]
    new_frame = read_latest(new_spec.publish.uri, "penguins", "penguins")
    assert len(new_frame) == 800

    def reset():
        shutil.rmtree(warehouse / "penguins" / "penguins" / ws.run_id)
        store.delete(release)
        store.write_bytes(
            releases.latest_key("penguins"),
            json.dumps(
                {"name": "penguins", "version": old.version, "release": releases.release_key("penguins", old.version)}
            ).encode(),
        )

    # before and after the bytes of the first part, a middle part, the last part, the manifest,
    # the release record and the pointer (after: written to its temp file, never renamed)
    for point in (
        "0:before",
        "0:after",
        "2:before",
        "3:after",
        "4:before",
        "4:after",
        "5:before",
        "5:after",
        "6:before",
        "6:after",
    ):
        reset()
        before = set(store.list("penguins"))
        proc = start_publisher(new_path, point, warehouse)
        proc.wait(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (point, proc.stderr.read())
        done, begun = int(point.split(":")[0]), point.endswith("after")
        assert (warehouse / "penguins" / "penguins" / ws.run_id).exists() == (done + begun > 0), point
        assert releases.current_version(store, "penguins") == old.version, point
        pd.testing.assert_frame_equal(read_latest(new_spec.publish.uri, "penguins", "penguins"), old_frame)
        # the objects added are exactly the writes before the kill: a stranded temp file is never listed
        assert set(store.list("penguins")) == before | set(writes[:done]), point
        rerun = start_publisher(new_path)
        assert rerun.wait(timeout=120) == 0, rerun.stderr.read()
        assert releases.current_version(store, "penguins") == ws.run_id
        pd.testing.assert_frame_equal(read_latest(new_spec.publish.uri, "penguins", "penguins"), new_frame)
