"""OpenLineage events and the report link, from a real dag.test() run of the penguins task group.

The OpenLineage provider writes events with its file transport into the test's directory; the
metadata DB is SQLite in a temporary AIRFLOW_HOME. Airflow reads its configuration at import, so
the DAG runs in a subprocess whose environment carries it. Task events are written before the task
process moves on: the listener forks per event and waits for the child (up to execution_timeout).
"""

import csv
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest
import yaml

from tests.conftest import PENGUINS_CSV, REPO, copy_repo_layout, migrate_airflow, venv_script

GROUP = "synth_lineage"
LINK = "synth-ops report"

# Runs the DAG, then reads back what the UI would show: each task's extra links resolved through the
# serialized DAG (Airflow 3's API server path), plus task states.
RUN = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.models import TaskInstance
from airflow.models.serialized_dag import SerializedDagModel
from airflow.utils.session import create_session
from sqlalchemy import select

dag = DagBag().get_dag(sys.argv[1])
run = dag.test()
out = {"run_state": str(run.state), "states": {}, "links": {}}
with create_session() as session:
    served = SerializedDagModel.get_dag(dag.dag_id, session=session)
    for ti in session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id,
                                                         TaskInstance.run_id == run.run_id)):
        out["states"][f"{ti.task_id}[{ti.map_index}]"] = str(ti.state)
        task = served.get_task(ti.task_id)
        for name in task.extra_links:
            out["links"][f"{ti.task_id}.{name}"] = task.get_extra_links(ti, name)
with open(sys.argv[2], "w") as handle:  # a file: the emitter's processes log to the same stdout
    json.dump(out, handle)
"""


def _dag(dags: Path, dag_id: str, spec: Path, root: Path) -> None:
    dags.mkdir(exist_ok=True)
    (dags / f"{dag_id}.py").write_text(
        textwrap.dedent(f"""
        import pendulum
        from airflow.sdk import DAG
        from synth_ops.airflow import synth_task_group
        with DAG({dag_id!r}, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
            synth_task_group({str(spec)!r}, group_id={GROUP!r}, root={str(root)!r})
    """)
    )


def _spec(base: Path, root: Path, name: str, **gates) -> Path:
    doc = yaml.safe_load((root / "examples" / "penguins.yaml").read_text())
    doc["generate"] = {"rows": 600, "shards": 2}  # small: the facets, not the model, are under test
    doc["gates"].update(gates)
    doc["publish"] = {"uri": str(base / f"{name}_warehouse")}
    doc["artifacts"] = {"uri": str(base / f"{name}_artifacts")}
    spec = base / f"{name}.yaml"
    spec.write_text(yaml.safe_dump(doc))
    return spec


@pytest.fixture(scope="module")
def lineage_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("openlineage")
    root = base / "root"
    root.mkdir()
    copy_repo_layout(root)
    events = base / "events.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(base / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(base / "dags"),
        "AIRFLOW__OPENLINEAGE__DISABLED": "false",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "synth-ops-test",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        # the forked emitter opens the workspace (hashes the source): give it room on a busy CI core
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "60",
    }
    migrate_airflow(env, tmp_path_factory)
    spec = _spec(base, root, "penguins")
    _dag(base / "dags", "synth_lineage", spec, root)
    out = _run(env, "synth_lineage")
    return {"base": base, "root": root, "env": env, "events": events, "out": out}


def _run(env: dict, dag_id: str) -> dict:
    report = Path(env["AIRFLOW_HOME"]).parent / f"{dag_id}.json"
    result = subprocess.run(
        [sys.executable, "-c", RUN, dag_id, str(report)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 and report.exists(), (result.stdout[-3000:], result.stderr[-3000:])
    out = json.loads(report.read_text())
    out["log"] = result.stdout + result.stderr
    return out


def _events(path: Path, task: str, event_type: str) -> list[dict]:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in events if e["job"]["name"].endswith(f"{GROUP}.{task}") and e["eventType"] == event_type]


def test_publish_complete_event_carries_schema_counts_gates_and_release(lineage_run):
    out, base, root = lineage_run["out"], lineage_run["base"], lineage_run["root"]
    assert out["run_state"] == "success", out["log"][-3000:]
    (complete,) = _events(lineage_run["events"], "publish", "COMPLETE")
    latest = json.loads((base / "penguins_warehouse" / "penguins" / "_latest.json").read_text())

    (source,) = complete["inputs"]
    assert source["namespace"].startswith("file://")
    assert source["name"] == str(root / "examples" / "data" / "penguins.csv")
    columns = {f["name"]: f["type"] for f in source["facets"]["schema"]["fields"]}
    assert columns == {
        "species": "string",
        "island": "string",
        "bill_length_mm": "double",
        "bill_depth_mm": "double",
        "flipper_length_mm": "int64",
        "body_mass_g": "int64",
        "sex": "string",
        "year": "int64",
    }

    (published,) = complete["outputs"]
    assert published["namespace"] == source["namespace"]
    assert published["name"] == str(base / "penguins_warehouse" / "penguins" / "penguins")
    assert [f["name"] for f in published["facets"]["schema"]["fields"]] == list(columns)
    assert published["facets"]["version"]["datasetVersion"] == latest["version"]
    stats = published["outputFacets"]["outputStatistics"]
    manifest = json.loads(
        (base / "penguins_warehouse" / "penguins" / "penguins" / latest["version"] / "_manifest.json").read_text()
    )
    assert stats["rowCount"] == 600 and stats["size"] == manifest["bytes"] and stats["fileCount"] == 2

    assertions = {a["name"]: a for a in published["facets"]["dataQualityAssertions"]["assertions"]}
    quality = assertions["quality/quality_score"]
    assert re.fullmatch(r"quality_score >= 0\.\d+", quality["assertion"]) and quality["success"] is True
    assert float(quality["actual"]) >= float(quality["expected"].removeprefix(">= "))
    assert assertions["privacy/dcr_share"]["assertion"] == "dcr_share <= 0.6"
    assert {"privacy/exact_match", "privacy/pii_leak"} <= set(assertions)
    assert quality["description"].startswith("baseline 0.")  # what the holdout scores on the same measure
    discriminator = assertions["discriminator/discriminator_auc"]
    assert discriminator["assertion"] == "discriminator_auc - baseline <= 0.2"  # the default for a table alone
    assert 0 <= float(discriminator["actual"]) <= 1 and "baseline" in discriminator["description"]
    # the membership attacks: ceilings on each AUC's lower bound; the empirical epsilon, reported (not a DP fit)
    for attack in ("distance", "density"):
        membership = assertions[f"membership/membership[{attack}]"]
        assert membership["assertion"] == f"membership[{attack}] <= 0.65" and membership.get("column") is None
        assert membership["description"].startswith("baseline 0.5; bound 0.") and 0 <= float(membership["actual"]) <= 1
    assert assertions["membership/empirical_epsilon"]["assertion"] == "empirical_epsilon reported"
    in_set = assertions["expectations/penguins_domain/expect_column_values_to_be_in_set[species]"]
    assert in_set["column"] == "species" and in_set["success"] is True
    assert all(a["success"] for a in assertions.values()) and len(assertions) > 20

    release = complete["run"]["facets"]["synthOpsRelease"]
    assert release["version"] == latest["version"] and release["status"] == "published"
    assert release["pipeline"] == "penguins" and release["tables"] == ["penguins"]
    assert release["synthesizers"] == {"penguins": "gaussian_copula"}  # the kind whose model made the rows
    assert release["_schemaURL"].endswith("SynthOpsReleaseRunFacet.json#/$defs/SynthOpsReleaseRunFacet")
    assert release["_producer"]


def test_start_events_name_sources_and_planned_outputs_without_measurements(lineage_run):
    (start,) = _events(lineage_run["events"], "publish", "START")
    assert [d["name"] for d in start["inputs"]] == [str(lineage_run["root"] / "examples" / "data" / "penguins.csv")]
    (planned,) = start["outputs"]
    assert planned["name"].endswith("penguins_warehouse/penguins/penguins")
    assert not planned.get("outputFacets") and "dataQualityAssertions" not in planned.get("facets", {})
    # profile reads the source: its COMPLETE event has the source's schema; validate judged the staged shards
    (profiled,) = _events(lineage_run["events"], "profile", "COMPLETE")
    assert profiled["inputs"][0]["facets"]["schema"]["fields"]
    (validated,) = _events(lineage_run["events"], "validate", "COMPLETE")
    staged = [d for d in validated["inputs"] if d["name"].endswith("/penguins/shards")]
    assert staged and staged[0]["inputFacets"]["dataQualityAssertions"]["assertions"]
    assert validated["run"]["facets"]["synthOpsRelease"]["status"] == "validated"


def _source_values() -> tuple[set[str], set[str]]:
    """The penguins CSV's distinct text values, and its decimal numbers exactly as the file writes them."""
    with open(PENGUINS_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = {row[c] for row in rows for c in ("species", "island", "sex")} - {"NA", ""}
    decimals = {row[c] for row in rows for c in ("bill_length_mm", "bill_depth_mm") if "." in row[c]}
    return texts, decimals


def test_no_source_value_appears_in_any_event(lineage_run):
    text = lineage_run["events"].read_text()
    assert text.count('"eventType"') >= 8  # every step's START and COMPLETE at least
    texts, decimals = _source_values()
    assert {"Adelie", "Torgersen", "Biscoe", "female"} <= texts and "39.1" in decimals
    leaked = [v for v in texts if re.search(rf"\b{re.escape(v)}\b", text)]
    # a decimal counts as leaked when it stands alone, not as a piece of a longer number or version
    leaked += [v for v in decimals if re.search(rf"(?<![\d.]){re.escape(v)}(?![\d.])", text)]
    assert leaked == []


def test_report_link_resolves_to_the_report(lineage_run):
    out, base = lineage_run["out"], lineage_run["base"]
    links = {k: v for k, v in out["links"].items() if k.endswith(LINK)}
    assert set(links) == {f"{GROUP}.validate.{LINK}", f"{GROUP}.publish.{LINK}"}
    url = links[f"{GROUP}.publish.{LINK}"]
    assert url == links[f"{GROUP}.validate.{LINK}"] and url.startswith("file:///")
    report = Path(url.removeprefix("file://"))
    assert report.is_file() and report.name == "report.html"
    assert report.is_relative_to(base / "penguins_artifacts" / "penguins")
    assert "<html" in report.read_text()[:500].lower()


def test_report_link_is_registered_with_the_provider(lineage_run):
    listed = subprocess.run(
        [venv_script("airflow"), "providers", "links"],
        env=lineage_run["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0 and "synth_ops.airflow.links.SynthOpsReportLink" in listed.stdout


def test_failed_gate_still_links_its_report_and_reports_the_failure(lineage_run, tmp_path):
    root, env = lineage_run["root"], lineage_run["env"]
    spec = _spec(tmp_path, root, "strict", quality_min=0.99)
    _dag(tmp_path / "dags", "synth_lineage_strict", spec, root)
    events = tmp_path / "events.jsonl"
    env = {
        **env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
    }
    out = _run(env, "synth_lineage_strict")
    assert out["run_state"] == "failed"
    url = out["links"][f"{GROUP}.validate.{LINK}"]
    assert url.startswith("file:///") and Path(url.removeprefix("file://")).is_file()
    (failed,) = _events(events, "validate", "FAIL")
    staged = [d for d in failed["inputs"] if d["name"].endswith("/penguins/shards")]
    assertions = {a["name"]: a for a in staged[0]["inputFacets"]["dataQualityAssertions"]["assertions"]}
    assert assertions["quality/quality_score"]["success"] is False
    assert assertions["quality/quality_score"]["assertion"] == "quality_score >= 0.99"
    assert failed["run"]["facets"]["synthOpsRelease"]["status"] == "gates_failed"
    assert not (tmp_path / "strict_warehouse").exists()


BLOCKED = """
import sys, pendulum

# Airflow's provider discovery still finds the installed provider's info module; everything the
# [openlineage] extra brings beyond that (the client, extractors, listener) is made unimportable.
DISCOVERY = {"airflow.providers.openlineage", "airflow.providers.openlineage.get_provider_info"}

class NoOpenLineage:
    def find_spec(self, name, path=None, target=None):
        if name not in DISCOVERY and (name == "openlineage" or name.startswith(("openlineage.",
                                                                                 "airflow.providers.openlineage"))):
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NoOpenLineage())
from airflow.sdk import DAG
from synth_ops.airflow import synth_task_group
from synth_ops.airflow.operators import SynthProfileOperator
with DAG("no_lineage", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    synth_task_group(sys.argv[1], root=sys.argv[2])
records = SynthProfileOperator(task_id="profile", spec_path=sys.argv[1], root=sys.argv[2]).execute({})
print("profiled", records[0]["rows"], sorted(m for m in sys.modules if "openlineage" in m and m not in DISCOVERY))
"""


def test_operators_import_and_run_without_the_openlineage_extra(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    copy_repo_layout(root)
    spec = _spec(tmp_path, root, "plain")
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED, str(spec), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "profiled 344 []"


def test_dataset_names_follow_the_openlineage_conventions(tmp_path):
    import socket

    from synth_ops.airflow.lineage import dataset_id, join

    assert dataset_id("s3://synthetic/prod/penguins/penguins") == ("s3://synthetic", "prod/penguins/penguins")
    joined = join("s3://synthetic/prod/", "penguins", "penguins")
    assert dataset_id(joined) == ("s3://synthetic", "prod/penguins/penguins")
    host = f"file://{socket.gethostname()}"
    assert dataset_id(str(tmp_path / "warehouse")) == (host, str(tmp_path / "warehouse"))
    assert dataset_id((tmp_path / "a.csv").as_uri()) == (host, str(tmp_path / "a.csv"))
    assert dataset_id("file://other-host/data/a.csv") == ("file://other-host", "/data/a.csv")


def test_attack_assertions_are_ceilings_on_their_bounds():
    """Attribute inference: a ceiling on the risk's lower bound, tied to its column; the empirical
    epsilon of a differentially private fit: a ceiling at the charged epsilon."""
    from synth_ops.airflow.lineage import assertions_facet

    results = [
        {
            "gate": "attribute_inference",
            "name": "attribute_inference[sex]",
            "value": 0.02,
            "threshold": 0.1,
            "passed": True,
            "baseline": 0.0,
            "bound": -0.05,
            "detail": "not emitted",
        },
        {
            "gate": "membership",
            "name": "empirical_epsilon",
            "value": 0.3,
            "threshold": 1.0,
            "passed": True,
            "baseline": 0.0,
            "detail": "not emitted",
        },
        {
            "gate": "membership",
            "name": "membership[distance]",
            "value": 0.97,
            "threshold": 0.65,
            "passed": False,
            "baseline": 0.5,
            "bound": 0.95,
            "detail": "not emitted",
        },
    ]
    facet = assertions_facet(results, {"sex", "distance"})["dataQualityAssertions"]
    inference, epsilon, membership = facet.assertions
    assert inference.assertion == "attribute_inference[sex] <= 0.1" and inference.column == "sex"
    assert inference.actual == "0.02"
    assert inference.description == "baseline 0; bound -0.05"
    assert epsilon.assertion == "empirical_epsilon <= 1" and epsilon.success
    # an attack's name, not the table's column of the same name
    assert membership.assertion == "membership[distance] <= 0.65" and membership.column is None
    assert not membership.success and all(a.description and "emitted" not in a.description for a in facet.assertions)


RAW = "https://raw.githubusercontent.com/synth-ops/synth-ops/main/"


def _facet_schema() -> dict:
    """The schema as the installed package ships it (package data), not as the repository holds it."""
    from importlib.resources import files

    return json.loads(files("synth_ops.airflow").joinpath("facets", "SynthOpsReleaseRunFacet.json").read_text())


def test_release_facets_validate_against_the_shipped_schema(lineage_run):
    from jsonschema import Draft202012Validator, ValidationError

    from synth_ops.airflow.lineage import SCHEMA_URL, SynthOpsReleaseRunFacet

    schema = _facet_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    facets = [
        event["run"]["facets"]["synthOpsRelease"]
        for task in ("validate", "publish")
        for event in _events(lineage_run["events"], task, "COMPLETE")
    ]
    assert [f["status"] for f in facets] == ["validated", "published"]
    for facet in facets:
        validator.validate({"synthOpsRelease": facet})
        assert facet["_schemaURL"] == SCHEMA_URL
    # the URL names the schema's own $id and, by its fragment, the facet's definition in it
    document, _, pointer = SCHEMA_URL.partition("#")
    assert document == schema["$id"] and pointer == "/$defs/SynthOpsReleaseRunFacet"
    definition = schema["$defs"]["SynthOpsReleaseRunFacet"]
    # every field the facet class emits is described, and nothing else: the two cannot drift apart
    assert set(definition["properties"]) == {a.name for a in attrs.fields(SynthOpsReleaseRunFacet)}
    with pytest.raises(ValidationError):  # the schema constrains: an unknown status does not pass
        validator.validate({"synthOpsRelease": {**facets[-1], "status": "shipped"}})


def test_no_placeholder_urls_and_each_points_into_the_repository():
    import tomllib

    placeholders = [
        str(p.relative_to(REPO))
        for p in (REPO / "synth_ops").rglob("*")
        if p.is_file()
        and p.suffix in (".py", ".json", ".md", ".txt", ".yaml", ".html")
        and "example.invalid" in p.read_text(errors="replace")
    ]
    assert placeholders == []

    from synth_ops.airflow import DOCS_URL, get_provider_info
    from synth_ops.airflow.lineage import SCHEMA_URL

    urls = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]
    repository = urls["Repository"]
    assert repository == "https://github.com/synth-ops/synth-ops" and urls["Homepage"] == repository
    assert urls["Documentation"] == f"{repository}/tree/main/docs" and (REPO / "docs").is_dir()
    (integration,) = get_provider_info()["integrations"]
    assert integration["external-doc-url"] == DOCS_URL and DOCS_URL.startswith(f"{repository}/blob/main/")
    assert (REPO / DOCS_URL.removeprefix(f"{repository}/blob/main/")).is_file()
    shipped = REPO / SCHEMA_URL.partition("#")[0].removeprefix(RAW)
    assert SCHEMA_URL.startswith(RAW) and shipped.is_file()
    assert json.loads(shipped.read_text()) == _facet_schema()
