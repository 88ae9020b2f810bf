"""The plan of a run, built once from the spec by a pure function: which model covers which tables,
in which order tables are generated (parents before children), how many shards each has. The CLI,
Dagster and Airflow render this plan; none of them decides any of it itself.

Row counts are not in the plan: they depend on the source (and, for child tables, on their
parents' synthetic rows), so the steps resolve them at run time.
"""
from __future__ import annotations

import dataclasses

from synth_ops.errors import SpecError

SCHEMA_MODEL = "_schema"  # the artifact unit of one model over several tables: never a table name


@dataclasses.dataclass(frozen=True)
class ModelPlan:
    name: str                  # artifact unit: the table's own name, or SCHEMA_MODEL
    kind: str
    tables: tuple[str, ...]    # the tables it covers, parents first


@dataclasses.dataclass(frozen=True)
class TablePlan:
    name: str
    model: str                 # the ModelPlan covering it
    shards: int
    parents: tuple[str, ...]   # tables whose synthetic rows this one's foreign keys point into
    children: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class RunPlan:
    name: str
    models: tuple[ModelPlan, ...]
    tables: tuple[TablePlan, ...]  # generation order: every parent before its children

    def table(self, name: str) -> TablePlan:
        return next(t for t in self.tables if t.name == name)

    def model(self, name: str) -> ModelPlan:
        return next(m for m in self.models if m.name == name)

    def model_of(self, table: str) -> ModelPlan:
        return self.model(self.table(table).model)


def table_order(tables: list[str], relationships) -> list[str]:
    """Tables with every parent before its children (spec order among equals); SpecError on a cycle."""
    parents = {t: {r.parent_table_name for r in relationships if r.child_table_name == t} - {t} for t in tables}
    order: list[str] = []
    while len(order) < len(tables):
        ready = [t for t in tables if t not in order and parents[t] <= set(order)]
        if not ready:
            cycle = sorted(t for t in tables if t not in order)
            raise SpecError(f"relationships: tables {', '.join(cycle)} reference each other in a cycle; "
                            "a parent must be generated before its children")
        order += ready
    return order


def build_plan(spec) -> RunPlan:
    """The plan of a run of ``spec`` (pure: reads only the spec and the backends' capabilities)."""
    from synth_ops import synthesizers

    relationships = spec.relationships
    order = table_order(list(spec.tables), relationships)
    capabilities = synthesizers.backend(spec.synthesizer.kind).capabilities
    related = {r.parent_table_name for r in relationships} | {r.child_table_name for r in relationships}
    if related and not capabilities.multi_table:
        raise SpecError(f"relationships: synthesizer.kind {spec.synthesizer.kind} models one table at a time; "
                        "multi-table synthesis is not supported by it")
    models = []
    grouped = [t for t in order if t in related]
    if grouped:
        models.append(ModelPlan(name=SCHEMA_MODEL, kind=spec.synthesizer.kind, tables=tuple(grouped)))
    models += [ModelPlan(name=t, kind=spec.synthesizer.kind, tables=(t,)) for t in order if t not in related]
    model_of = {t: m.name for m in models for t in m.tables}
    shards = spec.generate.shards if capabilities.shards else 1
    tables = tuple(
        TablePlan(
            name=t, model=model_of[t], shards=shards,
            parents=tuple(dict.fromkeys(r.parent_table_name for r in relationships if r.child_table_name == t)),
            children=tuple(dict.fromkeys(r.child_table_name for r in relationships if r.parent_table_name == t)),
        )
        for t in order
    )
    return RunPlan(name=spec.name, models=tuple(models), tables=tables)
