"""SDV's HMASynthesizer (kind ``hma``) behind the contract: the reference multi-table synthesizer,
for schemas within its limits (a few tables, shallow, single-column keys, modest row counts).

HMA models a parent's children through per-parent-row parameters and samples a whole schema at
once; it cannot sample one table, one shard or one parent's children on request. So the whole
schema is sampled once, right after fitting, at the release's scale and the seed of its one shard,
and kept in the model: generating a table reads its rows from there (one shard per table), and a child's
rows are HMA's own children of each synthetic parent row, in the parents' order. HMA never sees a
real key: parents get their row position as key, children their parent's position as foreign key.

A table planned for more rows than that draw made (a second root under the first root's scale, or
``generate.rows``) gets them from further whole-schema draws appended after it, never from its rows
again (repeated rows would look like copies and inflate the exact-match share).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import InputError, SpecError
from synth_ops.runtime.quiet import quiet_libraries
from synth_ops.synthesizers.base import Capabilities, Synthesizer, keep_supports, learn_supports
from synth_ops.synthesizers.sdv.single import sdv_error_summary, seed_everything

PK = "__pk"


def _fk(relation: str) -> str:
    return f"__fk__{relation}"


class SDVHMA(Synthesizer):
    kinds = ("hma",)
    library = "sdv"
    capabilities = Capabilities(multi_table=True, max_tables=5, max_depth=2, composite_keys=False, shards=False)

    def _check(self, metadata: dict[str, dict]) -> None:
        import inspect

        from sdv.multi_table import HMASynthesizer

        known = [n for n in inspect.signature(HMASynthesizer.__init__).parameters if n not in ("self", "metadata")]
        unknown = [name for name in self.params if name not in known]
        if unknown:
            raise SpecError(f"synthesizer.params.{unknown[0]}: unknown parameter of hma (known: {', '.join(known)})")

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict], relations: dict | None = None) -> dict[str, Any]:
        import numpy as np
        from sdv.metadata import Metadata
        from sdv.multi_table import HMASynthesizer

        relations = relations or {}
        # discrete numbers (few distinct values): every sampled value is snapped to one of them
        self.supports = {table: learn_supports(frame, metadata[table]) for table, frame in data.items()}
        tables, doc = {}, {"tables": {}, "relationships": [], "METADATA_SPEC_VERSION": "V2"}
        parents = {r.plan.parent for r in relations.values()}
        for table, frame in data.items():
            frame = frame.copy()
            columns = {c: dict(m) for c, m in metadata[table]["columns"].items() if c in frame}
            if table in parents:
                frame[PK] = np.arange(len(frame))
                columns[PK] = {"sdtype": "id"}
            tables[table], doc["tables"][table] = (
                frame,
                {"columns": columns, **({"primary_key": PK} if table in parents else {})},
            )
        # A child row whose parent is held out points at a row HMA never sees: as a null key HMA would
        # learn nulls the real data does not have, so such rows are left out of HMA's training.
        keep = {t: np.ones(len(f), dtype=bool) for t, f in tables.items()}
        keys = {}
        for name, relation in relations.items():
            training = {int(p): i for i, p in enumerate(relation.parent_rows)}  # kept row -> training row
            keys[name] = np.asarray(
                [training.get(int(p), -1) if p >= 0 else np.nan for p in relation.parents], dtype="float64"
            )
            keep[relation.plan.child] &= keys[name] != -1
        for name, relation in relations.items():
            tables[relation.plan.child][_fk(name)] = keys[name]
            doc["tables"][relation.plan.child]["columns"][_fk(name)] = {"sdtype": "id"}
            doc["relationships"].append(
                {
                    "parent_table_name": relation.plan.parent,
                    "parent_primary_key": PK,
                    "child_table_name": relation.plan.child,
                    "child_foreign_key": _fk(name),
                }
            )
        for table, rows in keep.items():
            tables[table] = tables[table][rows].reset_index(drop=True)
        for name, relation in relations.items():  # HMA wants keys of one type: whole numbers, nulls allowed
            child = tables[relation.plan.child]
            child[_fk(name)] = child[_fk(name)].astype("Int64")
        self.relations = {name: r.plan for name, r in relations.items()}
        self.scale = float(self.context.scale)
        started = time.perf_counter()
        with warnings.catch_warnings(), quiet_libraries():
            warnings.simplefilter("ignore")
            try:
                model = HMASynthesizer(Metadata.load_from_dict(doc), verbose=False, **self.params)
                seed_everything(self.seed)
                model.fit(tables)
                fitted = time.perf_counter()
                from synth_ops.runtime.shards import shard_seed

                self.model, self.sampled_seed = model, shard_seed(self.seed, 0)  # the seed of the one shard
                self.sampled = self._sample_schema(self.sampled_seed)
            except Exception as error:
                if type(error).__module__.startswith(("sdv", "rdt", "copulas")):
                    raise InputError(
                        f"tables: SDV HMA cannot fit these tables: "
                        f"{sdv_error_summary(error, [c for f in tables.values() for c in f])}"
                    ) from None
                raise
        self.columns = {
            t: list(f.columns.drop([PK], errors="ignore").drop([c for c in f.columns if c.startswith("__fk__")]))
            for t, f in tables.items()
        }
        return {
            "hma_training_rows": {t: len(f) for t, f in tables.items()},
            "hma_fit_seconds": round(fitted - started, 3),
            "hma_sample_seconds": round(time.perf_counter() - fitted, 3),
            "scale": self.scale,
        }

    def _sample_schema(self, seed: int, scale: float | None = None) -> dict:
        """The whole schema sampled under ``seed`` by a copy of the fitted model: sampling advances
        HMA's internal random states, and the same seed must give the same rows however often."""
        import copy

        from synth_ops.synthesizers.sdv import compat

        with warnings.catch_warnings(), quiet_libraries():
            warnings.simplefilter("ignore")
            model = copy.deepcopy(self.model)
            seed_everything(seed)
            # HMA samples from its own fixed numpy seed and per-table random states, not the global ones
            compat.seed_hma(model, seed % 2**32)
            sampled = model.sample_scale(scale=scale or self.scale)
        for table, supports in getattr(self, "supports", {}).items():
            keep_supports(sampled[table], supports)
        return sampled

    def _schema(self, seed: int, need: dict[str, int]) -> dict:
        """The schema drawn under ``seed`` with at least ``need[table]`` rows of each table named: HMA's
        draw under ``seed`` (the one kept at fitting for the release's seed), then as many further
        draws as it takes, appended in order with their keys moved past the ones before.

        Draw k depends on ``seed`` and k alone, so a table's rows are a prefix of every longer run of
        draws: generating a parent and, in another process, its children by parent position reach
        the same rows. Draw k >= 1 is sampled at 2**(k-1) times the release's scale (each about as
        large as all before it), so a count far above HMA's takes few draws."""
        import numpy as np
        import pandas as pd

        # kept for this process's later calls (a child is sampled batch by batch); never pickled
        # (``__getstate__``), so a loaded model starts without it
        draws, schema = self.__dict__.setdefault("_draws", {}).get(seed) or (None, None)
        if draws is None:
            draws = [self.sampled if seed == self.sampled_seed else self._sample_schema(seed)]
            schema = draws[0]
        while any(len(schema[table]) < rows for table, rows in need.items()):
            k = len(draws)
            draw = self._sample_schema(
                int(np.random.SeedSequence([seed, k]).generate_state(1)[0]), self.scale * 2 ** (k - 1)
            )
            for parent in {plan.parent for plan in self.relations.values()}:
                # keys stay unique across draws, and each child keeps pointing at its own parent
                offset = int(schema[parent][PK].max()) + 1 if len(schema[parent]) else 0
                draw[parent][PK] = draw[parent][PK] + offset
                for name, plan in self.relations.items():
                    if plan.parent == parent:
                        draw[plan.child][_fk(name)] = draw[plan.child][_fk(name)] + offset
            draws.append(draw)
            schema = {t: pd.concat([d[t] for d in draws], ignore_index=True) for t in draws[0]}
        self._draws[seed] = (draws, schema)
        return schema

    def __getstate__(self) -> dict:
        """Pickled without the further draws of ``_schema``: any process remakes them from the seed."""
        return {name: value for name, value in self.__dict__.items() if name != "_draws"}

    def _with_counts(self, table: str, sampled: dict | None = None):
        """The sampled rows of ``table`` with one ``#<relationship>`` count column per child relationship."""
        sampled = sampled or self.sampled
        frame = sampled[table].reset_index(drop=True)
        out = frame[self.columns[table]].copy()
        for name, plan in self.relations.items():
            if plan.parent == table:
                keys = sampled[plan.child][_fk(name)]
                counts = keys.dropna().astype("int64").value_counts()
                out[plan.count_column] = frame[PK].map(counts).fillna(0).astype("int64").to_numpy()
        return out

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        # another seed than the release's one shard: another whole schema, of which this table; the
        # first ``rows`` of its draws (HMA's count is the release's scale of the first root's rows)
        frame = self._with_counts(table, self._schema(seed, {table: rows})).iloc[:rows]
        for start in range(0, rows, batch_rows):
            yield frame.iloc[start : start + batch_rows].reset_index(drop=True)

    def sample_children(self, table: str, context, groups, seed: int):
        """HMA's children of each requested parent row (``groups``: parent positions in the parent's
        rows, which are HMA's own in order, over as many draws as ``_sample`` made of them), cycled
        when more are asked for than HMA made."""
        import numpy as np
        import pandas as pd

        groups = np.asarray(groups)
        primary = next((n for n, p in self.relations.items() if p.child == table and p.primary), None)
        # rows without a parent come from the first draw alone: what they are never depends on how
        # many draws this process happened to make
        need = {self.relations[primary].parent: int(groups.max()) + 1} if context is not None and len(groups) else {}
        sampled = self._schema(self.sampled_seed, need) if need else self.sampled
        frame = self._with_counts(table, sampled)
        keys = sampled[table][_fk(primary)].to_numpy() if primary else np.full(len(frame), np.nan)
        keys = pd.array(keys, dtype="Int64")
        if context is None:  # rows without a parent: HMA's own such rows, else any
            pool = np.flatnonzero(pd.isna(keys)) if pd.isna(keys).any() else np.arange(len(frame))
            chosen = pool[np.arange(len(groups)) % len(pool)]
            return self._chosen_parents(table, primary, frame.iloc[chosen].reset_index(drop=True), chosen, sampled)
        parent_pk = sampled[self.relations[primary].parent][PK].to_numpy()
        by_parent = pd.Series(np.arange(len(frame))[~pd.isna(keys)], index=keys[~pd.isna(keys)].astype("int64"))
        by_parent = by_parent.groupby(level=0).agg(list)
        rank = pd.Series(groups).groupby(groups).cumcount().to_numpy()
        chosen = np.empty(len(groups), dtype="int64")
        rng = np.random.default_rng(seed)
        for position, (group, k) in enumerate(zip(groups, rank)):
            own = by_parent.get(int(parent_pk[group % len(parent_pk)]))
            chosen[position] = own[k % len(own)] if own else rng.integers(len(frame))
        return self._chosen_parents(table, primary, frame.iloc[chosen].reset_index(drop=True), chosen, sampled)

    def _chosen_parents(self, table: str, primary: str | None, rows, chosen, sampled: dict):
        """HMA's own parent of each row in the other relationships, as ``@<relation>`` positions
        (in ``sampled``, the draws ``chosen`` indexes)."""
        import numpy as np
        import pandas as pd

        for name, plan in self.relations.items():
            if plan.child != table or name == primary:
                continue
            positions = pd.Series(np.arange(len(sampled[plan.parent])), index=sampled[plan.parent][PK].to_numpy())
            keys = sampled[table][_fk(name)].to_numpy()[chosen]
            rows[f"@{name}"] = pd.Series(keys).map(positions).to_numpy(dtype="float64")
        return rows
