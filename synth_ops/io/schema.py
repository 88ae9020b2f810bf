"""The Arrow schema of a source table: kept in the profile, written by every shard, published in
every manifest. Types are widened (int64, double, string) so every shard writes one schema;
integer columns stay integers even where pandas held them as floats (nulls), booleans stay
booleans, timestamps keep their unit and time zone.
"""

from __future__ import annotations

import re

_TIMESTAMP = re.compile(r"^timestamp\[(?P<unit>[a-z]+)(?:, tz=(?P<tz>.+))?\]$")


def arrow_type(text: str):
    """The Arrow type a profile names (``str(type)``), time zones included."""
    import pyarrow as pa

    match = _TIMESTAMP.match(text)
    if match:
        return pa.timestamp(match["unit"], tz=match["tz"])
    return pa.type_for_alias(text)


def from_profile(pairs: list[list[str]]):
    import pyarrow as pa

    return pa.schema([(name, arrow_type(kind)) for name, kind in pairs])


def infer(frame, known: dict[str, str]) -> list[list[str]]:
    """[column, Arrow type] per column; ``known`` types (from the file itself) win over inference."""
    import pyarrow as pa

    schema = []
    for column in frame.columns:
        if column in known:
            schema.append([column, known[column]])
            continue
        arrow = pa.Array.from_pandas(frame[column].dropna().head(10_000)).type
        if pa.types.is_integer(arrow):
            arrow = pa.int64()
        elif pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
            arrow = pa.float64()
        elif pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_null(arrow):
            arrow = pa.string()
        schema.append([column, str(arrow)])
    return schema


def with_key_types(schema: list[list[str]], plan: dict[str, dict]) -> list[list[str]]:
    """Keys and ids are written as their format generates them: integers or text (a text key given
    ``key_format: {kind: integer}`` becomes an integer column, and the other way round)."""
    kinds = {c: e["format"]["kind"] for c, e in plan.items() if e["role"] in ("key", "id")}
    return [
        [name, "int64" if kinds.get(name) == "integer" else "string" if name in kinds else kind]
        for name, kind in schema
    ]


_UNITS = {"s": "s", "ms": "ms", "us": "us", "ns": "ns"}


def to_arrow(frame, schema):
    """A sampled batch as an Arrow table of the source's schema (ints stay ints, NaN becomes null)."""
    import pandas as pd
    import pyarrow as pa

    arrays = []
    for field in schema:
        series = frame[field.name]
        if pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            if series.dtype == object:  # generated text of digits (a replaced numeric column)
                series = pd.to_numeric(series, errors="coerce", dtype_backend="numpy_nullable")
            if pa.types.is_integer(field.type) and series.dtype.kind == "f":
                series = series.round()
        elif pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
            tz = getattr(field.type, "tz", None)
            if series.dtype == object:  # a constant, kept in the profile as ISO text
                series = pd.to_datetime(series, format="ISO8601", utc=tz is not None)
            if tz is not None and getattr(series.dt, "tz", None) is None:
                series = series.dt.tz_localize("UTC")
            # learned in nanoseconds; written in the file's own unit (a date: whole days)
            unit = "D" if pa.types.is_date(field.type) else _UNITS[field.type.unit]
            if unit != "ns":
                series = series.dt.floor(unit)
        arrays.append(pa.array(series, type=field.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=schema)
