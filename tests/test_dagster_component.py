"""The Dagster Component: a dg project's defs.yaml declares what build_definitions builds."""

import json
import os
import subprocess
import textwrap

import dagster as dg
import pytest
import yaml

from synth_ops.dagster import SynthOpsResource, build_definitions
from tests.conftest import REPO, penguins_doc, venv_script, write_spec

EXAMPLE_PROJECT = REPO / "assets" / "synth_ops_project"
COMPONENT = "synth_ops.dagster.SynthOpsComponent"


def _shape(defs: dg.Definitions) -> dict:
    """What a user sees of a code location: asset keys, check keys, jobs, schedules, sensors."""
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    return {
        "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
        "checks": sorted(key.to_user_string() for key in graph.asset_check_keys),
        "jobs": sorted(name for name in repo.job_names if not name.startswith("__")),
        "schedules": sorted(s.name for s in repo.schedule_defs),
        "sensors": sorted(s.name for s in repo.sensor_defs),
    }


@pytest.fixture
def importable(monkeypatch):
    """Puts a project folder on sys.path, as dg does with its working directory (projects are not installed)."""
    import sys

    def add(directory, module):
        monkeypatch.syspath_prepend(str(directory))
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            monkeypatch.delitem(sys.modules, name)
        return directory

    return add


def _project(directory, module: str, components: dict[str, dict]):
    """A dg project (flat layout, as assets/synth_ops_project) with one defs.yaml per component."""
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text(
        textwrap.dedent(f"""
        [project]
        name = "{module}"
        version = "0.1.0"

        [tool.dg]
        directory_type = "project"

        [tool.dg.project]
        root_module = "{module}"
    """)
    )
    package = directory / module
    for name, attributes in components.items():
        (package / "defs" / name).mkdir(parents=True)
        (package / "defs" / name / "defs.yaml").write_text(
            yaml.safe_dump({"type": COMPONENT, "attributes": attributes})
        )
    (package / "__init__.py").write_text("")
    return directory


def test_example_project_yields_the_same_definitions_as_build_definitions(importable):
    # the example's defs.yaml points at examples/penguins.yaml, with the repository as root
    project = importable(EXAMPLE_PROJECT, "synth_ops_project")
    from_component = dg.load_from_defs_folder(path_within_project=project)
    direct = build_definitions([REPO / "examples" / "penguins.yaml"], resource=SynthOpsResource(root=str(REPO)))
    shape = _shape(from_component)
    assert shape == _shape(direct)
    assert "penguins/penguins/published" in shape["assets"] and "penguins/penguins/source" in shape["assets"]
    assert "penguins/penguins/synthetic:quality" in shape["checks"]
    assert shape["jobs"] == ["penguins_synthesize"] and shape["sensors"] == ["penguins_source_changed"]


def test_component_paths_resolve_against_the_defs_folder_and_components_compose(tmp_path, penguins_frame, importable):
    specs = tmp_path / "specs"
    specs.mkdir()
    penguins_frame.head(200).to_csv(specs / "penguins.csv", index=False)
    # relative source, publish and artifacts paths: resolved against `root`
    write_spec(
        specs,
        penguins_doc(
            source="penguins.csv",
            name="birds",
            schedule="0 4 * * *",
            publish={"uri": "warehouse"},
            artifacts={"uri": "artifacts"},
        ),
        filename="birds.yaml",
    )
    write_spec(
        specs,
        penguins_doc(source="penguins.csv", publish={"uri": "warehouse"}, artifacts={"uri": "artifacts"}),
        filename="penguins.yaml",
    )
    project = _project(
        tmp_path / "project",
        "composed_project",
        {
            # paths relative to the folder of its defs.yaml: project/composed_project/defs/<name>/
            "birds": {"specs": ["../../../../specs/birds.yaml"], "root": "../../../../specs"},
            # another root under its own resource key: both merge into one code location
            "penguins": {
                "specs": [str(specs / "penguins.yaml")],
                "root": str(specs),
                "publish_uri": str(tmp_path / "elsewhere"),
                "resource_key": "synth_ops_penguins",
            },
        },
    )
    defs = dg.load_from_defs_folder(path_within_project=importable(project, "composed_project"))
    resource = SynthOpsResource(root=str(specs))
    expected = dg.Definitions.merge(
        build_definitions([specs / "birds.yaml"], resource=resource),
        build_definitions([specs / "penguins.yaml"], resource=resource, resource_key="synth_ops_penguins"),
    )
    assert _shape(defs) == _shape(expected)
    assert _shape(defs)["schedules"] == ["birds_schedule"]
    resources = defs.resources
    assert resources["synth_ops"].root == str(specs)
    assert resources["synth_ops_penguins"].publish_uri == str(tmp_path / "elsewhere")

    # the component's resource runs the steps: profile the source it resolved
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        profile = dg.AssetKey(["birds", "penguins", "profile"])
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[profile]
        )
        assert result.success
        metadata = instance.fetch_materializations(profile, limit=1).records[0].asset_materialization.metadata
        assert metadata["rows"].value == 200
    assert list((specs / "artifacts" / "birds").rglob("profile.json"))


def test_components_with_different_settings_under_one_key_are_refused(tmp_path, importable):
    spec = write_spec(tmp_path, penguins_doc())
    project = _project(
        tmp_path / "project",
        "clashing_project",
        {
            "a": {"specs": [str(spec)], "root": str(tmp_path)},
            "b": {
                "specs": [str(write_spec(tmp_path, penguins_doc(name="other"), "other.yaml"))],
                "root": str(tmp_path / "project"),
            },
        },
    )
    with pytest.raises(Exception) as raised:
        dg.load_from_defs_folder(path_within_project=importable(project, "clashing_project"))
    causes, error = [], raised.value
    while error is not None:
        causes.append(str(error))
        error = error.__cause__
    assert any("different resources with same key 'synth_ops'" in cause for cause in causes), causes


def _dg(*args: str, cwd=EXAMPLE_PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [venv_script("dg"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DAGSTER_HOME": "", "NO_COLOR": "1"},
    )


def test_dg_lists_the_component_from_the_entry_point():
    listed = _dg("list", "components", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    items = {item["key"]: item["summary"] for item in json.loads(listed.stdout)["items"]}
    assert COMPONENT in items and "synthetic" in items[COMPONENT]


def test_dg_check_defs_passes_on_the_example_project():
    checked = _dg("check", "defs")
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
