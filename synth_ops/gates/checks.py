"""The checks a run's gates report under, named and described once for every shell.

A table's gates report under one check per gate family (each privacy measure its own: ``check_of``);
related tables judged as one release add the release checks, shown on the related tables nothing is
sampled under (``release_checks``, ``release_tables_of``). Dagster's asset checks are built from these; the
descriptions carry the spec's thresholds.
"""

from __future__ import annotations

RELEASE = "release"
# a release gate result's name -> its check (results are named "<check>:<table or relationship>")
RELEASE_CHECKS = ("primary_key_unique", "referential_integrity", "cardinality", "release_quality")


# gate family -> the check that carries it (the rest: the family's own name)
CHECK_OF_FAMILY = {"membership": "membership_inference"}


def check_of(result: dict) -> str:
    """The check a gate result belongs to: one per gate family, one per privacy measure."""
    if result["gate"] == "privacy":
        return result["name"]
    return CHECK_OF_FAMILY.get(result["gate"], result["gate"])


def gate_names(spec, table: str | None = None) -> list[str]:
    """The checks a table's gates report under, from the gate registry (``GATES``): one blocking
    check per gate family, each privacy measure its own; the utility gate only when the spec asks
    for it, the membership attacks unless switched off, attribute inference for a ``table`` naming
    sensitive columns."""
    from synth_ops.gates import GATES

    return [check for gate in GATES if gate.applies(spec, table) for check in gate.checks]


def discriminator_rule(gates) -> str:
    if gates.discriminator_auc_max == "auto":
        return (
            f"<= {gates.discriminator_limit(related=False)} for a table modelled alone (related tables: "
            "measured and reported, not gated)"
        )
    if gates.discriminator_auc_max is None:
        return "measured and reported (not gated: gates.discriminator_auc_max is null)"
    return f"<= {gates.discriminator_auc_max}"


def membership_rule(gates) -> str:
    settings = gates.membership_inference
    limit = settings.auc_max if settings else None
    rule = (
        "measured and reported (not gated: gates.membership_inference.auc_max is null)"
        if limit is None
        else f"<= {limit}"
    )
    if settings is not None and settings.tpr_max is not None:
        rule += f", and its TPR at 1% FPR <= {settings.tpr_max} (at its lower 95% bound)"
    return rule


def attribute_inference_rule(spec, table: str | None) -> str:
    settings = spec.gates.attribute_inference
    columns = spec.tables[table] if table is not None else None
    which = (
        f"per sensitive column ({', '.join(columns.sensitive)}), inferred from the quasi-identifiers "
        f"({', '.join(columns.quasi_identifiers)}) by the nearest synthetic row: "
        if columns
        else ""
    )
    limit = settings.risk_max if settings else None
    return which + (
        "success on training rows minus on holdout rows, judged at its lower 95% bound, "
        + ("measured and reported (not gated)" if limit is None else f"<= {limit}")
    )


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
        "holdout rows, " + discriminator_rule(gates),
        "utility": f"per target ({', '.join(gates.utility.columns) if gates.utility else ''}): score of a model "
        f"trained on synthetic / trained on real rows, on the holdout, >= "
        f"{gates.utility.min_ratio if gates.utility else ''}",
        "membership_inference": "ROC AUC of each membership inference attack (distance to the closest synthetic "
        "row; synthetic over holdout density) telling training from holdout rows, judged at "
        f"its lower 95% bound, {membership_rule(gates)}; the empirical epsilon the attacks "
        "prove is reported (for a differentially private fit: <= the charged epsilon)",
        "attribute_inference": attribute_inference_rule(spec, table),
        "control": "the generation controls hold in the published rows: each rebalanced share within "
        "sampling noise (99.9%) of the requested one, every condition row holding its values, no null "
        "in an imputed column",
    }[gate]


def release_check_of(result: dict) -> str:
    """The release check a release gate result belongs to."""
    name = result["name"].split(":", 1)[0]
    return "release_quality" if name == "quality" else name


def release_leaves(plan) -> list[str]:
    """The related tables no other table is sampled under: where the release checks are shown.
    A check on a table runs after its rows and blocks what is downstream of it, so a release check
    (which reads every related table) can only sit on a table with no children."""
    related = list(dict.fromkeys(t for r in plan.relations for t in (r.parent, r.child)))
    parents = {r.parent for r in plan.relations}
    return [t for t in related if t not in parents]


def release_checks(spec, plan, table: str) -> list[str]:
    """The release checks shown on ``table``: every release check family on each leaf of the related
    tables (``release_leaves``), none elsewhere."""
    if table not in release_leaves(plan):
        return []
    return list(RELEASE_CHECKS)


def release_tables_of(result: dict, plan) -> list[str]:
    """The leaves a release gate result is shown on: those sampled under the table it judges (the
    key's table, the relationship's child), or every leaf (the multi-table quality)."""
    check, _, subject = result["name"].partition(":")
    leaves = release_leaves(plan)
    if check == "primary_key_unique":
        judged = subject
    elif check in ("referential_integrity", "cardinality"):
        judged = next((r.child for r in plan.relations if r.name == subject), None)
    else:
        return leaves
    below, frontier = {judged}, [judged]
    while frontier:  # the tables sampled under the judged one, at any depth
        table = frontier.pop()
        for r in plan.relations:
            if r.parent == table and r.child not in below:
                below.add(r.child)
                frontier.append(r.child)
    return [t for t in leaves if t in below]


def release_description(spec, check: str) -> str:
    gates = spec.gates
    return {
        "primary_key_unique": "every synthetic row's primary key unique and present: share of rows with a unique "
        "key == 1",
        "referential_integrity": "every synthetic foreign key of this table points at a synthetic parent row: "
        "share resolved == 1",
        "cardinality": f"1 - KS distance of children per parent row, real vs synthetic, >= {gates.cardinality_min} "
        "(or within the 5% sampling noise)",
        "release_quality": "SDMetrics' multi-table quality score over the related tables >= "
        f"{gates.quality_min if gates.quality_min is not None else gates.release_quality_min}",
    }[check]
