"""Pure: a synth-ops spec -> the Dagster asset and check specs it stands for. Testable alone."""

from __future__ import annotations

import dataclasses

import dagster as dg

from synth_ops.dagster.translator import STAGES, SynthOpsTranslator
from synth_ops.gates.checks import check_description, gate_names, release_checks, release_description


@dataclasses.dataclass(frozen=True)
class TableAssets:
    table: str
    source: dg.AssetSpec
    profile: dg.AssetSpec
    model: dg.AssetSpec
    synthetic: dg.AssetSpec
    published: dg.AssetSpec
    checks: tuple[dg.AssetCheckSpec, ...]
    # related tables: the release gates' checks on this table (run once for the release)
    release_checks: tuple[dg.AssetCheckSpec, ...] = ()


def build_asset_specs(spec, translator: SynthOpsTranslator | None = None) -> list[TableAssets]:
    from synth_ops.steps.plan import build_plan

    translator = translator or SynthOpsTranslator()
    code_version = spec.content_hash()[:16]
    group = translator.get_group_name(spec)
    plan = build_plan(spec)
    out = []
    for table in [t.name for t in plan.tables]:  # parents first
        key = {stage: translator.get_asset_key(spec, table, stage) for stage in STAGES}
        model_unit = plan.model_of(table).name  # related tables: one model (SCHEMA_MODEL), one asset
        if model_unit != table:
            key["model"] = translator.get_asset_key(spec, model_unit, "model")
        # one model covers related tables: it needs every one of their profiles
        profiles = [translator.get_asset_key(spec, t, "profile") for t in plan.model_of(table).tables]
        # lineage: a child's synthetic rows are sampled under its parents' synthetic rows
        parents = [translator.get_asset_key(spec, p, "synthetic") for p in plan.table(table).parents]

        def asset_spec(stage: str, deps, table=table, key=key, model_unit=model_unit) -> dg.AssetSpec:
            unit = model_unit if stage == "model" else table
            return dg.AssetSpec(
                key=key[stage],
                deps=deps,
                group_name=group,
                tags=translator.get_tags(spec, unit, stage),
                kinds=translator.get_kinds(spec, unit, stage),
                description=translator.get_description(spec, unit, stage),
                code_version=None if stage == "source" else code_version,
                owners=translator.get_owners(spec, unit, stage),
                metadata={"dagster/table_name": f"{spec.name}.{table}"}
                if stage in ("synthetic", "published")
                else None,
            )

        checks = tuple(
            dg.AssetCheckSpec(
                name=gate,
                asset=key["synthetic"],
                blocking=True,
                description=f"{check_description(spec, gate, table)}; publication is blocked "
                "when it fails. Each result's `report` entry is the gate report (report.html, "
                "private artifacts)",
            )
            for gate in gate_names(spec, table)
        )
        related = list(dict.fromkeys(t for r in plan.relations for t in (r.parent, r.child)))
        release = tuple(
            dg.AssetCheckSpec(
                name=check,
                asset=key["synthetic"],
                blocking=True,
                # they read every related table's rows: run once all are there
                additional_deps=[translator.get_asset_key(spec, t, "synthetic") for t in related if t != table],
                description=f"{release_description(spec, check)} (related tables, judged as one "
                "release); publication is blocked when it fails",
            )
            for check in release_checks(spec, plan, table)
        )
        out.append(
            TableAssets(
                table=table,
                source=asset_spec("source", []),
                # a child's foreign keys are resolved against its parents' profiled rows
                profile=asset_spec(
                    "profile",
                    [key["source"], *(translator.get_asset_key(spec, p, "profile") for p in plan.table(table).parents)],
                ),
                model=asset_spec("model", list(dict.fromkeys([key["profile"], *profiles]))),
                synthetic=asset_spec("synthetic", [key["model"], *parents]),
                published=asset_spec("published", [key["synthetic"]]),
                checks=checks,
                release_checks=release,
            )
        )
    return out
