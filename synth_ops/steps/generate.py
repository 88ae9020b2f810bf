"""generate: rows in independent seeded shards, each streamed to Parquet in bounded batches.

A shard is the unit of parallelism (worker processes here, mapped tasks in Airflow, multiprocess
steps in Dagster). Peak memory per shard depends on ``generate.batch_rows`` and the row-group bound
(``row_groups.py``), not on the row count.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import zlib
from collections.abc import Callable

from synth_ops.errors import InputError, SynthOpsError
from synth_ops.io import schema as arrow_schema
from synth_ops.io.fingerprints import sha256_file
from synth_ops.io.row_groups import RowGroupWriter
from synth_ops.io.staging import staging_path
from synth_ops.runtime import failpoints, models
from synth_ops.runtime.records import ShardRecord
from synth_ops.runtime.shards import shard_key, shard_seed, verified_shards
from synth_ops.runtime.workspace import Workspace
from synth_ops.sampler.generated import fill
from synth_ops.stores import read_json

log = logging.getLogger("synth_ops")


def planned_rows(ws: Workspace, table: str) -> list[int]:
    """Rows of each shard of ``table`` under this run's plan (``runtime.shards.planned_rows``)."""
    from synth_ops.runtime import shards
    from synth_ops.steps.plan import build_plan

    return shards.planned_rows(ws, table, build_plan(ws.spec))


def shard_records(ws: Workspace, table: str) -> list[ShardRecord]:
    """The records of every planned shard of ``table``; InputError if one is missing."""
    from synth_ops.runtime import shards
    from synth_ops.steps.plan import build_plan

    return shards.shard_records(ws, table, build_plan(ws.spec))


def generate_shard(
    ws: Workspace, table: str, shard: int, on_batch: Callable[[int], None] | None = None, force: bool = False
) -> ShardRecord:
    """Sample one shard and write it as ``shards/part-NNNNN.parquet`` plus its record.

    A shard of this run that still matches its record is reused unless ``force``. A table with a
    portable sampler (``synth_ops/sampler/``) is sampled by it; others by the pickled model.
    """
    plan = planned_rows(ws, table)
    if not 0 <= shard < len(plan):
        raise InputError(f"generate.shards: shard {shard} does not exist (0..{len(plan) - 1})")
    if not force:
        existing = _existing_shard(ws, table, shard)
        if existing:
            if on_batch:
                on_batch(existing.rows)
            return existing
    from synth_ops.steps.plan import build_plan

    profile = ws.read(table, "profile.json")
    schema = arrow_schema.from_profile(profile["arrow_schema"])
    columns_plan = profile["columns_plan"]
    first_row = sum(plan[:shard])  # this shard's block of release row numbers, hence of keys
    run_plan = build_plan(ws.spec)
    unit = run_plan.model_of(table).name
    sampler = portable_sampler(ws, unit, table)
    # the table's generation controls (a table in no relationship: checked when it was profiled)
    controls = ws.spec.controls_of(table) or None
    model = None if sampler is not None else models.load(ws, unit)
    if sampler is not None and run_plan.table(table).primary is not None:
        from synth_ops.synthesizers.copula.child_sampler import ChildSampler

        model, sampler = ChildSampler(sampler), None  # rows under the parents' rows (steps/children.py)
    seed = shard_seed(ws.spec.synthesizer_of(table).seed, shard)
    key = shard_key(ws, table, shard)
    local = ws.artifacts.local_path(key)
    if local:
        staging = staging_path(os.path.dirname(local), os.path.basename(local))
    else:  # remote artifacts: staged in the temp directory under a name unique to this run's shard
        staging = staging_path(tempfile.gettempdir(), f"synth-ops-{ws.run_id}-{table}-{os.path.basename(key)}")
    started = time.perf_counter()
    rows = 0
    counts = []
    count_names = [r.count_column for r in run_plan.of_parent(table)]
    if sampler is not None:
        tables = sampler.batches(plan[shard], seed, first_row, ws.spec.generate.batch_rows, controls=controls)
    else:
        if run_plan.table(table).primary is None:
            batches = _learned_batches(
                model, table, plan[shard], ws.spec.generate.batch_rows, seed, controls, first_row
            )
        else:
            from synth_ops.steps.children import child_batches

            batches = child_batches(ws, run_plan, model, table, shard, plan[shard], seed, first_row)
        tables = _filled(batches, count_names, columns_plan, schema, first_row, seed)
    try:
        with RowGroupWriter(staging, schema) as writer:
            for batch, batch_counts in tables:
                if batch_counts:
                    counts.append(batch_counts)
                writer.write(batch)
                failpoints.reached("generate.batch_written")
                rows += batch.num_rows
                if on_batch:
                    on_batch(batch.num_rows)
        digest = sha256_file(staging)
        size = os.path.getsize(staging)
        if run_plan.of_parent(table):
            _write_counts(ws, run_plan, table, shard, counts, rows, seed)
        if local:
            os.replace(staging, local)
        else:
            ws.artifacts.put_file(key, staging)
    finally:
        if os.path.exists(staging):
            os.unlink(staging)
    record = ShardRecord(
        name=ws.spec.name,
        table=table,
        run_id=ws.run_id,
        shard=shard,
        seed=seed,
        rows=rows,
        bytes=size,
        sha256=digest,
        key=key,
        seconds=round(time.perf_counter() - started, 3),
    )
    ws.artifacts.write_bytes(shard_key(ws, table, shard, "json"), record.to_json().encode())
    return record


def _filled(batches, count_names: list[str], columns_plan: dict, schema, first_row: int, seed: int):
    """(Arrow table of whole rows, {count column: values}) per DataFrame of learned columns."""
    done = 0
    for learned in batches:
        count_columns = [c for c in count_names if c in learned.columns]
        counts = {c: learned[c].to_numpy() for c in count_columns}
        frame = fill(learned.drop(columns=count_columns), columns_plan, len(learned), first_row + done, seed)
        done += len(frame)
        yield arrow_schema.to_arrow(frame, schema), counts


def portable_sampler(ws: Workspace, unit: str, table: str):
    """The table's exported sampler (numpy and pyarrow only, no pickle), or None: then the pickled
    model samples it. The sampler's manifest must match the sha256 model.json recorded."""
    ws.require(unit, models.MODEL_JSON, "fit")
    record = (ws.read(unit, models.MODEL_JSON).get("sampler") or {}).get(table) or {}
    if "key" not in record:
        return None
    from synth_ops.sampler.sampler import Sampler

    return Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])


def balanced_counts(counts, target: float, rng, most: int | None = None, share_with: float = 1.0):
    """``counts`` rescaled (stochastic rounding) to sum to about ``target``, the real number of
    children per parent row times this shard's parent rows, none above ``most`` (the real maximum:
    a one-to-one relationship stays one-to-one). Sampled counts alone are right on average but
    swing widely when few parents hold most children (3 of 1,458 airports have weather): one shard
    would get all of them, another none. A shard where no parent drew a child gives them to as
    many random parents as the real share of parents with children says."""
    import numpy as np

    counts = np.maximum(np.asarray(counts, dtype="float64"), 0)
    if target <= 0 or not len(counts):
        return np.zeros(len(counts), dtype="int64")
    if counts.sum() <= 0:
        chosen = rng.choice(len(counts), size=min(len(counts), max(1, round(len(counts) * share_with))), replace=False)
        counts = np.zeros(len(counts))
        counts[chosen] = 1.0
    factor = target / counts.sum()
    scaled = counts * factor
    for _ in range(20):  # the cap takes children from the largest parents: the others make up for it
        scaled = np.minimum(counts * factor, most) if most is not None else counts * factor
        if scaled.sum() >= target * 0.999 or (most is not None and np.all((scaled >= most) | (counts == 0))):
            break
        factor *= target / scaled.sum()
    whole = np.floor(scaled)
    return (whole + (rng.random(len(scaled)) < scaled - whole)).astype("int64")


def _write_counts(ws: Workspace, run_plan, table: str, shard: int, counts: list, rows: int, seed: int) -> None:
    """The shard's synthetic child counts per relationship (``counts``: {count column: values} per
    batch), beside it (never published): the children of this shard's rows are generated from them."""
    import io

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = (
        pd.concat([pd.DataFrame(batch) for batch in counts], ignore_index=True)
        if counts
        else pd.DataFrame(index=range(rows))
    )
    real_rows = ws.read(table, "profile.json")["rows"]
    for relation in run_plan.of_parent(table):
        if relation.count_column not in frame:  # an implied relationship draws nothing
            frame[relation.count_column] = np.zeros(rows, dtype="int64")
            continue
        child = ws.read(relation.child, "profile.json")
        stats = child["relationships"][relation.name]
        linked = child["rows"] - stats["unlinked"]
        rng = np.random.default_rng([seed, zlib.crc32(relation.name.encode()), shard])
        frame[relation.count_column] = balanced_counts(
            frame[relation.count_column].to_numpy(),
            linked * rows / max(real_rows, 1),
            rng,
            most=stats["max_children"],
            share_with=stats["parents_with_children"] / max(stats["parent_rows"], 1),
        )
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.astype("int64"), preserve_index=False), buffer)
    ws.artifacts.write_bytes(shard_key(ws, table, shard, "counts.parquet"), buffer.getvalue())


def _learned_batches(
    model, table: str, rows: int, batch_rows: int, seed: int, controls: dict | None = None, first_row: int = 0
):
    """The model's batches of learned columns; empty frames of the right length when nothing is learned."""
    if model is not None:
        yield from model.sample(table, rows, seed, batch_rows, controls=controls, first_row=first_row)
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


def generate(
    ws: Workspace, table: str, workers: int = 1, on_rows: Callable[[int], None] | None = None, force: bool = False
) -> list[ShardRecord]:
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
        with ProcessPoolExecutor(
            max_workers=processes, mp_context=context, initializer=limit_threads, initargs=(threads,)
        ) as pool:
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
