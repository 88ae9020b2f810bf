"""pyproject.toml declares every third-party package synth_ops/ imports itself, not only those that
happen to arrive through SDV or an orchestrator: a dependency of a dependency can be dropped by it."""

import ast
import re
import sys
import tomllib
from importlib import metadata

from tests.conftest import REPO

# meta-packages: the distribution a user installs is not the one that ships the module
INSTALLED_AS = {"airflow": "apache-airflow"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> dict[str, str]:
    """Top-level module -> one file of synth_ops/ that imports it (lazy imports inside functions too)."""
    modules = {}
    for path in sorted((REPO / "synth_ops").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("synth_ops", "__future__"):
                    modules.setdefault(top, str(path.relative_to(REPO)))
    return modules


def _declared() -> set[str]:
    """The distributions of [project.dependencies] and of every extra a user may install (not dev)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = {name: reqs for name, reqs in project["optional-dependencies"].items() if name != "dev"}
    requirements = [*project["dependencies"], *(r for reqs in extras.values() for r in reqs)]
    declared = {_canonical(re.match(r"[A-Za-z0-9._-]+", r).group()) for r in requirements} - {"synth-ops"}
    # installed by `make install` without its own pins (mostlyai-engine: pyproject's [argn] says why)
    unpinned = re.findall(r"--no-deps ([A-Za-z0-9._-]+)==", (REPO / "Makefile").read_text())
    return declared | {_canonical(name) for name in unpinned}


def test_every_third_party_import_is_declared():
    providers = metadata.packages_distributions()
    declared = _declared()
    undeclared = []
    for module, where in _imported_modules().items():
        candidates = {_canonical(INSTALLED_AS.get(module, d)) for d in providers.get(module, [])}
        assert candidates, f"{module} (imported in {where}) is not installed in the test environment"
        if not candidates & declared:
            undeclared.append(f"{module} ({where}): one of {sorted(candidates)}")
    assert not undeclared, "imported but not declared in pyproject.toml: " + "; ".join(undeclared)
