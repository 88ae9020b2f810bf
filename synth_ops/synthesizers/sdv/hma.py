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
again (repeated rows would look like copies and inflate the exact-match share). Likewise a parent
row planned for more children than HMA drew for it, and rows without a parent beyond HMA's, come
from spare seeded draws whose rows are never published otherwise (``_extras``, ``_parentless``).
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
        """Pickled without the further draws of ``_schema`` and ``_spare``: any process remakes them
        from the seed."""
        return {name: value for name, value in self.__dict__.items() if name not in ("_draws", "_spares")}

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
        rows, which are HMA's own in order, over as many draws as ``_sample`` made of them); a parent
        planned for more children than HMA drew for it gets the rest from spare draws (``_extras``),
        never a child row again."""
        import numpy as np
        import pandas as pd

        groups = np.asarray(groups)
        primary = next((n for n, p in self.relations.items() if p.child == table and p.primary), None)
        if context is None:
            return self._parentless(table, primary, len(groups))
        need = {self.relations[primary].parent: int(groups.max()) + 1} if len(groups) else {}
        sampled = self._schema(self.sampled_seed, need) if need else self.sampled
        frame = self._with_counts(table, sampled)
        keys = sampled[table][_fk(primary)].to_numpy() if primary else np.full(len(frame), np.nan)
        keys = pd.array(keys, dtype="Int64")
        parent_pk = sampled[self.relations[primary].parent][PK].to_numpy()
        by_parent = pd.Series(np.arange(len(frame))[~pd.isna(keys)], index=keys[~pd.isna(keys)].astype("int64"))
        by_parent = by_parent.groupby(level=0).agg(list)
        rank = pd.Series(groups).groupby(groups).cumcount().to_numpy()
        chosen = np.full(len(groups), -1, dtype="int64")
        extra = np.full(len(groups), -1, dtype="int64")  # the rank among the parent's children past HMA's own
        for position, (group, k) in enumerate(zip(groups, rank)):
            own = by_parent.get(int(parent_pk[group % len(parent_pk)])) or []
            if k < len(own):
                chosen[position] = own[k]
            else:
                extra[position] = k - len(own)
        own_rows = np.flatnonzero(chosen >= 0)
        rows = self._chosen_parents(
            table, primary, frame.iloc[chosen[own_rows]].reset_index(drop=True), chosen[own_rows], sampled
        )
        if len(own_rows) == len(groups):
            return rows
        more = np.flatnonzero(extra >= 0)
        parts = [rows.set_axis(own_rows)] if len(own_rows) else []
        parts.append(self._extras(table, primary, groups[more], extra[more]).set_axis(more))
        return pd.concat(parts).sort_index().reset_index(drop=True)

    def _spare(self, kind: str, draw: int, index: int) -> dict:
        """Spare whole-schema draw ``index`` (1, 2, ...) for the rows of ``_schema``'s draw ``draw``
        (``kind`` "children") or for rows without a parent (``kind`` "parentless", ``draw`` 0), under
        the release's seed. Its seed is one no ``_schema`` draw uses, so none of its rows is ever
        published but through ``_extras``/``_parentless``; each is twice the one before (2**(index-1)
        times draw ``draw``'s scale), so a count far above HMA's takes few of them. Kept for this
        process (never pickled): any process remakes it from the seed."""
        import zlib

        import numpy as np

        cache = self.__dict__.setdefault("_spares", {})
        key = (kind, draw, index)
        if key not in cache:
            entropy = [self.sampled_seed, draw, index, zlib.crc32(f"hma spare {kind}".encode())]
            scale = self.scale * 2 ** max(draw - 1, 0) * 2 ** (index - 1)
            cache[key] = self._sample_schema(int(np.random.SeedSequence(entropy).generate_state(1)[0]), scale)
        return cache[key]

    def _owners(self, parent: str, draw: int, spare: dict) -> tuple[Any, int]:
        """Each of ``spare``'s rows of ``parent``, given to the row of ``_schema``'s draw ``draw`` it
        lies nearest to on the learned columns (at most an even share each): (the owner's local
        position in that draw, or -1, per spare row; the draw's first position in the schema)."""
        import math

        import numpy as np
        import pandas as pd
        from scipy.spatial import cKDTree

        draws, _ = self._draws[self.sampled_seed]
        first = sum(len(d[parent]) for d in draws[:draw])
        cache = self.__dict__.setdefault("_spares", {})  # spares live there for good: their ids are unique
        if ("owners", parent, draw, id(spare)) in cache:
            return cache[("owners", parent, draw, id(spare))], first
        mine, theirs = draws[draw][parent][self.columns[parent]], spare[parent][self.columns[parent]]
        owners = np.full(len(theirs), -1, dtype="int64")
        if not len(mine) or not len(theirs):
            return owners, first
        features = _features(pd.concat([mine, theirs], ignore_index=True))
        mine, theirs = features[: len(mine)], features[len(mine) :]
        room = np.full(len(mine), math.ceil(len(theirs) / len(mine)))
        _, near = cKDTree(mine).query(theirs, k=min(len(mine), 8))
        near = np.asarray(near).reshape(len(theirs), -1)
        for row in range(len(theirs)):  # in row order: the same owners in every process
            free = [c for c in near[row] if room[c]]
            if free:
                owner = free[0]
            else:  # its nearest are full: the nearest with room
                left = np.flatnonzero(room)
                owner = left[np.argmin(((mine[left] - theirs[row]) ** 2).sum(axis=1))]
            owners[row], room[owner] = owner, room[owner] - 1
        cache[("owners", parent, draw, id(spare))] = owners
        return owners, first

    def _extras(self, table: str, primary: str, groups, extra):
        """Child row ``extra[i]`` past HMA's own of parent position ``groups[i]``: the children of the
        spare draws' parent rows given to that parent (``_owners``), spare draw by spare draw.

        HMA draws a parent's children from a model whose parameters are sampled with the parent's
        learned values, so children of the spare parent rows nearest a parent are draws from about its
        own conditional, where a spare draw's row at the same position would be any parent's children.
        Each spare parent row belongs to one parent of one ``_schema`` draw, whatever the batch, and no
        ``_schema`` row is a spare row: no child row is published twice."""
        import numpy as np
        import pandas as pd

        parent = self.relations[primary].parent
        draws, _ = self._draws[self.sampled_seed]
        ends = np.cumsum([len(d[parent]) for d in draws])
        draw_of = np.searchsorted(ends, groups, side="right")
        parts, positions = [], []
        for draw in np.unique(draw_of):
            at = np.flatnonzero(draw_of == draw)
            local = groups[at] - (ends[draw] - len(draws[draw][parent]))
            wanted = extra[at].copy()
            for index in range(1, 13):
                spare = self._spare("children", int(draw), index)
                owners, _ = self._owners(parent, int(draw), spare)
                keys = pd.array(spare[table][_fk(primary)].to_numpy(), dtype="Int64")
                has = np.flatnonzero(~pd.isna(keys))
                row_of = pd.Series(np.arange(len(spare[parent])), index=spare[parent][PK].to_numpy())
                owner = owners[row_of.reindex(keys[has].astype("int64")).to_numpy()]
                # the owner's children in this spare draw, in row order
                held = pd.Series(has).groupby(owner).agg(list)
                take = []
                for i in np.flatnonzero(wanted >= 0):
                    mine = held.get(int(local[i])) or []
                    if wanted[i] < len(mine):
                        take.append((at[i], mine[wanted[i]]))
                        wanted[i] = -1
                    else:
                        wanted[i] -= len(mine)
                if take:
                    where, rows = map(np.asarray, zip(*take))
                    frame = self._with_counts(table, spare).iloc[rows].reset_index(drop=True)
                    parts.append(self._spare_parents(table, primary, frame, rows, spare, int(draw)))
                    positions.append(where)
                if (wanted < 0).all():
                    break
            else:
                raise InputError(f"tables.{table}: HMA draws too few children to make up the planned child counts")
        order = np.argsort(np.concatenate(positions), kind="stable")
        return pd.concat(parts, ignore_index=True).iloc[order].reset_index(drop=True)

    def _parentless(self, table: str, primary: str | None, rows: int):
        """``rows`` rows without a parent: HMA's own such rows (else any of its rows) in order, then
        those of spare draws, never one twice."""
        import numpy as np
        import pandas as pd

        # they come from the first draw alone: what they are never depends on how many draws this
        # process happened to make
        frame = self._with_counts(table, self.sampled)
        keys = self.sampled[table][_fk(primary)].to_numpy() if primary else np.full(len(frame), np.nan)
        nulls = pd.isna(pd.array(keys, dtype="Int64"))
        pool = np.flatnonzero(nulls) if nulls.any() else np.arange(len(frame))
        chosen = pool[:rows]
        parts = [self._chosen_parents(table, primary, frame.iloc[chosen].reset_index(drop=True), chosen, self.sampled)]
        left = rows - len(chosen)
        for index in range(1, 13):
            if left <= 0:
                return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
            # spare draws of their own, so none of these rows is a spare parent row's child taken by _extras
            spare = self._spare("parentless", 0, index)
            keys = spare[table][_fk(primary)].to_numpy() if primary else np.full(len(spare[table]), np.nan)
            own = pd.isna(pd.array(keys, dtype="Int64"))
            more = (np.flatnonzero(own) if nulls.any() else np.arange(len(spare[table])))[:left]
            frame = self._with_counts(table, spare).iloc[more].reset_index(drop=True)
            parts.append(self._spare_parents(table, primary, frame, more, spare, 0))
            left -= len(more)
        raise InputError(f"tables.{table}: HMA draws too few rows without a parent to make up the planned count")

    def _spare_parents(self, table: str, primary: str | None, rows, chosen, spare: dict, draw: int):
        """As ``_chosen_parents`` for rows of a spare draw: each row's parent in the other relationships
        is that spare parent row's owner in ``_schema``'s draw ``draw`` (``_owners``), a published row
        like it, as a position in the schema."""
        import numpy as np
        import pandas as pd

        for name, plan in self.relations.items():
            if plan.child != table or name == primary:
                continue
            self._schema(self.sampled_seed, {})
            owners, first = self._owners(plan.parent, draw, spare)
            positions = pd.Series(
                np.where(owners >= 0, owners + first, np.nan), index=spare[plan.parent][PK].to_numpy()
            )
            keys = spare[table][_fk(name)].to_numpy()[chosen]
            rows[f"@{name}"] = pd.Series(keys).map(positions).to_numpy(dtype="float64")
        return rows

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


def _features(frame):
    """``frame``'s learned columns as numbers for distances: numbers and dates standardised (a null at
    the mean, with a null flag), anything else one 0/1 column per value scaled so that two different
    values are as far apart as one standard deviation."""
    import numpy as np
    import pandas as pd

    columns = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            column = pd.Series(column.to_numpy(dtype="datetime64[ns]").astype("int64"), dtype="float64").where(
                column.notna().to_numpy()
            )
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            values = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64")
            missing = np.isnan(values)
            spread = np.nanstd(values) if (~missing).any() else 0.0
            centred = (values - np.nanmean(values)) / spread if spread > 0 else np.zeros(len(values))
            columns.append(np.where(missing, 0.0, centred))
            if missing.any():
                columns.append(missing.astype("float64"))
        else:
            columns.extend(pd.get_dummies(column.astype(str)).to_numpy(dtype="float64").T * np.sqrt(0.5))
    return np.column_stack(columns) if columns else np.zeros((len(frame), 1))
