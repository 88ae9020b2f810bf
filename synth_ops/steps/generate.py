"""generate: rows in independent seeded shards, each streamed to Parquet in bounded batches.

A shard is the unit of parallelism (worker processes here, mapped tasks in Airflow, multiprocess
steps in Dagster). Peak memory per shard depends on ``generate.batch_rows``, not on the row count.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from synth_ops import models
from synth_ops import schema as arrow_schema
from synth_ops.columns import fill
from synth_ops.errors import InputError, SynthOpsError
from synth_ops.fingerprints import sha256_file
from synth_ops.records import ShardRecord
from synth_ops.staging import staging_path
from synth_ops.stores import read_json
from synth_ops.workspace import Workspace

log = logging.getLogger("synth_ops")


def shard_rows(total: int, shards: int) -> list[int]:
    base, extra = divmod(total, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def shard_seed(seed: int, shard: int) -> int:
    import numpy as np

    return int(np.random.SeedSequence([seed, shard]).generate_state(1)[0])


def shard_key(ws: Workspace, table: str, shard: int, suffix: str = "parquet") -> str:
    return ws.key(table, "shards", f"part-{shard:05d}.{suffix}")


def planned_rows(ws: Workspace, table: str) -> list[int]:
    from synth_ops.plan import build_plan

    ws.require(table, "profile.json", "profile")
    source_rows = ws.read(table, "profile.json")["rows"]
    return shard_rows(ws.spec.generate.row_count(source_rows), build_plan(ws.spec).table(table).shards)


def generate_shard(ws: Workspace, table: str, shard: int, on_batch: Callable[[int], None] | None = None,
                   force: bool = False) -> ShardRecord:
    """Sample one shard and write it as ``shards/part-NNNNN.parquet`` plus its record.

    A shard of this run that still matches its record is reused unless ``force``.
    """
    import pyarrow.parquet as pq


    plan = planned_rows(ws, table)
    if not 0 <= shard < len(plan):
        raise InputError(f"generate.shards: shard {shard} does not exist (0..{len(plan) - 1})")
    if not force:
        existing = _existing_shard(ws, table, shard)
        if existing:
            if on_batch:
                on_batch(existing.rows)
            return existing
    profile = ws.read(table, "profile.json")
    schema = arrow_schema.from_profile(profile["arrow_schema"])
    columns_plan = profile["columns_plan"]
    first_row = sum(plan[:shard])  # this shard's block of release row numbers, hence of keys
    model = models.load(ws, table)
    seed = shard_seed(ws.spec.synthesizer.seed, shard)
    key = shard_key(ws, table, shard)
    local = ws.artifacts.local_path(key)
    if local:
        staging = staging_path(os.path.dirname(local), os.path.basename(local))
    else:  # remote artifacts: staged in the temp directory under a name unique to this run's shard
        staging = staging_path(tempfile.gettempdir(), f"synth-ops-{ws.run_id}-{table}-{os.path.basename(key)}")
    started = time.perf_counter()
    rows = 0
    try:
        with pq.ParquetWriter(staging, schema, compression="zstd") as writer:
            for learned in _learned_batches(model, table, plan[shard], ws.spec.generate.batch_rows, seed):
                frame = fill(learned, columns_plan, len(learned), first_row + rows, seed)
                writer.write_table(arrow_schema.to_arrow(frame, schema))
                rows += len(frame)
                if on_batch:
                    on_batch(len(frame))
        digest = sha256_file(staging)
        size = os.path.getsize(staging)
        if local:
            os.replace(staging, local)
        else:
            ws.artifacts.put_file(key, staging)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    record = ShardRecord(
        name=ws.spec.name, table=table, run_id=ws.run_id, shard=shard, seed=seed, rows=rows,
        bytes=size, sha256=digest, key=key, seconds=round(time.perf_counter() - started, 3),
    )
    ws.artifacts.write_bytes(shard_key(ws, table, shard, "json"), record.to_json().encode())
    return record


def _learned_batches(model, table: str, rows: int, batch_rows: int, seed: int):
    """The model's batches of learned columns; empty frames of the right length when nothing is learned."""
    if model is not None:
        yield from model.sample(table, rows, seed, batch_rows)
        return
    import pandas as pd

    for start in range(0, rows, batch_rows):
        yield pd.DataFrame(index=range(min(batch_rows, rows - start)))


def _existing_shard(ws: Workspace, table: str, shard: int) -> ShardRecord | None:
    key = shard_key(ws, table, shard, "json")
    if not ws.artifacts.exists(key):
        return None
    record = ShardRecord.from_dict(read_json(ws.artifacts, key))
    try:
        with verified_shards(ws, [record]):
            return record
    except SynthOpsError:
        return None


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def limit_threads(threads: int) -> None:
    """Worker initializer: share the cores between the workers instead of oversubscribing them.

    One worker alone uses ~1.3 cores (OpenBLAS in the normal draws, Arrow's pool in the Parquet
    writer); N workers each doing so on N cores slow each other down. Thread counts the user set
    in the environment are left alone. The variables cover libraries not loaded yet; threadpoolctl
    and Arrow's setter cover those already loaded (a spawned worker re-imports the parent's
    ``__main__``, which may have imported numpy).
    """
    if any(name in os.environ for name in THREAD_VARIABLES):
        return
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import pyarrow
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    pyarrow.set_cpu_count(threads)


def generate(ws: Workspace, table: str, workers: int = 1, on_rows: Callable[[int], None] | None = None,
             force: bool = False) -> list[ShardRecord]:
    """All shards of one table; ``workers`` > 1 runs them in separate processes."""
    plan = planned_rows(ws, table)
    if workers <= 1 or len(plan) == 1:
        records = [generate_shard(ws, table, shard, on_rows, force) for shard in range(len(plan))]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        # spawn, not fork: a forked child of a process that ran torch can deadlock in its thread pools.
        context = multiprocessing.get_context("spawn")
        processes = min(workers, len(plan))
        threads = max(1, (os.cpu_count() or 1) // processes)
        with ProcessPoolExecutor(max_workers=processes, mp_context=context,
                                 initializer=limit_threads, initargs=(threads,)) as pool:
            futures = {pool.submit(generate_shard, ws, table, shard, None, force): shard for shard in range(len(plan))}
            records = []
            for future in as_completed(futures):
                record = future.result()
                records.append(record)
                if on_rows:
                    on_rows(record.rows)
        records.sort(key=lambda r: r.shard)
    log.info("%s: generated %d rows in %d shards", table, sum(r.rows for r in records), len(records))
    return records


def shard_records(ws: Workspace, table: str) -> list[ShardRecord]:
    """The records of every planned shard; InputError if one is missing."""
    records = []
    missing = []
    for shard in range(len(planned_rows(ws, table))):
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
