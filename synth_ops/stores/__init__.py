"""Stores: where sources, artifacts and releases live. Keys are '/'-separated paths under the root.

``open_store(uri, s3_options, credentials)`` picks the implementation from the URI: ``s3://bucket/prefix``
is the S3 store, a plain path the embedded local store. tests/test_store_contract.py runs one suite
against both.

S3 credentials are never part of a spec (a spec is hashed and written into records): without
``credentials`` the S3 store uses the standard AWS chain. An orchestrator that holds keys of its
own (an Airflow connection) passes them explicitly, or scopes them over a task's steps with
``s3_credentials``; either way they reach boto3's session only, never ``os.environ``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

from synth_ops.errors import StoreError


@runtime_checkable
class Store(Protocol):
    uri: str

    def check(self) -> None:
        """Raise StoreError now if the store cannot be used (missing bucket, denied, unreachable)."""

    def read_bytes(self, key: str) -> bytes:
        """Whole object; StoreError if missing."""

    def write_bytes(self, key: str, data: bytes) -> None:
        """Atomic: readers see the old object or the new one, never a partial one."""

    def read_versioned(self, key: str) -> tuple[bytes, str]:
        """The object and a version tag (ETag) for ``write_if``."""

    def write_if(self, key: str, data: bytes, expected: str | None, fallback: bool = True) -> None:
        """Atomic write only if the object still has tag ``expected`` (None: only if absent);
        raises PreconditionFailed otherwise. A store that cannot write conditionally writes
        unconditionally, or with ``fallback=False`` raises ConditionalWriteUnsupported."""

    def fingerprint(self, key: str) -> str:
        """A content identity of the object, cheap to compute."""

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


class PreconditionFailed(StoreError):
    """A conditional write lost: the object changed since it was read."""


class ObjectNotFound(StoreError):
    """The key (or the bucket's object) does not exist."""


class ConditionalWriteUnsupported(StoreError):
    """The server does not implement conditional writes (HTTP 501)."""


@dataclasses.dataclass(frozen=True, repr=False)
class S3Credentials:
    """An access key pair (and session token) for the S3 store's boto3 session.

    Its repr names no secret, and nothing writes it: it travels with a store object only, into
    worker processes by pickle over a pipe."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __repr__(self) -> str:  # not even the key id: it names the account
        return "S3Credentials(<hidden>)"

    def session_kwargs(self) -> dict[str, str]:
        """Keyword arguments of ``boto3.session.Session``."""
        kwargs = {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        if self.session_token:
            kwargs["aws_session_token"] = self.session_token
        return kwargs


# Credentials for the stores opened while a scope is active (``s3_credentials``). A context
# variable, not a global: two tasks in two threads of one process keep their own.
_SCOPED_CREDENTIALS: ContextVar[S3Credentials | None] = ContextVar("synth_ops_s3_credentials", default=None)


@contextmanager
def s3_credentials(credentials: S3Credentials | None) -> Iterator[None]:
    """Every S3 store opened inside the block without explicit credentials uses ``credentials``
    (None: the standard AWS chain). For steps that open stores from the spec alone."""
    token = _SCOPED_CREDENTIALS.set(credentials)
    try:
        yield
    finally:
        _SCOPED_CREDENTIALS.reset(token)


def open_store(uri: str, s3_options: Any = None, credentials: S3Credentials | None = None) -> Store:
    """The store at ``uri``. ``credentials`` (else those of an ``s3_credentials`` scope, else the
    standard AWS chain) apply to an S3 store only."""
    if uri.startswith("s3://"):
        from synth_ops.stores.s3 import S3Store

        return S3Store(uri, s3_options, credentials or _SCOPED_CREDENTIALS.get())
    if "://" in uri and not uri.startswith("file://"):
        raise StoreError(f"{uri}: unsupported store scheme (use a local path or s3://bucket/prefix)")
    from synth_ops.stores.local import LocalStore

    return LocalStore(uri.removeprefix("file://"))


def open_object(uri: str, s3_options: Any = None, credentials: S3Credentials | None = None) -> tuple[Store, str]:
    """(store, key) for one object URI such as a table source."""
    if uri.startswith("s3://"):
        from synth_ops.stores.s3 import split_uri

        bucket, key = split_uri(uri)
        return open_store(f"s3://{bucket}", s3_options, credentials), key
    directory, _, name = uri.rstrip("/").rpartition("/")
    return open_store(directory or "/"), name


def read_json(store: Store, key: str) -> Any:
    try:
        return json.loads(store.read_bytes(key))
    except json.JSONDecodeError as error:
        raise StoreError(f"{store.uri}/{key}: not valid JSON ({error.msg})") from None


def write_json(store: Store, key: str, doc: Any) -> None:
    store.write_bytes(key, json.dumps(doc, indent=2, sort_keys=True, default=str).encode())


@contextmanager
def local_copy(store: Store, key: str) -> Iterator[str]:
    """A local path to the object at ``key``: the file itself in a local store, else a temporary
    download removed on exit."""
    import os
    import tempfile

    local = store.local_path(key)
    if local:
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="synth-ops-") as staging:
        path = os.path.join(staging, os.path.basename(key))
        store.get_file(key, path)
        yield path
