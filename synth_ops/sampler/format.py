"""The sampler artifact on disk: ``sampler.json`` (what to do), ``*.npy`` arrays (correlation factor,
inverse-CDF tables), ``manifest.json`` (the sha256 of every other file), written last.

Everything is data: JSON and ``.npy`` files read with ``allow_pickle=False``, so loading a sampler
never executes code from the store. A file whose sha256 differs from the manifest, a manifest
whose own sha256 differs from what the caller expects (``model.json`` records it), or a format
version this synth-ops does not know is refused with one line naming the file.

Versions: 1, the first; 2, a trees column may carry a linear term (``sampler/trees.py``), whose
donors are residuals, so a reader that ignored the term would write wrong values. A sampler is
written with the lowest version that holds it, so one without a linear term stays readable by
every synth-ops that reads version 1.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from synth_ops.errors import ModelIntegrityError

FORMAT = "synth-ops-sampler"
FORMAT_VERSION = 2  # the newest this synth-ops writes
READS = (1, 2)
DOC = "sampler.json"
MANIFEST = "manifest.json"
_ARRAY_NAME = re.compile(r"^[A-Za-z0-9_-]+\.npy$")


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


class _Directory:
    """Where the files live: a store (keys under ``prefix``) or a local directory."""

    def __init__(self, target, prefix: str = ""):
        if isinstance(target, str) and (target.startswith("s3://") or target.startswith("file://")):
            from synth_ops.stores import open_store

            target = open_store(target)
        if hasattr(target, "read_bytes") and hasattr(target, "write_bytes") and hasattr(target, "uri"):
            self.store, self.prefix = target, prefix.strip("/")
        else:
            from synth_ops.stores.local import LocalStore

            self.store, self.prefix = LocalStore(str(target)), prefix.strip("/")

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def where(self, name: str) -> str:
        return f"{self.store.uri.rstrip('/')}/{self.key(name)}"

    def read(self, name: str) -> bytes:
        from synth_ops.errors import StoreError

        try:
            return self.store.read_bytes(self.key(name))
        except StoreError:
            raise ModelIntegrityError(f"{self.where(name)}: missing from the sampler; re-run `synth-ops fit`") from None

    def write(self, name: str, data: bytes) -> None:
        self.store.write_bytes(self.key(name), data)


def write_sampler(target, doc: dict[str, Any], arrays: dict[str, Any], prefix: str = "") -> str:
    """Write a sampler into ``target`` (a Store, with keys under ``prefix``, or a directory path);
    returns the sha256 of its manifest (record it to pin this exact sampler)."""
    import numpy as np

    directory = _Directory(target, prefix)
    files: dict[str, bytes] = {}
    for name, array in arrays.items():
        if not _ARRAY_NAME.match(name):
            raise ValueError(f"sampler array name {name!r}: expected letters, digits, '_' or '-' and '.npy'")
        array = np.asarray(array)
        if array.dtype == object:
            raise ValueError(f"sampler array {name}: object arrays would need pickle")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        files[name] = buffer.getvalue()
    version = needed_version(doc)
    body = {"format": FORMAT, "format_version": version, **doc}
    files[DOC] = json.dumps(body, indent=1, sort_keys=False, allow_nan=False).encode()
    for name, data in files.items():
        directory.write(name, data)
    manifest = {
        "format": FORMAT,
        "format_version": version,
        "files": {name: _sha256(data) for name, data in sorted(files.items())},
    }
    blob = json.dumps(manifest, indent=1).encode()
    directory.write(MANIFEST, blob)  # last: a sampler without its manifest is never loaded
    return _sha256(blob)


def needed_version(doc: dict[str, Any]) -> int:
    """The lowest format version that holds ``doc`` (sampler.json without its format fields)."""
    columns = (doc.get("trees") or {}).get("columns") or ()
    return 2 if any(isinstance(c, dict) and c.get("linear") is not None for c in columns) else 1


def _check_version(doc: Any, where: str) -> None:
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelIntegrityError(f"{where}: not a synth-ops sampler (format {FORMAT!r} expected)")
    version = doc.get("format_version")
    if version not in READS:
        raise ModelIntegrityError(
            f"{where}: sampler format_version {version!r} is not supported by this synth-ops "
            f"(it reads versions {', '.join(map(str, READS))}); use a matching synth-ops or refit"
        )


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise ModelIntegrityError(f"{where}: not valid JSON; the file was modified, refit") from None


def read_sampler(source, prefix: str = "", expected_sha256: str | None = None) -> tuple[dict, dict, str]:
    """(sampler.json, {array name: array}, location) after every integrity check."""
    import numpy as np

    directory = _Directory(source, prefix)
    blob = directory.read(MANIFEST)
    if expected_sha256 is not None and _sha256(blob) != expected_sha256:
        raise ModelIntegrityError(
            f"{directory.where(MANIFEST)}: sha256 does not match model.json; the file was modified, refit"
        )
    manifest = _json(blob, directory.where(MANIFEST))
    _check_version(manifest, directory.where(MANIFEST))
    listed = manifest.get("files")
    if not isinstance(listed, dict) or DOC not in listed:
        raise ModelIntegrityError(f"{directory.where(MANIFEST)}: lists no {DOC}; the file was modified, refit")
    contents = {}
    for name, digest in listed.items():
        if name != DOC and not _ARRAY_NAME.match(str(name)):
            raise ModelIntegrityError(f"{directory.where(MANIFEST)}: lists an unexpected file {name!r}")
        data = directory.read(name)
        if _sha256(data) != digest:
            raise ModelIntegrityError(
                f"{directory.where(name)}: sha256 does not match manifest.json; the file was modified, refit"
            )
        contents[name] = data
    doc = _json(contents.pop(DOC), directory.where(DOC))
    _check_version(doc, directory.where(DOC))
    arrays = {}
    for name, data in contents.items():
        try:
            arrays[name] = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError:
            raise ModelIntegrityError(f"{directory.where(name)}: not a plain numpy array") from None
    return doc, arrays, directory.where("").rstrip("/")
