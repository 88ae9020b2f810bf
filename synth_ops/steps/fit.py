"""fit: the spec's synthesizer backend fitted on the training rows' learned columns.

A thin step: the holdout split (``holdout.py``), the backend (``synthesizers/``), the model's
artifacts and their integrity (``models.py``) each live in their own module.
"""
from __future__ import annotations

import logging
import time

from synth_ops import models
from synth_ops.columns import learned_columns
from synth_ops.errors import SpecError
from synth_ops.fingerprints import sha256_json
from synth_ops.holdout import load_training_rows
from synth_ops.records import ModelRecord
from synth_ops.workspace import Workspace

log = logging.getLogger("synth_ops")


def fit(ws: Workspace, table: str, progress=None, force: bool = False) -> ModelRecord:
    """Fit the spec's synthesizer on ``table``'s training rows; write the model, model.json and split.json.

    A model of this run (same spec content, source and libraries) whose pickle still matches its
    checksum is reused unless ``force``: re-running a pipeline does not refit. A table whose
    columns are all generated (keys, ids, replaced text, constants) has no model to fit.
    """
    from synth_ops import synthesizers

    if not force and models.fitted(ws, table):
        log.info("%s: model up to date", table)
        return ModelRecord.from_dict(ws.read(table, models.MODEL_JSON))
    if ws.spec.relationships:
        raise SpecError("relationships: multi-table synthesis is not supported yet; fit tables separately")
    ws.require(table, "profile.json", "profile")
    settings = ws.spec.synthesizer
    learned = learned_columns(ws.read(table, "profile.json")["columns_plan"])
    train, holdout = load_training_rows(ws, table)
    split = {
        "seed": settings.seed,
        "holdout_share": ws.spec.gates.holdout,
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "source_fingerprint": ws.source_fingerprints[table],
    }
    ws.write(table, "split.json", split)

    started = time.perf_counter()
    synthesizer, info = None, {}
    if learned:
        synthesizer = synthesizers.create(settings)
        metadata = {table: ws.read(table, "metadata.json")["tables"][table]}
        if progress:
            progress("fitting", 0)
        info = synthesizer.fit({table: train[learned].copy()}, metadata)
        if progress:
            progress("fitted", 1)
    fit_seconds = round(time.perf_counter() - started, 3)

    import cloudpickle

    model_key, digest = models.write(ws, table, cloudpickle.dumps(synthesizer))
    record = ModelRecord(
        name=ws.spec.name, table=table, run_id=ws.run_id, kind=settings.kind, seed=settings.seed,
        train_rows=len(train), holdout_rows=len(holdout), model_key=model_key,
        model_sha256=digest, fit_seconds=fit_seconds,
    )
    ws.write(table, models.MODEL_JSON, {
        **record.to_dict(),
        "libraries": ws.versions,
        "spec_hash": ws.spec_hash,
        "source_fingerprint": ws.source_fingerprints[table],
        "split_sha256": sha256_json(split),
        "learned_columns": learned,
        **info,
    })
    if learned:
        log.info("%s: fitted %s on %d rows x %d learned columns in %.1fs", table, settings.kind, len(train),
                 len(learned), fit_seconds)
    else:
        log.info("%s: every column is generated (keys, ids, replaced or constant): no model to fit", table)
    return record
