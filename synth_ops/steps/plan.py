"""The plan of a run, built once from the spec by a pure function: which model covers which tables,
in which order tables are generated (parents before children), how many shards each has. The CLI,
Dagster and Airflow render this plan; none of them decides any of it itself.

Row counts are not in the plan: they depend on the source (and, for child tables, on their
parents' synthetic rows), so the steps resolve them at run time.
"""

from __future__ import annotations

import dataclasses
import graphlib

from synth_ops.errors import SpecError

SCHEMA_MODEL = "_schema"  # the artifact unit of one model over several tables: never a table name


@dataclasses.dataclass(frozen=True)
class ModelPlan:
    name: str  # artifact unit: the table's own name, or SCHEMA_MODEL
    kind: str
    tables: tuple[str, ...]  # the tables it covers, parents first


@dataclasses.dataclass(frozen=True)
class RelationPlan:
    """One foreign key, and how its synthetic values are made.

    ``primary``: the child's first relationship (a composite one first, else the first declared):
    child rows are sampled per synthetic parent row, as many as the parent's count says, given its
    attributes. ``implied``: every column is set by the primary relationship (flights.origin
    through weather's [origin, time_hour], weather.origin pointing at airports), so nothing is
    drawn for it; its integrity is still checked. Otherwise a parent is drawn for each child row
    among the synthetic parents, weighted by their synthetic child counts.
    """

    name: str
    parent: str
    parent_key: tuple[str, ...]
    child: str
    child_key: tuple[str, ...]
    orphans: str
    primary: bool = False
    implied: bool = False

    @property
    def count_column(self) -> str:
        """The parent's learned count of its children in this relationship (never published)."""
        return f"#{self.name}"


@dataclasses.dataclass(frozen=True)
class TablePlan:
    name: str
    model: str  # the ModelPlan covering it
    shards: int
    parents: tuple[str, ...]  # tables whose synthetic rows this one's foreign keys point into
    children: tuple[str, ...]
    primary: str | None = None  # the RelationPlan whose parent rows this table's rows are sampled under


@dataclasses.dataclass(frozen=True)
class RunPlan:
    name: str
    models: tuple[ModelPlan, ...]
    tables: tuple[TablePlan, ...]  # generation order: every parent before its children
    relations: tuple[RelationPlan, ...] = ()

    def table(self, name: str) -> TablePlan:
        return next(t for t in self.tables if t.name == name)

    def model(self, name: str) -> ModelPlan:
        return next(m for m in self.models if m.name == name)

    def model_of(self, table: str) -> ModelPlan:
        return self.model(self.table(table).model)

    def relation(self, name: str) -> RelationPlan:
        return next(r for r in self.relations if r.name == name)

    def of_child(self, table: str) -> tuple[RelationPlan, ...]:
        return tuple(r for r in self.relations if r.child == table)

    def of_parent(self, table: str) -> tuple[RelationPlan, ...]:
        return tuple(r for r in self.relations if r.parent == table)


def table_order(tables: list[str], relationships) -> list[str]:
    """Tables with every parent before its children (spec order among equals); SpecError on a cycle.

    Ordered in waves: every table whose parents are all ordered, in spec order, then the next wave.
    """
    position = {t: i for i, t in enumerate(tables)}
    sorter = graphlib.TopologicalSorter()
    for t in tables:
        # a self-reference does not order a table; the spec only names known tables (checked there)
        sorter.add(
            t,
            *(
                r.parent_table_name
                for r in relationships
                if r.child_table_name == t and r.parent_table_name != t and r.parent_table_name in position
            ),
        )
    try:
        sorter.prepare()
    except graphlib.CycleError:
        pass  # the tables outside the cycle are still ordered below; the rest are named in the error
    order: list[str] = []
    # graphlib gives a wave in the order its parents were done: sorted, so ties keep the spec's order
    while ready := sorted(sorter.get_ready(), key=position.__getitem__):
        order += ready
        sorter.done(*ready)
    if len(order) < len(tables):
        cycle = sorted(t for t in tables if t not in order)
        raise SpecError(
            f"relationships: tables {', '.join(cycle)} reference each other in a cycle; "
            "a parent must be generated before its children"
        )
    return order


def build_plan(spec) -> RunPlan:
    """The plan of a run of ``spec`` (pure: reads only the spec and the backends' capabilities)."""
    from synth_ops import synthesizers

    relationships = spec.relationships
    order = table_order(list(spec.tables), relationships)
    capabilities = synthesizers.backend(spec.synthesizer.kind).capabilities
    related = {r.parent_table_name for r in relationships} | {r.child_table_name for r in relationships}
    if related and not capabilities.multi_table:
        raise SpecError(
            f"relationships: synthesizer.kind {spec.synthesizer.kind} models one table at a time; "
            "multi-table synthesis is not supported by it"
        )
    models = []
    grouped = [t for t in order if t in related]
    kind = spec.synthesizer.kind
    if grouped and capabilities.max_tables is not None and len(grouped) > capabilities.max_tables:
        raise SpecError(
            f"relationships: synthesizer.kind {kind} models at most {capabilities.max_tables} related "
            f"tables, got {len(grouped)}; use kind copula"
        )
    depth = _depth(grouped, relationships)
    if grouped and capabilities.max_depth is not None and depth > capabilities.max_depth:
        raise SpecError(
            f"relationships: synthesizer.kind {kind} models parent -> child chains of at most "
            f"{capabilities.max_depth} levels, got {depth}; use kind copula"
        )
    if grouped:
        models.append(ModelPlan(name=SCHEMA_MODEL, kind=spec.synthesizer.kind, tables=tuple(grouped)))
    models += [ModelPlan(name=t, kind=spec.synthesizer_of(t).kind, tables=(t,)) for t in order if t not in related]
    model_of = {t: m.name for m in models for t in m.tables}

    def shards(table: str) -> int:
        kind = spec.synthesizer.kind if table in related else spec.synthesizer_of(table).kind
        return spec.generate.shards if synthesizers.backend(kind).capabilities.shards else 1

    relations = _relations(relationships, capabilities)
    tables = tuple(
        TablePlan(
            name=t,
            model=model_of[t],
            shards=shards(t),
            parents=tuple(dict.fromkeys(r.parent_table_name for r in relationships if r.child_table_name == t)),
            children=tuple(dict.fromkeys(r.child_table_name for r in relationships if r.parent_table_name == t)),
            primary=next((r.name for r in relations if r.child == t and r.primary), None),
        )
        for t in order
    )
    return RunPlan(name=spec.name, models=tuple(models), tables=tables, relations=relations)


def _depth(tables: list[str], relationships) -> int:
    """Relationships on the longest parent -> child chain (tables come parents first)."""
    level = {t: 0 for t in tables}
    for table in tables:
        for rel in relationships:
            if rel.child_table_name == table:
                level[table] = max(level[table], level[rel.parent_table_name] + 1)
    return max(level.values(), default=0)


def _relations(relationships, capabilities) -> tuple[RelationPlan, ...]:
    """Each relationship's role (primary, implied, drawn); SpecError when a foreign key column is
    shared by two relationships whose consistency nothing in the spec guarantees."""
    problems = []
    index = {r.name: i for i, r in enumerate(relationships)}
    chosen: dict[str, str] = {}
    for rel in relationships:
        if not capabilities.composite_keys and (len(rel.child_columns) > 1):
            problems.append(
                f"relationships.{index[rel.name]}: composite keys are not supported by this synthesizer.kind"
            )
        current = chosen.get(rel.child_table_name)
        if current is None or (
            len(rel.child_columns) > 1 and len(next(r for r in relationships if r.name == current).child_columns) == 1
        ):
            chosen[rel.child_table_name] = rel.name
    primary = {name: next(r for r in relationships if r.name == name) for name in chosen.values()}
    plans = []
    for rel in relationships:
        is_primary = rel.name in primary
        main = primary[chosen[rel.child_table_name]]
        shared = set(rel.child_columns) & set(main.child_columns)
        implied = False
        if not is_primary and shared:
            # main sets these columns; they point into rel's parent only if main's parent points there too
            main_parent_columns = tuple(
                main.parent_columns[main.child_columns.index(c)] for c in rel.child_columns if c in main.child_columns
            )
            implied = shared == set(rel.child_columns) and any(
                r.parent_table_name == rel.parent_table_name
                and r.child_table_name == main.parent_table_name
                and r.child_columns == main_parent_columns
                and r.parent_columns == rel.parent_columns
                for r in relationships
            )
            if not implied:
                columns = ", ".join(sorted(shared))
                problems.append(
                    f"relationships.{index[rel.name]}.child_foreign_key: {rel.child_table_name}.{columns} is also "
                    f"part of the foreign key to {main.parent_table_name}, so its synthetic values come from "
                    f"{main.parent_table_name}; declare that {main.parent_table_name}'s "
                    f"{', '.join(main_parent_columns)} references {rel.parent_table_name} "
                    f"({list(rel.parent_columns)}) so both keys stay consistent"
                )
        plans.append(
            RelationPlan(
                name=rel.name,
                parent=rel.parent_table_name,
                parent_key=rel.parent_columns,
                child=rel.child_table_name,
                child_key=rel.child_columns,
                orphans=rel.orphans,
                primary=is_primary,
                implied=implied,
            )
        )
    drawn = [p for p in plans if not p.primary and not p.implied]
    for i, first in enumerate(drawn):  # two drawn keys setting one column would overwrite each other
        for second in drawn[i + 1 :]:
            shared = sorted(set(first.child_key) & set(second.child_key)) if first.child == second.child else []
            if shared:
                problems.append(
                    f"relationships.{index[second.name]}.child_foreign_key: {second.child}."
                    f"{', '.join(shared)} is also in relationships.{index[first.name]}; one column can "
                    "only be set by one relationship (unless it is part of the primary one)"
                )
    if problems:
        raise SpecError("; ".join(problems))
    return tuple(plans)
