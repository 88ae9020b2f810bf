"""Foreign keys of the real tables: which parent row each child row points at.

The profile step of a child table resolves every foreign key against its parent's (kept) rows once
and writes ``links.parquet`` beside the profile: one column per relationship holding the parent's
row position (``NULL`` when a key column is null, ``ORPHAN`` when no parent row has the key), and
``_source_row``, the child's kept source rows (rows an ``orphans: drop`` relationship removes are
not in it). Fitting and the gates read positions from there, never key values, so no step after
the profile compares real keys again.
"""

from __future__ import annotations

from synth_ops.errors import InputError
from synth_ops.runtime.workspace import Workspace

LINKS = "links.parquet"
SOURCE_ROW = "_source_row"
NULL, ORPHAN = -1, -2


def key_index(parent, child):
    """Per row of ``child`` (a DataFrame of foreign key columns), the position of the ``parent`` row
    (its primary key columns, unique, same order) with the same key; NULL or ORPHAN otherwise."""
    import numpy as np
    import pandas as pd

    parent = parent.reset_index(drop=True).copy()
    child = child.reset_index(drop=True).copy()
    parent.columns = child.columns = range(child.shape[1])
    null = child.isna().any(axis=1).to_numpy()
    # a parent key that is null or repeated resolves nothing (the uniqueness gate reports it)
    usable = ~(parent.isna().any(axis=1) | parent.duplicated(keep=False)).to_numpy()
    for i in child.columns:  # a text key in one file and a number in the other: compare as text
        if (parent[i].dtype == object) != (child[i].dtype == object):
            parent[i] = parent[i].map(_as_text)
            child[i] = child[i].map(_as_text)
    positions = np.flatnonzero(usable)
    parent = parent.iloc[positions]
    if child.shape[1] == 1:
        found = pd.Index(parent[0]).get_indexer(child[0])
    else:
        found = pd.MultiIndex.from_frame(parent).get_indexer(pd.MultiIndex.from_frame(child))
    found = np.where(found >= 0, positions[np.maximum(found, 0)] if len(positions) else -1, -1)
    index = np.where(found >= 0, found, ORPHAN).astype("int64")
    index[null] = NULL
    return index


def _as_text(value) -> str | None:
    if value is None or value != value:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def kept_source(ws: Workspace, table: str):
    """The table's source rows that are learned and judged: all of them, except child rows an
    ``orphans: drop`` relationship removed (positions from the profile's links)."""
    from synth_ops.stores.sources import read_source

    spec_table = ws.spec.tables[table]
    frame = read_source(spec_table.source, spec_table.exclude, field=f"tables.{table}.source", s3_options=ws.spec.s3)
    if ws.has(table, LINKS):
        frame = frame.iloc[read_links(ws, table)[SOURCE_ROW].to_numpy()].reset_index(drop=True)
    return frame


def read_links(ws: Workspace, table: str):
    import pyarrow.parquet as pq

    from synth_ops.stores import local_copy

    with local_copy(ws.artifacts, ws.key(table, LINKS)) as path:
        return pq.read_table(path).to_pandas()


def write_links(ws: Workspace, table: str, links) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(links, preserve_index=False), buffer)
    ws.artifacts.write_bytes(ws.key(table, LINKS), buffer.getvalue())


def resolve(ws: Workspace, table: str, frame, relations):
    """(kept rows of ``frame``, links DataFrame, per-relationship counts for the profile).

    ``relations``: the RelationPlans whose child is ``table``; their parents are profiled already.
    """
    import numpy as np
    import pandas as pd

    indexes, stats, parent_rows, parents = {}, {}, {}, {}
    for relation in relations:
        if relation.parent not in parents:  # read once, however many keys point at it (airports: 3)
            parents[relation.parent] = kept_source(ws, relation.parent)
        parent = parents[relation.parent][list(relation.parent_key)]
        index = key_index(parent, frame[list(relation.child_key)])
        indexes[relation.name] = index
        parent_rows[relation.name] = len(parent)
        if len(index) and (index == ORPHAN).sum() == (index != NULL).sum() > 0:
            field = ws.spec.relationship_field(relation.name)
            raise InputError(
                f"{field}: none of the {int((index != NULL).sum())} non-null keys of {relation.child} "
                f"{list(relation.child_key)} is in {relation.parent}; check that both hold the same "
                "values (type, formatting, time zone)"
            )
        stats[relation.name] = {
            "parent": relation.parent,
            "parent_key": list(relation.parent_key),
            "foreign_key": list(relation.child_key),
            "orphans_policy": relation.orphans,
            "rows": int(len(index)),
            "null": int((index == NULL).sum()),
            "orphans": int((index == ORPHAN).sum()),
        }
    kept = np.ones(len(frame), dtype=bool)
    for relation in relations:
        if relation.orphans == "drop":
            kept &= indexes[relation.name] != ORPHAN
    for relation in relations:
        stats[relation.name]["dropped"] = stats[relation.name]["orphans"] if relation.orphans == "drop" else 0
    for relation in relations:  # rows synthesized with a null foreign key: null, or orphans kept
        index = indexes[relation.name][kept]
        stats[relation.name]["unlinked"] = int((index < 0).sum())
        children = np.bincount(index[index >= 0], minlength=parent_rows[relation.name])
        stats[relation.name]["max_children"] = int(children.max()) if len(children) else 0
        stats[relation.name]["parents_with_children"] = int((children > 0).sum())
        stats[relation.name]["parent_rows"] = int(len(children))
    links = pd.DataFrame({SOURCE_ROW: np.flatnonzero(kept), **{name: i[kept] for name, i in indexes.items()}})
    return frame[kept].reset_index(drop=True), links, stats
