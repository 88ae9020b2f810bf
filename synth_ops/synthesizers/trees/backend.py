"""``synthesizer.kind: trees``: synthpop's CART method (Nowok, Raab and Dibben, JSS 2016) on
scikit-learn, behind the synthesizer contract.

The learned columns are drawn in a visit order (``order.py``): the first from its protected
marginal, each next one from the leaf its row reaches in a tree fitted on the columns before it,
as a real donor of that leaf, smoothed where it is a continuous number (``model.py``). The
privacy knobs (``knobs.py``) bound how close a synthetic value comes to one real row: leaves of
at least ``min_leaf`` rows, smoothing, rare categories never drawn, tails clipped.

The fitted state is the portable sampler's own arrays and JSON (``export.py``); sampling runs the
sampler's tree engine (``synth_ops/sampler/trees.py``), so an exported sampler gives exactly the
rows this backend gives for the same seed, and the model holds no scikit-learn object.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from synth_ops.synthesizers.base import Capabilities, Synthesizer


class TreesSynthesizer(Synthesizer):
    kinds = ("trees",)
    library = "scikitlearn"
    capabilities = Capabilities(multi_table=False, max_tables=1, shards=True, portable_sampler=("trees",))

    def _check(self, metadata: dict[str, dict]) -> None:
        from synth_ops.synthesizers.trees.knobs import read_knobs

        for columns_metadata in metadata.values():
            read_knobs(self.params, list(columns_metadata.get("columns", {})))
        if not metadata:
            read_knobs(self.params)

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        from synth_ops.io.schema import infer
        from synth_ops.synthesizers.trees.encoding import encode
        from synth_ops.synthesizers.trees.knobs import read_knobs
        from synth_ops.synthesizers.trees.model import decoders, fit_rows_sample, fit_table, fit_threads
        from synth_ops.synthesizers.trees.order import visit_order

        ((table, frame),) = data.items()
        learned = list(frame.columns)
        knobs = read_knobs(self.params, learned)
        columns_metadata = metadata[table].get("columns", {})
        # a big table is fitted on a seeded sample of fit_rows rows: time and memory bounded
        rows = fit_rows_sample(len(frame), self.options.get("fit_rows"), self.seed, table)
        fitted = frame if rows is None else frame.iloc[rows]
        knobs = knobs.resolved(len(fitted))
        # how many training rows share a value is counted on all of them (rare_min)
        encoded = {
            c: encode(c, fitted[c], columns_metadata.get(c, {}), knobs.rare_min, knobs.tail_quantile, counted=frame[c])
            for c in learned
        }
        order = visit_order(encoded, knobs.order)
        trees, arrays, info = fit_table(table, [encoded[c] for c in order], knobs, self.seed, fit_threads())
        # the fitted state, in one place: what the sampler's tree engine reads
        self.models = {table: {"trees": trees, "arrays": arrays, "columns": decoders(encoded, order, learned)}}
        self.schemas = {table: infer(fitted, {})}
        self._engines = {}
        return {"trees": info}

    def _engine(self, table: str):
        from synth_ops.sampler.trees import TreeEngine

        engines = self.__dict__.setdefault("_engines", {})
        if table not in engines:
            model = self.models[table]
            engines[table] = TreeEngine(model["trees"], model["arrays"], table)
        return engines[table]

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        import pandas as pd

        from synth_ops.sampler import decoders

        specs = self.models[table]["columns"]
        for batch in self._engine(table).batches(rows, seed, batch_rows):
            yield pd.DataFrame(
                {spec["name"]: decoders.decode(spec, batch, None) for spec in specs}, index=range(batch.rows)
            )

    def export_sampler(
        self,
        target,
        table: str | None = None,
        profile: dict | None = None,
        source: dict | None = None,
        prefix: str = "",
        learned: list[str] | None = None,
    ) -> str:
        """Write ``table``'s portable sampler (numpy and pyarrow only) into ``target``, a directory
        or a Store (keys under ``prefix``); returns its manifest's sha256. ``profile``: the table's
        profile.json, so the sampler writes whole rows (generated columns too). ``learned``: the
        columns the caller expects it to sample (``export_parts.Unsupported`` if they differ)."""
        from synth_ops.sampler.export_parts import Unsupported
        from synth_ops.synthesizers.trees.export import write

        if table is None:
            table = self.tables[0]
        if table not in self.tables:
            raise ValueError(f"this model does not cover table {table!r}")
        if learned is not None and [spec["name"] for spec in self.models[table]["columns"]] != list(learned):
            raise Unsupported("the exported columns differ from the learned ones")
        return write(self, target, table, profile, source, prefix)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_engines", None)  # rebuilt from the arrays on first use
        return state
