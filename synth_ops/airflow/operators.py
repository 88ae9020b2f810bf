"""One operator per synth-ops step, each a few lines over SynthOpsHook and the core step.

XCom carries only the step's small JSON record. ``synth_task_group`` builds the whole chain,
with shards mapped (``.expand_kwargs``) so they spread over Celery or Kubernetes workers.

Profile, fit, validate and publish describe themselves to OpenLineage (``get_openlineage_facets_on_*``,
built by ``lineage.py``); the OpenLineage provider is an optional extra, imported only inside those
methods. Validate and publish carry a "synth-ops report" link to the run's private HTML report.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.sdk import Asset, AssetAlias, BaseOperator, TaskGroup

from synth_ops.airflow.hooks import SynthOpsHook
from synth_ops.airflow.links import SynthOpsReportLink


class SynthOpsBaseOperator(BaseOperator):
    template_fields: Sequence[str] = ("spec_path", "rows", "seed", "synth_ops_conn_id")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        spec_path: str,
        synth_ops_conn_id: str | None = None,
        root: str | None = None,
        rows: int | str | None = None,
        seed: int | str | None = None,
        table: str | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.spec_path = spec_path
        self.synth_ops_conn_id = synth_ops_conn_id
        self.root = root
        self.rows = rows
        self.seed = seed
        self.table = table

    @cached_property
    def hook(self) -> SynthOpsHook:
        return SynthOpsHook(self.spec_path, self.synth_ops_conn_id, self.root, {"rows": self.rows, "seed": self.seed})

    @cached_property
    def workspace(self):
        """This task's workspace, opened once: opening hashes every source, and the lineage
        facets and the report link read the same run's records after the step."""
        return self.hook.get_workspace()

    @cached_property
    def runner(self):
        """The service every step calls (``synth_ops.steps.pipeline.Runner``) over this task's workspace."""
        from synth_ops.steps.pipeline import Runner

        return Runner(self.workspace)

    @property
    def selected(self) -> list[str] | None:
        """The table this task is narrowed to, or None: every table of the spec."""
        return [self.table] if self.table else None

    def execute(self, context):
        """The step, with every synth-ops error in Airflow's terms: bad input, a failed gate or a
        tampered model fail the task for good (retrying cannot help); a store failure is retried.

        An ``aws`` connection's keys reach every S3 store the step opens (sources, artifacts,
        publish, ledgers) through a scope around the step, never through ``os.environ``."""
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        from synth_ops.errors import GateFailed, InputError, ModelIntegrityError, SpecError, StoreError, SynthOpsError
        from synth_ops.stores import s3_credentials

        try:
            with s3_credentials(self.hook.credentials):
                return self.run_step(context)
        except (SpecError, InputError, ModelIntegrityError, GateFailed) as error:
            raise AirflowFailException(f"{type(error).__name__}: {error}") from None
        except StoreError as error:
            raise AirflowException(f"StoreError (retried): {error}") from None
        except SynthOpsError as error:
            raise AirflowFailException(f"{type(error).__name__}: {error}") from None

    def run_step(self, context):
        raise NotImplementedError

    def tables(self, ws) -> list[str]:
        return self.spec_tables(ws.spec)

    def spec_tables(self, spec) -> list[str]:
        from synth_ops.steps.plan import build_plan

        return [self.table] if self.table else [t.name for t in build_plan(spec).tables]  # parents first


class SourceLineageMixin:
    """OpenLineage for a step that reads the source tables. START names them from the spec alone
    (cheap, nothing read); COMPLETE adds each source's column names and types from the profile."""

    def get_openlineage_facets_on_start(self):
        from airflow.providers.openlineage.extractors import OperatorLineage

        from synth_ops.airflow import lineage

        spec = self.hook.spec
        return OperatorLineage(
            inputs=[lineage.input_dataset(spec.tables[t].source, None) for t in self.spec_tables(spec)]
        )

    def get_openlineage_facets_on_complete(self, task_instance):
        from airflow.providers.openlineage.extractors import OperatorLineage

        return OperatorLineage(inputs=self.source_datasets())

    def source_datasets(self) -> list:
        from synth_ops.airflow import lineage

        ws = self.workspace
        return [lineage.input_dataset(ws.spec.tables[t].source, _profile_schema(ws, t)) for t in self.tables(ws)]


def _profile_schema(ws, table: str) -> list[list[str]] | None:
    """Column names and Arrow types, and nothing else of the profile (it also holds statistics)."""
    return ws.read(table, "profile.json")["arrow_schema"] if ws.has(table, "profile.json") else None


def _gate_results(ws, table: str) -> list[dict] | None:
    return ws.read(table, "gates.json")["results"] if ws.has(table, "gates.json") else None


class SynthProfileOperator(SourceLineageMixin, SynthOpsBaseOperator):
    def run_step(self, context) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.runner.profile(self.selected)]


class SynthFitOperator(SourceLineageMixin, SynthOpsBaseOperator):
    def run_step(self, context) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.runner.fit(self.selected)]  # related tables share one model


class SynthGenerateOperator(SynthOpsBaseOperator):
    """All shards, or one (``table`` + ``shard``): the unit that dynamic task mapping spreads."""

    template_fields: Sequence[str] = (*SynthOpsBaseOperator.template_fields, "shard")

    def __init__(self, *, shard: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.shard = shard

    def run_step(self, context) -> list[dict[str, Any]]:
        if self.shard is not None:
            table = self.table or next(iter(self.workspace.spec.tables))
            return [self.runner.generate_shard(table, int(self.shard)).to_dict()]
        return [r.to_dict() for r in self.runner.generate(self.selected)]


class ReportLinkMixin:
    operator_extra_links = (SynthOpsReportLink(),)

    def report_location(self) -> str | None:
        """Where this run's report is: the release report when related tables are judged as one
        release, else the (first) table's. None before validate has written one."""
        try:
            return self.runner.report_location(self.selected)
        except Exception as error:  # a link must never fail the task; the step's own error says why
            self.log.warning("no synth-ops report link: %s: %s", type(error).__name__, error)
        return None


class SynthValidateOperator(ReportLinkMixin, SourceLineageMixin, SynthOpsBaseOperator):
    """Fails without retries (AirflowFailException) when a gate fails, naming gate, value, threshold.

    Lineage: the source tables in, and the staged synthetic tables it judged, each with one
    data-quality assertion per gate."""

    def get_openlineage_facets_on_complete(self, task_instance):
        from airflow.providers.openlineage.extractors import OperatorLineage

        from synth_ops.airflow import lineage
        from synth_ops.steps.plan import SCHEMA_MODEL, build_plan

        ws = self.workspace
        staged, judged = [], {}
        for table in self.tables(ws):
            judged[table] = _gate_results(ws, table)
            staged.append(
                lineage.input_dataset(ws.location(ws.key(table, "shards")), _profile_schema(ws, table), judged[table])
            )
        if not self.table and build_plan(ws.spec).relations:  # cross-table gates: in the status only
            judged[SCHEMA_MODEL] = _gate_results(ws, SCHEMA_MODEL)
        if any(results is None for results in judged.values()):
            status = "not_validated"  # the step stopped before its gates were written
        else:
            status = "validated" if all(r["passed"] for rs in judged.values() for r in rs) else "gates_failed"
        return OperatorLineage(
            inputs=self.source_datasets() + staged, run_facets=lineage.release_run_facet(ws, status, self.tables(ws))
        )

    def run_step(self, context) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        records = self.runner.validate(self.selected)  # related tables: judged as one release too
        failures = self.runner.failures(records)
        if failures:
            raise AirflowFailException(
                f"{len(failures)} gate(s) failed; nothing will be published: " + "; ".join(failures)
            )
        return [_gate_summary(r) for r in records]


XCOM_LEFT_OUT = {"roc"}  # measures too long for XCom: a chart's points


def _gate_summary(record) -> dict[str, Any]:
    """A gate record small enough for XCom: each measured gate's value (None: not measured),
    threshold (None: reported, not gated), baseline, bound and the numbers behind it, and the
    expectations as counts (a suite has dozens). Rates, counts and scores only, never a data value;
    the membership attacks' ROC curves stay in gates.json and the report (XCom is kept small)."""
    expectations = [r for r in record.results if r["gate"] == "expectations"]
    measured = [
        {k: r.get(k) for k in ("gate", "name", "value", "threshold", "baseline", "bound", "passed")}
        | {"measures": {k: v for k, v in (r.get("measures") or {}).items() if k not in XCOM_LEFT_OUT}}
        for r in record.results
        if r["gate"] != "expectations"
    ]
    return {k: v for k, v in record.to_dict().items() if k != "results"} | {
        "checks": len(record.results),
        "gates": measured,
        "expectations": {"checked": len(expectations), "failed": sum(not r["passed"] for r in expectations)},
    }


def published_asset(spec_path: str, root: str | None = None, table: str | None = None) -> Asset:
    """The Airflow Asset of a published table: its ``_latest.json`` URI. Parses the spec only."""
    from synth_ops.spec import load_spec

    return _asset_of(load_spec(spec_path, root=root, check_files=False), table)


def _asset_of(spec, table: str | None = None) -> Asset:
    from synth_ops.runtime.releases import latest_key

    table = table or next(iter(spec.tables))
    base = spec.publish.uri if "://" in spec.publish.uri else Path(spec.publish.uri).as_uri()
    uri = f"{base}/{latest_key(spec.name)}"
    if len(spec.tables) > 1:  # one pointer serves every table of the release
        uri += f"?table={table}"
    return Asset(
        name=f"synth-ops.{spec.name}.{table}",
        uri=uri,
        group="synthetic-data",
        extra={"pipeline": spec.name, "table": table},
    )


class SynthPublishOperator(ReportLinkMixin, SourceLineageMixin, SynthOpsBaseOperator):
    """Publishes the gated run and emits one Asset event per published table.

    ``spec_path`` is rendered only when the task runs, so which tables (and Assets) there are is
    known only then: the operator's outlet is an ``AssetAlias``, and each run attaches one event
    per published table to it, for the Asset ``published_asset`` names (a DAG scheduled on that
    Asset runs as before). The alias is ``synth-ops.<dag_id>.<task_id>`` unless ``asset_alias``
    names it: one per publishing task, so two DAGs that template the same path text never share one.

    Lineage: the source tables in; each published table out (``<publish>/<name>/<table>``) with its
    schema, row/byte/file counts, release version and one data-quality assertion per gate."""

    def __init__(self, *, asset_alias: str | None = None, **kwargs):
        super().__init__(**kwargs)  # nothing is read here: spec_path may still be a template
        self.asset_alias = AssetAlias(
            name=asset_alias or f"synth-ops.{self.dag_id}.{self.task_id}", group="synthetic-data"
        )
        self.outlets = [*self.outlets, self.asset_alias]

    def run_step(self, context) -> dict[str, Any]:
        from synth_ops.runtime.records import headline
        from synth_ops.spec import load_spec

        ws = self.workspace
        release = self.runner.publish()
        self.release_status = release.status  # "published" or "up_to_date", for the lineage run facet
        # The spec as written (no connection overrides): the Asset a consumer names with published_asset.
        spec = load_spec(self.spec_path, root=self.root, check_files=False)
        events = context["outlet_events"][self.asset_alias]
        for table in spec.tables:
            extra = {
                "version": release.version,
                "status": release.status,
                "rows": release.tables[table]["rows"],
                **headline(ws.read(table, "gates.json")["results"]),
            }
            privacy = release.tables[table].get("privacy")
            if privacy:  # a DP fit: the ledger's totals ride along to the asset catalog
                extra["privacy"] = {k: privacy.get(k) for k in ("ledger", "epsilon_spent", "epsilon_remaining")}
            events.add(_asset_of(spec, table), extra=extra)
        return release.to_dict()

    def get_openlineage_facets_on_start(self):
        from synth_ops.airflow import lineage

        planned = super().get_openlineage_facets_on_start()
        spec = self.hook.spec
        planned.outputs = [
            lineage.output_dataset(lineage.join(spec.publish.uri, spec.name, t), None) for t in self.spec_tables(spec)
        ]
        return planned

    def get_openlineage_facets_on_complete(self, task_instance):
        """Read back from the publish store: the release this run's version names (absent if the
        publish failed), and each table's manifest."""
        from airflow.providers.openlineage.extractors import OperatorLineage

        from synth_ops.airflow import lineage
        from synth_ops.runtime import releases
        from synth_ops.stores import open_store, read_json

        ws = self.workspace
        spec = ws.spec
        store = open_store(spec.publish.uri, spec.s3, self.hook.credentials)
        key = releases.release_key(spec.name, ws.run_id)
        release = read_json(store, key) if store.exists(key) else None
        pointer = releases.current_version(store, spec.name)
        outputs = []
        for table in self.tables(ws):
            uri = lineage.join(spec.publish.uri, spec.name, table)
            if release is None or table not in release["tables"]:
                outputs.append(
                    lineage.output_dataset(uri, _profile_schema(ws, table), results=_gate_results(ws, table))
                )
                continue
            manifest = read_json(store, release["tables"][table]["manifest"])
            outputs.append(
                lineage.output_dataset(
                    uri,
                    manifest["schema"],
                    results=release["tables"][table]["gates"]["results"],
                    rows=manifest["rows"],
                    size=manifest["bytes"],
                    files=len(manifest["parts"]),
                    version=ws.run_id,
                )
            )
        if release is None:
            status = "not_published"
        elif pointer != ws.run_id:  # complete, but another publisher switched _latest.json meanwhile
            status = "superseded"
        else:
            status = getattr(self, "release_status", "published")
        return OperatorLineage(
            inputs=self.source_datasets(),
            outputs=outputs,
            run_facets=lineage.release_run_facet(ws, status, self.tables(ws)),
        )


SHARD_LABEL = "{{ task.table }} shard {{ task.shard }}"  # how the grid labels a mapped generate task


def synth_task_group(
    spec_path: str,
    *,
    group_id: str | None = None,
    synth_ops_conn_id: str | None = None,
    root: str | None = None,
    rows: int | str | None = None,
    seed: int | str | None = None,
    **task_kwargs,
) -> TaskGroup:
    """profile >> fit >> generate (mapped per shard) >> validate >> publish, in one line; with
    relationships, one mapped generate task per table, in the plan's parent-before-child order.

    The group's shape (tables, shards) comes from the spec, so ``spec_path`` is read here, at parse
    time: it must be a path, not a template. A templated path goes to the operators themselves."""
    from synth_ops.spec import load_spec
    from synth_ops.steps.plan import build_plan

    spec = load_spec(spec_path, root=root, check_files=False)  # structure only: no data is read here
    common = dict(
        spec_path=spec_path, synth_ops_conn_id=synth_ops_conn_id, root=root, rows=rows, seed=seed, **task_kwargs
    )
    with TaskGroup(group_id=group_id or f"synth_{spec.name}") as group:
        profile = SynthProfileOperator(task_id="profile", **common)
        fit = SynthFitOperator(task_id="fit", **common)
        plan = build_plan(spec)
        validate = SynthValidateOperator(task_id="validate", **{**common, "retries": 0})  # a gate verdict is final
        publish = SynthPublishOperator(task_id="publish", **common)
        if not plan.relations:
            shards = [{"table": t.name, "shard": i} for t in plan.tables for i in range(t.shards)]
            generate = SynthGenerateOperator.partial(
                task_id="generate", map_index_template=SHARD_LABEL, **common
            ).expand_kwargs(shards)
            profile >> fit >> generate >> validate >> publish
        else:  # one mapped task per table; a child's shards start once its parents' shards are all done
            generated = {}
            for table in plan.tables:
                shards = [{"table": table.name, "shard": i} for i in range(table.shards)]
                generated[table.name] = SynthGenerateOperator.partial(
                    task_id=f"generate_{table.name}", map_index_template=SHARD_LABEL, **common
                ).expand_kwargs(shards)
                upstream = [generated[p] for p in table.parents] or [fit]
                upstream >> generated[table.name]
                generated[table.name] >> validate
            profile >> fit
            validate >> publish
    return group
