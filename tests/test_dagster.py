"""Dagster: assets materialize against a real DagsterInstance in a temp DAGSTER_HOME."""

import os
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest

from synth_ops.dagster import SynthOpsResource, SynthOpsTranslator, build_asset_specs, build_definitions
from synth_ops.spec import load_spec
from tests.conftest import REPO, penguins_doc, venv_script, write_spec

STAGES = ("profile", "model", "synthetic", "published")


def test_asset_specs_are_built_by_a_pure_function(penguins_spec):
    spec = load_spec(penguins_spec)
    (table,) = build_asset_specs(spec)
    assert table.synthetic.key == dg.AssetKey(["penguins", "penguins", "synthetic"])
    assert {s.group_name for s in (table.profile, table.model, table.synthetic, table.published)} == {"penguins"}
    assert [d.asset_key for d in table.model.deps] == [table.profile.key]
    assert [d.asset_key for d in table.profile.deps] == [table.source.key]
    assert table.published.tags["synth-ops/synthetic"] == "true"
    assert table.model.code_version == spec.content_hash()[:16]
    assert [c.name for c in table.checks] == [
        "expectations",
        "quality",
        "discriminator",
        "exact_match",
        "dcr_share",
        "pii_leak",
        "membership_inference",
    ]
    assert all(c.blocking and c.asset_key == table.synthetic.key for c in table.checks)


def test_attack_checks_follow_the_spec_per_table(tmp_path):
    doc = penguins_doc()
    doc["tables"]["penguins"].update(quasi_identifiers=["bill_length_mm", "flipper_length_mm"], sensitive=["sex"])
    (table,) = build_asset_specs(load_spec(write_spec(tmp_path, doc), check_files=False))
    checks = {c.name: c for c in table.checks}
    assert list(checks)[-2:] == ["membership_inference", "attribute_inference"]
    assert "<= 0.65" in checks["membership_inference"].description
    inference = checks["attribute_inference"].description
    assert "(sex)" in inference and "(bill_length_mm, flipper_length_mm)" in inference and "<= 0.1" in inference
    doc["gates"] = {"membership_inference": None, "attribute_inference": None}
    (table,) = build_asset_specs(load_spec(write_spec(tmp_path, doc), check_files=False))
    assert not {"membership_inference", "attribute_inference"} & {c.name for c in table.checks}


def test_translator_is_the_customisation_point(penguins_spec):
    class Team(SynthOpsTranslator):
        def get_asset_key(self, spec, table, stage):
            return dg.AssetKey(["synthetic_data", spec.name, table, stage])

        def get_group_name(self, spec):
            return "privacy_team"

    (table,) = build_asset_specs(load_spec(penguins_spec), Team())
    assert table.published.key.path[0] == "synthetic_data" and table.published.group_name == "privacy_team"
    assert [d.asset_key for d in table.published.deps] == [table.synthetic.key]


def test_model_kinds_and_descriptions_follow_each_tables_own_synthesizer(tmp_path):
    doc = {
        "name": "shop",
        "tables": {
            "shops": {"source": "shops.csv"},
            "sales": {"source": "sales.csv"},
            "visits": {"source": "visits.csv", "synthesizer": {"kind": "dp_mst"}},
            "notes": {"source": "notes.csv", "synthesizer": {"kind": "trees"}},
        },
        "relationships": [
            {
                "parent_table_name": "shops",
                "parent_primary_key": "id",
                "child_table_name": "sales",
                "child_foreign_key": "shop",
            }
        ],
        "synthesizer": {"kind": "hma"},
        "privacy": {"epsilon": 1.0, "budget": {"epsilon": 4.0}},
        "generate": {"shards": 3},
    }
    tables = {t.table: t for t in build_asset_specs(load_spec(write_spec(tmp_path, doc), check_files=False))}
    # each model shows its backend's library; the related tables share the spec's hma model
    assert {t: a.model.kinds - {"synth-ops"} for t, a in tables.items()} == {
        "shops": {"sdv"},
        "sales": {"sdv"},
        "visits": {"opendp"},
        "notes": {"scikitlearn"},
    }
    assert tables["visits"].model.description.startswith("dp_mst synthesizer")
    assert tables["notes"].model.description.startswith("trees synthesizer")
    assert (
        tables["sales"].model.description.startswith("hma synthesizer")
        and "of shops, sales" in tables["sales"].model.description
    )
    # hma samples the whole schema at once: one shard, whatever generate.shards says
    assert "in 1 seeded shard," in tables["sales"].synthetic.description
    assert "in 3 seeded shards" in tables["notes"].synthetic.description


def test_code_location_loads_no_heavy_library():
    code = (
        "import runpy, sys; runpy.run_path('assets/definitions.py'); "
        "print(sorted(m for m in ('sdv', 'great_expectations', 'torch', 'pandas', 'boto3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    validate = subprocess.run(
        [venv_script("dagster"), "definitions", "validate", "-f", "assets/definitions.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": ""},
    )
    assert validate.returncode == 0, validate.stderr[-2000:]


def _defs_file(directory, spec_path):
    path = directory / "defs.py"
    path.write_text(
        textwrap.dedent(f"""
        from synth_ops.dagster import SynthOpsResource, build_definitions
        defs = build_definitions([{str(spec_path)!r}], resource=SynthOpsResource(root={str(directory)!r}))
    """)
    )
    return path


def _materializations(instance, key):
    return instance.fetch_materializations(dg.AssetKey(key), limit=10).records


def test_penguins_end_to_end_multiprocess_with_parallel_shards(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    # SDV's own sampling path: loading SDV inside each shard step keeps the steps in the seconds, so
    # that two parallel steps overlap measurably (through the portable sampler each takes a fraction
    # of a second and one can end before the other's process has started)
    spec = write_spec(
        tmp_path,
        penguins_doc(
            generate={"rows": 2000, "shards": 2},
            synthesizer={"kind": "gaussian_copula", "seed": 7, "fast_sampling": False},
        ),
    )
    defs = _defs_file(tmp_path, spec)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    result = subprocess.run(
        [venv_script("dagster"), "job", "execute", "-f", str(defs), "-j", "penguins_synthesize"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    instance = dg.DagsterInstance.from_config(str(home))
    for stage in STAGES:
        assert _materializations(instance, ["penguins", "penguins", stage]), stage
    published = _materializations(instance, ["penguins", "penguins", "published"])[0].asset_materialization.metadata
    assert published["status"].value == "published" and published["rows"].value == 2000
    # the synthetic asset is its shards (dagster/uri), not a summary the IO manager pickled
    assert (home / "storage").exists() and not list((home / "storage").rglob("synthetic"))
    synthetic = _materializations(instance, ["penguins", "penguins", "synthetic"])[0].asset_materialization.metadata
    assert synthetic["dagster/uri"].value.endswith("/penguins/shards") and synthetic["rows"].value == 2000
    assert 0.6 <= published["quality_score"].value <= 1 and published["dcr_share"].value <= 0.75
    assert published["report"].value.endswith("report.html") and len(published["version"].value) == 16
    synthetic_key = dg.AssetKey(["penguins", "penguins", "synthetic"])
    checks = {}
    for name in (
        "expectations",
        "quality",
        "discriminator",
        "exact_match",
        "dcr_share",
        "pii_leak",
        "membership_inference",
    ):
        record = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(synthetic_key, name)]
        )[dg.AssetCheckKey(synthetic_key, name)]
        evaluation = record.event.dagster_event.event_specific_data
        checks[name] = evaluation
        assert evaluation.passed, name
    assert checks["quality"].metadata["threshold"].value == pytest.approx(
        0.7 * checks["quality"].metadata["baseline"].value, abs=1e-3
    )
    assert "value" in checks["dcr_share"].metadata
    # measured on every run, with its baseline, gated by default for a table modelled alone
    discriminator = checks["discriminator"].metadata
    assert discriminator["threshold"].value == 0.2 and 0 <= discriminator["baseline"].value <= 1
    assert published["discriminator_auc"].value == discriminator["value"].value
    # each membership attack's AUC, the lower bound gated on, its limit; the empirical epsilon, reported
    membership = {k: v.value for k, v in checks["membership_inference"].metadata.items()}
    for attack in ("distance", "density"):
        assert 0 <= membership[f"auc_bound[{attack}]"] < membership[f"auc[{attack}]"] <= 1, membership
        assert f"tpr_at_1pct_fpr[{attack}]" in membership
    assert membership["auc_threshold"] == 0.65 and membership["empirical_epsilon"] >= 0
    assert membership["empirical_epsilon_threshold"].startswith("not gated")
    # the two shards ran as separate steps (processes) that overlapped in time
    run = instance.get_runs(limit=1)[0]
    spans = {}
    for event in instance.all_logs(run.run_id):
        step = event.step_key or ""
        if (
            "generate_shard" in step
            and event.dagster_event
            and event.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS")
        ):
            spans.setdefault(step, {})[event.dagster_event.event_type_value] = event.timestamp
    assert len(spans) == 2
    (a, b) = spans.values()
    assert a["STEP_START"] < b["STEP_SUCCESS"] and b["STEP_START"] < a["STEP_SUCCESS"], spans


def _instance(tmp_path):
    """A real DagsterInstance (sqlite storage) in a temporary DAGSTER_HOME."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dg.instance_for_test(temp_dir=str(home))


def _job(spec_path, directory):
    defs = build_definitions([spec_path], resource=SynthOpsResource(root=str(directory)))
    return defs.resolve_job_def("penguins_synthesize")


def test_failing_gate_blocks_published(tmp_path):
    spec = write_spec(tmp_path, penguins_doc(gates={"quality_min": 0.99}))
    with _instance(tmp_path) as instance:
        result = _job(spec, tmp_path).execute_in_process(instance=instance, raise_on_error=False)
        check = next(e for e in result.get_asset_check_evaluations() if e.check_name == "quality")
        assert not check.passed and check.metadata["threshold"].value == 0.99
        assert check.metadata["value"].value < 0.99
        assert not _materializations(instance, ["penguins", "penguins", "published"])
        assert _materializations(instance, ["penguins", "penguins", "synthetic"])
    assert not (tmp_path / "warehouse").exists()


def test_rematerializing_unchanged_inputs_does_not_refit_or_republish(tmp_path):
    spec = write_spec(tmp_path, penguins_doc())
    with _instance(tmp_path) as instance:
        job = _job(spec, tmp_path)
        assert job.execute_in_process(instance=instance).success
        model = next((tmp_path / "artifacts").rglob("model-*.pkl"))
        latest = tmp_path / "warehouse" / "penguins" / "_latest.json"
        stamps = (model.stat().st_mtime_ns, latest.stat().st_mtime_ns)
        time.sleep(0.01)
        assert job.execute_in_process(instance=instance).success
        assert (model.stat().st_mtime_ns, latest.stat().st_mtime_ns) == stamps
        published = _materializations(instance, ["penguins", "penguins", "published"])
        assert [m.asset_materialization.metadata["status"].value for m in published] == ["up_to_date", "published"]


def test_sensor_fires_after_the_source_changes_and_not_before(tmp_path, penguins_frame):
    source = tmp_path / "penguins.csv"
    penguins_frame.to_csv(source, index=False)
    spec = write_spec(tmp_path, penguins_doc(source=source))
    resource = SynthOpsResource(root=str(tmp_path))
    defs = build_definitions([spec], resource=resource)
    sensor = defs.resolve_sensor_def("penguins_source_changed")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"synth_ops": resource})
        first = sensor.evaluate_tick(context)
        assert not first.run_requests and "recorded" in first.skip_message
        context = dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"synth_ops": resource})
        second = sensor.evaluate_tick(context)
        assert not second.run_requests and second.skip_message == "sources unchanged"
        penguins_frame.head(300).to_csv(source, index=False)
        context = dg.build_sensor_context(instance=instance, cursor=second.cursor, resources={"synth_ops": resource})
        third = sensor.evaluate_tick(context)
        assert len(third.run_requests) == 1 and third.run_requests[0].tags["synth-ops/changed-sources"] == "penguins"


def test_schedule_comes_from_the_spec(tmp_path):
    spec = write_spec(tmp_path, penguins_doc(schedule="0 3 * * 1"))
    defs = build_definitions([spec], resource=SynthOpsResource(root=str(tmp_path)))
    schedule = defs.resolve_schedule_def("penguins_schedule")
    assert schedule.cron_schedule == "0 3 * * 1" and schedule.job_name == "penguins_synthesize"


def test_related_tables_materialize_with_lineage_from_parents_to_children(tmp_path, nyc_slice):
    from synth_ops.gates.checks import RELEASE_CHECKS
    from tests.conftest import NYC_RELATIONSHIPS, NYC_TABLES, nyc_doc

    spec = write_spec(
        tmp_path,
        nyc_doc(
            nyc_slice,
            generate={"shards": 2, "batch_rows": 2000},
            # the multi-table copula's empirical marginals sit denser around
            # training values: on this slice's flights the density attack's
            # bound lands at 0.652 (README, "Privacy attacks"); this test is
            # about ordering, not privacy
            gates={"membership_inference": {"auc_max": None}},
        ),
    )
    defs = build_definitions([spec], resource=SynthOpsResource(root=str(tmp_path)))
    graph = defs.resolve_asset_graph()
    synthetic = {t: dg.AssetKey(["nyc", t, "synthetic"]) for t in NYC_TABLES}
    parents = graph.get(synthetic["flights"]).parent_keys
    assert {synthetic["weather"], synthetic["planes"], synthetic["airlines"], synthetic["airports"]} <= parents
    assert synthetic["airports"] in graph.get(synthetic["weather"]).parent_keys
    assert not any(k in graph.get(synthetic["airports"]).parent_keys for k in synthetic.values())
    with _instance(tmp_path) as instance:
        result = defs.resolve_job_def("nyc_synthesize").execute_in_process(instance=instance)
        assert result.success
        for table in NYC_TABLES:
            event = _materializations(instance, ["nyc", table, "published"])[0].asset_materialization
            assert event.metadata["status"].value == "published" and event.metadata["rows"].value > 0, table
        # the release gates are checks too, on flights (nothing is sampled under it), from one run of them
        release = {
            e.check_name: e
            for e in result.get_asset_check_evaluations()
            if e.asset_key == synthetic["flights"] and e.check_name in RELEASE_CHECKS
        }
        assert set(release) == set(RELEASE_CHECKS) and all(e.passed for e in release.values())
        assert release["referential_integrity"].metadata["checks"].value == len(
            NYC_RELATIONSHIPS
        )  # one per relationship
        assert release["primary_key_unique"].metadata["checks"].value >= 4  # the parents' keys at least
        assert not [
            e
            for e in result.get_asset_check_evaluations()
            if e.check_name in RELEASE_CHECKS and e.asset_key != synthetic["flights"]
        ]
    versions = {read.split("/")[-2] for read in map(str, (tmp_path / "warehouse" / "nyc").rglob("_manifest.json"))}
    assert len(versions) == 1  # the whole schema is one release


def test_catalog_metadata_shows_schema_row_count_owners_and_gate_direction(tmp_path, penguins_frame):
    spec = write_spec(
        tmp_path, penguins_doc(owners=["team:privacy", "data@example.com"], generate={"rows": 300, "shards": 2})
    )
    (table,) = build_asset_specs(load_spec(spec))
    assert set(table.published.owners) == {"team:privacy", "data@example.com"}
    assert table.source.kinds >= {"csv"} and table.published.kinds >= {"parquet"}
    quality = next(c for c in table.checks if c.name == "quality")
    assert ">= 0.7 x the holdout's own" in quality.description
    assert "<= 0.6" in next(c for c in table.checks if c.name == "dcr_share").description
    assert "report.html" in quality.description and "report.html" in table.published.description
    with _instance(tmp_path) as instance:
        result = _job(spec, tmp_path).execute_in_process(instance=instance)
        assert result.success
        for stage in ("synthetic", "published"):
            metadata = _materializations(instance, ["penguins", "penguins", stage])[0].asset_materialization.metadata
            schema = metadata["dagster/column_schema"].value
            assert [c.name for c in schema.columns] == list(penguins_frame.columns)
            assert {c.name: c.type for c in schema.columns}["bill_length_mm"] == "double"
            assert metadata["dagster/row_count"].value == 300
            assert metadata["dagster/table_name"].value == "penguins.penguins"
            # types and names only: no category, range or other value of the source
            text = repr({k: v.value for k, v in metadata.items()})
            assert "Adelie" not in text and "Biscoe" not in text
        published = _materializations(instance, ["penguins", "penguins", "published"])[0].asset_materialization
        assert published.metadata["dagster/uri"].value.endswith("_manifest.json")
        model_key = dg.AssetKey(["penguins", "penguins", "model"])

        def model_version():
            return _materializations(instance, list(model_key.path))[0].asset_materialization.tags[
                "dagster/data_version"
            ]

        first = model_version()
        # an identical refit (same spec, source, libraries) keeps the model's data version, whatever
        # its pickle's checksum
        from synth_ops.runtime.workspace import Workspace
        from synth_ops.steps.fit import fit

        ws = Workspace.open(load_spec(spec, root=tmp_path))
        fit(ws, "penguins", force=True)
        result = _job(spec, tmp_path).execute_in_process(instance=instance, asset_selection=[model_key])
        assert result.success and len(_materializations(instance, list(model_key.path))) == 2
        assert model_version() == first


def test_source_observation_records_the_fingerprint_and_makes_downstream_stale(tmp_path, penguins_frame):
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._core.loader import LoadingContextForTest

    from synth_ops.io.fingerprints import sha256_file

    source = tmp_path / "penguins.csv"
    penguins_frame.to_csv(source, index=False)
    spec = write_spec(tmp_path, penguins_doc(source=source))
    resource = SynthOpsResource(root=str(tmp_path))
    defs = build_definitions([spec], resource=resource)
    source_key, profile_key = (dg.AssetKey(["penguins", "penguins", stage]) for stage in ("source", "profile"))
    job = defs.resolve_implicit_global_asset_job_def()

    def observed(instance):
        # what the UI's "Observe sources" launches: a run of the source's observation
        assert job.execute_in_process(instance=instance, asset_selection=[source_key]).success
        event = instance.fetch_observations(source_key, limit=1).records[0].asset_observation
        return event.tags["dagster/data_version"], event.metadata

    def profile_status(instance):
        resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
        return resolver.get_status(profile_key), resolver.get_stale_causes(profile_key)

    with _instance(tmp_path) as instance:
        version, metadata = observed(instance)
        assert version == sha256_file(source) == metadata["source_fingerprint"].value
        assert metadata["dagster/uri"].value == str(source)
        assert job.execute_in_process(instance=instance, asset_selection=[profile_key]).success
        profiled = _materializations(instance, list(profile_key.path))[0].asset_materialization
        # the profile step fingerprints the source the same way the observation does
        assert profiled.metadata["source_fingerprint"].value == version
        assert profile_status(instance)[0] == StaleStatus.FRESH

        penguins_frame.head(300).to_csv(source, index=False)
        changed, _ = observed(instance)
        assert changed == sha256_file(source) != version
        status, causes = profile_status(instance)
        assert status == StaleStatus.STALE, causes
        assert any(c.dependency and c.dependency.asset_key == source_key for c in causes), causes
