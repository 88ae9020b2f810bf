"""The sampler's tree engine: synthpop's CART method (``synthesizer.kind: trees``) as plain arrays,
sampled with numpy only (no scikit-learn, no pickle).

A table's learned columns are drawn in a *visit order*. Column ``j`` has a decision tree over the
columns before it (its predictors: their *features*, float32 as scikit-learn compared them while
fitting) and, per leaf, a *donor pool*: the values of the training rows that fell into that leaf
(real values, so this artifact is private like every other). A synthetic row walks the tree to a
leaf and takes a donor drawn uniformly from its pool; a smoothed number then moves by a Gaussian
kernel of its leaf's bandwidth, folded back into the leaf's range and rounded to the column's
precision. The first column's tree is a single leaf: its marginal.

A child table's model first visits its parent's columns (``trees.given``, their names): their
features are given (the synthetic parent's, one row per child), never drawn, and the drawn
columns' trees may split on them. A sampler on disk has none: child tables are sampled under
their parents' rows by the model.

In ``sampler.json`` (``"engine": "trees"``), ``trees.columns`` lists the visit order, each entry:

    name                 the column
    nodes, thresholds    .npy: int32 (nodes, 5) [feature, left, right, leaf, missing_left] and
                         float64 (nodes,); a leaf has feature -1 and numbers its pool in ``leaf``;
                         ``feature`` is a visit position before this column's own; a row goes left
                         when its float32 feature is <= threshold, a missing one as missing_left says
    pool, spans          .npy: float64 donor values; int64 (leaves, 2): each leaf's [start, size]
                         in them (a leaf's own donors, or its nearest ancestor's when it has none)
    smooth               .npy float64 (leaves, 3) [bandwidth, low, high], or null: not smoothed
    common               .npy bool per donor: a common value, never smoothed (or null: none is)
    decimals, step       rounding of smoothed values (decimal places; a multiple of step), or null
    feature              [offset, scale]: a donor's feature is float32((value - offset) * scale)
    categories           for a category: how many codes are values (0..categories-1); a donor code
                         at or past it (null, or the lumped rare categories) decodes as null
    linear               null, or a continuous number's linear term (``Linear``): its donors are
                         residuals, and a row's value is its prediction from the earlier numbers'
                         features plus the (smoothed) residual it draws:
                         {positions: [visit positions], coef: [..], fill: [a missing feature's
                         stand-in, ..], levels: [{position: a category's visit position, coef:
                         [a term per code; a code past them adds 0]}, ..], intercept,
                         log_shift: null, or the term is on log(value - log_shift), low, high: the value's range (values are folded
                         into it, then rounded)}

Each column's draws come from its own streams (a uniform per row to pick the donor, a normal per
row when smoothed), seeded by (seed, table, visit position, column) and drawn in row order, so the same seed gives
the same rows whatever the batch sizes. The output of column ``j`` is row ``j`` of the decoders'
``Batch`` (identity inverses): the ``columns`` decoders read it as numbers, datetimes or labels.
The synthesizer samples through this same module, so the sampler repeats its rows exactly.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import ModelIntegrityError

ENGINE = "trees"
NODE_WIDTH = 5  # feature, left, right, leaf, missing_left
LEAF = -1  # the feature of a leaf node
DROP_MARKS = (0.7, 0.4, 0.15)  # the walk drops finished rows as the share expected still walking falls below these


def column_stream(seed: int, table: str, position: int, column: str, purpose: int):
    """The Generator the draws of one purpose (0: donors, 1: smoothing) of the column at visit
    ``position`` come from."""
    import numpy as np

    key = [seed, zlib.crc32(table.encode()), position, zlib.crc32(column.encode()), purpose]
    return np.random.Generator(np.random.SFC64(np.random.SeedSequence(key)))


class Tree:
    """One column's tree as node arrays, walked a level at a time over a whole batch.

    The walk does one comparison per node, ``x' > bound``, whose false side is where a missing
    feature goes (NaN compares false): at a node that sends missing values left, ``x' = x`` and
    ``bound = threshold``; at one that sends them right, ``x' = -x`` and ``bound = -(the next
    double above threshold)``, so ``-x > bound`` is exactly ``x <= threshold``. Leaves lead to
    themselves, so every row may take ``depth`` steps: the rows that reached a leaf are dropped
    only at the few levels ``plan`` picks (at every level the bookkeeping cost more than it saved,
    about 1.5x slower on flights).

    Node ``k`` is walked as the pair ``2k`` (its false side), ``2k + 1`` (its true side), so a step
    is ``at = children[at + (x' > bound)]``; the features are float32, so ``x' > bound`` compares
    exactly as ``x' >`` the largest float32 at or below ``bound`` (``_round_down_float32``)."""

    def __init__(self, nodes, thresholds, position: int, where: str = "<memory>"):
        import numpy as np

        nodes, thresholds = np.asarray(nodes), np.asarray(thresholds)
        if (
            nodes.ndim != 2
            or nodes.shape[1] != NODE_WIDTH
            or not len(nodes)
            or thresholds.shape != (len(nodes),)
            or not np.issubdtype(nodes.dtype, np.integer)
            or np.isnan(thresholds).any()
        ):
            raise ModelIntegrityError(f"{where}: a tree's node arrays have the wrong shape; refit")
        feature, left, right = (nodes[:, i].astype(np.intp) for i in range(3))
        self.leaf = nodes[:, 3].astype(np.intp)
        inner = feature != LEAF
        index = np.arange(len(nodes))
        # children after their parent (scikit-learn numbers nodes depth first): every walk ends;
        # predictors before the column itself: a row's features exist when its tree reads them
        if (
            (
                inner
                & (
                    (left <= index)
                    | (right <= index)
                    | (left >= len(nodes))
                    | (right >= len(nodes))
                    | (feature < 0)
                    | (feature >= position)
                )
            ).any()
            or (~inner & (self.leaf < 0)).any()
            or not (inner[0] or len(nodes) == 1)
        ):
            raise ModelIntegrityError(f"{where}: a tree's nodes do not form a tree over earlier columns; refit")
        self.single = not inner[0]
        self.leaves_count = int(self.leaf[~inner].max()) + 1
        to_right = inner & (nodes[:, 4] == 0)  # missing values go right: compare the negated feature
        bound = np.where(to_right, -np.nextafter(thresholds.astype(np.float64), np.inf), thresholds)
        # (a threshold of inf: every present value goes left, a missing one right)
        bound[~inner] = np.inf  # a leaf: never true, stays where it is
        false_side = np.where(inner, np.where(to_right, right, left), index)
        true_side = np.where(inner, np.where(to_right, left, right), index)
        # tables by node pair (see above); float32 bounds: half the bytes, no mixed-type compare
        bound32 = _round_down_float32(bound)
        self.offsets = np.repeat(np.where(inner, feature, 0), 2)  # the visit position each node reads
        self.negated = np.repeat(to_right, 2)
        self.bounds = np.repeat(bound32, 2)
        self.children = (2 * np.column_stack([false_side, true_side])).ravel().astype(np.intp)
        self.leaves_at = np.repeat(self.leaf, 2)
        self.inner_pairs = np.repeat(inner, 2)
        self.depth = 0
        self.node_depth = np.zeros(len(nodes), dtype=np.intp)
        frontier = np.zeros(1, dtype=np.intp)
        while True:  # the longest path: a level of numpy at a time
            frontier = frontier[inner[frontier]]
            if not len(frontier):
                break
            self.depth += 1
            frontier = np.concatenate([left[frontier], right[frontier]])
            self.node_depth[frontier] = self.depth
        self.compact_at = frozenset()

    def plan(self, leaf_rows):
        """Where the walk drops the rows already at a leaf, given how many training rows each
        leaf held (``leaf_rows``, its donors): the first level at which the share of rows expected
        to be still walking falls below each of ``DROP_MARKS``, while 3 or more levels remain.
        Dropping costs a few passes over the rows, so doing it at a few levels pays (a quarter of
        the walk on flights) where doing it at every level does not; where it happens changes no
        leaf."""
        import numpy as np

        ends = ~self.inner_pairs[::2]
        mass = np.bincount(
            self.node_depth[ends],
            weights=np.asarray(leaf_rows, dtype=np.float64)[self.leaf[ends]],
            minlength=self.depth + 1,
        )
        if not mass.sum() > 0:
            return
        walking = 1 - np.cumsum(mass) / mass.sum()  # the share of rows not at a leaf after k steps
        marks, levels = list(DROP_MARKS), set()
        for level in range(1, self.depth - 2):
            if marks and walking[level] < marks[0]:
                levels.add(level)
                while marks and walking[level] < marks[0]:
                    marks.pop(0)
        self.compact_at = frozenset(levels)

    def walk(self, signed, width: int, rows: int):
        """The leaf of each of ``rows`` rows; ``signed``: the float32 features of every visit
        position (``width`` of them) a row each, then their negations, flattened."""
        return self.leaves_at[self.pairs(signed, width, rows)]

    def pairs(self, signed, width: int, rows: int, scratch=None):
        """The node pair (``2 * node``) each of ``rows`` rows ends at; ``scratch``: optional work
        arrays of ``rows`` (intp, intp, intp, float32, float32, bool), reused across columns."""
        import numpy as np

        if scratch is None:
            scratch = (
                np.arange(rows),
                np.empty(rows, dtype=np.intp),
                np.empty(rows, dtype=np.intp),
                np.empty(rows, dtype=np.float32),
                np.empty(rows, dtype=np.float32),
                np.empty(rows, dtype=bool),
            )
        row, at, index, x, bound, greater = scratch
        at[...] = 0
        if self.single:
            return at
        start = (self.offsets + self.negated * width) * rows  # where each node's feature row begins
        signed = np.asarray(signed, dtype=np.float32)
        # np.take into buffers ("clip": every index is in range, checked at load) is about twice
        # as fast as fancy indexing with fresh arrays each level
        # (the arrays' own take: np.take's dispatch costs a few percent at this many calls)
        start_take, signed_take, bound_take, child_take = start.take, signed.take, self.bounds.take, self.children.take
        done = None  # once rows are dropped: every row's pair, by row
        for level in range(self.depth):
            if level in self.compact_at:  # drop the rows at a leaf (their pair is final)
                if done is None:
                    done = at.copy()
                else:
                    done[row] = at
                walking = np.flatnonzero(self.inner_pairs.take(at))
                row, at = row.take(walking), at.take(walking)
                index, x, bound, greater = index[: len(at)], x[: len(at)], bound[: len(at)], greater[: len(at)]
            start_take(at, out=index, mode="clip")
            index += row
            signed_take(index, out=x, mode="clip")
            bound_take(at, out=bound, mode="clip")
            np.greater(x, bound, out=greater)
            np.add(at, greater, out=index)
            child_take(index, out=at, mode="clip")
        if done is None:
            return at
        done[row] = at
        return done

    def leaves(self, features):
        """The leaf of each row of ``features`` (float32, one row per visit position, a column per
        row): as scikit-learn's ``apply`` on the same float32 values."""
        import numpy as np

        features = np.asarray(features, dtype=np.float32)
        signed = np.concatenate([features, -features]).reshape(-1)
        return self.walk(signed, len(features), features.shape[1] if features.ndim == 2 else 0)


class Linear:
    """A continuous number's linear term over earlier columns (``linear`` in ``sampler.json``).

    A tree's donor is a real row's value, so a synthetic row whose earlier numbers differ from its
    donor's within the leaf gets the donor's value all the same: where a number rises steadily
    with another, the leaf flattens the slope into steps (diabetes' progression given bmi and
    blood pressure). The term keeps the slope: the donors are the training rows' residuals from
    a ridge fit on the earlier numbers and categories (an indicator per code: a class's own level,
    so a slope is not fitted across classes that differ), and a row's value is its own prediction
    plus a residual."""

    def __init__(self, doc: dict, position: int, where: str = "<memory>"):
        import math

        import numpy as np

        try:
            self.positions = np.asarray(doc["positions"], dtype=np.intp)
            self.coef = np.asarray(doc["coef"], dtype=np.float64)
            self.fill = np.asarray(doc["fill"], dtype=np.float64)
            self.intercept, self.low, self.high = (float(doc[k]) for k in ("intercept", "low", "high"))
            self.log_shift = None if doc["log_shift"] is None else float(doc["log_shift"])
            # per category: its visit position and a term per code, then 0 for any code past them
            self.levels = [
                (int(level["position"]), np.append(np.asarray(level["coef"], dtype=np.float64), 0.0))
                for level in doc.get("levels", ())
            ]
        except (KeyError, TypeError, ValueError):
            raise ModelIntegrityError(f"{where}: column {position}'s linear term lacks a field; refit") from None
        if (
            self.positions.ndim != 1
            or not (len(self.positions) or self.levels)
            or any(not 0 <= p < position or coef.ndim != 1 or not np.isfinite(coef).all() for p, coef in self.levels)
            or self.coef.shape != self.positions.shape
            or self.fill.shape != self.positions.shape
            or (self.positions < 0).any()
            or (self.positions >= position).any()
            or not np.isfinite(self.coef).all()
            or not np.isfinite(self.fill).all()
            or not all(math.isfinite(v) for v in (self.intercept, self.low, self.high))
            or self.low > self.high
            or (self.log_shift is not None and not (math.isfinite(self.log_shift) and self.log_shift < self.low))
        ):
            raise ModelIntegrityError(f"{where}: column {position}'s linear term is not over earlier numbers; refit")

    def predict(self, features):
        """Each row's prediction (float64) from ``features``: float32, a row per visit position
        (at least the term's), a column per row; a missing feature counts as its ``fill``."""
        import numpy as np

        out = np.full(features.shape[1], self.intercept)
        for position, coef, fill in zip(self.positions, self.coef, self.fill):
            x = features[position].astype(np.float64)
            np.copyto(x, fill, where=np.isnan(x))
            x *= coef
            out += x
        for position, coef in self.levels:
            codes = features[position]
            index = np.where((codes >= 0) & (codes < len(coef) - 1), codes, len(coef) - 1)  # NaN: the 0
            out += coef[index.astype(np.intp)]
        return out

    def value(self, predicted, residuals, decimals):
        """The values of rows whose prediction and residual are given (in place in ``residuals``):
        their sum (on the log scale: exponentiated, plus ``log_shift``), folded back into [low,
        high] as smoothing folds a donor into its leaf's range (clipping piled a column's overshoot on its bounds:
        star98's share of Black pupils, skewed towards 0, held 14% of its rows at its lowest value
        against the real 2%), rounded to ``decimals``. A null residual (a null donor) stays null."""
        import numpy as np

        residuals += predicted
        if self.log_shift is not None:
            with np.errstate(over="ignore"):  # an overshoot to inf folds to the far bound, then is clipped
                np.exp(residuals, out=residuals)
            residuals += self.log_shift
        with np.errstate(invalid="ignore"):
            below, above = residuals < self.low, residuals > self.high
        np.subtract(2 * self.low, residuals, out=residuals, where=below)
        np.subtract(2 * self.high, residuals, out=residuals, where=above)
        np.clip(residuals, self.low, self.high, out=residuals)
        if decimals is not None:
            np.round(residuals, int(decimals), out=residuals)
        return residuals


class TreeColumn:
    """One visit position: its tree, donor pools and how its donors become values and features."""

    def __init__(self, spec: dict, arrays: dict, position: int, where: str = "<memory>"):
        import numpy as np

        self.name = spec["name"]
        if not isinstance(self.name, str):
            raise ModelIntegrityError(f"{where}: a tree column has no name; refit")
        self.tree = Tree(
            _array(arrays, spec["nodes"], where), _array(arrays, spec["thresholds"], where), position, where
        )
        self.pool = np.ascontiguousarray(_array(arrays, spec["pool"], where), dtype=np.float64)
        spans = np.asarray(_array(arrays, spec["spans"], where))
        if (
            spans.shape != (self.tree.leaves_count, 2)
            or not np.issubdtype(spans.dtype, np.integer)
            or (spans[:, 0] < 0).any()
            or (spans[:, 1] < 1).any()
            or (spans.sum(axis=1) > len(self.pool)).any()
        ):
            raise ModelIntegrityError(f"{where}: column {position}'s donor pools do not match its leaves; refit")
        self.starts = np.ascontiguousarray(spans[:, 0], dtype=np.int64)
        self.sizes = np.ascontiguousarray(spans[:, 1], dtype=np.int64)
        self.tree.plan(self.sizes)
        self.smooth = None
        if spec.get("smooth") is not None:
            smooth = _array(arrays, spec["smooth"], where)
            if smooth.shape != (self.tree.leaves_count, 3):
                raise ModelIntegrityError(f"{where}: column {position}'s smoothing table has the wrong shape; refit")
            self.bandwidth, self.low, self.high = (
                np.ascontiguousarray(smooth[:, i], dtype=np.float64) for i in range(3)
            )
            self.smooth = spec["smooth"]
        self.common = None
        if spec.get("common") is not None:
            self.common = np.asarray(_array(arrays, spec["common"], where), dtype=bool)
            if self.common.shape != self.pool.shape:
                raise ModelIntegrityError(f"{where}: column {position}'s common values do not match its donors; refit")
        self.decimals, self.step = spec.get("decimals"), spec.get("step")
        self.offset, self.scale = (float(v) for v in spec.get("feature", (0.0, 1.0)))
        self.categories = spec.get("categories")
        self.linear = Linear(spec["linear"], position, where) if spec.get("linear") is not None else None
        if self.linear is not None and self.categories is not None:
            raise ModelIntegrityError(f"{where}: column {position} is a category with a linear term; refit")
        self._tables = None

    def tables(self):
        """Per-leaf tables indexed by the walk's node pairs (``Tree.pairs``): donor starts, pool
        sizes (float64: ``uniform * size`` multiplies as float64 either way) and, smoothed,
        bandwidths, lows, highs and whether the bandwidth moves a donor at all. Built on first use."""
        import numpy as np

        if self._tables is None:
            leaf = self.tree.leaves_at
            tables = {"starts": self.starts[leaf], "sizes": self.sizes[leaf].astype(np.float64)}
            if self.smooth is not None:
                tables.update(
                    bandwidth=self.bandwidth[leaf],
                    low=self.low[leaf],
                    high=self.high[leaf],
                    moves=self.bandwidth[leaf] > 0,
                )
            self._tables = tables
        return self._tables

    def draw(self, at, uniforms, normals, values, features, scratch, earlier=None):
        """Fill ``values`` (float64, the output) and ``features`` (float32) of one batch, given
        each row's node pair ``at`` (``Tree.pairs``), a uniform per row (overwritten) and (smoothed
        columns) a normal per row (overwritten); ``scratch``: work arrays of the batch's size
        (float64 x3, int64, bool x2); ``earlier``: the batch's features by visit position (a
        column with a linear term reads its predictors there)."""
        import numpy as np

        tables = self.tables()
        first, second, third, donor, mask, moves = scratch
        np.take(tables["sizes"], at, out=first, mode="clip")
        np.multiply(uniforms, first, out=uniforms)
        donor[...] = uniforms  # truncated toward zero, as astype(int64)
        np.take(tables["starts"], at, out=first.view(np.int64), mode="clip")
        donor += first.view(np.int64)
        np.take(self.pool, donor, out=values, mode="clip")
        if self.smooth is not None:
            self._smooth(values, at, normals, donor, tables, (first, second, third, mask, moves))
        if self.linear is not None:  # the donors are residuals
            self.linear.value(self.linear.predict(earlier), values, self.decimals)
        if self.categories is not None:  # codes: the feature is the code, the output a label's code
            features[...] = values
            np.greater_equal(values, self.categories, out=mask)
            np.copyto(values, np.nan, where=mask)
            return
        np.subtract(values, self.offset, out=first)
        first *= self.scale
        features[...] = first

    def _smooth(self, values, at, normals, donor, tables, scratch):
        """synthpop's smoothing="density", in place: each donor moved by its leaf's Gaussian
        kernel, folded back at the leaf's lowest and highest donor (so the density does not pile
        up there, and no value leaves what the leaf holds), rounded to the column's precision; a
        ``common`` donor (a value many training rows share) stays as it is. (The arithmetic of
        ``np.where`` over fresh arrays, done into buffers: the same values.)"""
        import numpy as np

        low, high, fold, mask, moves = scratch
        np.take(tables["bandwidth"], at, out=low, mode="clip")
        moved = np.multiply(low, normals, out=normals)
        moved += values
        np.take(tables["low"], at, out=low, mode="clip")
        np.take(tables["high"], at, out=high, mode="clip")
        with np.errstate(invalid="ignore"):
            np.less(moved, low, out=mask)
            np.multiply(low, 2, out=fold)
            np.subtract(fold, moved, out=moved, where=mask)
            np.greater(moved, high, out=mask)
            np.multiply(high, 2, out=fold)
            np.subtract(fold, moved, out=moved, where=mask)
            np.maximum(moved, low, out=moved)
            np.minimum(moved, high, out=moved)
        if self.linear is not None:  # residuals: rounded once the prediction is added
            pass
        elif self.decimals is not None:
            np.round(moved, int(self.decimals), out=moved)
        elif self.step is not None:
            moved /= self.step
            np.round(moved, out=moved)
            moved *= self.step
        np.take(tables["moves"], at, out=moves, mode="clip")
        if self.common is not None:
            np.take(self.common, donor, out=mask, mode="clip")
            np.logical_not(mask, out=mask)
            moves &= mask
        np.copyto(values, moved, where=moves)  # a null donor stays null: NaN throughout


class TreeEngine:
    """A table's visit order of tree columns; ``batches`` are the decoders' Batches of their values."""

    def __init__(self, spec: dict[str, Any], arrays: dict, table: str, where: str = "<memory>"):
        from synth_ops.sampler import decoders

        try:
            # ``given``: visit positions whose features the caller supplies (a child table's parent
            # columns); the drawn columns follow them
            self.given = [str(name) for name in spec.get("given", [])]
            first = len(self.given)
            self.columns = [TreeColumn(c, arrays, first + j, where) for j, c in enumerate(spec["columns"])]
        except (KeyError, TypeError, ValueError):
            raise ModelIntegrityError(f"{where}: sampler.json's trees lack a required field; refit") from None
        self.table, self.where = table, where
        self.names = [c.name for c in self.columns]
        self.inverses = [decoders.Inverse({"identity": True}, {}, 1.0, where) for _ in self.columns]

    def _streams(self, seed: int):
        from synth_ops.sampler.normals import NormalDraws

        first = len(self.given)
        return [
            (
                column_stream(seed, self.table, first + j, c.name, 0),
                NormalDraws(column_stream(seed, self.table, first + j, c.name, 1)) if c.smooth is not None else None,
            )
            for j, c in enumerate(self.columns)
        ]

    def value_batches(
        self, rows: int, seed: int, batch_rows: int, given=None, controls=None, first_row: int = 0
    ) -> Iterator[Any]:
        """(values, features) arrays of shape (columns, batch rows) per batch, visit order.
        ``given``: float32 features (given columns, ``rows``) of the given positions, when the
        engine has any. ``controls``: ``controls.BoundControls`` steering the draws; ``first_row``:
        the release row number of the first row (conditions hold for the release's first rows)."""
        import numpy as np

        first = len(self.given)
        if first and (given is None or np.shape(given) != (first, rows)):
            raise ValueError(f"table {self.table!r} is sampled given {first} parent columns, one row per child row")
        streams = self._streams(seed)
        redraws = controls.streams(seed, self.table) if controls is not None else {}
        drawn, batch_rows = len(self.columns), max(int(batch_rows), 1)
        width = first + drawn
        walk_scratch = draw_scratch = None
        for start in range(0, rows, batch_rows):
            size = min(batch_rows, rows - start)
            if walk_scratch is None or len(walk_scratch[0]) != size:  # work arrays, reused by every column
                walk_scratch = (
                    np.arange(size),
                    np.empty(size, dtype=np.intp),
                    np.empty(size, dtype=np.intp),
                    np.empty(size, dtype=np.float32),
                    np.empty(size, dtype=np.float32),
                    np.empty(size, dtype=bool),
                )
                draw_scratch = (
                    np.empty(size),
                    np.empty(size),
                    np.empty(size),
                    np.empty(size, dtype=np.int64),
                    np.empty(size, dtype=bool),
                    np.empty(size, dtype=bool),
                )
                uniforms, normals = np.empty(size), np.empty(size)
            values = np.empty((drawn, size))
            signed = np.empty((2 * width, size), dtype=np.float32)  # features, then their negations
            flat = signed.reshape(-1)
            if first:
                signed[:first] = given[:, start : start + size]
                np.negative(signed[:first], out=signed[width : width + first])
            conditions = controls.condition_of(first_row + start, size) if controls is not None else None
            for j, (column, (donors, smoothing)) in enumerate(zip(self.columns, streams)):
                at = column.tree.pairs(flat, width, size, walk_scratch)
                donors.random(out=uniforms)
                if smoothing is not None:
                    smoothing.fill(normals)
                k = first + j
                column.draw(at, uniforms, normals, values[j], signed[k], draw_scratch, signed)
                if controls is not None:
                    controls.apply(j, at, values[j], signed[k], conditions, redraws)
                np.negative(signed[k], out=signed[width + k])
            yield values, signed[first:width]

    def batches(
        self, rows: int, seed: int, batch_rows: int, given=None, controls=None, first_row: int = 0
    ) -> Iterator[Any]:
        from synth_ops.sampler import decoders

        for values, _ in self.value_batches(rows, seed, batch_rows, given, controls, first_row):
            yield decoders.Batch(values, self.inverses)


def _round_down_float32(bound):
    """The largest float32 at or below each float64 ``bound`` (-inf below every float32, the
    largest finite float32 for a finite bound above it): for a float32 ``x``, ``x > bound`` is
    exactly ``x > _round_down_float32(bound)`` (NaN: false on both sides)."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore"):
        rounded = bound.astype(np.float32)
        above = rounded.astype(np.float64) > bound
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def _array(arrays: dict, name: Any, where: str):
    if not isinstance(name, str) or name not in arrays:
        raise ModelIntegrityError(f"{where}: sampler.json names {name}, which the manifest does not list")
    return arrays[name]
