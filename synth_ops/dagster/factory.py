"""The asset factory: a thin wrapper that turns the pure asset specs into executable definitions.

Every function body only resolves the spec, calls one core step and translates its record into
Dagster metadata or check results. No profiling, fitting, gating or publishing happens here.
"""

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from synth_ops.dagster.checks import check_metadata
from synth_ops.dagster.resource import SynthOpsResource
from synth_ops.dagster.specs import TableAssets, build_asset_specs
from synth_ops.dagster.translator import STAGES, SynthOpsTranslator

RESOURCE_KEY = "synth_ops"


def catalog_metadata(ws, table: str, rows: int, uri: str) -> dict:
    """What a data catalog shows of a synthetic table: its columns with their types, row count,
    where it is and its name. Types and names only: never a value or a statistic of the source."""
    schema = ws.read(table, "profile.json")["arrow_schema"]
    return {
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name=name, type=kind) for name, kind in schema]
        ),
        "dagster/row_count": rows,
        "dagster/uri": uri,
        "dagster/table_name": f"{ws.spec.name}.{table}",
    }


def privacy_metadata(privacy: dict | None) -> dict:
    """A DP fit's charge and its ledger's totals as asset metadata (nothing for other fits)."""
    if not privacy:
        return {}
    return {
        "privacy_ledger": privacy["ledger"],
        "privacy_epsilon_charged": privacy["charge"]["epsilon"],
        "privacy_delta_charged": privacy["charge"]["delta"],
        "privacy_epsilon_spent": privacy.get("epsilon_spent"),
        "privacy_epsilon_remaining": privacy.get("epsilon_remaining"),
        "privacy_budget": dg.MetadataValue.json(privacy.get("budget") or {}),
    }


def _profile_asset(path: str, key: str, ta: TableAssets, prefix: str) -> dg.AssetsDefinition:
    @dg.multi_asset(name=f"{prefix}profile", specs=[ta.profile], required_resource_keys={key})
    def _asset(context: dg.AssetExecutionContext):
        runner = getattr(context.resources, key).runner(path)
        ws, (record,) = runner.ws, runner.profile([ta.table])
        return dg.MaterializeResult(
            data_version=dg.DataVersion(ws.run_id),
            metadata={
                "rows": record.rows,
                "columns": record.columns,
                "pii_columns": ", ".join(record.pii_columns) or "none",
                "generated_columns": ", ".join(f"{c} ({role})" for c, role in record.generated.items()) or "none",
                "primary_key": str(record.primary_key),
                "source_fingerprint": record.source_fingerprint,
                "profile": dg.MetadataValue.path(ws.location(record.profile_key)),
                "run_id": ws.run_id,
            },
        )

    return _asset


def _controls_metadata(spec, table: str) -> dict:
    """The table's generation controls in words (column names and counts, never a value)."""
    from synth_ops.spec.controls import describe

    controls = spec.controls_of(table)
    return {"controls": describe(controls)} if controls else {}


def _auto_metadata(ws, record) -> dict:
    """kind auto: which candidate won and why (model.json's ``auto``)."""
    if record.kind != "auto":
        return {}
    auto = ws.read(record.table, "model.json").get("auto") or {}
    return {"auto_winner": auto.get("winner", ""), "auto_why": auto.get("why", "")}


def _model_asset(path: str, key: str, ta: TableAssets, prefix: str) -> dg.AssetsDefinition:
    @dg.multi_asset(name=f"{prefix}model", specs=[ta.model], required_resource_keys={key})
    def _asset(context: dg.AssetExecutionContext):
        runner = getattr(context.resources, key).runner(path)
        ws, (record,) = runner.ws, runner.fit([ta.table])  # related tables: their one model
        # the version of what the model was fitted from (spec, sources, libraries: the run id), not of
        # its pickle, which differs between identical fits and would make everything downstream stale
        return dg.MaterializeResult(
            data_version=dg.DataVersion(ws.run_id),
            metadata={
                "kind": record.kind,
                "train_rows": record.train_rows,
                "holdout_rows": record.holdout_rows,
                "fit_seconds": record.fit_seconds,
                "model_sha256": record.model_sha256,
                "model": dg.MetadataValue.path(ws.location(record.model_key)),
                **privacy_metadata(record.privacy),
                **_controls_metadata(ws.spec, ta.table),
                **_auto_metadata(ws, record),
            },
        )

    return _asset


def _synthetic_asset(path: str, key: str, ta: TableAssets, prefix: str) -> dg.AssetsDefinition:
    """Graph-backed: one op per shard, so shards run in parallel under the multiprocess executor."""

    spec = ta.synthetic
    # lineage and order: a child's shards start once its parents' synthetic assets are materialized
    parents = [dep.asset_key for dep in spec.deps if dep.asset_key != ta.model.key]
    after = {f"parent_{i}": dg.In(dg.Nothing) for i in range(len(parents))}

    @dg.op(
        name=f"{prefix}plan_shards",
        ins={"start": dg.In(dg.Nothing), **after},
        out=dg.DynamicOut(int),
        required_resource_keys={key},
    )
    def plan(context: dg.OpExecutionContext):
        # the run plan (the spec alone) fixes the shard count: no workspace (source hashing) needed to fan out
        from synth_ops.steps.plan import build_plan

        for shard in range(build_plan(getattr(context.resources, key).load(path)).table(ta.table).shards):
            yield dg.DynamicOutput(shard, mapping_key=f"shard_{shard:05d}")

    @dg.op(name=f"{prefix}generate_shard", required_resource_keys={key})
    def generate(context: dg.OpExecutionContext, shard: int) -> dict:
        record = getattr(context.resources, key).runner(path).generate_shard(ta.table, shard)
        context.log.info(f"shard {shard}: {record.rows} rows in {record.seconds:.1f}s")
        return record.to_dict()

    # Nothing to store: the asset is its shards (dagster/uri), not a value an IO manager pickles
    @dg.op(name=f"{prefix}collect_shards", required_resource_keys={key}, out=dg.Out(dg.Nothing))
    def collect(context: dg.OpExecutionContext, records: list):
        records = sorted(records, key=lambda r: r["shard"])
        summary = {"run_id": records[0]["run_id"], "rows": sum(r["rows"] for r in records), "shards": len(records)}
        ws = getattr(context.resources, key).workspace(path)
        shards = ws.location(ws.key(ta.table, "shards"))
        with warnings.catch_warnings():  # an op's data version is beta; the run log need not say so per run
            warnings.simplefilter("ignore", dg.BetaWarning)
            return dg.Output(
                None,
                data_version=dg.DataVersion(summary["run_id"]),
                metadata={
                    "rows": summary["rows"],
                    "shards": summary["shards"],
                    "run_id": summary["run_id"],
                    "bytes": sum(r["bytes"] for r in records),
                    **catalog_metadata(ws, ta.table, summary["rows"], shards),
                },
            )

    ins = {
        "model": dg.AssetIn(key=ta.model.key, dagster_type=dg.Nothing),
        **{f"parent_{i}": dg.AssetIn(key=parent, dagster_type=dg.Nothing) for i, parent in enumerate(parents)},
    }

    @dg.graph_asset(
        key=spec.key,
        group_name=spec.group_name,
        tags=spec.tags,
        kinds=spec.kinds,
        description=spec.description,
        code_version=spec.code_version,
        ins=ins,
    )
    def _asset(model, **parents):
        return collect(plan(start=model, **parents).map(generate).collect())

    return _asset


def _check_result(check: dg.AssetCheckSpec, results: list[dict], report: str) -> dg.AssetCheckResult:
    """One blocking check from its gate results: passed unless one failed; numbers, names and the
    report's location only."""
    failed = [r for r in results if not r["passed"]]
    return dg.AssetCheckResult(
        asset_key=check.asset_key,
        check_name=check.name,
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            **check_metadata(check.name, results),
            "checks": len(results),
            "failed": "; ".join(f"{r['name']}: {r['detail']}" for r in failed) or "none",
            "report": dg.MetadataValue.path(report),
        },
    )


def _gate_checks(path: str, key: str, ta: TableAssets, prefix: str) -> dg.AssetChecksDefinition:
    @dg.multi_asset_check(name=f"{prefix}gates", specs=list(ta.checks), required_resource_keys={key})
    def _checks(context: dg.AssetCheckExecutionContext):
        from synth_ops.gates.checks import check_of

        runner = getattr(context.resources, key).runner(path)
        (record,) = runner.validate([ta.table])
        report = runner.ws.location(record.report_key)
        for check in ta.checks:
            results = [r for r in record.results if check_of(r) == check.name]
            yield _check_result(check, results, report)

    return _checks


def _release_checks(path: str, key: str, tables: list[TableAssets], name: str) -> dg.AssetChecksDefinition | None:
    """The release gates over related tables (key uniqueness, referential integrity, cardinality,
    multi-table quality), run once after every related table's shards, each result shown on the
    tables it judges; blocking, so a failure stops publication as the table gates' do."""
    specs = [check for ta in tables for check in ta.release_checks]
    if not specs:
        return None

    @dg.multi_asset_check(name=f"{name}__release_gates", specs=specs, required_resource_keys={key})
    def _checks(context: dg.AssetCheckExecutionContext):
        from synth_ops.gates.checks import release_check_of, release_tables_of

        runner = getattr(context.resources, key).runner(path)
        record = runner.validate_release()
        report = runner.ws.location(record.report_key)
        by_asset = {ta.synthetic.key: ta.table for ta in tables}
        for check in specs:
            table = by_asset[check.asset_key]
            results = [
                r
                for r in record.results
                if release_check_of(r) == check.name and table in release_tables_of(r, runner.plan)
            ]
            yield _check_result(check, results, report)

    return _checks


def _published_assets(path: str, key: str, tables: list[TableAssets], name: str) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"{name}__published", specs=[ta.published for ta in tables], can_subset=False, required_resource_keys={key}
    )
    def _assets(context: dg.AssetExecutionContext):
        from synth_ops.runtime.records import headline
        from synth_ops.runtime.releases import latest_key

        runner = getattr(context.resources, key).runner(path)
        ws, plan = runner.ws, runner.plan
        release = runner.publish()
        for ta in tables:
            gates = headline(ws.read(ta.table, "gates.json")["results"])
            info = release.tables[ta.table]
            yield dg.MaterializeResult(
                asset_key=ta.published.key,
                data_version=dg.DataVersion(release.version),
                metadata={
                    **catalog_metadata(ws, ta.table, info["rows"], f"{release.publish_uri}/{info['manifest']}"),
                    "status": release.status,
                    "version": release.version,
                    "rows": info["rows"],
                    **{name: "not measured" if value is None else value for name, value in gates.items()},
                    "latest": dg.MetadataValue.path(f"{release.publish_uri}/{latest_key(name)}"),
                    "report": dg.MetadataValue.path(info.get("report") or ""),
                    "source_fingerprint": ws.source_fingerprints[ta.table],
                    "model_sha256": ws.read(plan.model_of(ta.table).name, "model.json")["model_sha256"],
                    "spec_hash": ws.spec_hash,
                    **privacy_metadata(info.get("privacy")),
                },
            )

    return _assets


def _source_asset(path: str, key: str, ta: TableAssets, prefix: str) -> dg.AssetsDefinition:
    """External and observable: Dagster records its fingerprint as data version, never runs it in a job."""

    def _source(context):
        from synth_ops.stores.sources import source_fingerprint

        spec = getattr(context.resources, key).load(path)
        uri = spec.tables[ta.table].source
        # the profile step's own fingerprint: the profile (and all downstream) turns stale when it changes
        fingerprint = source_fingerprint(uri, spec.s3)
        return dg.ObserveResult(
            asset_key=ta.source.key,
            data_version=dg.DataVersion(fingerprint),
            metadata={
                "source_fingerprint": fingerprint,
                "dagster/uri": uri,
            },
        )

    with warnings.catch_warnings():  # beta since 1.6 and the way Dagster documents observation
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.multi_observable_source_asset(
            name=f"{prefix}observe_source", specs=[ta.source], required_resource_keys={key}
        )(_source)


def _source_sensor(path: str, key: str, spec_name: str, job) -> dg.SensorDefinition:
    """Requests a regeneration when a source's content fingerprint changes (not on the first look)."""

    @dg.sensor(name=f"{spec_name}_source_changed", job=job, minimum_interval_seconds=60, required_resource_keys={key})
    def _sensor(context: dg.SensorEvaluationContext):
        from synth_ops.stores.sources import source_fingerprint

        spec = getattr(context.resources, key).load(path)
        current = {t: source_fingerprint(s.source, spec.s3) for t, s in spec.tables.items()}
        previous = json.loads(context.cursor) if context.cursor else None
        context.update_cursor(json.dumps(current, sort_keys=True))
        if previous is None:
            return dg.SkipReason("first look: source fingerprints recorded")
        changed = sorted(t for t in current if previous.get(t) != current[t])
        if not changed:
            return dg.SkipReason("sources unchanged")
        return dg.RunRequest(
            run_key=json.dumps(current, sort_keys=True), tags={"synth-ops/changed-sources": ",".join(changed)}
        )

    return _sensor


def build_definitions(
    spec_paths: Iterable[str | Path],
    translator: SynthOpsTranslator | None = None,
    resource: SynthOpsResource | None = None,
    resource_key: str = RESOURCE_KEY,
) -> dg.Definitions:
    """Definitions for every spec: assets, blocking gate checks, a job, a sensor and any schedule.

    ``resource_key`` names the resource every definition uses: definitions with different resources
    merged into one code location (several components) need different keys.
    """
    from synth_ops.spec import load_spec

    key = resource_key

    resource = resource or SynthOpsResource()
    translator = translator or SynthOpsTranslator()
    assets, checks, jobs, schedules, sensors = [], [], [], [], []
    for spec_path in spec_paths:
        path = str(Path(spec_path).resolve())
        spec = load_spec(path, root=resource.root or None, check_files=False)
        tables = build_asset_specs(spec, translator)
        models = set()
        for ta in tables:
            prefix = f"{spec.name}__{ta.table}__"
            assets += [
                _source_asset(path, key, ta, prefix),
                _profile_asset(path, key, ta, prefix),
                _synthetic_asset(path, key, ta, prefix),
            ]
            if ta.model.key not in models:  # related tables share one model asset: fitted once
                models.add(ta.model.key)
                assets.append(_model_asset(path, key, ta, prefix))
            checks.append(_gate_checks(path, key, ta, prefix))
        release = _release_checks(path, key, tables, spec.name)
        checks += [release] if release is not None else []
        assets.append(_published_assets(path, key, tables, spec.name))
        keys = list(dict.fromkeys(getattr(ta, stage).key for ta in tables for stage in STAGES if stage != "source"))
        job = dg.define_asset_job(
            f"{spec.name}_synthesize",
            selection=dg.AssetSelection.assets(*keys),
            description=f"Regenerate, gate and publish the synthetic copy {spec.name!r}",
        )
        jobs.append(job)
        sensors.append(_source_sensor(path, key, spec.name, job))
        if spec.schedule:
            schedules.append(dg.ScheduleDefinition(name=f"{spec.name}_schedule", job=job, cron_schedule=spec.schedule))
    return dg.Definitions(
        assets=assets, asset_checks=checks, jobs=jobs, schedules=schedules, sensors=sensors, resources={key: resource}
    )
