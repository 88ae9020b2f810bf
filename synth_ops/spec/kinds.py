"""The synthesizer kinds a spec may name, each with where it is implemented ("module:Class").

Plain data, so validating a spec imports no backend; ``synth_ops.synthesizers`` imports a kind's
module when the kind is used. ``register`` adds a kind (a plugin, a benchmark's stand-in).
"""

from __future__ import annotations

REGISTRY: dict[str, str] = {
    "gaussian_copula": "synth_ops.synthesizers.sdv.single:SDVGaussianCopula",
    "ctgan": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "tvae": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "copulagan": "synth_ops.synthesizers.sdv.single:SDVSingleTable",
    "copula": "synth_ops.synthesizers.copula.backend:CopulaSynthesizer",
    "hma": "synth_ops.synthesizers.sdv.hma:SDVHMA",
    "dp_mst": "synth_ops.synthesizers.dp.backend:DPSynthesizer",
    "dp_aim": "synth_ops.synthesizers.dp.backend:DPSynthesizer",
    "trees": "synth_ops.synthesizers.trees.backend:TreesSynthesizer",
    "tabular_argn": "synth_ops.synthesizers.argn.backend:TabularARGNSynthesizer",  # the [argn] extra
    "auto": "synth_ops.synthesizers.auto:AutoSynthesizer",
}


def register(kind: str, target: str) -> None:
    """Make ``synthesizer.kind: <kind>`` use the class ``target`` ("package.module:Class")."""
    if ":" not in target:
        raise ValueError(f"expected 'module:Class', got {target!r}")
    REGISTRY[kind] = target


def kinds() -> tuple[str, ...]:
    return tuple(REGISTRY)
