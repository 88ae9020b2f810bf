"""The core never loads an orchestrator, and importing synth_ops loads no heavy library (what the
code says it imports is import-linter's: tests/test_layers.py)."""

import subprocess
import sys

from tests.conftest import REPO

CORE = [
    "synth_ops",
    "synth_ops.spec",
    "synth_ops.errors",
    "synth_ops.runtime.records",
    "synth_ops.stores",
    "synth_ops.stores.local",
    "synth_ops.stores.sources",
    "synth_ops.runtime.workspace",
    "synth_ops.runtime.releases",
    "synth_ops.steps.profile",
    "synth_ops.steps.fit",
    "synth_ops.steps.generate",
    "synth_ops.steps.validate",
    "synth_ops.steps.publish",
    "synth_ops.gates",
    "synth_ops.gates.expectations",
    "synth_ops.steps.pipeline",
    "synth_ops.cli",
]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_core_modules_import_neither_airflow_nor_dagster():
    loaded = _loaded_after("\n".join(f"import {m}" for m in CORE))
    assert not loaded & {"airflow", "dagster"}


def test_heavy_libraries_load_lazily():
    loaded = _loaded_after("import synth_ops, synth_ops.cli, synth_ops.steps.pipeline")
    assert not loaded & {"sdv", "great_expectations", "torch", "boto3", "pandas", "rdt"}
