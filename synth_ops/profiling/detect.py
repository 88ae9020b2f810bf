"""Metadata detection a user can trust: SDV's detection, corrected where it silently loses data, then
the spec's overrides on top. Produces the SDV metadata of the *learned* columns and the column plan
of every column (see ``columns.py``), plus notes for the profile on every decision worth seeing.

What is corrected, and why:
- SDV picks as primary key the first unique non-negative whole-number column, so a unique
  measurement (a population count) becomes a random id. Here a key is a unique, non-null column
  whose name says key (``id``, ``rownames``, ``*_id``, ``code``...), a numbering (unique integers
  without gaps: 1..N, 1000..1000+N-1), or unique code-like text (``C-000123``, ``N10156``, ``JFK``).
- SDV names PII sdtypes from column names alone (``emails_sent``, an integer ``latitude``) and
  replaces them with fake values; see ``pii.py`` for when a column is really replaced.
- Constant and all-null columns carry no information: reproduced as they are, never fitted.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from typing import Any

from synth_ops.errors import SpecError, one_line
from synth_ops.profiling.pii import PII_SDTYPES, identifying
from synth_ops.profiling.pii import evidence as pii_evidence
from synth_ops.runtime.quiet import quiet_libraries
from synth_ops.spec import columns as roles

_KEY_TOKENS = {"id", "key", "uuid", "guid", "rownames", "rowname", "index", "idx", "obs", "identifier", "code"}
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_\-./:#]*$")
MIN_KEY_ROWS = 6  # as SDV: fewer rows than this say nothing about uniqueness


@dataclasses.dataclass
class Detection:
    metadata: dict  # SDV metadata ({"tables": {table: ...}}) of the learned columns only
    plan: dict[str, dict]  # every source column, in source order -> its role entry
    primary_key: str | list[str] | None  # a list for a composite key
    detected_key: str | None  # the key detection chose (None when the spec set it)
    notes: list[str]


def _tokens(column: str) -> set[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(column))  # customerId -> customer Id
    spaced = re.sub(r"([A-Z]+)(ID)$", r"\1 \2", spaced)  # CustomerID -> Customer ID
    return {t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t}


def key_like_name(column: str) -> bool:
    tokens = _tokens(column)
    return bool(tokens & _KEY_TOKENS) or str(column).lower() in {"unnamed: 0", "no", "nr"}


def _whole_numbers(series) -> bool:
    import pandas as pd

    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        return False
    values = series.dropna()
    return bool(len(values)) and bool((values % 1 == 0).all())


def _is_key(series, column: str) -> bool:
    import pandas as pd

    if len(series) < MIN_KEY_ROWS or series.isna().any() or not series.is_unique:
        return False
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    if _whole_numbers(series):
        low, high = int(series.min()), int(series.max())
        return key_like_name(column) or high - low + 1 == len(series)  # a numbering: 1..N, 1000..1000+N-1
    if pd.api.types.is_numeric_dtype(series):
        return False
    text = series.astype(str)
    if _looks_like_dates(text):
        return False
    if pii_evidence(series, column, None):  # a unique email or phone column identifies people: replaced
        return False
    if key_like_name(column):
        return True
    short = text.str.len().max() <= 40 and not text.str.contains(r"\s").any()
    return bool(short and (text.str.match(_CODE).all() or text.str.contains(r"\d").all()))


def _looks_like_dates(text) -> bool:
    import pandas as pd

    sample = text.head(200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() > 0.9 and sample.str.contains(r"\d{4}|\d{1,2}[/:-]\d{1,2}").all())


def detect_key(frame, overrides=None) -> str | None:
    """The first column, in source order, that is a key (see the module docstring); a column the
    spec gives another sdtype than ``id`` is not one."""
    overrides = overrides or {}
    for column in frame.columns:
        override = overrides.get(column)
        if override is not None and override.sdtype != "id":
            continue
        if _is_key(frame[column], column):
            return column
    return None


def _replaceable(series) -> bool:
    import pandas as pd

    return not (pd.api.types.is_bool_dtype(series) or pd.api.types.is_datetime64_any_dtype(series))


def _plain(value):
    """A cell as plain JSON: numpy scalars as Python ones, timestamps and dates as ISO text."""
    import datetime

    if isinstance(value, (datetime.date, datetime.datetime)):  # pandas Timestamps included
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _learned_sdtype(series) -> str:
    """SDV's own value-based sdtype, for a column whose name-based sdtype is not kept."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return "numerical"
    return "categorical"


def _check_override(series, column: str, override, field: str) -> list[str]:
    """The values fit the overridden sdtype; counts only, never a value."""
    import pandas as pd

    values = series.dropna()
    if override.sdtype == "numerical" and not _whole_numbers(series) and not pd.api.types.is_numeric_dtype(series):
        bad = int(pd.to_numeric(values, errors="coerce").isna().sum())
        if bad:
            return [f"{field}: sdtype numerical, but {bad} of {len(values)} values are not numbers"]
    if override.sdtype == "datetime" and not pd.api.types.is_datetime64_any_dtype(series):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(values.astype(str), errors="coerce", format=override.datetime_format or "mixed")
            except (ValueError, TypeError):  # the format itself is invalid, whatever the values
                return [f"{field}.datetime_format: {override.datetime_format!r} is not a strftime format"]
        bad = int(parsed.isna().sum())
        if bad:
            return [
                f"{field}: sdtype datetime, but {bad} of {len(values)} values do not parse as datetimes"
                + (f" with format {override.datetime_format!r}" if override.datetime_format else "")
            ]
    if override.sdtype == "boolean" and not pd.api.types.is_bool_dtype(series):
        bad = int((~values.isin([True, False])).sum())
        if bad:
            return [f"{field}: sdtype boolean, but {bad} of {len(values)} values are not true/false"]
    return []


def detect(
    frame,
    table: str,
    spec_table,
    seed: int,
    key: tuple[str, ...] | None = None,
    foreign: dict[str, str] | None = None,
    key_field: str | None = None,
) -> Detection:
    """Detect, correct and override: raises SpecError naming every bad override at once.

    ``key``: the primary key the relationships give (it beats the metadata and detection);
    ``foreign``: foreign key columns -> the relationship that sets them (never learned).
    """
    from sdv.metadata import Metadata

    from synth_ops.profiling import keys
    from synth_ops.spec import as_columns

    with warnings.catch_warnings(), quiet_libraries():
        warnings.simplefilter("ignore")
        sdv_metadata = Metadata.detect_from_dataframes({table: frame})
    sdv_sdtypes = {c: m["sdtype"] for c, m in sdv_metadata.tables[table].to_dict()["columns"].items()}
    field = f"tables.{table}.metadata"
    overrides = spec_table.metadata.columns
    problems, notes = [], []

    foreign = foreign or {}
    detected_key = None
    if key or spec_table.metadata.overrides_primary_key:
        key_columns = key or as_columns(spec_table.metadata.primary_key)
        primary_key = None if not key_columns else key_columns[0] if len(key_columns) == 1 else list(key_columns)
        if key_columns:
            values = frame[list(key_columns)]
            nulls = int(values.isna().any(axis=1).sum())
            repeats = int(values.dropna().duplicated().sum())
            if nulls or repeats:
                what = f"column {key_columns[0]!r}" if len(key_columns) == 1 else f"columns {list(key_columns)}"
                # named where the spec set the key: a relationship, or the table's metadata
                where = f"{key_field}: {what} of {table}" if key else f"{field}.primary_key: {what}"
                problems.append(
                    f"{where} has {nulls} nulls and {repeats} repeated values; "
                    "a primary key must be unique and never null"
                )
    else:
        primary_key = detected_key = detect_key(frame, overrides)
        if detected_key in foreign:  # a foreign key is the parent's, never this table's own numbering
            primary_key = detected_key = None
        if detected_key is not None:
            notes.append(
                f"primary key {detected_key!r} was chosen by detection; set {field}.primary_key "
                "(or null) in the spec if that is wrong"
            )

    plan: dict[str, dict[str, Any]] = {}
    learned_sdtypes: dict[str, dict] = {}
    for column in frame.columns:
        series = frame[column]
        override = overrides.get(column)
        distinct = int(series.nunique(dropna=True))
        null_share = float(series.isna().mean())
        sdv_sdtype = sdv_sdtypes.get(column)
        if override is not None:
            problems += _check_override(series, column, override, f"{field}.columns.{column}")
        if column in foreign:
            plan[column] = {
                "role": roles.FOREIGN,
                "reason": f"foreign key ({foreign[column]})",
                "relationship": foreign[column],
                "null_share": null_share,
            }
        elif distinct == 0:
            plan[column] = {"role": roles.NULL, "reason": "every value is null: reproduced as null"}
        elif distinct == 1:
            plan[column] = {
                "role": roles.CONSTANT,
                "reason": "one distinct value: reproduced as is",
                "value": _plain(series.dropna().iloc[0]),
                "null_share": null_share,
            }
        elif column == primary_key:
            plan[column] = {
                "role": roles.KEY,
                "reason": "primary key" + (" (detected)" if detected_key else ""),
                "format": _key_format(series, override, f"{field}.columns.{column}", problems),
            }
        elif override is not None and override.sdtype == "id":
            unique = bool(series.dropna().is_unique)
            plan[column] = {
                "role": roles.ID,
                "reason": "sdtype id in the spec",
                "unique": unique,
                "distinct": distinct,
                "null_share": null_share,
                "format": _key_format(series, override, f"{field}.columns.{column}", problems),
            }
        elif override is not None and (override.pii or (override.sdtype in PII_SDTYPES and override.pii is not False)):
            if not _replaceable(series):
                problems.append(
                    f"{field}.columns.{column}: pii: true on a {series.dtype} column; only text and "
                    "numbers can be replaced by random values of their shape"
                )
            plan[column] = {
                "role": roles.REPLACED,
                "reason": "PII in the spec",
                "null_share": null_share,
                "format": keys.shapes_format(series, seed),
            }
        elif override is not None:
            sdtype = override.sdtype if override.sdtype not in PII_SDTYPES else _learned_sdtype(series)
            plan[column] = {"role": roles.LEARNED, "sdtype": sdtype}
            learned_sdtypes[column] = {**override.sdv_kwargs(), "sdtype": sdtype}
            learned_sdtypes[column].pop("pii", None)
        elif (sdv_sdtype == "id" and "id" in _tokens(column)) or _is_key(series, column):
            unique = bool(series.dropna().is_unique)
            reason = (
                "identifier (column name)"
                if "id" in _tokens(column)
                else "a unique numbering (another key)"
                if _whole_numbers(series)
                else "unique code-like values (another key)"
            )
            plan[column] = {
                "role": roles.ID,
                "reason": reason,
                "unique": unique,
                "distinct": distinct,
                "null_share": null_share,
                "format": keys.infer_format(series, unique),
            }
        else:
            reason, note = identifying(series, column, sdv_sdtype)
            if note:
                notes.append(f"column {column!r}: {note}")
            if reason:
                plan[column] = {
                    "role": roles.REPLACED,
                    "reason": reason,
                    "null_share": null_share,
                    "format": keys.shapes_format(series, seed),
                }
            else:
                sdtype = sdv_sdtype if sdv_sdtype not in PII_SDTYPES and sdv_sdtype != "id" else _learned_sdtype(series)
                plan[column] = {"role": roles.LEARNED, "sdtype": sdtype}
                learned_sdtypes[column] = {"sdtype": sdtype}
    if problems:
        raise SpecError("; ".join(problems))
    return Detection(
        metadata=_learned_metadata(sdv_metadata, table, learned_sdtypes, field),
        plan=plan,
        primary_key=primary_key,
        detected_key=detected_key,
        notes=notes,
    )


_FORMAT_FIELDS = {"integer": ("start", "step"), "numbered": ("prefix", "width", "suffix", "start", "step")}


def _key_format(series, override, field: str, problems: list[str]) -> dict:
    """The inferred format, with the spec's ``key_format`` fields on top (checked complete)."""
    from synth_ops.profiling import keys

    fmt = keys.infer_format(series, unique=bool(series.dropna().is_unique))
    if override is None or override.key_format is None:
        return fmt
    given = override.key_format.model_dump(exclude_none=True)
    if given.get("kind", fmt["kind"]) != fmt["kind"]:
        fmt = {"kind": given["kind"]}
    fmt = {**fmt, **given}
    missing = [name for name in _FORMAT_FIELDS.get(fmt["kind"], ()) if name not in fmt]
    if missing:
        problems.append(f"{field}.key_format: kind {fmt['kind']} needs {', '.join(missing)}")
    return fmt


def _learned_metadata(sdv_metadata, table: str, learned: dict[str, dict], field: str) -> dict:
    """SDV metadata of the learned columns, SDV's detected details kept (datetime formats...)."""
    from sdv.metadata import Metadata

    detected = sdv_metadata.to_dict()["tables"][table]["columns"]
    columns = {}
    for column, wanted in learned.items():
        entry = detected.get(column, {}) if detected.get(column, {}).get("sdtype") == wanted["sdtype"] else {}
        columns[column] = {**entry, **wanted}
    doc = {"tables": {table: {"columns": columns}}, "relationships": [], "METADATA_SPEC_VERSION": "V2"}
    if not columns:  # nothing learned: no synthesizer will read it
        return doc

    def problem(table_doc) -> str | None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                Metadata.load_from_dict(table_doc).validate()
        except Exception as error:  # SDV's InvalidMetadataError: a bad setting, never a data value
            return one_line(error)
        return None

    if problem(doc) is None:
        return doc
    # SDV's message names the setting, not always the column: find the columns it is about
    problems = []
    for column, entry in columns.items():
        found = problem({**doc, "tables": {table: {"columns": {column: entry}}}})
        if found:
            problems.append(f"{field}.columns.{column}: {found}")
    raise SpecError("; ".join(problems) or f"{field}.columns: {problem(doc)}")
