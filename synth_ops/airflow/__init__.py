"""Airflow provider for synth-ops: a hook, one operator per step, and a task-group builder.

Exposed to Airflow through the ``apache_airflow_provider`` entry point (``get_provider_info``),
so ``airflow providers list`` shows it. Importing this package imports no heavy library.
"""

from __future__ import annotations

__all__ = ["get_provider_info", "synth_task_group", "published_asset", "SynthOpsHook"]

# The Airflow how-to in the repository's docs (pyproject.toml [project.urls] names the repository).
DOCS_URL = "https://github.com/synth-ops/synth-ops/blob/main/docs/how-to/airflow.md"


def __getattr__(name: str):
    # Lazy: `import synth_ops.airflow` (provider discovery) must not import Airflow's SDK eagerly.
    if name in ("synth_task_group", "published_asset"):
        from synth_ops.airflow import operators

        return getattr(operators, name)
    if name == "SynthOpsHook":
        from synth_ops.airflow.hooks import SynthOpsHook

        return SynthOpsHook
    raise AttributeError(name)


def get_provider_info() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    try:
        current = version("synth-ops")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        current = "0.0.0"
    return {
        "package-name": "synth-ops",
        "name": "synth-ops",
        "description": "Privacy-safe synthetic copies of tables: profile, fit, generate, gate and publish.",
        "versions": [current],
        "integrations": [{"integration-name": "synth-ops", "external-doc-url": DOCS_URL, "tags": ["software"]}],
        "operators": [{"integration-name": "synth-ops", "python-modules": ["synth_ops.airflow.operators"]}],
        "hooks": [{"integration-name": "synth-ops", "python-modules": ["synth_ops.airflow.hooks"]}],
        "connection-types": [
            {"hook-class-name": "synth_ops.airflow.hooks.SynthOpsHook", "connection-type": "synth_ops"}
        ],
        # Listed for `airflow providers links`; Airflow 3 resolves the URL on the worker into XCom.
        "extra-links": ["synth_ops.airflow.links.SynthOpsReportLink"],
    }
