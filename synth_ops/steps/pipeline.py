"""The service under the three shells: what a run of a spec does, worked out once.

Which tables, in which order (parents first); which model covers which tables and so what to fit;
which gates judge a table and which judge related tables as one release; how failures are collected
and what they stop. The CLI, the Airflow operators and the Dagster assets each call one method of a
``Runner`` per step and translate its record into their own terms; none of them re-derives any of it.

    runner = Runner.open(load_spec("pipeline.yaml"))
    release = runner.run()                       # every step, publishing only if every gate passed
    runner.profile(); runner.fit(); ...          # or step by step, as an orchestrator's tasks
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

from synth_ops.errors import GateFailed, SpecError
from synth_ops.runtime.records import GateRecord, ModelRecord, ProfileRecord, ReleaseRecord, ShardRecord
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import Spec
from synth_ops.steps.plan import SCHEMA_MODEL, RunPlan, build_plan


class Runner:
    """One run of a spec over its workspace (the run id: spec, sources and library versions)."""

    def __init__(self, ws: Workspace):
        self.ws = ws

    @classmethod
    def open(cls, spec: Spec, credentials=None) -> Runner:
        """Opens the workspace (hashing every source). ``credentials``: S3 keys held outside the spec
        (``stores.S3Credentials``, an Airflow connection's), for the sources and artifacts."""
        return cls(Workspace.open(spec, credentials))

    @property
    def spec(self) -> Spec:
        return self.ws.spec

    @cached_property
    def plan(self) -> RunPlan:
        return build_plan(self.spec)

    # ---------------------------------------------------------------- what a step covers

    def tables(self, selected: Sequence[str] | None = None) -> list[str]:
        """Tables in generation order (parents before children); ``selected`` narrows them (SpecError
        naming an unknown one)."""
        order = [t.name for t in self.plan.tables]
        if not selected:
            return order
        unknown = [t for t in selected if t not in self.spec.tables]
        if unknown:
            raise SpecError(f"--table: no table named {', '.join(unknown)} in the spec")
        return [t for t in order if t in selected]

    def models(self, tables: Sequence[str] | None = None) -> list[str]:
        """The models covering ``tables`` (related tables share one), each once, in order."""
        return list(dict.fromkeys(self.plan.model_of(t).name for t in self.tables(tables)))

    def judged_as_release(self, tables: Sequence[str] | None = None) -> bool:
        """Related tables are judged together by the release gates, once every table is in the step."""
        return not tables and bool(self.plan.relations)

    # ---------------------------------------------------------------- the steps

    def check(self) -> None:
        """Before hours of fitting: both stores usable, and no DP refit past its ledger's budget."""
        self.check_stores()
        self.check_budgets()

    def check_stores(self) -> None:
        self.publish_store.check()
        self.ws.artifacts.check()

    def check_budgets(self) -> None:
        """A DP refit past its ledger's budget is refused before any work (SpecError)."""
        from synth_ops import synthesizers
        from synth_ops.privacy.charges import check_budget, planned_charge

        for model in self.plan.models:
            kind = self.spec.synthesizer_of(model.tables[0]).kind
            planned = planned_charge(
                self.spec, kind, model.tables, synthesizers.capabilities(kind).differential_privacy
            )
            if planned is not None:
                check_budget(self.spec, self.ws.run_id, planned)

    def profile(self, tables: Sequence[str] | None = None) -> list[ProfileRecord]:
        from synth_ops.steps.profile import profile

        return [profile(self.ws, t) for t in self.tables(tables)]

    def fit(self, tables: Sequence[str] | None = None, progress=None) -> list[ModelRecord]:
        from synth_ops.steps.fit import fit

        return [fit(self.ws, model, progress=progress) for model in self.models(tables)]

    def planned_rows(self, table: str) -> list[int]:
        from synth_ops.steps.generate import planned_rows

        return planned_rows(self.ws, table)

    def generate(
        self, tables: Sequence[str] | None = None, workers: int = 1, on_rows: Callable[[int], None] | None = None
    ) -> list[ShardRecord]:
        from synth_ops.steps.generate import generate

        return [r for t in self.tables(tables) for r in generate(self.ws, t, workers=workers, on_rows=on_rows)]

    def generate_shard(self, table: str, shard: int, on_rows: Callable[[int], None] | None = None) -> ShardRecord:
        from synth_ops.steps.generate import generate_shard

        return generate_shard(self.ws, self.tables([table])[0], shard, on_rows)

    def validate(self, tables: Sequence[str] | None = None) -> list[GateRecord]:
        """Every table's gates, then the release gates when related tables are all in the step.
        Records only: ``raise_failures`` (or ``run``) decides what a failure stops."""
        from synth_ops.steps.validate import validate, validate_release

        records = [validate(self.ws, t) for t in self.tables(tables)]
        if self.judged_as_release(tables):
            release = validate_release(self.ws)
            records += [release] if release is not None else []
        return records

    def validate_release(self) -> GateRecord | None:
        from synth_ops.steps.validate import validate_release

        return validate_release(self.ws)

    @staticmethod
    def failures(records: Sequence[GateRecord]) -> list[str]:
        """One data-free line per failed gate result, across records."""
        return [line for record in records for line in record.failures()]

    @classmethod
    def raise_failures(cls, records: Sequence[GateRecord], what: str = "nothing published") -> None:
        failures = cls.failures(records)
        if failures:
            raise GateFailed(f"{len(failures)} gate(s) failed; {what}", failures)

    @cached_property
    def publish_store(self):
        from synth_ops.stores import open_store

        return open_store(self.spec.publish.uri, self.spec.s3)

    def publish(self) -> ReleaseRecord:
        from synth_ops.steps.publish import publish

        return publish(self.ws, self.publish_store)

    def report_location(self, tables: Sequence[str] | None = None) -> str | None:
        """Where the run's report is: the release report when related tables are judged as one
        release, else the (first) table's. None before validate has written one."""
        units = ([SCHEMA_MODEL] if self.judged_as_release(tables) else []) + self.tables(tables)
        for unit in units:
            if self.ws.has(unit, "gates.json") and self.ws.read(unit, "gates.json").get("report_key"):
                return self.ws.location(self.ws.read(unit, "gates.json")["report_key"])
        return None

    # ---------------------------------------------------------------- the whole run

    def run(
        self,
        workers: int = 1,
        on_rows: Callable[[int], None] | None = None,
        on_fit: Callable[[str, int], None] | None = None,
    ) -> ReleaseRecord:
        """Profile, fit, generate, validate and publish. Raises GateFailed (nothing published) if a
        gate fails. With unchanged spec, sources and libraries the version id is unchanged, and a run
        whose version is already current does no work at all."""
        from synth_ops.runtime import releases
        from synth_ops.steps.generate import generate
        from synth_ops.steps.publish import up_to_date
        from synth_ops.steps.validate import validate

        self.check_stores()  # before anything else: fail before hours of fitting, not after
        if releases.current_version(self.publish_store, self.spec.name) == self.ws.run_id:
            return up_to_date(self.ws, self.publish_store)
        self.check_budgets()
        self.profile()  # every table's input is checked before any model is fitted
        self.fit(progress=on_fit)
        records = []
        for table in self.tables():  # parents before children: a child samples under its parents' rows
            generate(self.ws, table, workers=workers, on_rows=on_rows)
            records.append(validate(self.ws, table))
        release = self.validate_release()
        records += [release] if release is not None else []
        self.raise_failures(records)
        return self.publish()


def run(
    spec: Spec,
    workers: int = 1,
    on_rows: Callable[[int], None] | None = None,
    on_fit: Callable[[str, int], None] | None = None,
) -> ReleaseRecord:
    """``Runner.open(spec).run(...)``: profile, fit, generate, validate and publish every table."""
    return Runner.open(spec).run(workers=workers, on_rows=on_rows, on_fit=on_fit)
