"""Content hashes and library versions: what makes a run, a model or a release identifiable."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

# Libraries whose version changes the fitted model or the sampled rows. A model pickled under
# one set is refused under another, and the release version id changes with any of them.
MODEL_LIBRARIES = (
    "synth-ops",
    "sdv",
    "rdt",
    "copulas",
    "ctgan",
    "pandas",
    "numpy",
    "scipy",
    "torch",
    "mostlyai-engine",
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """The file's sha256, streamed (a source or a shard may not fit in memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_json(doc: object) -> str:
    return sha256_bytes(json.dumps(doc, sort_keys=True, default=str).encode())


def library_versions() -> dict[str, str]:
    # imported here: a process that only samples through synth_ops.Sampler (a training job, the
    # bench's sampler) skips its ~30 ms import; a workspace loads it anyway, through pydantic
    from importlib import metadata

    versions = {}
    for name in MODEL_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def run_id(spec_hash: str, source_fingerprints: dict[str, str], versions: dict[str, str]) -> str:
    """Content address of one run: same spec content, source bytes and libraries, same id."""
    doc = {"spec": spec_hash, "sources": source_fingerprints, "libraries": versions}
    return sha256_json(doc)[:16]
