"""One operator per synth-ops step, each a few lines over SynthOpsHook and the core step.

XCom carries only the step's small JSON record. ``synth_task_group`` builds the whole chain,
with shards mapped (``.expand_kwargs``) so they spread over Celery or Kubernetes workers.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from airflow.sdk import Asset, BaseOperator, TaskGroup

from synth_ops.airflow.hooks import SynthOpsHook


class SynthOpsBaseOperator(BaseOperator):
    template_fields: Sequence[str] = ("spec_path", "rows", "seed", "synth_ops_conn_id")
    ui_color = "#e8f1fb"

    def __init__(self, *, spec_path: str, synth_ops_conn_id: str | None = None, root: str | None = None,
                 rows: int | str | None = None, seed: int | str | None = None, table: str | None = None, **kwargs):
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

    def execute(self, context):
        """The step, with every synth-ops error in Airflow's terms: bad input, a failed gate or a
        tampered model fail the task for good (retrying cannot help); a store failure is retried."""
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        from synth_ops.errors import GateFailed, InputError, ModelIntegrityError, SpecError, StoreError, SynthOpsError

        try:
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
        from synth_ops.plan import build_plan

        return [self.table] if self.table else [t.name for t in build_plan(ws.spec).tables]  # parents first


class SynthProfileOperator(SynthOpsBaseOperator):
    def run_step(self, context) -> list[dict[str, Any]]:
        from synth_ops.steps.profile import profile

        ws = self.hook.get_workspace()
        return [profile(ws, t).to_dict() for t in self.tables(ws)]


class SynthFitOperator(SynthOpsBaseOperator):
    def run_step(self, context) -> list[dict[str, Any]]:
        from synth_ops.steps.fit import fit

        from synth_ops.plan import build_plan

        ws = self.hook.get_workspace()
        plan = build_plan(ws.spec)
        units = dict.fromkeys(plan.model_of(t).name for t in self.tables(ws))  # related tables share one model
        return [fit(ws, unit).to_dict() for unit in units]


class SynthGenerateOperator(SynthOpsBaseOperator):
    """All shards, or one (``table`` + ``shard``): the unit that dynamic task mapping spreads."""

    template_fields: Sequence[str] = (*SynthOpsBaseOperator.template_fields, "shard")

    def __init__(self, *, shard: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.shard = shard

    def run_step(self, context) -> list[dict[str, Any]]:
        from synth_ops.steps.generate import generate, generate_shard

        ws = self.hook.get_workspace()
        if self.shard is not None:
            table = self.table or next(iter(ws.spec.tables))
            return [generate_shard(ws, table, int(self.shard)).to_dict()]
        return [r.to_dict() for t in self.tables(ws) for r in generate(ws, t)]


class SynthValidateOperator(SynthOpsBaseOperator):
    """Fails without retries (AirflowFailException) when a gate fails, naming gate, value, threshold."""

    def run_step(self, context) -> list[dict[str, Any]]:
        from airflow.sdk.exceptions import AirflowFailException

        from synth_ops.steps.validate import validate

        from synth_ops.steps.validate import validate_release

        ws = self.hook.get_workspace()
        records = [validate(ws, t) for t in self.tables(ws)]
        release = None if self.table else validate_release(ws)  # related tables: judged as one release
        records += [release] if release is not None else []
        failures = [line for r in records for line in r.failures()]
        if failures:
            raise AirflowFailException(f"{len(failures)} gate(s) failed; nothing will be published: " + "; ".join(failures))
        return [_gate_summary(r) for r in records]


def _gate_summary(record) -> dict[str, Any]:
    """A gate record small enough for XCom: each measured gate's value and threshold, and the
    expectations as counts (a suite has dozens)."""
    expectations = [r for r in record.results if r["gate"] == "expectations"]
    measured = [{k: r[k] for k in ("gate", "name", "value", "threshold", "passed")}
                for r in record.results if r["gate"] != "expectations"]
    return {k: v for k, v in record.to_dict().items() if k != "results"} | {
        "checks": len(record.results), "gates": measured,
        "expectations": {"checked": len(expectations), "failed": sum(not r["passed"] for r in expectations)},
    }


def published_asset(spec_path: str, root: str | None = None, table: str | None = None) -> Asset:
    """The Airflow Asset of a published table: its ``_latest.json`` URI. Parses the spec only."""
    from synth_ops.releases import latest_key
    from synth_ops.spec import load_spec

    spec = load_spec(spec_path, root=root, check_files=False)
    table = table or next(iter(spec.tables))
    base = spec.publish.uri if "://" in spec.publish.uri else Path(spec.publish.uri).as_uri()
    uri = f"{base}/{latest_key(spec.name)}"
    if len(spec.tables) > 1:  # one pointer serves every table of the release
        uri += f"?table={table}"
    return Asset(name=f"synth-ops.{spec.name}.{table}", uri=uri, group="synthetic-data",
                 extra={"pipeline": spec.name, "table": table})


class SynthPublishOperator(SynthOpsBaseOperator):
    """Publishes the gated run and emits one Asset event per published table."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from synth_ops.spec import load_spec

        spec = load_spec(self.spec_path, root=self.root, check_files=False)
        self.assets = {t: published_asset(self.spec_path, self.root, t) for t in spec.tables}
        self.outlets = list(self.assets.values())

    def run_step(self, context) -> dict[str, Any]:
        from synth_ops.steps.publish import publish

        ws = self.hook.get_workspace()
        release = publish(ws)
        for table, asset in self.assets.items():
            gates = {r["name"]: r["value"] for r in ws.read(table, "gates.json")["results"]}
            context["outlet_events"][asset].extra = {
                "version": release.version, "status": release.status, "rows": release.tables[table]["rows"],
                "quality_score": gates.get("quality_score"), "dcr_share": gates.get("dcr_share"),
            }
        return release.to_dict()


SHARD_LABEL = "{{ task.table }} shard {{ task.shard }}"  # how the grid labels a mapped generate task


def synth_task_group(spec_path: str, *, group_id: str | None = None, synth_ops_conn_id: str | None = None,
                     root: str | None = None, rows: int | str | None = None, seed: int | str | None = None,
                     **task_kwargs) -> TaskGroup:
    """profile >> fit >> generate (mapped per shard) >> validate >> publish, in one line; with
    relationships, one mapped generate task per table, in the plan's parent-before-child order."""
    from synth_ops.plan import build_plan
    from synth_ops.spec import load_spec

    spec = load_spec(spec_path, root=root, check_files=False)  # structure only: no data is read here
    common = dict(spec_path=spec_path, synth_ops_conn_id=synth_ops_conn_id, root=root, rows=rows, seed=seed,
                  **task_kwargs)
    with TaskGroup(group_id=group_id or f"synth_{spec.name}") as group:
        profile = SynthProfileOperator(task_id="profile", **common)
        fit = SynthFitOperator(task_id="fit", **common)
        plan = build_plan(spec)
        validate = SynthValidateOperator(task_id="validate", retries=0, **common)
        publish = SynthPublishOperator(task_id="publish", **common)
        if not plan.relations:
            shards = [{"table": t.name, "shard": i} for t in plan.tables for i in range(t.shards)]
            generate = SynthGenerateOperator.partial(task_id="generate", map_index_template=SHARD_LABEL,
                                                     **common).expand_kwargs(shards)
            profile >> fit >> generate >> validate >> publish
        else:  # one mapped task per table; a child's shards start once its parents' shards are all done
            generated = {}
            for table in plan.tables:
                shards = [{"table": table.name, "shard": i} for i in range(table.shards)]
                generated[table.name] = SynthGenerateOperator.partial(
                    task_id=f"generate_{table.name}", map_index_template=SHARD_LABEL, **common).expand_kwargs(shards)
                upstream = [generated[p] for p in table.parents] or [fit]
                upstream >> generated[table.name]
                generated[table.name] >> validate
            profile >> fit
            validate >> publish
    return group
