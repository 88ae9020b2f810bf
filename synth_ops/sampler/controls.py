"""Generation controls (``tables.<t>.generate``: ``spec/controls.py``) inside the tree engine.

A model fitted under controls visits the controlled columns first, so steering them steers every
column drawn after them, by their trees, as a real row with those values would be (no rejection:
a rebalanced 1% class costs what any draw costs).

rebalance    the column (visited first) takes its codes from the requested shares (the column's
             other values share the rest in the proportions of its training rows' donors)
fairness     the target (visited right after the sensitive columns) takes its codes from its
             overall shares (or a rebalance's), never from its tree: it is drawn apart from the
             sensitive columns, and every later column given both
conditions   a condition's rows (the release's first rows, condition after condition) take its
             value; with a range, a drawn value outside it is drawn again from its leaf's donors
             within the range (the column's, where the leaf has none), smoothed as any donor and kept
             within the range. Conditions naming different columns: all of them are visited first,
             so a condition's rows draw another condition's columns visited before its own without
             knowing its values
impute       a null drawn is drawn again from its leaf's non-null donors (the column's, where the
             leaf has none)

Values come in as the spec gives them and are matched to the model's as text (1 and 1.0 alike),
datetimes as timestamps. ``ControlError`` names the field when the model cannot draw a value
(a category too rare in the training rows to be a donor).
"""

from __future__ import annotations

import zlib
from typing import Any

from synth_ops.errors import SpecError

REDRAW = 2  # the purposes of a column's streams of redraws: 2 uniforms, 3 normals (0: donors, 1: smoothing)


class ControlError(SpecError):
    """A control the fitted model cannot honour (named by its field)."""


def value_text(value: Any) -> str:
    """A control's value, or a model's category, as text (1 and 1.0 alike): how the two are matched."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def condition_runs(conditions, first_row: int, rows: int) -> list[tuple[int, int]]:
    """[(condition index or -1, rows)] of release rows ``first_row .. first_row + rows``, in order:
    a release's first rows are the conditions' (``conditions``: the spec's list, each with its
    ``rows``), condition after condition; -1: the rows after them, unconditioned."""
    runs, position, end, start = [], first_row, first_row + rows, 0
    for index, condition in enumerate(conditions):
        stop = start + int(condition["rows"])
        overlap = min(stop, end) - max(start, position)
        if overlap > 0:
            runs.append((index, overlap))
            position += overlap
        start = stop
    if end > position:
        runs.append((-1, end - position))
    return runs


def condition_of_rows(conditions, first_row: int, rows: int):
    """Per release row ``first_row .. first_row + rows``: its condition's index, or -1 (``condition_runs``)."""
    import numpy as np

    runs = condition_runs(conditions, first_row, rows)
    return np.repeat(np.array([index for index, _ in runs], dtype=np.int64), [count for _, count in runs])


class BoundControls:
    """Controls bound to one engine's visit positions, codes and units."""

    def __init__(self, doc: dict, engine, decoders: list[dict], field: str = "generate"):
        self.engine, self.field = engine, field
        position = {name: j for j, name in enumerate(engine.names)}
        self.decoders = {spec["name"]: spec for spec in decoders}
        self.rebalance = None  # (position, cumulative shares by code)
        if doc.get("rebalance"):
            self.rebalance = self._rebalance(doc["rebalance"], position)
        elif doc.get("fairness"):  # the target at its overall shares, whatever its sensitive columns
            self.rebalance = self._rebalance({"column": doc["fairness"]["target"], "shares": {}}, position)
        self.requested = list(doc.get("conditions", ()))
        self.conditions = []  # per condition: {position: ("value", v) | ("range", low, high)}
        for index, condition in enumerate(self.requested):
            self.conditions.append(
                {
                    position[column]: self._condition(column, value, f"{field}.conditions.{index}.values.{column}")
                    for column, value in condition["values"].items()
                }
            )
        self.impute = {position[column] for column in doc.get("impute", ())}
        # a redraw takes donors as values: a column whose donors are residuals (a linear term)
        # was fitted without one, since the controlled columns never get it; a model fitted
        # under other controls may still have one
        redrawn = [(f"{field}.impute", j) for j in sorted(self.impute)] + [
            (f"{field}.conditions.{index}.values.{engine.names[j]}", j)
            for index, condition in enumerate(self.conditions)
            for j, (kind, *_) in condition.items()
            if kind == "range"
        ]
        for where, j in redrawn:
            if engine.columns[j].linear is not None:
                raise ControlError(f"{where}: the model was fitted without this control; fit it again")
        self._restricted = {}

    # -- binding ---------------------------------------------------------------------------------
    def _code(self, column: str, value, where: str) -> float:
        spec = self.decoders[column]
        texts = [value_text(v) for v in spec["values"]]
        if value_text(value) not in texts:
            raise ControlError(
                f"{where}: the value is too rare in the training rows for the model to draw it "
                "(fewer rows than synthesizer.params.rare_min)"
            )
        return float(spec.get("first_code", 0) + texts.index(value_text(value)))

    def _number(self, column: str, value) -> float:
        if self.decoders[column]["kind"] != "datetime":
            return float(value)
        import pandas as pd

        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float(stamp.as_unit("ns").value)

    def _rebalance(self, doc: dict, position: dict):
        import numpy as np

        column = doc["column"]
        j = position[column]
        tree_column = self.engine.columns[j]
        size = int(tree_column.categories)
        real = np.bincount(tree_column.pool[tree_column.pool < size].astype(np.int64), minlength=size).astype(float)
        shares = np.zeros(size)
        for value, share in doc["shares"].items():
            shares[int(self._code(column, value, f"{self.field}.rebalance.shares"))] = float(share)
        listed = np.zeros(size, dtype=bool)
        listed[shares > 0] = True
        for value in doc["shares"]:
            listed[int(self._code(column, value, f"{self.field}.rebalance.shares"))] = True
        rest = 1 - shares.sum()
        others = np.where(listed, 0.0, real)
        if others.sum() > 0:
            shares += rest * others / others.sum()
        shares /= shares.sum()
        return j, np.cumsum(shares)

    def _condition(self, column: str, value, where: str):
        if isinstance(value, (list, tuple)):
            return ("range", self._number(column, value[0]), self._number(column, value[1]))
        if self.decoders[column]["kind"] == "label":
            return ("value", self._code(column, value, where))
        return ("value", self._number(column, value))

    # -- drawing ---------------------------------------------------------------------------------
    def condition_of(self, first_row: int, size: int):
        """Per row of a batch whose first release row is ``first_row``: its condition, or -1."""
        return condition_of_rows(self.requested, first_row, size)

    def streams(self, seed: int, table: str) -> dict:
        """Per controlled position, its redraws' uniforms and normals, each its own stream drawn in
        row order (so the same rows whatever the batch sizes)."""
        positions = self.impute | {j for condition in self.conditions for j in condition}
        if self.rebalance is not None:
            positions.add(self.rebalance[0])
        return {j: (self._stream(seed, table, j, REDRAW), self._stream(seed, table, j, REDRAW + 1)) for j in positions}

    def _stream(self, seed: int, table: str, j: int, purpose: int):
        import numpy as np

        key = [seed, zlib.crc32(table.encode()), j, zlib.crc32(self.engine.names[j].encode()), purpose]
        return np.random.Generator(np.random.SFC64(np.random.SeedSequence(key)))

    def apply(self, j: int, at, values, features, conditions, redraws) -> None:
        """Steer visit position ``j`` of a batch in place (its values and features), after its draw."""
        import numpy as np

        column = self.engine.columns[j]
        changed = np.zeros(len(values), dtype=bool)
        extra = None
        if j in redraws:  # drawn for every row, in row order: the same rows whatever the batch sizes
            uniform, normal = redraws[j]
            extra = (uniform.random(len(values)), normal.standard_normal(len(values)))
        if self.rebalance is not None and self.rebalance[0] == j:
            cumulative = self.rebalance[1]
            values[:] = np.minimum(np.searchsorted(cumulative, extra[0], side="right"), len(cumulative) - 1)
            changed[:] = True
        for index, condition in enumerate(self.conditions):
            if j not in condition:
                continue
            rows = conditions == index
            kind, *ends = condition[j]
            if kind == "value":
                values[rows] = ends[0]
                changed |= rows
                continue
            low, high = ends
            outside = rows & ~((values >= low) & (values <= high))
            if outside.any():
                values[outside] = self._redraw(j, at[outside], extra[0][outside], extra[1][outside], low, high)
                changed |= outside
        if j in self.impute:
            null = np.isnan(values)
            if null.any():
                values[null] = self._redraw(j, at[null], extra[0][null], extra[1][null], None, None)
                changed |= null
        if changed.any():
            if column.categories is not None:
                features[changed] = values[changed]
            else:
                features[changed] = (values[changed] - column.offset) * column.scale

    def _redraw(self, j: int, at, uniforms, normals, low, high):
        """Donors of the leaves ``at`` (walk pairs) within [low, high] (None: any non-null one),
        smoothed as the column smooths a donor (a common value stays as it is), kept within the
        range, or within the leaf's own donors' range."""
        import numpy as np

        column = self.engine.columns[j]
        index, starts, sizes = self._pool(j, low, high)
        leaf = column.tree.leaves_at[at]
        chosen = index[starts[leaf] + np.minimum((uniforms * sizes[leaf]).astype(np.int64), sizes[leaf] - 1)]
        donors = np.where(chosen >= 0, column.pool[np.maximum(chosen, 0)], (low + high) / 2 if low is not None else 0)
        if column.smooth is None:
            return donors
        moves = column.bandwidth[leaf] > 0
        if column.common is not None:
            moves &= ~np.where(chosen >= 0, column.common[np.maximum(chosen, 0)], False)
        lowest = column.low[leaf] if low is None else np.full(len(donors), low)
        highest = column.high[leaf] if high is None else np.full(len(donors), high)
        moved = np.clip(donors + column.bandwidth[leaf] * normals, lowest, highest)
        if column.decimals is not None:
            moved = np.clip(np.round(moved, int(column.decimals)), lowest, highest)
        elif column.step is not None:
            moved = np.clip(np.round(moved / column.step) * column.step, lowest, highest)
        return np.where(moves, moved, donors)

    def _pool(self, j: int, low, high):
        """(pool positions, per leaf start, per leaf size) of position ``j``'s donors kept by the
        bounds (not null, within [low, high]): each leaf's own kept donors (its span's), else every
        kept donor of the column; none at all: position -1 (the bounds' midpoint)."""
        import numpy as np

        key = (j, low, high)
        if key not in self._restricted:
            column = self.engine.columns[j]
            pool = column.pool
            keep = ~np.isnan(pool)
            if column.categories is not None:
                keep &= pool < column.categories
            if low is not None:
                keep &= (pool >= low) & (pool <= high)
            kept = np.flatnonzero(keep)
            before = np.concatenate([[0], np.cumsum(keep)])  # kept donors before each pool position
            counts = before[column.starts + column.sizes] - before[column.starts]
            whole = kept if len(kept) else np.array([-1])
            index = np.concatenate([kept, whole])
            starts = np.where(counts > 0, before[column.starts], len(kept))
            sizes = np.where(counts > 0, counts, len(whole))
            self._restricted[key] = (index.astype(np.int64), starts.astype(np.int64), sizes.astype(np.int64))
        return self._restricted[key]
