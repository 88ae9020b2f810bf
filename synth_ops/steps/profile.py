"""profile: per-column statistics, SDV metadata (detected, then overridden by the spec), PII flags.

The profile holds real values (ranges, categories): it lives in the private artifacts only.
Problems that make the source unusable are collected and raised together as one InputError.
"""
from __future__ import annotations

import logging
import re

from synth_ops.errors import InputError, SpecError, one_line
from synth_ops.records import ProfileRecord
from synth_ops.sources import read_source
from synth_ops.workspace import Workspace

log = logging.getLogger("synth_ops")

TOP_CATEGORIES = 10
MAX_CATEGORIES = 1000  # a column with more distinct values gets no "values in set" expectation
PII_SAMPLE = 1000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().-]{7,20}$")
_PERSON = re.compile(r"^[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)+$")
_PII_NAME_TOKENS = {
    "name", "firstname", "first_name", "lastname", "last_name", "surname", "fullname", "full_name",
    "email", "mail", "phone", "telephone", "mobile", "ssn", "passport", "address", "street", "iban",
}
_SDV_PII_SDTYPES = {"email", "phone_number", "first_name", "last_name", "name", "ssn", "address",
                    "street_address", "iban", "credit_card_number", "ipv4_address", "ipv6_address"}


def profile(ws: Workspace, table: str, force: bool = False) -> ProfileRecord:
    """Profile one source table and write ``profile.json`` and ``metadata.json`` to the artifacts.

    The run id is content-addressed, so an existing profile of this run is reused unless ``force``.
    """
    if not force and ws.has(table, "profile.json") and ws.has(table, "metadata.json"):
        log.info("%s: profile up to date", table)
        return ProfileRecord.from_dict(ws.read(table, "profile.json")["record"])
    spec_table = ws.spec.tables[table]
    field = f"tables.{table}"
    frame = read_source(spec_table.source, spec_table.exclude, field=f"{field}.source", s3_options=ws.spec.s3)
    _check_usable(frame, table, spec_table)

    metadata, detected_key = _metadata(frame, table, spec_table)
    sdtypes = {c: m["sdtype"] for c, m in metadata["tables"][table]["columns"].items()}
    primary_key = metadata["tables"][table].get("primary_key")
    columns = {c: _column_stats(frame[c], sdtypes.get(c, "unknown")) for c in frame.columns}
    pii = _pii_columns(frame, sdtypes)
    warnings = []
    if detected_key and not spec_table.metadata.overrides_primary_key:
        warnings.append(
            f"primary key {detected_key!r} was chosen by detection; set {field}.metadata.primary_key "
            "(or null) in the spec if that is wrong"
        )
    doc = {
        "name": ws.spec.name,
        "table": table,
        "run_id": ws.run_id,
        "source_fingerprint": ws.source_fingerprints[table],
        "rows": int(len(frame)),
        "primary_key": primary_key,
        "primary_key_detected": detected_key,
        "columns": columns,
        "arrow_schema": _arrow_schema(frame),
        "pii": pii,
        "warnings": warnings,
    }
    metadata_key = ws.write(table, "metadata.json", metadata)
    record = ProfileRecord(
        name=ws.spec.name, table=table, run_id=ws.run_id, source_fingerprint=doc["source_fingerprint"],
        rows=doc["rows"], columns=int(frame.shape[1]), pii_columns=sorted(pii), primary_key=primary_key,
        profile_key=ws.key(table, "profile.json"), metadata_key=metadata_key,
    )
    ws.write(table, "profile.json", {**doc, "record": record.to_dict()})  # written last: marks completion
    for warning in warnings:
        log.warning("%s: %s", table, warning)
    if pii:
        log.warning("%s: columns flagged as PII: %s", table, ", ".join(sorted(pii)))
    log.info("%s: profiled %d rows x %d columns", table, len(frame), frame.shape[1])
    return record


def _check_usable(frame, table: str, spec_table) -> None:
    field = f"tables.{table}"
    problems = []
    if frame.shape[1] == 0:
        problems.append(f"{field}.source: {spec_table.source} has no columns")
    elif len(frame) == 0:
        problems.append(f"{field}.source: {spec_table.source} has a header but no rows")
    else:
        for column in frame.columns:
            series = frame[column]
            distinct = series.nunique(dropna=True)
            if distinct == 0:
                problems.append(f"{field}.source: column {column!r} is entirely null; list it in {field}.exclude")
            elif distinct == 1 and not series.isna().any():
                problems.append(
                    f"{field}.source: column {column!r} is constant (one distinct value); list it in {field}.exclude"
                )
    for column in spec_table.metadata.columns:
        if column not in frame.columns:
            problems.append(f"{field}.metadata.columns.{column}: no such column in the source")
    key = spec_table.metadata.primary_key
    if key is not None and key not in frame.columns:
        problems.append(f"{field}.metadata.primary_key: no such column in the source ({key!r})")
    if problems:
        raise InputError("; ".join(problems))


def _metadata(frame, table: str, spec_table) -> tuple[dict, str | None]:
    """SDV metadata: detection first, then the spec's overrides on top."""
    import warnings

    from sdv.metadata import Metadata

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metadata = Metadata.detect_from_dataframes({table: frame})
    detected_key = metadata.tables[table].primary_key
    field = f"tables.{table}.metadata"
    problems = []
    for column, override in spec_table.metadata.columns.items():
        try:
            metadata.update_column(column, table_name=table, **override.sdv_kwargs())
        except Exception as error:  # SDV raises InvalidMetadataError; its message names the problem
            problems.append(f"{field}.columns.{column}: {one_line(error)}")
    if spec_table.metadata.overrides_primary_key:
        try:
            if spec_table.metadata.primary_key is None:
                if detected_key:
                    metadata.remove_primary_key(table_name=table)
            else:
                metadata.set_primary_key(spec_table.metadata.primary_key, table_name=table)
        except Exception as error:
            problems.append(f"{field}.primary_key: {one_line(error)}")
    if problems:
        raise SpecError("; ".join(problems))
    return metadata.to_dict(), detected_key



def _column_stats(series, sdtype: str) -> dict:
    import pandas as pd

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
    counts = non_null.value_counts()
    stats["top"] = [[_scalar(v), int(n)] for v, n in counts.head(TOP_CATEGORIES).items()]
    if len(counts) <= MAX_CATEGORIES:
        stats["categories"] = sorted((_scalar(v) for v in counts.index), key=lambda v: (str(type(v)), v))
    return stats


def _scalar(value):
    return value.item() if hasattr(value, "item") else value


def _arrow_schema(frame) -> list[list[str]]:
    """Arrow type per column, widened (int64/double/string), so every shard writes one schema."""
    import pyarrow as pa

    schema = []
    for column in frame.columns:
        arrow_type = pa.Array.from_pandas(frame[column].head(10_000)).type
        if pa.types.is_integer(arrow_type):
            arrow_type = pa.int64()
        elif pa.types.is_floating(arrow_type):
            arrow_type = pa.float64()
        elif pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_null(arrow_type):
            arrow_type = pa.string()
        schema.append([column, str(arrow_type)])
    return schema


def _pii_columns(frame, sdtypes: dict[str, str]) -> dict[str, str]:
    """Column -> why it looks like PII. Looks at names, SDV sdtypes and a sample of values."""
    import pandas as pd

    flagged = {}
    for column in frame.columns:
        series = frame[column]
        normalized = re.sub(r"[^a-z0-9]+", "_", str(column).lower()).strip("_")
        if sdtypes.get(column) in _SDV_PII_SDTYPES:
            flagged[column] = f"sdtype {sdtypes[column]}"
            continue
        if normalized in _PII_NAME_TOKENS or set(normalized.split("_")) & {"email", "phone", "ssn", "passport"}:
            flagged[column] = "column name"
            continue
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        values = series.dropna().astype(str)
        if values.empty:
            continue
        sample = values.sample(min(PII_SAMPLE, len(values)), random_state=0)
        distinct_ratio = values.nunique() / len(values)
        if sample.str.match(_EMAIL).mean() >= 0.5:
            flagged[column] = "values look like email addresses"
        elif sample.str.match(_PHONE).mean() >= 0.5 and sample.str.count(r"\d").min() >= 7:
            flagged[column] = "values look like phone numbers"
        elif sample.str.match(_PERSON).mean() >= 0.8 and values.nunique() > 50:
            flagged[column] = "values look like person names"
        elif distinct_ratio >= 0.9 and values.nunique() >= 50:
            flagged[column] = "free-text identifier (nearly every value distinct)"
    return flagged
