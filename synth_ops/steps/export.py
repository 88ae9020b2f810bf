"""fit's side: export each table of a fitted model as a sampler beside its model.json, or say why not.

Each backend translates itself: a Gaussian copula hands its parts (``Synthesizer.sampler_parts``:
``synthesizers/copula/export.py``, ``synthesizers/sdv/export.py``) to ``sampler_doc`` here; a backend
with its own engine writes its sampler (``export_sampler``: ``kind: trees``).

A table gets ``<artifacts>/<name>/<run id>/<table>/sampler/`` when its backend can be translated
(SDV's GaussianCopula, synth-ops' copula for tables without parents), when the backend exports
itself (``export_sampler``: ``kind: trees``) or when nothing of it is learned; model.json records
per table either the sampler's key and manifest sha256 or the reason there is none. A model that
cannot be exported keeps the pickle path, nothing else changes.
"""

from __future__ import annotations

import logging
from typing import Any

from synth_ops.sampler.export_parts import Parts, Unsupported

log = logging.getLogger("synth_ops")

SAMPLER_DIR = "sampler"


def _parts(synthesizer, table: str, child: bool) -> Parts:
    if synthesizer is None:  # every column generated: an empty copula
        return Parts(factor=None)
    if synthesizer.kind not in synthesizer.capabilities.portable_sampler:
        raise Unsupported(f"kind {synthesizer.kind} has no portable sampler")
    return synthesizer.sampler_parts(table, child)  # the backend translates itself


def sampler_doc(table: str, parts: Parts, profile: dict, source: dict[str, Any]) -> tuple[dict, dict]:
    """(sampler.json without its format fields, arrays) of one table."""
    doc, arrays = parts.doc(table)
    return {
        "table": table,
        "source": source,
        "schema": profile["arrow_schema"],
        "columns_plan": profile["columns_plan"],
        **doc,
    }, arrays


def export_samplers(ws, plan, unit: str, synthesizer, learned: dict[str, list[str]], kind: str) -> dict[str, dict]:
    """Write each table's sampler; {table: {"key", "manifest_sha256"} or {"reason"}} for model.json."""
    from synth_ops.sampler.format import write_sampler

    records = {}
    for table in plan.model(unit).tables:
        try:
            if synthesizer is not None and hasattr(synthesizer, "export_sampler"):
                records[table] = _own_export(ws, plan, table, synthesizer, learned, kind)
                continue
            parts = _parts(synthesizer, table, plan.table(table).primary is not None)
            names = [d["name"] for d in parts.decoders]
            expected = (
                set(learned[table])
                | set(getattr(synthesizer, "counts", {}).get(table, ()))
                | set(getattr(synthesizer, "scores", {}).get(table, ()))
            )
            if set(names) != expected or len(names) != len(expected):
                raise Unsupported("the exported columns differ from the learned ones")
            profile = ws.read(table, "profile.json")
            source = {"kind": kind, "spec": ws.spec.name, "run_id": ws.run_id}
            doc, arrays = sampler_doc(table, parts, profile, source)
            prefix = ws.key(table, SAMPLER_DIR)
            digest = write_sampler(ws.artifacts, doc, arrays, prefix=prefix)
            records[table] = {"key": prefix, "manifest_sha256": digest}
        except Unsupported as reason:
            log.info("%s: no portable sampler (%s); generation loads the pickled model", table, reason)
            records[table] = {"reason": str(reason)}
        except Exception as error:  # a translation bug must not fail the fit: the pickle path still works
            log.warning(
                "%s: exporting the sampler failed (%s); generation loads the pickled model", table, type(error).__name__
            )
            records[table] = {"reason": f"export failed ({type(error).__name__})"}
    return records


def _own_export(ws, plan, table: str, synthesizer, learned: dict[str, list[str]], kind: str) -> dict:
    """A backend that writes its own sampler (``export_sampler``; sampler.json names its engine,
    which ``Sampler`` dispatches on): the same checks and record as the copula's route."""
    if synthesizer.kind not in synthesizer.capabilities.portable_sampler:
        raise Unsupported(f"kind {synthesizer.kind} has no portable sampler")
    if plan.table(table).primary is not None:
        raise Unsupported("a child table is sampled under its parents' rows")
    prefix = ws.key(table, SAMPLER_DIR)
    source = {"kind": kind, "spec": ws.spec.name, "run_id": ws.run_id}
    digest = synthesizer.export_sampler(
        ws.artifacts,
        table,
        profile=ws.read(table, "profile.json"),
        source=source,
        prefix=prefix,
        learned=learned[table],
    )
    return {"key": prefix, "manifest_sha256": digest}
