"""Synthesizer backends behind one contract (``base.Synthesizer``), looked up by ``synthesizer.kind``.

The registry maps each kind to ``"module:Class"`` and imports the module only when the kind is
used, so validating a spec, parsing a DAG or loading a Dagster code location imports no backend
(SDV, torch). Adding a backend is one module and one ``register`` call (or one line in the registry,
``synth_ops/spec/kinds.py``: which kinds a spec may name is the spec's vocabulary).
"""

from __future__ import annotations

import importlib

from synth_ops.spec.kinds import REGISTRY, kinds, register

__all__ = ["REGISTRY", "backend", "capabilities", "create", "kinds", "library", "register"]


def backend(kind: str):
    """The Synthesizer subclass that implements ``kind`` (imported on first use)."""
    module, _, name = REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def capabilities(kind: str):
    """What ``kind``'s backend can do (``base.Capabilities``): the plan and the ledger read it."""
    return backend(kind).capabilities


def library(kind: str) -> str:
    """The library ``kind``'s models are made with (its backend's ``library``), as catalogs show it."""
    return backend(kind).library


def create(settings, privacy=None):
    """An unfitted backend for a spec's ``synthesizer`` section (and its ``privacy`` section, which
    only differentially private backends read)."""
    options = settings.model_dump(exclude={"kind", "params", "seed"})
    options["privacy"] = privacy.model_dump() if privacy is not None else None
    return backend(settings.kind)(settings.kind, settings.params, settings.seed, options)
