"""The core never imports an orchestrator, and importing synth_ops loads no heavy library."""
import subprocess
import sys

from tests.conftest import REPO

CORE = ["synth_ops", "synth_ops.spec", "synth_ops.errors", "synth_ops.records", "synth_ops.stores",
        "synth_ops.stores.local", "synth_ops.sources", "synth_ops.workspace", "synth_ops.releases",
        "synth_ops.steps.profile", "synth_ops.steps.fit", "synth_ops.steps.generate", "synth_ops.steps.validate",
        "synth_ops.steps.publish", "synth_ops.gates", "synth_ops.gates.expectations", "synth_ops.pipeline",
        "synth_ops.cli"]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    return {name.split(".")[0] for name in out.split()}


def test_core_modules_import_neither_airflow_nor_dagster():
    loaded = _loaded_after("\n".join(f"import {m}" for m in CORE))
    assert not loaded & {"airflow", "dagster"}


def test_core_source_has_no_orchestrator_imports():
    offenders = []
    for path in (REPO / "synth_ops").rglob("*.py"):
        if {"airflow", "dagster"} & set(path.relative_to(REPO / "synth_ops").parts):
            continue
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import airflow", "from airflow", "import dagster", "from dagster")):
                offenders.append(f"{path}: {stripped}")
    assert not offenders


def test_heavy_libraries_load_lazily():
    loaded = _loaded_after("import synth_ops, synth_ops.cli, synth_ops.pipeline")
    assert not loaded & {"sdv", "great_expectations", "torch", "boto3", "pandas", "rdt"}
