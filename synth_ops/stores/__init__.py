"""Stores: where artifacts and releases live. Keys are '/'-separated paths relative to the root.

``open_store(uri)`` picks the implementation from the URI; a plain path is the embedded local store.
"""
from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from synth_ops.errors import StoreError


@runtime_checkable
class Store(Protocol):
    uri: str

    def read_bytes(self, key: str) -> bytes:
        """Whole object; StoreError if missing."""

    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic: readers see the old object or the new one, never a partial one."""

    def put_file(self, key: str, local_path: str) -> None:
        """Atomic upload of a local file."""

    def get_file(self, key: str, local_path: str) -> None:
        """Download to a local file."""

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix`` (recursive), sorted."""

    def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> str | None:
        """A filesystem path for ``key`` when the store is local, else None (callers then stage)."""


def open_store(uri: str) -> Store:
    if uri.startswith("s3://"):
        raise StoreError(f"{uri}: the S3 store is not available yet")
    if "://" in uri and not uri.startswith("file://"):
        raise StoreError(f"{uri}: unsupported store scheme")
    from synth_ops.stores.local import LocalStore

    return LocalStore(uri.removeprefix("file://"))


def read_json(store: Store, key: str) -> Any:
    try:
        return json.loads(store.read_bytes(key))
    except json.JSONDecodeError as error:
        raise StoreError(f"{store.uri}/{key}: not valid JSON ({error.msg})") from None


def write_json(store: Store, key: str, doc: Any) -> None:
    store.write_bytes(key, json.dumps(doc, indent=2, sort_keys=True, default=str).encode())
