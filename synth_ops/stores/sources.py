"""Reading source tables and fingerprinting their content. Errors name the file.

Sources are local paths or s3:// URIs. An S3 source is streamed to a local temporary file in
chunks (never held whole in memory) and read from there.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any

from synth_ops.errors import InputError
from synth_ops.io.fingerprints import sha256_file


def source_fingerprint(uri: str, s3_options: Any = None) -> str:
    """sha256 of a local source (streamed); the ETag and size of an S3 one (no download)."""
    if uri.startswith("s3://"):
        from synth_ops.stores import ObjectNotFound, open_object

        store, key = open_object(uri, s3_options)
        try:
            return store.fingerprint(key)
        except ObjectNotFound:
            raise InputError(f"{uri}: source not found") from None
    try:
        return sha256_file(uri)
    except FileNotFoundError:
        raise InputError(f"{uri}: source file not found") from None
    except OSError as error:
        raise InputError(f"{uri}: cannot read source ({error.strerror})") from None


@contextmanager
def _local_copy(uri: str, s3_options: Any) -> Iterator[str]:
    if not uri.startswith("s3://"):
        yield uri
        return
    from synth_ops.stores import open_object

    store, key = open_object(uri, s3_options)
    # keep ".csv.gz" etc.: pandas infers the compression from the file name
    fd, path = tempfile.mkstemp(prefix="synth-ops-source-", suffix="".join(PurePosixPath(key).suffixes[-2:]))
    os.close(fd)
    try:
        store.get_file(key, path)
        yield path
    finally:
        os.unlink(path)


DELIMITERS = (",", ";", "\t", "|")
_HEAD_BYTES = 1 << 16


def _head_lines(path: str, limit: int = 50) -> list[str]:
    """The first lines of a (possibly compressed) CSV, decoded leniently: for sniffing only."""
    import gzip
    import io
    import zipfile

    lower = path.lower()
    if lower.endswith(".gz"):
        with gzip.open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    elif lower.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            with archive.open(names[0]) as handle:
                head = handle.read(_HEAD_BYTES)
    else:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    lines = io.StringIO(head.decode("utf-8", errors="replace")).read().splitlines()
    if len(head) == _HEAD_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off
    return lines[:limit]


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter that splits every sampled line into the same number (> 1) of fields; "," wins ties."""
    import csv

    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        counts = {len(row) for row in csv.reader(lines, delimiter=delimiter) if row}
        if len(counts) == 1:
            fields = counts.pop()
            if fields > best_fields:
                best, best_fields = delimiter, fields
    return best


def _check_header(names: list[str], field: str, uri: str) -> None:
    from collections import Counter

    problems = []
    empty = [str(i + 1) for i, name in enumerate(names) if not str(name).strip()]
    if empty:
        problems.append(
            f"column {', '.join(empty)} of the header {'has' if len(empty) == 1 else 'have'} no name; "
            "name every column (an unnamed first column is often an index written with the data)"
        )
    repeated = [f"{name!r} ({count} times)" for name, count in Counter(names).items() if count > 1]
    if repeated:
        problems.append(f"repeated column names {', '.join(repeated)}; column names must be unique")
    if problems:
        raise InputError(f"{field}: {uri}: " + "; ".join(problems))


def _read_csv(path: str, uri: str, field: str):
    import csv

    import pandas as pd

    lines = _head_lines(path)
    if not lines or not lines[0].strip():
        raise pd.errors.EmptyDataError("no header")
    delimiter = sniff_delimiter(lines)
    _check_header(next(csv.reader(lines[:1], delimiter=delimiter)), field, uri)
    frame = pd.read_csv(path, low_memory=False, compression="infer", sep=delimiter)
    # pandas reads an integer column with nulls as float64: look at the text to keep it an integer
    candidates = [
        c
        for c in frame.columns
        if frame[c].dtype.kind == "f" and frame[c].isna().any() and (frame[c].dropna() % 1 == 0).all()
    ]
    types = {}
    if candidates:
        text = pd.read_csv(path, compression="infer", sep=delimiter, usecols=candidates, dtype=str)
        for column in candidates:
            if not text[column].dropna().str.contains(r"[.eE]").any():
                types[column] = "int64"
    return frame, types


def _supported(arrow_type) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return any(
        check(arrow_type)
        for check in (
            pa.types.is_integer,
            pa.types.is_floating,
            pa.types.is_decimal,
            pa.types.is_boolean,
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_timestamp,
            pa.types.is_date,
            pa.types.is_null,
        )
    )


def _read_parquet(path: str, uri: str, field: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    # a DataFrame's index written by pandas (a filtered frame's __index_level_0__) is not a column
    index = {c for c in ((schema.pandas_metadata or {}).get("index_columns") or []) if isinstance(c, str)}
    names = [name for name in schema.names if name not in index]
    _check_header(names, field, uri)
    nested = [name for name in names if pa.types.is_nested(schema.field(name).type)]
    if nested:
        raise InputError(
            f"{field}: {uri}: column(s) {', '.join(map(repr, nested))} hold nested values "
            "(lists, structs or maps), which cannot be synthesized; flatten them or list them in exclude"
        )
    unsupported = [f"{name!r} ({schema.field(name).type})" for name in names if not _supported(schema.field(name).type)]
    if unsupported:
        raise InputError(
            f"{field}: {uri}: column(s) {', '.join(unsupported)} have a type synth-ops cannot "
            "synthesize (supported: integers, floats, decimals, booleans, text, dates, timestamps)"
        )
    table = pq.read_table(path, columns=names)
    types = {}
    columns = {}
    for name in names:
        arrow_type = schema.field(name).type
        if pa.types.is_dictionary(arrow_type):  # a pandas categorical: its values, as plain values
            arrow_type = arrow_type.value_type
            columns[name] = table.column(name).cast(arrow_type)
        elif pa.types.is_decimal(arrow_type):
            columns[name] = table.column(name).cast(pa.float64())
        elif pa.types.is_date(arrow_type) or (pa.types.is_timestamp(arrow_type) and arrow_type.unit != "ns"):
            # SDV and RDT read every datetime64 as nanoseconds (a date or a microsecond timestamp in
            # another unit comes out as 1970): they learn nanoseconds; the file's type is written back
            tz = getattr(arrow_type, "tz", None)
            try:
                columns[name] = table.column(name).cast(pa.timestamp("ns", tz=tz))
            except pa.ArrowInvalid:
                raise InputError(
                    f"{field}: {uri}: column {name!r} holds dates outside 1677-2262, which synth-ops cannot synthesize"
                ) from None
            types[name] = str(arrow_type)
        else:
            columns[name] = table.column(name)
        if pa.types.is_integer(arrow_type) and table.column(name).null_count:
            types[name] = "int64"  # pandas turns it into float64; it is an integer in the source
    frame = pa.table(columns).to_pandas()
    return frame, types


def read_source_table(uri: str, exclude: tuple[str, ...] = (), field: str = "source", s3_options: Any = None):
    """(the source table as a DataFrame with ``exclude`` columns dropped, {column: Arrow type} where
    the file knows better than pandas: integer columns with nulls)."""
    import pandas as pd

    try:
        with _local_copy(uri, s3_options) as path:
            if uri.lower().endswith(".parquet"):
                frame, types = _read_parquet(path, uri, field)
            else:
                frame, types = _read_csv(path, uri, field)
    except FileNotFoundError:
        raise InputError(f"{field}: source file not found: {uri}") from None
    except IsADirectoryError:
        raise InputError(f"{field}: {uri} is a directory, not a file") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{field}: {uri} is empty (no header, no rows)") from None
    except InputError:
        raise
    except UnicodeDecodeError:  # its message quotes the offending byte: not shown
        raise InputError(f"{field}: {uri} is not UTF-8 text; save it as UTF-8") from None
    except pd.errors.ParserError as error:
        # The C parser quotes line and field counts, not cells; keep its first line.
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{field}: cannot parse {uri}: {first}") from None
    except Exception as error:  # other parser errors may quote cells: their type only
        raise InputError(
            f"{field}: cannot parse {uri} as {'Parquet' if uri.lower().endswith('.parquet') else 'CSV'} "
            f"({type(error).__name__})"
        ) from None
    missing = [c for c in exclude if c not in frame.columns]
    if missing:
        raise InputError(f"{field.rsplit('.', 1)[0]}.exclude: no such column in the source: {', '.join(missing)}")
    return frame.drop(columns=list(exclude)), {c: t for c, t in types.items() if c not in exclude}


def read_source(uri: str, exclude: tuple[str, ...] = (), field: str = "source", s3_options: Any = None):
    """The source table as a DataFrame, with ``exclude`` columns dropped."""
    return read_source_table(uri, exclude, field, s3_options)[0]
