import os

import pytest

from synth_ops.errors import StoreError
from synth_ops.stores import Store, open_store, read_json, write_json


def test_local_store_round_trip(tmp_path):
    store = open_store(str(tmp_path / "root"))
    assert isinstance(store, Store)
    write_json(store, "a/b/c.json", {"x": 1})
    store.write_bytes("a/d.bin", b"123")
    assert read_json(store, "a/b/c.json") == {"x": 1}
    assert store.exists("a/d.bin") and not store.exists("a/zzz")
    assert store.list("a") == ["a/b/c.json", "a/d.bin"]
    src = tmp_path / "f"
    src.write_bytes(b"payload")
    store.put_file("x/f", str(src))
    store.get_file("x/f", str(tmp_path / "g"))
    assert (tmp_path / "g").read_bytes() == b"payload"
    store.delete("x/f")
    assert not store.exists("x/f")


def test_missing_key_and_bad_keys_are_store_errors(tmp_path):
    store = open_store(str(tmp_path))
    with pytest.raises(StoreError, match="not found"):
        store.read_bytes("missing.json")
    with pytest.raises(StoreError, match="invalid store key"):
        store.write_bytes("../escape", b"x")


def test_failed_write_leaves_previous_object_and_no_temp_file(tmp_path):
    store = open_store(str(tmp_path))
    store.write_bytes("k", b"old")

    def explode(handle):
        handle.write(b"partial")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        store._atomic("k", explode)
    assert store.read_bytes("k") == b"old"
    assert os.listdir(tmp_path) == ["k"]


def test_unwritable_root_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    store = open_store(str(blocker))
    with pytest.raises(StoreError, match="cannot write"):
        store.write_bytes("a.json", b"{}")
