"""fit: the spec's synthesizer backend fitted on the training rows' learned columns.

A thin step: the holdout split (``holdout.py``), the backend (``synthesizers/``), the model's
artifacts and their integrity (``models.py``) each live in their own module.
"""

from __future__ import annotations

import logging
import time

from synth_ops.io.fingerprints import sha256_json
from synth_ops.profiling.holdout import load_training_rows, split_holdout
from synth_ops.runtime import failpoints, models
from synth_ops.runtime.records import ModelRecord
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec.columns import learned_columns

log = logging.getLogger("synth_ops")


def fit(ws: Workspace, unit: str, progress=None, force: bool = False) -> ModelRecord:
    """Fit the model of ``unit`` (a table, or the model covering related tables: the plan's
    SCHEMA_MODEL or any of its tables) on the training rows; write the model, model.json, and each
    table's split.json.

    A model of this run (same spec content, sources and libraries) whose pickle still matches its
    checksum is reused unless ``force``: re-running a pipeline does not refit. A single table whose
    columns are all generated (keys, ids, replaced text, constants) has no model to fit.
    """
    from synth_ops import synthesizers
    from synth_ops.steps.plan import build_plan

    plan = build_plan(ws.spec)
    if unit in ws.spec.tables:
        unit = plan.model_of(unit).name
    model = plan.model(unit)
    if not force and models.fitted(ws, unit):
        log.info("%s: model up to date", unit)
        return ModelRecord.from_dict(ws.read(unit, models.MODEL_JSON))
    settings = ws.spec.synthesizer_of(model.tables[0])
    from synth_ops.privacy.charges import charged_fit, check_budget, planned_charge

    planned = planned_charge(
        ws.spec, settings.kind, model.tables, synthesizers.capabilities(settings.kind).differential_privacy
    )
    if planned is not None:
        check_budget(ws.spec, ws.run_id, planned)  # refused before reading a training row
    data, metadata, learned, splits, positions = {}, {}, {}, {}, {}
    for table in model.tables:
        ws.require(table, "profile.json", "profile")
        learned[table] = learned_columns(ws.read(table, "profile.json")["columns_plan"])
        train, holdout = load_training_rows(ws, table)
        positions[table] = split_holdout(len(train) + len(holdout), ws.spec.gates.holdout, ws.spec.synthesizer.seed)[0]
        splits[table] = {
            "seed": ws.spec.synthesizer.seed,  # the split's seed (load_training_rows), whatever the model's
            "holdout_share": ws.spec.gates.holdout,
            "train_rows": len(train),
            "holdout_rows": len(holdout),
            "source_fingerprint": ws.source_fingerprints[table],
        }
        ws.write(table, "split.json", splits[table])
        data[table] = train[learned[table]].copy()
        metadata[table] = ws.read(table, "metadata.json")["tables"][table]
    relations = _relation_data(ws, plan, model, positions, learned)

    started = time.perf_counter()
    synthesizer, info, privacy = None, {}, {}
    if any(learned.values()) or relations:
        synthesizer = synthesizers.create(settings, ws.spec.privacy)
        if planned is not None:  # an input the backend refuses is refused before anything is reserved
            synthesizer.check(metadata)
        if progress:
            progress("fitting", 0)
        with charged_fit(ws.spec, ws.run_id, planned) as privacy:
            failpoints.reached("fit.before_model")
            context = _context(ws, model, splits[model.tables[0]])
            if settings.kind == "auto":  # champion/challenger: the winner's model is the one stored
                from synth_ops.steps.auto import choose

                (table,) = model.tables
                synthesizer, info = choose(ws, table, data[table], metadata[table], context, settings, ws.spec.privacy)
            else:
                info = synthesizer.fit(data, metadata, relations, context=context)
        if progress:
            progress("fitted", 1)
    fit_seconds = round(time.perf_counter() - started, 3)

    from synth_ops.steps.export import export_samplers

    model_key, digest = models.write(ws, unit, models.dumps(synthesizer))
    samplers = export_samplers(ws, plan, unit, synthesizer, learned, settings.kind)
    train_rows = sum(s["train_rows"] for s in splits.values())
    holdout_rows = sum(s["holdout_rows"] for s in splits.values())
    record = ModelRecord(
        name=ws.spec.name,
        table=unit,
        run_id=ws.run_id,
        kind=settings.kind,
        seed=settings.seed,
        train_rows=train_rows,
        holdout_rows=holdout_rows,
        model_key=model_key,
        model_sha256=digest,
        fit_seconds=fit_seconds,
        privacy=privacy or None,
    )
    ws.write(
        unit,
        models.MODEL_JSON,
        {
            **record.to_dict(),
            "libraries": ws.versions,
            "spec_hash": ws.spec_hash,
            "tables": list(model.tables),
            "source_fingerprint": {t: ws.source_fingerprints[t] for t in model.tables}
            if len(model.tables) > 1
            else ws.source_fingerprints[model.tables[0]],
            "split_sha256": sha256_json(splits if len(model.tables) > 1 else splits[model.tables[0]]),
            "learned_columns": learned if len(model.tables) > 1 else learned[model.tables[0]],
            **info,
            "sampler": samplers,  # per table: the portable sampler's key and manifest sha256, or why there is none
        },
    )
    if synthesizer is not None:
        log.info(
            "%s: fitted %s on %d rows of %s in %.1fs",
            unit,
            settings.kind,
            train_rows,
            ", ".join(model.tables),
            fit_seconds,
        )
    else:
        log.info("%s: every column is generated (keys, ids, replaced or constant): no model to fit", unit)
    return record


def _context(ws: Workspace, model, root: dict):
    """The release's scale of the rows a model is fitted on (the first table's training rows): a
    backend that samples a whole schema at once (hma) draws it at this scale; and the columns a
    single table's generation controls."""
    from synth_ops.synthesizers.base import FitContext

    target = ws.spec.generate.row_count(root["train_rows"] + root["holdout_rows"])
    controls = ws.spec.controls_of(model.tables[0]) if len(model.tables) == 1 else {}
    return FitContext(scale=target / max(root["train_rows"], 1), controls=controls)


def _relation_data(ws: Workspace, plan, model, positions: dict, learned: dict) -> dict:
    """Each relationship among the model's tables as the backend learns it (see RelationData)."""
    import numpy as np

    from synth_ops.profiling.relations import kept_source, read_links
    from synth_ops.synthesizers.base import RelationData

    relations, sources = {}, {}
    for relation in plan.relations:
        if relation.child not in model.tables or relation.implied:
            continue
        profile = ws.read(relation.child, "profile.json")
        links = read_links(ws, relation.child)[relation.name].to_numpy()
        parent_rows = ws.read(relation.parent, "profile.json")["rows"]
        counts = np.bincount(links[links >= 0], minlength=parent_rows)[positions[relation.parent]]
        parents = links[positions[relation.child]]
        # the parent's learned columns per child row: conditioned on (primary), or the child's own
        # view of which parent it has (drawn keys are matched to parents by it)
        if relation.parent not in sources:  # read once, however many keys point at it
            sources[relation.parent] = kept_source(ws, relation.parent)
        parent_frame = sources[relation.parent][learned[relation.parent]]
        context = parent_frame.iloc[np.maximum(parents, 0)].reset_index(drop=True)
        context.loc[parents < 0, :] = None
        sequence = None
        if relation.primary:
            sequence = next(
                ((c, e["step"]) for c, e in profile["columns_plan"].items() if e.get("unique_within") == relation.name),
                None,
            )
        relations[relation.name] = RelationData(
            plan=relation,
            counts=counts.astype("int64"),
            parents=np.where(parents >= 0, parents, -1),
            context=context,
            sequence=sequence,
            parent_rows=positions[relation.parent],
        )
    return relations
