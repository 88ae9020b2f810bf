"""Pure: a synth-ops spec -> the Dagster asset and check specs it stands for. Testable alone."""
from __future__ import annotations

import dataclasses

import dagster as dg

from synth_ops.dagster.translator import STAGES, SynthOpsTranslator


@dataclasses.dataclass(frozen=True)
class TableAssets:
    table: str
    source: dg.AssetSpec
    profile: dg.AssetSpec
    model: dg.AssetSpec
    synthetic: dg.AssetSpec
    published: dg.AssetSpec
    checks: tuple[dg.AssetCheckSpec, ...]


def gate_names(spec, table: str | None = None) -> list[str]:
    """One blocking check per gate; the utility gate only when the spec asks for it (the
    discriminator is measured on every run, blocking only when its threshold is set), the membership
    attacks unless switched off, and attribute inference for a ``table`` naming sensitive columns."""
    gates = spec.gates
    names = ["expectations", "quality", "discriminator", "exact_match", "dcr_share", "pii_leak"]
    names += ["utility"] if gates.utility is not None else []
    names += ["membership_inference"] if gates.membership_inference is not None else []
    if table is not None and gates.attribute_inference is not None and spec.tables[table].sensitive:
        names.append("attribute_inference")
    return names


def discriminator_rule(gates) -> str:
    if gates.discriminator_auc_max == "auto":
        return (f"<= {gates.discriminator_limit(related=False)} for a table modelled alone (related tables: "
                "measured and reported, not gated)")
    if gates.discriminator_auc_max is None:
        return "measured and reported (not gated: gates.discriminator_auc_max is null)"
    return f"<= {gates.discriminator_auc_max}"


def membership_rule(gates) -> str:
    limit = gates.membership_inference.auc_max if gates.membership_inference else None
    return ("measured and reported (not gated: gates.membership_inference.auc_max is null)" if limit is None
            else f"<= {limit}")


def attribute_inference_rule(spec, table: str | None) -> str:
    settings = spec.gates.attribute_inference
    columns = spec.tables[table] if table is not None else None
    which = (f"per sensitive column ({', '.join(columns.sensitive)}), inferred from the quasi-identifiers "
             f"({', '.join(columns.quasi_identifiers)}) by the nearest synthetic row: " if columns else "")
    limit = settings.risk_max if settings else None
    return which + ("success on training rows minus on holdout rows, judged at its lower 95% bound, "
                    + ("measured and reported (not gated)" if limit is None else f"<= {limit}"))


def check_description(spec, gate: str, table: str | None = None) -> str:
    """What a gate measures and which way it must go, with the spec's thresholds."""
    gates = spec.gates
    quality = f"SDMetrics quality score of synthetic vs training rows >= {gates.quality_share} x the holdout's own"
    if gates.quality_min is not None:
        quality += f", and >= {gates.quality_min}"
    return {
        "expectations": "Great Expectations suites (automatic and the spec's) on every synthetic row: failed "
                        "expectations == 0",
        "quality": quality,
        "exact_match": f"share of synthetic rows equal to a training row, beyond the holdout's own share, "
                       f"<= {gates.exact_match_max}",
        "dcr_share": f"share of synthetic rows closer to a training row than to a holdout row <= "
                     f"{gates.dcr_share_max} (0.5 is ideal)",
        "pii_leak": "real values of replaced (identifying) columns found in synthetic rows, beyond chance: "
                    "<= the chance bound",
        "discriminator": "ROC AUC of a classifier telling synthetic from training rows, minus the same for "
                         "holdout rows, "
                         + discriminator_rule(gates),
        "utility": f"per target ({', '.join(gates.utility.columns) if gates.utility else ''}): score of a model "
                   f"trained on synthetic / trained on real rows, on the holdout, >= "
                   f"{gates.utility.min_ratio if gates.utility else ''}",
        "membership_inference": "ROC AUC of each membership inference attack (distance to the closest synthetic "
                                "row; synthetic over holdout density) telling training from holdout rows, judged at "
                                f"its lower 95% bound, {membership_rule(gates)}; the empirical epsilon the attacks "
                                "prove is reported (for a differentially private fit: <= the charged epsilon)",
        "attribute_inference": attribute_inference_rule(spec, table),
    }[gate]


def build_asset_specs(spec, translator: SynthOpsTranslator | None = None) -> list[TableAssets]:
    from synth_ops.plan import build_plan

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

        def asset_spec(stage: str, deps) -> dg.AssetSpec:
            unit = model_unit if stage == "model" else table
            return dg.AssetSpec(
                key=key[stage], deps=deps, group_name=group, tags=translator.get_tags(spec, unit, stage),
                kinds=translator.get_kinds(spec, unit, stage), description=translator.get_description(spec, unit, stage),
                code_version=None if stage == "source" else code_version,
                owners=translator.get_owners(spec, unit, stage),
                metadata={"dagster/table_name": f"{spec.name}.{table}"} if stage in ("synthetic", "published") else None,
            )

        checks = tuple(
            dg.AssetCheckSpec(name=gate, asset=key["synthetic"], blocking=True,
                              description=f"{check_description(spec, gate, table)}; publication is blocked "
                                          "when it fails. Each result's `report` entry is the gate report (report.html, "
                                          "private artifacts)")
            for gate in gate_names(spec, table)
        )
        out.append(TableAssets(
            table=table,
            source=asset_spec("source", []),
            # a child's foreign keys are resolved against its parents' profiled rows
            profile=asset_spec("profile", [key["source"], *(translator.get_asset_key(spec, p, "profile")
                                                           for p in plan.table(table).parents)]),
            model=asset_spec("model", list(dict.fromkeys([key["profile"], *profiles]))),
            synthetic=asset_spec("synthetic", [key["model"], *parents]),
            published=asset_spec("published", [key["synthetic"]]),
            checks=checks,
        ))
    return out
