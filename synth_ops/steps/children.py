"""The rows of a child table's shard, under the synthetic rows of its parents.

Shard i of a child is sampled under shard i of its primary parent: each parent row gets as many
children as its synthetic count says, sampled given the parent's synthetic attributes, and its
primary key as their foreign key (so a shard only references parent keys of the same release).
Rows without a parent (the real share of null or kept orphan keys) follow, with a null key.
Every other foreign key takes the synthetic parent rows in a seeded order in which each appears as
often as its synthetic count says, and within a batch the rows and those parents are paired by rank
on the parent's main axis (the model learns where each child's real parent lies on it); an implied
one (set by the primary key's columns) is left as the primary set it.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

from synth_ops.runtime.workspace import Workspace
from synth_ops.spec.columns import learned_columns


def _stream_seed(seed: int, *parts) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


def _read_shard(ws: Workspace, table: str, shard: int, columns: list[str]):
    import pyarrow.parquet as pq

    from synth_ops.runtime.shards import shard_key
    from synth_ops.stores import local_copy

    with local_copy(ws.artifacts, shard_key(ws, table, shard)) as path:
        return pq.read_table(path, columns=columns).to_pandas()


def child_batches(
    ws: Workspace, run_plan, model, table: str, shard: int, rows: int, seed: int, first_row: int
) -> Iterator:
    """DataFrames of the learned, count and foreign key columns of ``table``'s shard, ``rows`` in all;
    ``first_row``: the shard's first row number in the release."""
    import numpy as np

    from synth_ops.runtime.shards import parent_counts

    primary = run_plan.relation(run_plan.table(table).primary)
    parent_learned = learned_columns(ws.read(primary.parent, "profile.json")["columns_plan"])
    counts = parent_counts(ws, primary, shard)
    parent = _read_shard(ws, primary.parent, shard, list(dict.fromkeys([*primary.parent_key, *parent_learned])))
    parent_rows = np.repeat(np.arange(len(parent)), counts)
    drawn = [r for r in run_plan.of_child(table) if not r.primary and not r.implied]
    pools = {r.name: _pool(ws, r, model) for r in drawn}
    profile = ws.read(table, "profile.json")
    shares = {r.name: profile["relationships"][r.name]["unlinked"] / max(profile["rows"], 1) for r in drawn}
    batch_rows = ws.spec.generate.batch_rows
    produced, batch = 0, 0
    for start, stop in _parent_blocks(counts, batch_rows):
        block = parent_rows[np.searchsorted(parent_rows, start) : np.searchsorted(parent_rows, stop)]
        context = parent[parent_learned].iloc[block].reset_index(drop=True)
        frame = model.sample_children(table, context, block, _stream_seed(seed, batch))
        for column, parent_column in zip(primary.child_key, primary.parent_key):
            frame[column] = parent[parent_column].iloc[block].to_numpy()
        yield _draw(frame, drawn, pools, shares, seed, batch, first_row + produced)
        produced += len(frame)
        batch += 1
    while produced < rows:  # rows without a parent
        n = min(batch_rows, rows - produced)
        groups = -1 - np.arange(produced, produced + n)  # each its own group: nothing to keep unique
        frame = model.sample_children(table, None, groups, _stream_seed(seed, batch))
        for column in primary.child_key:
            frame[column] = np.full(n, None, dtype=object)
        yield _draw(frame, drawn, pools, shares, seed, batch, first_row + produced)
        produced += n
        batch += 1


def _parent_blocks(counts, batch_rows: int):
    """Ranges of parent rows whose children make batches of about ``batch_rows`` (a parent's
    children are never split: its composite keys are made unique within one batch)."""
    import numpy as np

    ends = np.cumsum(counts)
    start = 0
    while start < len(counts):
        first = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, first + batch_rows, side="right")), start + 1)
        yield start, stop
        start = stop


def _pool(ws: Workspace, relation, model):
    """All synthetic rows of ``relation``'s parent: (key columns, the order children take them in,
    each parent row's score on the model's axis for it, or None).

    The order lists each parent row as often as its synthetic child count says, shuffled with the
    spec's seed: child row r of the release takes entry r, so every shard and batch agrees and the
    children per parent follow the synthetic counts exactly, not a multinomial draw around them."""
    import numpy as np
    import pandas as pd

    from synth_ops.runtime.shards import parent_counts
    from synth_ops.steps.plan import build_plan

    shards = build_plan(ws.spec).table(relation.parent).shards
    learned = learned_columns(ws.read(relation.parent, "profile.json")["columns_plan"])
    columns = list(dict.fromkeys([*relation.parent_key, *learned]))
    parents = pd.concat([_read_shard(ws, relation.parent, i, columns) for i in range(shards)], ignore_index=True)
    counts = np.concatenate([parent_counts(ws, relation, i) for i in range(shards)]).astype("int64")
    if counts.sum() <= 0:  # no synthetic parent asked for children: any parent
        counts = np.ones(len(parents), dtype="int64")
    rng = np.random.default_rng([ws.spec.synthesizer.seed, zlib.crc32(relation.name.encode())])
    scoring = getattr(model, "relation_scores", None)
    scores = scoring(relation.name, parents[learned]) if scoring and learned else None
    return parents[list(relation.parent_key)], rng.permutation(np.repeat(np.arange(len(parents)), counts)), scores


def _draw(frame, drawn, pools, shares, seed: int, batch: int, first_row: int):
    """``frame`` with each drawn foreign key set: the parent row the backend chose (an ``@<relation>``
    column of positions among all the parent's synthetic rows), else null at the real share or a
    parent taken in the pool's order (see ``_pool``)."""
    import numpy as np

    for relation in drawn:
        keys, order, scores = pools[relation.name]
        rng = np.random.default_rng([seed, zlib.crc32(relation.name.encode()), batch])
        rows = len(frame)
        chosen_by_model = frame.pop(f"@{relation.name}") if f"@{relation.name}" in frame else None
        ranks = frame.pop(f"~{relation.name}").to_numpy(dtype="float64") if f"~{relation.name}" in frame else None
        if chosen_by_model is not None:  # the backend picked the parent row itself (hma)
            positions = chosen_by_model.to_numpy(dtype="float64")
            missing = np.isnan(positions) | (positions >= len(keys))
            chosen = np.where(missing, 0, positions).astype("int64")
        else:
            # null where the model says (jointly with the row's other columns), else at the real share
            missing = np.isnan(ranks) if ranks is not None else rng.random(rows) < shares[relation.name]
            release_rows = np.arange(first_row, first_row + rows)
            chosen = order[release_rows % len(order)] if len(order) else np.zeros(rows, dtype="int64")
            if ranks is not None and scores is not None and len(order):
                # the batch's parents, as the order gives them, paired with its rows by rank: a row
                # ranked high on the parent axis gets a parent that scores high on it
                linked = np.flatnonzero(~missing)
                slots = chosen[linked]
                paired = np.empty_like(slots)
                paired[np.argsort(ranks[linked], kind="stable")] = slots[np.argsort(scores[slots], kind="stable")]
                chosen[linked] = paired
        for column, parent_column in zip(relation.child_key, relation.parent_key):
            values = keys[parent_column].to_numpy(dtype=object)[chosen] if len(keys) else np.full(rows, None)
            values = values.astype(object)
            values[missing] = None
            frame[column] = values
    return frame
