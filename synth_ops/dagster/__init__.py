"""Dagster integration: synthetic tables as assets, gates as blocking asset checks.

    from synth_ops.dagster import build_definitions
    defs = build_definitions(["examples/penguins.yaml"])

Per table of a spec: ``[name, table, source]`` (observed, external), ``profile``, ``model``,
``synthetic`` (one op per shard) with one blocking check per gate, and ``published``.
Customise keys, groups and tags by subclassing :class:`SynthOpsTranslator`. In a ``dg`` project,
``type: synth_ops.dagster.SynthOpsComponent`` in a ``defs.yaml`` declares the same definitions
(:mod:`synth_ops.dagster.component`); this module is the ``dagster_dg_cli.registry_modules`` entry point.
"""

from synth_ops.dagster.component import SynthOpsComponent
from synth_ops.dagster.factory import build_definitions
from synth_ops.dagster.resource import SynthOpsResource
from synth_ops.dagster.specs import TableAssets, build_asset_specs
from synth_ops.dagster.translator import SynthOpsTranslator
from synth_ops.gates.checks import gate_names

__all__ = [
    "SynthOpsComponent",
    "SynthOpsResource",
    "SynthOpsTranslator",
    "TableAssets",
    "build_asset_specs",
    "build_definitions",
    "gate_names",
]
