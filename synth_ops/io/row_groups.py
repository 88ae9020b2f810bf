"""Parquet files written in row groups of one size, whatever size the batches handed in are.

Generation samples in batches of ``generate.batch_rows`` (50,000 by default) to bound memory, but a
row group per batch makes writing dearer than sampling: each row group starts its dictionaries and
statistics anew (float columns fill a dictionary up to its page limit, then fall back), and readers
pay per row group too. Measured on weather + ``id``, 4M rows, one thread: 200,000-row groups 1.5M
rows/s, 1,048,576-row groups 2.2M rows/s, sampling included (``bench/perf.py --only-sampler``).
So batches are buffered (zero-copy Arrow slices) into groups of ``ROW_GROUP_ROWS`` rows, pyarrow's
own default for ``write_table``, or fewer when a group would exceed ``ROW_GROUP_BYTES``: memory
stays bounded for wide tables.
"""

from __future__ import annotations

from typing import Any

ROW_GROUP_ROWS = 1 << 20
ROW_GROUP_BYTES = 128 << 20
# What every synthetic shard is written with (and what bench/perf.py measures the limit with).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd"}


class RowGroupWriter:
    """``pq.ParquetWriter`` over ``where`` with ``schema``; ``write`` takes Arrow tables of any size.
    A group is written once it holds ``rows`` rows or ``max_bytes`` bytes; ``close`` writes the rest.
    Leaving a ``with`` block on an exception closes the file without writing what is buffered."""

    def __init__(self, where, schema, rows: int = ROW_GROUP_ROWS, max_bytes: int = ROW_GROUP_BYTES, **options):
        import pyarrow.parquet as pq

        self.rows, self.max_bytes = rows, max_bytes
        self._writer = pq.ParquetWriter(where, schema, **{**PARQUET_OPTIONS, **options})
        self._buffer: list = []
        self._buffered_rows = self._buffered_bytes = 0

    def write(self, table) -> None:
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered_rows += table.num_rows
        self._buffered_bytes += table.nbytes
        if self._buffered_bytes >= self.max_bytes:
            self._flush(everything=True)
        elif self._buffered_rows >= self.rows:
            self._flush(everything=False)

    def _flush(self, everything: bool) -> None:
        import pyarrow as pa

        if not self._buffer:
            return
        buffered = pa.concat_tables(self._buffer)
        whole = buffered.num_rows if everything else buffered.num_rows // self.rows * self.rows
        if whole:
            self._writer.write_table(buffered.slice(0, whole), row_group_size=self.rows)
        rest = buffered.slice(whole)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered_rows = rest.num_rows
        self._buffered_bytes = rest.nbytes if rest.num_rows else 0

    def close(self) -> None:
        self._flush(everything=True)
        self._writer.close()

    def __enter__(self) -> RowGroupWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self._writer.close()
