"""Reading source tables and fingerprinting their content. Errors name the file.

Sources are local paths or s3:// URIs. An S3 source is streamed to a local temporary file in
chunks (never held whole in memory) and read from there.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any, Iterator

from synth_ops.errors import InputError
from synth_ops.fingerprints import sha256_file


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


def read_source(uri: str, exclude: tuple[str, ...] = (), field: str = "source", s3_options: Any = None):
    """The source table as a DataFrame, with ``exclude`` columns dropped."""
    import pandas as pd

    try:
        with _local_copy(uri, s3_options) as path:
            if uri.lower().endswith(".parquet"):
                frame = pd.read_parquet(path)
            else:
                frame = pd.read_csv(path, low_memory=False, compression="infer")
    except FileNotFoundError:
        raise InputError(f"{field}: source file not found: {uri}") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{field}: {uri} is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as error:
        # Parser messages quote line numbers, not cell values; keep only their first line.
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{field}: cannot parse {uri}: {first}") from None
    missing = [c for c in exclude if c not in frame.columns]
    if missing:
        raise InputError(f"{field.rsplit('.', 1)[0]}.exclude: no such column in the source: {', '.join(missing)}")
    return frame.drop(columns=list(exclude))
