"""A table's shards in the workspace: how many rows each holds, their seeds, keys and records, and
their files checked against those records. What generation writes and the gates and publication
read; ``plan`` is the run plan (``steps.plan.build_plan``), passed in.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from synth_ops.errors import InputError, SynthOpsError
from synth_ops.io.fingerprints import sha256_file
from synth_ops.runtime.records import ShardRecord
from synth_ops.runtime.workspace import Workspace
from synth_ops.stores import local_copy, read_json


def shard_rows(total: int, shards: int) -> list[int]:
    base, extra = divmod(total, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def shard_seed(seed: int, shard: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, shard]).generate_state(1)[0])


def shard_key(ws: Workspace, table: str, shard: int, suffix: str = "parquet") -> str:
    return ws.key(table, "shards", f"part-{shard:05d}.{suffix}")


def planned_rows(ws: Workspace, table: str, plan) -> list[int]:
    """Rows of each shard: the spec's count for a table without parents; for a child table, the
    children its primary parent's synthetic rows ask for (shard i under parent shard i) plus rows
    without a parent at the real share."""
    ws.require(table, "profile.json", "profile")
    profile = ws.read(table, "profile.json")
    if plan.table(table).primary is None:
        return shard_rows(ws.spec.generate.row_count(profile["rows"]), plan.table(table).shards)
    relation = plan.relation(plan.table(table).primary)
    share = profile["relationships"][relation.name]["unlinked"] / max(profile["rows"], 1)
    if share >= 1:  # every real key is null: the table's size cannot follow its parents
        return shard_rows(ws.spec.generate.row_count(profile["rows"]), plan.table(table).shards)
    rows = []
    for shard in range(plan.table(relation.parent).shards):
        linked = int(parent_counts(ws, relation, shard).sum())
        rows.append(linked + unlinked_rows(linked, share))
    return rows


def unlinked_rows(linked: int, share: float) -> int:
    """Rows without a parent beside ``linked`` rows with one, at the real share (< 1) of such rows."""
    if share <= 0:
        return 0
    return int(round(linked * share / (1.0 - share)))


def parent_counts(ws: Workspace, relation, shard: int):
    """The synthetic child counts of one parent shard's rows in ``relation``."""
    import pyarrow.parquet as pq

    key = shard_key(ws, relation.parent, shard, "counts.parquet")
    if not ws.artifacts.exists(key):
        raise InputError(
            f"tables.{relation.child}: parent table {relation.parent} is not generated for this run; "
            "generate parents first"
        )
    with local_copy(ws.artifacts, key) as path:
        return pq.read_table(path, columns=[relation.count_column]).column(0).to_numpy()


def shard_records(ws: Workspace, table: str, plan) -> list[ShardRecord]:
    """The records of every planned shard; InputError if one is missing."""
    records = []
    missing = []
    for shard in range(len(planned_rows(ws, table, plan))):
        key = shard_key(ws, table, shard, "json")
        if not ws.artifacts.exists(key):
            missing.append(shard)
            continue
        records.append(ShardRecord.from_dict(read_json(ws.artifacts, key)))
    if missing:
        raise InputError(f"tables.{table}: shards {missing} not generated for this run; run `synth-ops generate` first")
    return records


@contextmanager
def verified_shards(ws: Workspace, records: list[ShardRecord]) -> Iterator[list[str]]:
    """Local paths of the shards, each checked against its record's sha256.

    With remote artifacts the shards are staged in a temporary directory, removed on exit.
    """
    with tempfile.TemporaryDirectory(prefix="synth-ops-shards-") as staging:
        paths = []
        for record in records:
            local = ws.artifacts.local_path(record.key)
            if local is None:
                local = os.path.join(staging, f"part-{record.shard:05d}.parquet")
                ws.artifacts.get_file(record.key, local)
            if sha256_file(local) != record.sha256:
                raise SynthOpsError(f"{ws.location(record.key)}: sha256 does not match its shard record; regenerate")
            paths.append(local)
        yield paths
