"""Synthesizer backends behind one contract (``base.Synthesizer``), looked up by ``synthesizer.kind``.

The registry maps each kind to ``"module:Class"`` and imports the module only when the kind is
used, so validating a spec, parsing a DAG or loading a Dagster code location imports no backend
(SDV, torch). Adding a backend is one module and one ``register`` call (or one line below).
"""
from __future__ import annotations

import importlib

_REGISTRY: dict[str, str] = {
    "gaussian_copula": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "ctgan": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "tvae": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "copulagan": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "copula": "synth_ops.synthesizers.copula.backend:CopulaSynthesizer",
    "hma": "synth_ops.synthesizers.sdv.hma:SDVHMA",
    "dp_mst": "synth_ops.synthesizers.dp.backend:DPSynthesizer",
    "dp_aim": "synth_ops.synthesizers.dp.backend:DPSynthesizer",
    "trees": "synth_ops.synthesizers.trees.backend:TreesSynthesizer",
}


def register(kind: str, target: str) -> None:
    """Make ``synthesizer.kind: <kind>`` use the class ``target`` ("package.module:Class")."""
    if ":" not in target:
        raise ValueError(f"expected 'module:Class', got {target!r}")
    _REGISTRY[kind] = target


def kinds() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def backend(kind: str):
    """The Synthesizer subclass that implements ``kind`` (imported on first use)."""
    module, _, name = _REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def library(kind: str) -> str:
    """The library ``kind``'s models are made with (its backend's ``library``), as catalogs show it."""
    return backend(kind).library


def create(settings, privacy=None):
    """An unfitted backend for a spec's ``synthesizer`` section (and its ``privacy`` section, which
    only differentially private backends read)."""
    options = settings.model_dump(exclude={"kind", "params", "seed"})
    options["privacy"] = privacy.model_dump() if privacy is not None else None
    return backend(settings.kind)(settings.kind, settings.params, settings.seed, options)
