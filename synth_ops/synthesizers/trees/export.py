"""A fitted ``kind: trees`` model as a portable sampler (``synth_ops/sampler/``): its state already
is the sampler's arrays (node arrays, donor pools, smoothing tables) and JSON (visit order,
encodings, decoders), so exporting adds the table's schema and plan and checks that every
category is a JSON value. ``sampler.json`` says ``"engine": "trees"``; the sampler dispatches on it.
"""

from __future__ import annotations

from typing import Any

from synth_ops.sampler.trees import ENGINE


def sampler_files(
    backend, table: str, profile: dict | None = None, source: dict | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sampler.json without its format fields, arrays) of ``table``. ``profile``: the table's
    profile.json (its Arrow schema and columns plan: generated columns too); without it, the
    learned columns alone, typed as the training rows were."""
    from synth_ops.sampler.export_parts import json_values
    from synth_ops.spec.columns import LEARNED

    model = backend.models[table]
    decoders = [
        {**spec, "values": json_values(spec["values"], spec["name"])} if spec["kind"] == "label" else dict(spec)
        for spec in model["columns"]
    ]
    if profile is not None:
        schema, plan = profile["arrow_schema"], profile["columns_plan"]
    else:
        schema, plan = backend.schemas[table], {spec["name"]: {"role": LEARNED} for spec in decoders}
    doc = {
        "engine": ENGINE,
        "table": table,
        "source": source or {"kind": backend.kind},
        "schema": schema,
        "columns_plan": plan,
        "trees": model["trees"],
        "columns": decoders,
    }
    return doc, dict(model["arrays"])


def write(
    backend, target, table: str, profile: dict | None = None, source: dict | None = None, prefix: str = ""
) -> str:
    """Write ``table``'s sampler into ``target`` (a directory or a Store, keys under ``prefix``);
    the sha256 of its manifest."""
    from synth_ops.sampler.format import write_sampler

    doc, arrays = sampler_files(backend, table, profile, source)
    return write_sampler(target, doc, arrays, prefix=prefix)
