"""The package's roles and their layering (.importlinter), checked by import-linter on every run:
each role imports only the roles under it, no module cycles, and only the shells import an
orchestrator."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())",
    "--no-cache",
]


def _lint(root: Path) -> subprocess.CompletedProcess:
    # PYTHONPATH first: the copy under test, not the installed package
    return subprocess.run(LINT, cwd=root, capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": ""})


def test_the_layers_hold():
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract is not vacuous: the io role importing a step is refused, and so is a shell's
    orchestrator imported by the core."""
    shutil.copytree(REPO / "synth_ops", tmp_path / "synth_ops", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    schema = tmp_path / "synth_ops" / "io" / "schema.py"
    schema.write_text(schema.read_text() + "\n\ndef _upward():\n    from synth_ops.steps import plan  # noqa\n")
    records = tmp_path / "synth_ops" / "runtime" / "records.py"
    records.write_text(records.read_text() + "\n\ndef _orchestrated():\n    import dagster  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "synth_ops.io is not allowed to import synth_ops.steps" in done.stdout
    assert "synth_ops.io.schema -> synth_ops.steps.plan" in done.stdout
    assert "synth_ops.runtime.records -> dagster" in done.stdout
