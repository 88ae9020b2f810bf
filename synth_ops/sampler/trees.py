"""The sampler's tree engine: synthpop's CART method (``synthesizer.kind: trees``) as plain arrays,
sampled with numpy only (no scikit-learn, no pickle).

A table's learned columns are drawn in a *visit order*. Column ``j`` has a decision tree over the
columns before it (its predictors: their *features*, float32 as scikit-learn compared them while
fitting) and, per leaf, a *donor pool*: the values of the training rows that fell into that leaf
(real values, so this artifact is private like every other). A synthetic row walks the tree to a
leaf and takes a donor drawn uniformly from its pool; a smoothed number then moves by a Gaussian
kernel of its leaf's bandwidth, folded back into the leaf's range and rounded to the column's
precision. The first column's tree is a single leaf: its marginal.

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

Each column's draws come from its own streams (a uniform per row to pick the donor, a normal per
row when smoothed), seeded by (seed, table, visit position, column) and drawn in row order, so the same seed gives
the same rows whatever the batch sizes. The output of column ``j`` is row ``j`` of the decoders'
``Batch`` (identity inverses): the ``columns`` decoders read it as numbers, datetimes or labels.
The synthesizer samples through this same module, so the sampler repeats its rows exactly.
"""
from __future__ import annotations

import zlib
from typing import Any, Iterator

from synth_ops.errors import ModelIntegrityError

ENGINE = "trees"
NODE_WIDTH = 5  # feature, left, right, leaf, missing_left
LEAF = -1       # the feature of a leaf node


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
    themselves, so every row simply takes ``depth`` steps: no per-level bookkeeping of which rows
    are done, about 1.5x faster than walking only the unfinished rows (measured on flights)."""

    def __init__(self, nodes, thresholds, position: int, where: str = "<memory>"):
        import numpy as np

        nodes, thresholds = np.asarray(nodes), np.asarray(thresholds)
        if nodes.ndim != 2 or nodes.shape[1] != NODE_WIDTH or not len(nodes) or thresholds.shape != (len(nodes),) \
                or not np.issubdtype(nodes.dtype, np.integer) or np.isnan(thresholds).any():
            raise ModelIntegrityError(f"{where}: a tree's node arrays have the wrong shape; refit")
        feature, left, right = (nodes[:, i].astype(np.intp) for i in range(3))
        self.leaf = nodes[:, 3].astype(np.intp)
        inner = feature != LEAF
        index = np.arange(len(nodes))
        # children after their parent (scikit-learn numbers nodes depth first): every walk ends;
        # predictors before the column itself: a row's features exist when its tree reads them
        if (inner & ((left <= index) | (right <= index) | (left >= len(nodes)) | (right >= len(nodes))
                     | (feature < 0) | (feature >= position))).any() or (~inner & (self.leaf < 0)).any() \
                or not (inner[0] or len(nodes) == 1):
            raise ModelIntegrityError(f"{where}: a tree's nodes do not form a tree over earlier columns; refit")
        self.single = not inner[0]
        self.leaves_count = int(self.leaf[~inner].max()) + 1
        to_right = inner & (nodes[:, 4] == 0)  # missing values go right: compare the negated feature
        self.column = np.where(inner, feature, 0)
        self.negated = to_right
        self.bound = np.where(to_right, -np.nextafter(thresholds.astype(np.float64), np.inf), thresholds)
        # (a threshold of inf: every present value goes left, a missing one right)
        self.bound[~inner] = np.inf  # a leaf: never true, stays where it is
        false_side = np.where(inner, np.where(to_right, right, left), index)
        true_side = np.where(inner, np.where(to_right, left, right), index)
        self.children = np.column_stack([false_side, true_side]).ravel()
        self.depth = 0
        frontier = np.zeros(1, dtype=np.intp)
        while True:  # the longest path: a level of numpy at a time
            frontier = frontier[inner[frontier]]
            if not len(frontier):
                break
            self.depth += 1
            frontier = np.concatenate([left[frontier], right[frontier]])

    def walk(self, signed, width: int, rows: int):
        """The leaf of each of ``rows`` rows; ``signed``: the float32 features of every visit
        position (``width`` of them) a row each, then their negations, flattened."""
        import numpy as np

        if self.single:
            return np.full(rows, self.leaf[0], dtype=np.intp)
        start = (self.column + self.negated * width) * rows  # where each node's feature row begins
        row = np.arange(rows)
        at = np.zeros(rows, dtype=np.intp)
        index = np.empty(rows, dtype=np.intp)
        x, bound, greater = np.empty(rows, dtype=signed.dtype), np.empty(rows), np.empty(rows, dtype=bool)
        # np.take into buffers ("clip": every index is in range, checked at load) is about twice
        # as fast as fancy indexing with fresh arrays each level
        for _ in range(self.depth):
            np.take(start, at, out=index, mode="clip")
            index += row
            np.take(signed, index, out=x, mode="clip")
            np.take(self.bound, at, out=bound, mode="clip")
            np.greater(x, bound, out=greater)
            np.multiply(at, 2, out=index)
            index += greater
            np.take(self.children, index, out=at, mode="clip")
        return self.leaf[at]

    def leaves(self, features):
        """The leaf of each row of ``features`` (float32, one row per visit position, a column per
        row): as scikit-learn's ``apply`` on the same float32 values."""
        import numpy as np

        features = np.asarray(features, dtype=np.float32)
        signed = np.concatenate([features, -features]).reshape(-1)
        return self.walk(signed, len(features), features.shape[1] if features.ndim == 2 else 0)


class TreeColumn:
    """One visit position: its tree, donor pools and how its donors become values and features."""

    def __init__(self, spec: dict, arrays: dict, position: int, where: str = "<memory>"):
        import numpy as np

        self.name = spec["name"]
        if not isinstance(self.name, str):
            raise ModelIntegrityError(f"{where}: a tree column has no name; refit")
        self.tree = Tree(_array(arrays, spec["nodes"], where), _array(arrays, spec["thresholds"], where),
                         position, where)
        self.pool = np.ascontiguousarray(_array(arrays, spec["pool"], where), dtype=np.float64)
        spans = np.asarray(_array(arrays, spec["spans"], where))
        if spans.shape != (self.tree.leaves_count, 2) or not np.issubdtype(spans.dtype, np.integer) \
                or (spans[:, 0] < 0).any() or (spans[:, 1] < 1).any() or (spans.sum(axis=1) > len(self.pool)).any():
            raise ModelIntegrityError(f"{where}: column {position}'s donor pools do not match its leaves; refit")
        self.starts = np.ascontiguousarray(spans[:, 0], dtype=np.int64)
        self.sizes = np.ascontiguousarray(spans[:, 1], dtype=np.int64)
        self.smooth = None
        if spec.get("smooth") is not None:
            smooth = _array(arrays, spec["smooth"], where)
            if smooth.shape != (self.tree.leaves_count, 3):
                raise ModelIntegrityError(f"{where}: column {position}'s smoothing table has the wrong shape; refit")
            self.bandwidth, self.low, self.high = (np.ascontiguousarray(smooth[:, i], dtype=np.float64)
                                                   for i in range(3))
            self.smooth = spec["smooth"]
        self.common = None
        if spec.get("common") is not None:
            self.common = np.asarray(_array(arrays, spec["common"], where), dtype=bool)
            if self.common.shape != self.pool.shape:
                raise ModelIntegrityError(f"{where}: column {position}'s common values do not match its donors; refit")
        self.decimals, self.step = spec.get("decimals"), spec.get("step")
        self.offset, self.scale = (float(v) for v in spec.get("feature", (0.0, 1.0)))
        self.categories = spec.get("categories")

    def draw(self, leaf, uniforms, normals):
        """(output values float64, features float32) of one batch, given each row's ``leaf``, a
        uniform per row and (smoothed columns) a normal per row."""
        import numpy as np

        donor = self.starts[leaf] + (uniforms * self.sizes[leaf]).astype(np.int64)
        values = self.pool[donor]
        if self.smooth is not None:
            values = self._smoothed(values, leaf, normals, None if self.common is None else self.common[donor])
        if self.categories is not None:  # codes: the feature is the code, the output a label's code
            return np.where(values >= self.categories, np.nan, values), values.astype(np.float32)
        shifted = values - self.offset
        shifted *= self.scale
        return values, shifted.astype(np.float32)

    def _smoothed(self, values, leaf, normals, common):
        """synthpop's smoothing="density": each donor moved by its leaf's Gaussian kernel, folded
        back at the leaf's lowest and highest donor (so the density does not pile up there, and
        no value leaves what the leaf holds), rounded to the column's precision; a ``common``
        donor (a value many training rows share) stays as it is."""
        import numpy as np

        bandwidth, low, high = self.bandwidth[leaf], self.low[leaf], self.high[leaf]
        moved = values + bandwidth * normals
        with np.errstate(invalid="ignore"):
            moved = np.where(moved < low, 2 * low - moved, moved)
            moved = np.where(moved > high, 2 * high - moved, moved)
            moved = np.minimum(np.maximum(moved, low), high)
        if self.decimals is not None:
            moved = np.round(moved, int(self.decimals))
        elif self.step is not None:
            moved = np.round(moved / self.step) * self.step
        moves = bandwidth > 0 if common is None else (bandwidth > 0) & ~common
        return np.where(moves, moved, values)  # a null donor stays null: NaN throughout


class TreeEngine:
    """A table's visit order of tree columns; ``batches`` are the decoders' Batches of their values."""

    def __init__(self, spec: dict[str, Any], arrays: dict, table: str, where: str = "<memory>"):
        from synth_ops.sampler import decoders

        try:
            self.columns = [TreeColumn(c, arrays, j, where) for j, c in enumerate(spec["columns"])]
        except (KeyError, TypeError, ValueError):
            raise ModelIntegrityError(f"{where}: sampler.json's trees lack a required field; refit") from None
        self.table, self.where = table, where
        self.names = [c.name for c in self.columns]
        self.inverses = [decoders.Inverse({"identity": True}, {}, 1.0, where) for _ in self.columns]

    def _streams(self, seed: int):
        from synth_ops.normals import NormalDraws

        return [(column_stream(seed, self.table, j, c.name, 0),
                 NormalDraws(column_stream(seed, self.table, j, c.name, 1)) if c.smooth is not None else None)
                for j, c in enumerate(self.columns)]

    def value_batches(self, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        """(values, features) arrays of shape (columns, batch rows) per batch, visit order."""
        import numpy as np

        streams = self._streams(seed)
        width, batch_rows = len(self.columns), max(int(batch_rows), 1)
        for start in range(0, rows, batch_rows):
            size = min(batch_rows, rows - start)
            values = np.empty((width, size))
            signed = np.empty((2 * width, size), dtype=np.float32)  # features, then their negations
            flat = signed.reshape(-1)
            for j, (column, (donors, smoothing)) in enumerate(zip(self.columns, streams)):
                leaf = column.tree.walk(flat, width, size)
                uniforms = donors.random(size)
                normals = smoothing.fill(np.empty(size)) if smoothing is not None else None
                values[j], signed[j] = column.draw(leaf, uniforms, normals)
                np.negative(signed[j], out=signed[width + j])
            yield values, signed[:width]

    def batches(self, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        from synth_ops.sampler import decoders

        for values, _ in self.value_batches(rows, seed, batch_rows):
            yield decoders.Batch(values, self.inverses)


def _array(arrays: dict, name: Any, where: str):
    if not isinstance(name, str) or name not in arrays:
        raise ModelIntegrityError(f"{where}: sampler.json names {name}, which the manifest does not list")
    return arrays[name]
