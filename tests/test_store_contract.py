"""One contract, run unchanged against the local store and the S3 store (HTTP to a loopback server)."""

import json

import pytest

from synth_ops.errors import StoreError
from synth_ops.spec import S3Options
from synth_ops.stores import PreconditionFailed, Store, open_store, read_json, write_json


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> Store:
    if request.param == "local":
        return open_store(str(tmp_path / "root"))
    bucket = request.getfixturevalue("s3")["bucket"]
    return open_store(f"s3://{bucket}/some/prefix", S3Options(multipart_threshold_mb=5))


def test_round_trip_list_exists_delete(store, tmp_path):
    write_json(store, "a/b/c.json", {"x": 1})
    store.write_bytes("a/d.bin", b"123")
    store.write_bytes("z.bin", b"z")
    assert read_json(store, "a/b/c.json") == {"x": 1}
    assert store.exists("a/d.bin") and not store.exists("a/zzz")
    assert store.list("a") == ["a/b/c.json", "a/d.bin"]
    assert store.list("") == ["a/b/c.json", "a/d.bin", "z.bin"]
    store.delete("a/d.bin")
    assert not store.exists("a/d.bin")


def test_overwrite_is_whole(store):
    store.write_bytes("k", b"old" * 1000)
    store.write_bytes("k", b"new")
    assert store.read_bytes("k") == b"new"


def test_files_up_and_down_including_multipart(store, tmp_path):
    big = tmp_path / "big.bin"
    payload = bytes(range(256)) * (12 * 4096)  # 12 MiB: above the 5 MiB multipart threshold
    big.write_bytes(payload)
    store.put_file("parts/big.bin", str(big))
    out = tmp_path / "out.bin"
    store.get_file("parts/big.bin", str(out))
    assert out.read_bytes() == payload
    assert store.fingerprint("parts/big.bin") == store.fingerprint("parts/big.bin")
    store.write_bytes("parts/other.bin", b"x")
    assert store.fingerprint("parts/big.bin") != store.fingerprint("parts/other.bin")


def test_missing_objects_and_bad_keys(store):
    with pytest.raises(StoreError, match="not found"):
        store.read_bytes("missing.json")
    with pytest.raises(StoreError, match="invalid store key"):
        store.write_bytes("../escape", b"x")


def test_conditional_write_detects_a_concurrent_writer(store):
    store.write_if("_latest.json", b'{"version": "a"}', None)  # create only if absent
    with pytest.raises(PreconditionFailed):
        store.write_if("_latest.json", b'{"version": "x"}', None)
    data, tag = store.read_versioned("_latest.json")
    assert json.loads(data) == {"version": "a"}
    store.write_if("_latest.json", b'{"version": "b"}', tag)  # we read it: our switch wins
    with pytest.raises(PreconditionFailed):
        store.write_if("_latest.json", b'{"version": "c"}', tag)  # stale tag: someone switched since
    assert json.loads(store.read_bytes("_latest.json")) == {"version": "b"}
