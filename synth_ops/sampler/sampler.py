"""``synth_ops.Sampler``: fresh synthetic rows from an exported sampler, with numpy, pandas and pyarrow.

    sampler = synth_ops.Sampler.load(".synth-ops/artifacts/penguins/<run id>/penguins/sampler")
    table = sampler.sample(100_000, seed=7)            # a pyarrow.Table of the whole table
    frame = sampler.sample(1_000, seed=7, as_frame=True)

A sampler's ``sampler.json`` names its engine: a Gaussian copula (the default: correlated normal
scores through inverse CDFs) or ``"engine": "trees"`` (sequential trees and leaf donor pools,
``trees.py``); the same decoders turn either's values into columns.

``sample(rows, seed, shard)`` are the rows ``synth-ops generate`` writes for shard ``shard`` of a
spec with ``synthesizer.seed: seed`` when each shard holds ``rows`` rows (keys start at
``shard * rows`` unless ``first_row`` says otherwise), whatever ``batch_rows`` is: the learned
columns draw each stream in row order, generated columns with random parts a block of release rows
at a time (``generated.BLOCK_ROWS``). ``batch_rows`` bounds memory; its default is
``generate.batch_rows``' own.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import ModelIntegrityError
from synth_ops.sampler import decoders
from synth_ops.sampler.format import read_sampler

DEFAULT_BATCH_ROWS = 50_000  # the spec's generate.batch_rows default, so a sample batches as a shard does


def shard_seed(seed: int, shard: int) -> int:
    """A shard's seed, as ``synth-ops generate`` derives it."""
    import numpy as np

    return int(np.random.SeedSequence([seed, shard]).generate_state(1)[0])


class Sampler:
    def __init__(self, doc: dict[str, Any], arrays: dict[str, Any], where: str = "<memory>"):
        import numpy as np

        # Arrow's take and cast import their module on first use (50-70 ms): part of loading a
        # sampler, not of its first batch
        import pyarrow.compute  # noqa: F401

        self.doc, self.arrays, self.where = doc, arrays, where
        self.engine = None  # a tree engine (``trees.py``) where sampler.json says ``"engine": "trees"``
        engine = doc.get("engine", "copula") if isinstance(doc, dict) else None
        if engine == "trees":
            self._load_trees(doc, arrays, where)
            return
        if engine != "copula":
            raise ModelIntegrityError(
                f"{where}: sampler engine {engine!r} is not known to this synth-ops; use a matching synth-ops or refit"
            )
        try:
            self.table: str = doc["table"]
            self.schema_pairs: list[list[str]] = doc["schema"]
            self.columns_plan: dict[str, dict] = doc["columns_plan"]
            copula, grid_z = doc["copula"], float(doc["grid"]["z"])
            self.copula_columns: list[str] = list(copula["columns"])
            self.inverses = [decoders.Inverse(s, arrays, grid_z, where) for s in copula["inverse"]]
            d = len(self.copula_columns)
            self.decoders: list[dict] = [self._simplified(spec) for spec in doc["columns"]]
            self.factor = decoders._array(arrays, copula["factor"], where) if d else np.zeros((0, 0))
        except (KeyError, TypeError):
            raise ModelIntegrityError(f"{where}: sampler.json lacks a required field; refit") from None
        if self.factor.shape != (d, d) or len(self.inverses) != d:
            raise ModelIntegrityError(f"{where}: the correlation factor does not match the copula's columns")
        for spec in self.decoders:
            reads = [spec.get("from"), (spec.get("nulls") or {}).get("indicator", 0)]
            if not all(isinstance(i, int) and 0 <= i < d for i in reads):
                raise ModelIntegrityError(f"{where}: a column reads a copula column that does not exist; refit")
            rate = (spec.get("nulls") or {}).get("rate", 0.0)
            if not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                raise ModelIntegrityError(f"{where}: a column's null rate is not a share; refit")

    def _load_trees(self, doc: dict, arrays: dict, where: str) -> None:
        """A tree sampler (``trees.py``): its engine makes each batch's values, the same decoders
        as the copula's (numbers, datetimes, labels) read them through identity inverses."""
        import numpy as np

        from synth_ops.sampler.trees import TreeEngine

        try:
            self.table = doc["table"]
            self.schema_pairs = doc["schema"]
            self.columns_plan = doc["columns_plan"]
            self.engine = TreeEngine(doc["trees"], arrays, self.table, where)
            self.decoders = [dict(spec) for spec in doc["columns"]]
        except (KeyError, TypeError):
            raise ModelIntegrityError(f"{where}: sampler.json lacks a required field; refit") from None
        self.copula_columns, self.inverses = list(self.engine.names), self.engine.inverses
        self.factor = np.zeros((0, 0))
        width = len(self.copula_columns)
        for spec in self.decoders:
            label = spec.get("kind") == "label"
            if (
                not isinstance(spec.get("from"), int)
                or not 0 <= spec["from"] < width
                or spec.get("kind") not in ("number", "count", "datetime", "label")
                or spec.get("nulls")
                or label
                and not (
                    isinstance(spec.get("values"), list) and spec["values"] and isinstance(spec.get("first_code"), int)
                )
            ):
                raise ModelIntegrityError(f"{where}: a column of the trees' sampler is malformed; refit")

    def _simplified(self, spec: dict) -> dict:
        """``spec`` with the operations that cannot change its values dropped (``decoders.simplify``),
        knowing the range of the copula column it reads."""
        source = spec.get("from")
        if not spec.get("ops") or not isinstance(source, int) or not 0 <= source < len(self.inverses):
            return spec
        try:
            return {**spec, "ops": decoders.simplify(spec["ops"], *self.inverses[source].value_range)}
        except (TypeError, IndexError, ValueError):  # malformed: left for decoding to refuse
            return spec

    @classmethod
    def load(cls, uri_or_path, expected_sha256: str | None = None) -> Sampler:
        """A sampler directory (local path, ``file://`` or ``s3://`` URI), after checking every file
        against its manifest (and the manifest against ``expected_sha256`` when given)."""
        doc, arrays, where = read_sampler(str(uri_or_path), expected_sha256=expected_sha256)
        return cls(doc, arrays, where)

    @classmethod
    def from_store(cls, store, prefix: str, expected_sha256: str | None = None) -> Sampler:
        doc, arrays, where = read_sampler(store, prefix, expected_sha256)
        return cls(doc, arrays, where)

    @property
    def learned(self) -> list[str]:
        """The columns the model learned (and, for a parent table, its child-count columns)."""
        return [spec["name"] for spec in self.decoders]

    def schema(self):
        from synth_ops.io.schema import from_profile

        return from_profile(self.schema_pairs)

    def _random_streams(self, seed: int):
        """The normal scores' stream and one stream per decoder (its nulls), as the backends seed them."""
        import numpy as np

        from synth_ops.sampler.normals import sampling_stream

        normal = sampling_stream(seed, self.table)
        streams = {
            spec["name"]: decoders.NullDraws(np.random.default_rng([seed, zlib.crc32(repr(spec["name"]).encode()), 1]))
            for spec in self.decoders
        }
        return normal, streams

    def _score_batches(self, rng, rows: int, batch_rows: int) -> Iterator[decoders.Batch]:
        """The scores of ``rows`` rows, at most ``batch_rows`` a batch. The normal draws go into one
        buffer for the whole run, which only the product reads (so no batch's values can alias the
        next one's): a fresh array per batch paid its page faults again (about 15% of drawing,
        measured with flights' 18 columns)."""
        import numpy as np

        from synth_ops.sampler.normals import NormalDraws

        batch_rows, width = max(batch_rows, 1), len(self.copula_columns)
        draws = np.empty((min(batch_rows, max(rows, 0)), width))
        normals = NormalDraws(rng)
        for start in range(0, rows, batch_rows):
            size = min(batch_rows, rows - start)
            if not width:
                yield decoders.Batch(np.zeros((0, size)), self.inverses)
                continue
            # the draws are a row each, in row order as the copula backend draws them; the product
            # comes out a column each (BLAS transposes)
            normals.fill(draws[:size])
            yield decoders.Batch(self.factor @ draws[:size].T, self.inverses)

    def _value_batches(
        self, rng, seed: int, rows: int, batch_rows: int, controls: dict | None = None, first_row: int = 0
    ) -> Iterator[decoders.Batch]:
        """The batches the decoders read: the copula's correlated scores, or the tree engine's values,
        steered by the table's generation ``controls`` (``copula_controls.py``, ``controls.py``)."""
        from synth_ops.sampler.normals import NormalDraws

        if self.engine is not None:
            bound = None
            if controls:
                from synth_ops.sampler.controls import BoundControls

                bound = BoundControls(controls, self.engine, self.decoders, f"tables.{self.table}.generate")
            return self.engine.batches(rows, seed, batch_rows, controls=bound, first_row=first_row)
        if controls:
            from synth_ops.sampler.copula_controls import CopulaControls

            bound = CopulaControls(controls, self, f"tables.{self.table}.generate")
            return bound.batches(NormalDraws(rng), bound.streams(seed, self.table), rows, batch_rows, first_row)
        return self._score_batches(rng, rows, batch_rows)

    def learned_batches(
        self,
        rows: int,
        seed: int,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        controls: dict | None = None,
        first_row: int = 0,
    ) -> Iterator[Any]:
        """DataFrames of the learned (and child-count) columns through the reference decoders
        (``decoders.decode``): ``rows`` in all, at most ``batch_rows`` each. The same ``seed`` gives
        the same rows whatever ``batch_rows`` is (each random stream is drawn in row order)."""
        import pandas as pd

        normal, streams = self._random_streams(seed)
        for batch in self._value_batches(normal, seed, rows, batch_rows, controls, first_row):
            yield pd.DataFrame(
                {spec["name"]: decoders.decode(spec, batch, streams[spec["name"]]) for spec in self.decoders},
                index=range(batch.rows),
            )

    def batches(
        self,
        rows: int,
        seed: int,
        first_row: int = 0,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        controls: dict | None = None,
    ) -> Iterator[tuple[Any, dict[str, Any]]]:
        """(Arrow table of whole rows in the source's schema, {child-count column: int64 array})
        per batch: learned columns decoded straight to Arrow, generated ones (keys, ids, ...)
        from the release row numbers starting at ``first_row``. Same rows as ``learned_batches``
        plus ``fill``."""
        import pyarrow as pa

        from synth_ops.sampler.arrow_columns import Column
        from synth_ops.spec.columns import FOREIGN, LEARNED

        if "child" in self.doc:
            raise ValueError(
                f"table {self.table!r} is a child table: its rows are sampled under its parents' "
                "synthetic rows (synth-ops generate), not alone"
            )
        schema = self.schema()
        fields = {field.name: field for field in schema}
        outputs = [Column(spec, fields.get(spec["name"]), self.inverses[spec["from"]]) for spec in self.decoders]
        generated = {c: e for c, e in self.columns_plan.items() if e["role"] not in (LEARNED, FOREIGN)}
        missing = [f.name for f in schema if f.name not in generated and f.name not in self.learned]
        if missing:
            raise ModelIntegrityError(f"{self.where}: column {missing[0]!r} is neither learned nor generated; refit")
        normal, streams = self._random_streams(seed)
        done = 0
        for batch in self._value_batches(normal, seed, rows, batch_rows, controls, first_row):
            arrays, counts = {}, {}
            for column in outputs:
                built = column.build(batch, streams[column.name])
                (counts if column.field is None else arrays)[column.name] = built
            if generated:
                arrays.update(_generated(generated, fields, batch.rows, first_row + done, seed))
            done += batch.rows
            yield pa.Table.from_arrays([arrays[name] for name in schema.names], schema=schema), counts

    def arrow_batches(
        self, rows: int, seed: int, first_row: int = 0, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[Any]:
        """Arrow tables of whole rows (learned and generated columns, the source's schema)."""
        for table, _ in self.batches(rows, seed, first_row, batch_rows):
            yield table

    def sample(
        self,
        rows: int,
        seed: int = 0,
        shard: int = 0,
        first_row: int | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        as_frame: bool = False,
    ):
        """``rows`` synthetic rows of the whole table: a pyarrow.Table (a DataFrame with ``as_frame``)."""
        import pyarrow as pa

        if rows < 0:
            raise ValueError(f"rows must be at least 0, got {rows}")
        tables = list(
            self.arrow_batches(
                rows, shard_seed(seed, shard), shard * rows if first_row is None else first_row, batch_rows
            )
        )
        table = pa.concat_tables(tables) if tables else self.schema().empty_table()
        return table.to_pandas() if as_frame else table

    def to_pandas(self, rows: int, seed: int = 0, shard: int = 0, first_row: int | None = None):
        return self.sample(rows, seed, shard, first_row, as_frame=True)


def _generated(plan: dict[str, dict], fields: dict, rows: int, first_row: int, seed: int) -> dict:
    """The generated columns (keys, ids, constants...) of one batch as Arrow arrays: straight from
    numpy where ``generated.generate_arrow`` can, the others through pandas (``generated.fill``)."""
    import pyarrow as pa

    from synth_ops.io.schema import to_arrow
    from synth_ops.sampler.generated import fill, generate_arrow

    out, rest = {}, {}
    for column, entry in plan.items():
        built = generate_arrow(entry, fields[column], rows, first_row, seed, column)
        if built is None:
            rest[column] = entry
        else:
            out[column] = built
    if rest:
        schema = pa.schema([fields[column] for column in rest])
        out.update(zip(schema.names, to_arrow(fill(None, rest, rows, first_row, seed), schema).columns))
    return out
