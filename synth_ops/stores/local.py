"""The embedded default store: a local directory, with atomic writes (temp file + rename)."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from synth_ops.errors import StoreError
from synth_ops.io.fingerprints import sha256_bytes, sha256_file
from synth_ops.io.staging import staging_path
from synth_ops.stores import ObjectNotFound, PreconditionFailed


class LocalStore:
    def __init__(self, root: str):
        self.root = Path(root)
        self.uri = str(self.root)

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") for p in parts):
            raise StoreError(f"{key!r}: invalid store key")
        return self.root.joinpath(*parts)

    def check(self) -> None:
        """Directories are created on first write; only a file in the root's place is fatal."""
        for parent in (self.root, *self.root.parents):
            if parent.exists():
                if not parent.is_dir():
                    raise StoreError(f"{parent}: not a directory")
                return

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(f"{self._path(key)}: not found") from None
        except OSError as error:
            raise StoreError(f"{self._path(key)}: cannot read ({error.strerror})") from None

    def _atomic(self, key: str, fill) -> None:
        target = self._path(key)
        try:
            tmp = staging_path(target.parent, target.name)
            try:
                with open(tmp, "wb") as handle:
                    fill(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            # The rename is durable only once the directory entry is on disk.
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as error:
            raise StoreError(f"{target}: cannot write ({error.strerror})") from None

    def write_bytes(self, key: str, data: bytes) -> None:
        self._atomic(key, lambda handle: handle.write(data))

    def read_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.read_bytes(key)
        return data, sha256_bytes(data)

    def write_if(self, key: str, data: bytes, expected: str | None, fallback: bool = True) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # An exclusive lock on a sidecar file serialises check-and-replace between processes.
        with open(target.parent / f".{target.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = sha256_file(target) if target.is_file() else None
            if current != expected:
                raise PreconditionFailed(f"{target}: changed by another writer since it was read")
            self.write_bytes(key, data)

    def fingerprint(self, key: str) -> str:
        try:
            return sha256_file(self._path(key))
        except FileNotFoundError:
            raise ObjectNotFound(f"{self._path(key)}: not found") from None

    def put_file(self, key: str, local_path: str) -> None:
        def copy(handle):
            with open(local_path, "rb") as source:
                shutil.copyfileobj(source, handle, 1 << 20)

        self._atomic(key, copy)

    def get_file(self, key: str, local_path: str) -> None:
        try:
            shutil.copyfile(self._path(key), local_path)
        except FileNotFoundError:
            raise ObjectNotFound(f"{self._path(key)}: not found") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix.strip("/") else self.root
        if not base.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".")  # temp and lock files are hidden
        )

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> str | None:
        return str(self._path(key))
