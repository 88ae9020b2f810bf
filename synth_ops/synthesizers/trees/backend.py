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
    """One visit order of trees per table. For related tables (one model over the schema), a
    parent's order also draws its child counts (``#<relationship>``, integers like any learned
    number), and a child's order first visits its primary parent's learned columns (``trees.given``):
    its trees split on them, so each child row is drawn given its synthetic parent's attributes."""

    kinds = ("trees",)
    library = "scikitlearn"
    capabilities = Capabilities(
        multi_table=True,
        max_tables=None,
        composite_keys=True,
        shards=True,
        portable_sampler=("trees",),
        controls=("rebalance", "fairness", "conditions", "ranges", "impute"),
    )

    def _check(self, metadata: dict[str, dict]) -> None:
        from synth_ops.errors import SpecError
        from synth_ops.synthesizers.trees.knobs import read_knobs

        if len(metadata) > 1 and self.params.get("order") is not None:
            raise SpecError("synthesizer.params.order: names one table's columns; related tables use the default order")
        for columns_metadata in metadata.values():
            read_knobs(self.params, list(columns_metadata.get("columns", {})) if len(metadata) == 1 else None)
        if not metadata:
            read_knobs(self.params)

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict], relations: dict | None = None) -> dict[str, Any]:
        relations = relations or {}
        if len(data) > 1 and self.params.get("order") is not None:
            self._check(metadata)  # SpecError: order names one table's columns
        self.models, self.schemas, self.counts, self.given, self.sequence = {}, {}, {}, {}, {}
        self.scores, self.axis = {}, {}
        self._engines = {}
        info = {table: self._fit_table(table, frame, metadata, relations) for table, frame in data.items()}
        return {"trees": info[next(iter(data))] if len(data) == 1 and not relations else info}

    def _fit_table(self, table: str, frame, metadata: dict[str, dict], relations: dict) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        from synth_ops.io.schema import infer
        from synth_ops.spec.controls import controlled_columns
        from synth_ops.synthesizers.copula.backend import score_name
        from synth_ops.synthesizers.trees.encoding import GivenColumn, encode
        from synth_ops.synthesizers.trees.knobs import read_knobs
        from synth_ops.synthesizers.trees.model import decoders, fit_rows_sample, fit_table, fit_threads
        from synth_ops.synthesizers.trees.order import visit_order

        learned = list(frame.columns)
        knobs = read_knobs(self.params, learned if len(metadata) == 1 else None)
        columns_metadata = metadata[table].get("columns", {})
        # a big table is fitted on a seeded sample of fit_rows rows: time and memory bounded
        rows = fit_rows_sample(len(frame), self.options.get("fit_rows"), self.seed, table)
        picked = slice(None) if rows is None else rows
        fitted = frame if rows is None else frame.iloc[rows]
        knobs = knobs.resolved(len(fitted))
        # how many training rows share a value is counted on all of them (rare_min)
        encoded = {
            c: encode(c, fitted[c], columns_metadata.get(c, {}), knobs.rare_min, knobs.tail_quantile, counted=frame[c])
            for c in learned
        }
        self.counts[table] = []
        for relation in relations.values():
            if relation.plan.parent == table:  # its children per row: a learned integer, never published
                name = relation.plan.count_column
                counts = pd.Series(relation.counts.astype("float64"))
                encoded[name] = encode(
                    name, counts.iloc[picked], {"sdtype": "numerical"}, knobs.rare_min, knobs.tail_quantile, counts
                )
                encoded[name].decoder = {"name": name, "kind": "count", "nulls": None, "ops": []}
                self.counts[table].append(name)
        given, self.given[table] = [], []
        primary = next((r for r in relations.values() if r.plan.child == table and r.plan.primary), None)
        if primary is not None and primary.context is not None:
            parent_meta = metadata[primary.plan.parent].get("columns", {})
            context = primary.context.iloc[picked].reset_index(drop=True)
            for column in context.columns:
                spec, features = GivenColumn.fit(
                    column, context[column], parent_meta.get(column, {}), knobs.rare_min, knobs.tail_quantile
                )
                self.given[table].append(spec)
                given.append((f"^{column}", features))
            if primary.sequence is not None:
                column, step = primary.sequence
                self.sequence[table] = (column, step, float(np.nanmin(encoded[column].values)) if len(fitted) else 0.0)
        self.scores[table] = []
        for name, relation in relations.items():  # drawn keys: where each child's parent lies on an axis
            score = self._relation_axis(name, relation, table, fitted, picked, metadata)
            if score is not None:
                column = score_name(name)
                encoded[column] = encode(
                    column, pd.Series(score), {"sdtype": "numerical"}, knobs.rare_min, knobs.tail_quantile
                )
                self.scores[table].append(column)
        order = visit_order(encoded, knobs.order)
        # the columns generation controls come first, so every other column is drawn given them
        controlled = [c for c in controlled_columns(self.context.controls) if c in encoded]
        order = controlled + [c for c in order if c not in controlled]
        steered = {*controlled, *self.context.controls.get("impute", ())} if self.context.controls else set()
        trees, arrays, info = fit_table(
            table, [encoded[c] for c in order], knobs, self.seed, fit_threads(), given=given, plain=steered
        )
        # the fitted state, in one place: what the sampler's tree engine reads
        self.models[table] = {
            "trees": trees,
            "arrays": arrays,
            "columns": decoders(encoded, order, learned + self.counts[table] + self.scores[table]),
        }
        self.schemas[table] = infer(fitted, {})
        if self.context.controls and not given:  # a control the model cannot draw: named now, not at generate
            self._bound(table, self.context.controls, self._engine(table))
        return info

    def _relation_axis(self, name: str, relation, table: str, fitted, picked, metadata: dict):
        """Each fitted row's parent's position on the axis of the drawn foreign key ``name`` (NaN:
        no parent), or None where the key is not drawn or nothing says where its parent lies.
        The axis is the copula's (``canonical_axis``): the parent's columns as they best predict
        the child's. Its value per row becomes a learned number (``~<relationship>``), so the
        synthetic rows say where their parent lies, and children and parents are paired by rank
        on it (``steps/children.py``): a far flight gets a far airport."""
        import numpy as np

        from synth_ops.synthesizers.copula.backend import ColumnCodec, axis_scores, canonical_axis, table_rng

        if relation.plan.child != table or relation.plan.primary or relation.context is None:
            return None
        if not len(relation.context.columns) or not len(fitted.columns):
            return None
        parents = relation.parents[picked]
        linked = np.flatnonzero(parents >= 0)
        if len(linked) < 3:
            return None
        context = relation.context.iloc[picked].reset_index(drop=True).iloc[linked].reset_index(drop=True)
        own, own_marginals = {}, {}
        for column in fitted.columns:
            codec = ColumnCodec(column, metadata[table].get("columns", {}).get(column, {}))
            own[column] = codec.encode(fitted[column].iloc[linked].reset_index(drop=True))
            own_marginals[column] = codec.marginal(own[column])
        columns, loadings, codecs, marginals = canonical_axis(
            context,
            metadata[relation.plan.parent].get("columns", {}),
            own,
            own_marginals,
            table_rng(self.seed, f"{relation.plan.parent}/axis"),
        )
        self.axis[name] = (columns, loadings, codecs, marginals)
        score = np.full(len(fitted), np.nan)
        score[linked] = axis_scores(context, columns, loadings, codecs, marginals, table_rng(self.seed, f"{name}/axis"))
        return score

    def relation_scores(self, relation: str, frame):
        """Each parent row's position on the axis of ``relation`` (None if it has none), as the
        fitted rows' parents were scored: drawn foreign keys pair children and parents by rank on it."""
        from synth_ops.synthesizers.copula.backend import axis_scores, table_rng

        if relation not in self.__dict__.get("axis", {}):
            return None
        columns, loadings, codecs, marginals = self.axis[relation]
        return axis_scores(frame, columns, loadings, codecs, marginals, table_rng(self.seed, f"{relation}/axis"))

    def _engine(self, table: str):
        from synth_ops.sampler.trees import TreeEngine

        engines = self.__dict__.setdefault("_engines", {})
        if table not in engines:
            model = self.models[table]
            engines[table] = TreeEngine(model["trees"], model["arrays"], table)
        return engines[table]

    def _frame(self, table: str, batch, groups=None):
        """The decoded DataFrame of one batch (a sequence column made unique within ``groups``)."""
        import pandas as pd

        from synth_ops.sampler import decoders

        specs = self.models[table]["columns"]
        if groups is not None and table in self.sequence:
            from synth_ops.synthesizers.copula.backend import unique_within

            column, step, origin = self.sequence[table]
            row = next(spec["from"] for spec in specs if spec["name"] == column)
            batch.z[row] = unique_within(batch.z[row], groups, step, origin)
        return pd.DataFrame(
            {spec["name"]: decoders.decode(spec, batch, None) for spec in specs}, index=range(batch.rows)
        )

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        for batch in self._engine(table).batches(rows, seed, batch_rows):
            yield self._frame(table, batch)

    def _sample_controlled(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict, first_row: int
    ) -> Iterator[Any]:
        engine = self._engine(table)
        bound = self._bound(table, controls, engine)
        for batch in engine.batches(rows, seed, batch_rows, controls=bound, first_row=first_row):
            yield self._frame(table, batch)

    def _bound(self, table: str, controls: dict, engine):
        from synth_ops.sampler.controls import BoundControls

        return BoundControls(controls, engine, self.models[table]["columns"], f"tables.{table}.generate")

    def sample_children(self, table: str, context, groups, seed: int):
        """Rows of ``table`` drawn given their parents' synthetic learned columns (``context``, one
        row per child row; None: rows without a parent, drawn as the real ones without one were)."""
        import numpy as np
        import pandas as pd

        rows = len(groups)
        given = None
        if self.given.get(table):
            if context is None:
                context = pd.DataFrame({spec.name: [None] * rows for spec in self.given[table]})
            given = np.stack([spec.features(context[spec.name]) for spec in self.given[table]])
        batch = next(iter(self._engine(table).batches(rows, seed, max(rows, 1), given)), None)
        if batch is None:  # no rows
            return pd.DataFrame({spec["name"]: [] for spec in self.models[table]["columns"]})
        return self._frame(table, batch, np.asarray(groups))

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
        expected = None if learned is None else [*learned, *self.__dict__.get("counts", {}).get(table, [])]
        if expected is not None and [spec["name"] for spec in self.models[table]["columns"]] != expected:
            raise Unsupported("the exported columns differ from the learned ones")
        return write(self, target, table, profile, source, prefix)

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_engines", None)  # rebuilt from the arrays on first use
        return state
