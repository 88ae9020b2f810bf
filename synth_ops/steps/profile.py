"""profile: per-column statistics, SDV metadata (detected, corrected, overridden by the spec) and
the column plan (what is learned, what is generated and why; see ``detect.py`` and ``columns.py``).

The profile holds real values (ranges, categories): it lives in the private artifacts only.
Problems that make the source unusable are collected and raised together as one InputError.
"""

from __future__ import annotations

import logging

from synth_ops.errors import InputError, SpecError
from synth_ops.io import schema
from synth_ops.profiling.holdout import split_holdout
from synth_ops.runtime.records import ProfileRecord
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec.columns import CONSTANT, ID, KEY, LEARNED, NULL, REPLACED, learned_columns
from synth_ops.stores.sources import read_source_table

log = logging.getLogger("synth_ops")

TOP_CATEGORIES = 10
MAX_CATEGORIES = 1000  # a column with more distinct values gets no "values in set" expectation


def profile(ws: Workspace, table: str, force: bool = False) -> ProfileRecord:
    """Profile one source table and write ``profile.json`` and ``metadata.json`` to the artifacts.

    Everything that can be checked before fitting is checked here (the data, the metadata
    overrides, the synthesizer params, the suites, the utility target), so a bad input ends in
    one error before any model is fitted. The run id is content-addressed, so an existing
    profile of this run is reused unless ``force``.
    """
    from synth_ops import synthesizers
    from synth_ops.profiling import relations
    from synth_ops.profiling.detect import detect
    from synth_ops.steps import preflight
    from synth_ops.steps.plan import build_plan

    if not force and ws.has(table, "profile.json") and ws.has(table, "metadata.json"):
        log.info("%s: profile up to date", table)
        return ProfileRecord.from_dict(ws.read(table, "profile.json")["record"])
    spec_table = ws.spec.tables[table]
    field = f"tables.{table}"
    frame, known_types = read_source_table(
        spec_table.source, spec_table.exclude, field=f"{field}.source", s3_options=ws.spec.s3
    )
    plan = build_plan(ws.spec)
    as_child = sorted(plan.of_child(table), key=lambda r: not r.primary)  # the primary relationship sets shared columns
    declared_key = next((r.parent_key for r in plan.of_parent(table)), None)
    key_field = next(
        (
            f"relationships.{i}.parent_primary_key"
            for i, r in enumerate(ws.spec.relationships)
            if r.parent_table_name == table
        ),
        None,
    )
    _check_usable(frame, table, spec_table, ws.spec.relationships)
    for relation in as_child:
        ws.require(relation.parent, "profile.json", "profile")
    frame, links, relationship_stats = relations.resolve(ws, table, frame, as_child)
    if len(frame) == 0:
        raise InputError(f"tables.{table}.source: no row is left once orphans are dropped (orphans: drop)")
    foreign = {}
    for relation in as_child:
        for column in relation.child_key:
            foreign.setdefault(column, relation.name)
    detection = detect(
        frame, table, spec_table, ws.spec.synthesizer.seed, key=declared_key, foreign=foreign, key_field=key_field
    )
    _composite_key(frame, table, detection, plan, relationship_stats, ws.spec)
    learned = learned_columns(detection.plan)
    from synth_ops.privacy.charges import planned_charge

    settings = ws.spec.synthesizer_of(table)
    if not ws.spec.relationships:
        planned_charge(
            ws.spec, settings.kind, [table], synthesizers.capabilities(settings.kind).differential_privacy
        )  # privacy and the backend agree
    synthesizers.create(settings, ws.spec.privacy).check(
        {table: detection.metadata["tables"][table] if learned else {"columns": {}}}
    )
    preflight.check_suites(ws.spec.gates.suites, table, list(frame.columns))
    preflight.check_utility(ws.spec.gates.utility, table, detection.plan, len(ws.spec.tables))
    preflight.check_attack_columns(spec_table, table, detection.plan)
    planned = _planned_rows_estimate(ws, plan, table, len(frame))
    preflight.check_key_capacity(detection.plan, table, planned)
    preflight.check_controls(
        spec_table,
        table,
        frame,
        detection.plan,
        {c: m.get("sdtype") for c, m in detection.metadata["tables"][table]["columns"].items()},
        settings.kind,
        synthesizers.capabilities(settings.kind).controls,
        ws.spec.is_related(table),
        planned,
    )
    split_holdout(len(frame), ws.spec.gates.holdout, ws.spec.synthesizer.seed)  # a holdout to judge against

    sdtypes = {c: m["sdtype"] for c, m in detection.metadata["tables"][table]["columns"].items()}
    columns = {
        c: _column_stats(frame[c], sdtypes.get(c, detection.plan[c]["role"]), _keeps_support(detection.plan[c]))
        for c in frame.columns
    }
    replaced = {c: e["reason"] for c, e in detection.plan.items() if e["role"] == REPLACED}
    warnings = list(detection.notes)
    for column, entry in detection.plan.items():
        if entry["role"] in (CONSTANT, NULL):
            warnings.append(f"column {column!r}: {entry['reason']}")
    doc = {
        "name": ws.spec.name,
        "table": table,
        "run_id": ws.run_id,
        "source_fingerprint": ws.source_fingerprints[table],
        "rows": int(len(frame)),
        "primary_key": detection.primary_key,
        "primary_key_detected": detection.detected_key,
        "columns": columns,
        "columns_plan": detection.plan,
        "arrow_schema": _with_parent_types(
            ws, schema.with_key_types(schema.infer(frame, known_types), detection.plan), as_child
        ),
        "pii": replaced,
        "warnings": warnings,
        "relationships": relationship_stats,
        "planned_rows_estimate": planned,
    }
    if as_child:
        relations.write_links(ws, table, links)
    metadata_key = ws.write(table, "metadata.json", detection.metadata)
    record = ProfileRecord(
        name=ws.spec.name,
        table=table,
        run_id=ws.run_id,
        source_fingerprint=doc["source_fingerprint"],
        rows=doc["rows"],
        columns=int(frame.shape[1]),
        pii_columns=sorted(replaced),
        primary_key=detection.primary_key,
        profile_key=ws.key(table, "profile.json"),
        metadata_key=metadata_key,
        generated={c: e["role"] for c, e in detection.plan.items() if e["role"] != LEARNED},
    )
    ws.write(table, "profile.json", {**doc, "record": record.to_dict()})  # written last: marks completion
    for warning in warnings:
        log.warning("%s: %s", table, warning)
    for name, stats in relationship_stats.items():
        log.info(
            "%s: relationship %s: %d null and %d orphan foreign keys of %d rows (orphans: %s)",
            table,
            name,
            stats["null"],
            stats["orphans"],
            stats["rows"],
            stats["orphans_policy"],
        )
    for column, entry in detection.plan.items():
        if entry["role"] in (KEY, ID, REPLACED):
            log.info("%s: column %r is generated, not learned (%s: %s)", table, column, entry["role"], entry["reason"])
    log.info("%s: profiled %d rows x %d columns", table, len(frame), frame.shape[1])
    return record


def _planned_rows_estimate(ws: Workspace, plan, table: str, rows: int) -> int:
    """Rows the release will hold: the spec's count for a table without parents; for a child, its
    primary parent's estimate times the real children per parent row."""
    primary = plan.table(table).primary
    if primary is None:
        return ws.spec.generate.row_count(rows)
    parent = ws.read(plan.relation(primary).parent, "profile.json")
    return int(round(parent["planned_rows_estimate"] * rows / max(parent["rows"], 1)))


def _with_parent_types(ws: Workspace, arrow_schema: list, as_child) -> list:
    """Foreign key columns are written in their parent key's type (its values are the parent's)."""
    types: dict[str, str] = {}
    for relation in as_child:
        parent = dict(ws.read(relation.parent, "profile.json")["arrow_schema"])
        for column, parent_column in zip(relation.child_key, relation.parent_key):
            types.setdefault(column, parent[parent_column])
    return [[name, types.get(name, kind)] for name, kind in arrow_schema]


def _composite_key(frame, table: str, detection, plan, stats: dict, spec) -> None:
    """A composite primary key is made unique within each synthetic parent: every column but one
    comes from the table's primary relationship, and the one left is a number or datetime, spaced
    at least by the smallest gap between a parent's real values (weather's hourly time_hour)."""
    import numpy as np
    import pandas as pd

    key = detection.primary_key
    if not isinstance(key, list):
        return
    primary = plan.relation(plan.table(table).primary) if plan.table(table).primary else None
    free = [c for c in key if primary is None or c not in primary.child_key]
    entry = detection.plan.get(free[0], {}) if len(free) == 1 else {}
    if (
        primary is None
        or len(free) != 1
        or entry.get("role") != LEARNED
        or entry.get("sdtype") not in ("numerical", "datetime")
    ):
        raise SpecError(
            f"tables.{table}.metadata.primary_key: a composite key {key} needs every column but one in the foreign "
            "key of the table's first relationship, and that one column learned as a number or datetime"
        )
    unlinked = stats[primary.name]["unlinked"]
    if unlinked:  # their key would lack its parent part: null, and repeated
        raise SpecError(
            f"{spec.relationship_field(primary.name)}.orphans: {unlinked} {table} rows have a null or orphan "
            f"{list(primary.child_key)}, part of the composite primary key {key}; set orphans: drop"
        )
    values = frame[free[0]]
    if entry["sdtype"] == "datetime":
        fmt = detection.metadata["tables"][table]["columns"].get(free[0], {}).get("datetime_format")
        parsed = (
            values
            if pd.api.types.is_datetime64_any_dtype(values)
            else pd.to_datetime(values, format=fmt or "mixed", utc=True, errors="coerce")
        )
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        numbers = parsed.astype("datetime64[ns]").astype("int64").astype("float64")
    else:
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    grouped = pd.DataFrame(
        {"parent": frame[list(primary.child_key)].astype(str).agg("|".join, axis=1), "value": numbers}
    ).sort_values(["parent", "value"])
    gaps = grouped.groupby("parent")["value"].diff().to_numpy()
    gaps = gaps[np.isfinite(gaps) & (gaps > 0)]
    entry["unique_within"] = primary.name
    entry["step"] = float(gaps.min()) if len(gaps) else 1.0


def _check_usable(frame, table: str, spec_table, relationships=()) -> None:
    """What makes the source unusable as a whole, every problem at once; counts, never values."""
    import numpy as np
    import pandas as pd

    field = f"tables.{table}"
    problems = []
    if frame.shape[1] == 0:
        problems.append(f"{field}.source: {spec_table.source} has no columns")
    elif len(frame) == 0:
        problems.append(f"{field}.source: {spec_table.source} has a header but no rows")
    else:
        for column in frame.columns:
            series = frame[column]
            if pd.api.types.is_float_dtype(series):
                infinite = int(np.isinf(series.to_numpy(dtype="float64", na_value=np.nan)).sum())
                if infinite:
                    problems.append(
                        f"{field}.source: column {column!r} holds {infinite} infinite values; "
                        "replace them with null or finite numbers"
                    )
    for column in spec_table.metadata.columns:
        if column not in frame.columns:
            problems.append(f"{field}.metadata.columns.{column}: no such column in the source")
    from synth_ops.spec import as_columns

    for key in as_columns(spec_table.metadata.primary_key):
        if key not in frame.columns:
            problems.append(f"{field}.metadata.primary_key: no such column in the source ({key!r})")
    for i, rel in enumerate(relationships):
        for role, name, columns in (
            ("parent_primary_key", rel.parent_table_name, rel.parent_columns),
            ("child_foreign_key", rel.child_table_name, rel.child_columns),
        ):
            missing = [c for c in columns if c not in frame.columns] if name == table else []
            if missing:
                problems.append(
                    f"relationships.{i}.{role}: no column {', '.join(map(repr, missing))} in tables.{table}.source"
                )
    if problems:
        raise InputError("; ".join(problems))


def _keeps_support(entry: dict) -> bool:
    """Whether a discrete numeric column's values stay within its support: learned columns, but
    not a composite key's own column, which is moved past real values to be unique per parent."""
    return entry["role"] == LEARNED and "unique_within" not in entry


def _column_stats(series, sdtype: str, keeps_support: bool = False) -> dict:
    """Per-column statistics; ``support``: the sorted distinct values of a learned discrete number
    (``columns.discrete_support``), which every backend's output keeps to."""
    import pandas as pd

    from synth_ops.spec.columns import discrete_support

    non_null = series.dropna()
    stats = {
        "dtype": str(series.dtype),
        "sdtype": sdtype,
        "null_share": float(series.isna().mean()),
        "distinct": int(non_null.nunique()),
    }
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        quantiles = non_null.quantile([0.01, 0.25, 0.5, 0.75, 0.99])
        stats.update(
            min=_scalar(non_null.min()),
            max=_scalar(non_null.max()),
            quantiles={str(q): _scalar(v) for q, v in quantiles.items()},
            integer=bool(pd.api.types.is_integer_dtype(series) or (non_null % 1 == 0).all()),
        )
        support = (
            discrete_support(non_null.to_numpy(dtype="float64")) if keeps_support and sdtype == "numerical" else None
        )
        if support is not None:  # the source's own values (ints stay ints): what the suite compares with
            stats["support"] = sorted(_scalar(v) for v in non_null.unique())
    counts = non_null.value_counts()
    stats["top"] = [[_scalar(v), int(n)] for v, n in counts.head(TOP_CATEGORIES).items()]
    if len(counts) <= MAX_CATEGORIES:
        stats["categories"] = sorted((_scalar(v) for v in counts.index), key=lambda v: (str(type(v)), v))
    return stats


def _scalar(value):
    return value.item() if hasattr(value, "item") else value
