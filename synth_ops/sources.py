"""Reading source tables and fingerprinting their content. Errors name the file."""
from __future__ import annotations

from synth_ops.errors import InputError
from synth_ops.fingerprints import sha256_file


def source_fingerprint(uri: str) -> str:
    """sha256 of the source bytes, streamed, so it costs no memory on large files."""
    try:
        return sha256_file(uri)
    except FileNotFoundError:
        raise InputError(f"{uri}: source file not found") from None
    except OSError as error:
        raise InputError(f"{uri}: cannot read source ({error.strerror})") from None


def read_source(uri: str, exclude: tuple[str, ...] = (), field: str = "source"):
    """The source table as a DataFrame, with ``exclude`` columns dropped."""
    import pandas as pd

    try:
        if uri.lower().endswith(".parquet"):
            frame = pd.read_parquet(uri)
        else:
            frame = pd.read_csv(uri, low_memory=False)
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
