"""A fitted model's artifacts: ``model-<sha256 prefix>.pkl`` (the backend object, pickled) and
``model.json`` (its sha256, the library versions it was pickled under, how it was fitted).

Named by content, so two runs of one spec fitting at once each write a complete pair and a reader
never pairs one run's model.json with the other's pickle. A pickle is loaded only after its
sha256 and the library versions match model.json: a tampered file or an upgrade is refused with a
clear error instead of failing somewhere inside a backend.
"""

from __future__ import annotations

from typing import Any

from synth_ops.errors import ModelIntegrityError
from synth_ops.io.fingerprints import sha256_bytes
from synth_ops.runtime.workspace import Workspace

MODEL_JSON = "model.json"


def dumps(model: Any) -> bytes:
    """The fitted backend as the bytes ``write`` stores (cloudpickle: backends hold library objects)."""
    import cloudpickle

    return cloudpickle.dumps(model)


def write(ws: Workspace, unit: str, blob: bytes) -> tuple[str, str]:
    """Store a pickled model of ``unit``; (its key, its sha256)."""
    digest = sha256_bytes(blob)
    key = ws.key(unit, f"model-{digest[:16]}.pkl")
    ws.artifacts.write_bytes(key, blob)
    return key, digest


def fitted(ws: Workspace, unit: str) -> bool:
    """A model of this run whose pickle still matches its record."""
    if not ws.has(unit, MODEL_JSON):
        return False
    info = ws.read(unit, MODEL_JSON)
    if not ws.artifacts.exists(info["model_key"]):
        return False
    return sha256_bytes(ws.artifacts.read_bytes(info["model_key"])) == info["model_sha256"]


def load(ws: Workspace, unit: str) -> Any:
    """The fitted backend (None for a table with nothing learned), after every integrity check."""
    ws.require(unit, MODEL_JSON, "fit")
    info = ws.read(unit, MODEL_JSON)
    where = ws.location(info["model_key"])
    mismatched = {
        name: (info["libraries"].get(name), version)
        for name, version in ws.versions.items()
        if info["libraries"].get(name) != version
    }
    if mismatched:
        listed = ", ".join(f"{n} {old} (installed {new})" for n, (old, new) in sorted(mismatched.items()))
        raise ModelIntegrityError(f"{where}: pickled under other library versions: {listed}; refit the model")
    blob = ws.artifacts.read_bytes(info["model_key"])
    if sha256_bytes(blob) != info["model_sha256"]:
        raise ModelIntegrityError(f"{where}: sha256 does not match model.json; the file was modified, refit")
    import cloudpickle

    return cloudpickle.loads(blob)
