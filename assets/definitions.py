"""Dagster code location: every spec in examples/, as assets with blocking gate checks.

dagster dev -f assets/definitions.py
dagster definitions validate -f assets/definitions.py
"""

from pathlib import Path

from synth_ops.dagster import SynthOpsResource, build_definitions

REPO = Path(__file__).resolve().parents[1]

defs = build_definitions(
    sorted((REPO / "examples").glob("*.yaml")),
    resource=SynthOpsResource(root=str(REPO)),  # example specs use paths relative to the repository
)
