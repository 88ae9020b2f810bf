"""The published layout and its readers (docs/concepts/design.md, "Storage layout and the publish protocol").

<publish>/<name>/<table>/<version>/part-00000.parquet ... and _manifest.json
<publish>/<name>/_releases/<version>.json
<publish>/<name>/_latest.json        written last; readers start here and only here
"""

from __future__ import annotations

import json

from synth_ops.errors import InputError, StoreError
from synth_ops.io.fingerprints import sha256_bytes
from synth_ops.stores import Store, open_store, read_json


def part_key(name: str, table: str, version: str, part: int) -> str:
    return f"{name}/{table}/{version}/part-{part:05d}.parquet"


def manifest_key(name: str, table: str, version: str) -> str:
    return f"{name}/{table}/{version}/_manifest.json"


def release_key(name: str, version: str) -> str:
    return f"{name}/_releases/{version}.json"


def latest_key(name: str) -> str:
    return f"{name}/_latest.json"


def read_pointer(store: Store, name: str) -> tuple[dict | None, str | None]:
    """(``_latest.json`` document, its version tag for a conditional switch), or (None, None)."""
    if not store.exists(latest_key(name)):
        return None, None
    data, tag = store.read_versioned(latest_key(name))
    return json.loads(data), tag


def current_version(store: Store, name: str) -> str | None:
    pointer, _ = read_pointer(store, name)
    return pointer["version"] if pointer else None


def latest_release(store: Store, name: str) -> dict:
    pointer, _ = read_pointer(store, name)
    if pointer is None:
        raise StoreError(f"{store.uri}/{latest_key(name)}: nothing published for {name!r}")
    return read_json(store, pointer["release"])


def read_table(store: Store, release: dict, table: str):
    """One table of a release as an Arrow table, every part checked against the manifest."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if table not in release["tables"]:
        raise InputError(
            f"table {table!r} is not in release {release['version']} of {release['name']!r} "
            f"(tables: {', '.join(sorted(release['tables']))})"
        )
    manifest = read_json(store, release["tables"][table]["manifest"])
    parts = []
    for part in manifest["parts"]:
        blob = store.read_bytes(part["key"])
        if sha256_bytes(blob) != part["sha256"]:
            raise StoreError(f"{store.uri}/{part['key']}: sha256 does not match the manifest")
        parts.append(pq.read_table(pa.BufferReader(arrow_owned(blob))))
    return pa.concat_tables(parts) if parts else pa.table({})


def arrow_owned(blob: bytes):
    """``blob`` copied into Arrow's own memory.

    Parquet read from a Python object (``io.BytesIO``, even ``pa.py_buffer``) leaves Arrow pool
    threads holding Python references that they release *after* ``read_table`` returns; when that
    happens during interpreter shutdown CPython ends the thread mid-destructor and the process
    aborts with "terminate called without an active exception" (apache/arrow#34314). Seen as
    ``synth-ops pull`` exiting -6 at random under load; a copy owned by Arrow holds no Python
    reference at all.
    """
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    sink.write(blob)
    return sink.getvalue()


def read_latest(uri: str, name: str, table: str, s3_options=None):
    """The current published synthetic table as a DataFrame."""
    store = open_store(uri, s3_options)
    return read_table(store, latest_release(store, name), table).to_pandas()
