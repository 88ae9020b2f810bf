"""A child table's rows from its sampler, under its parents' synthetic rows: what synth-ops' copula
(``CopulaSynthesizer.sample_children`` and ``relation_scores``) does, with numpy and pandas only.

``synth_ops/steps/children.py`` asks its model for the rows under each block of parent rows and for
each drawn relationship's parent scores; a ``ChildSampler`` answers both from the exported
``child`` section (see ``export.py``): the context columns' codecs and marginals turn the
parents' values into normal scores (the same forward transforms and random streams as the
backend), the Schur complement's weights and residual factor draw the child's scores, and the
sampler's decoders turn them into values.
"""

from __future__ import annotations

import math
import zlib
from typing import Any

from synth_ops.errors import ModelIntegrityError
from synth_ops.sampler import decoders
from synth_ops.sampler.normals import sampling_stream, standard_normal


def _table_rng(seed: int, name: str):
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(name.encode())])


class NormalQuantile:
    """``ndtri`` without scipy: the inverse of the standard normal CDF, interpolated on the sampler's
    grid of scores (steps of about 0.001 in z: far below the copula's own resolution)."""

    def __init__(self, grid_z: float, points: int):
        import numpy as np

        self.z = np.linspace(-grid_z, grid_z, points)
        self.cdf = np.array([0.5 * math.erfc(-z / math.sqrt(2.0)) for z in self.z])

    def __call__(self, u):
        import numpy as np

        return np.interp(u, self.cdf, self.z)


def _marginal(doc: dict, arrays: dict, where: str):
    import numpy as np

    from synth_ops.synthesizers.copula.marginals import CategoricalMarginal, NumericMarginal

    if doc["kind"] == "categorical":
        return CategoricalMarginal(list(doc["categories"]), np.asarray(doc["bounds"], dtype="float64"))
    return NumericMarginal(
        float(doc["null_share"]),
        decoders._array(arrays, doc["probabilities"], where),
        decoders._array(arrays, doc["quantiles"], where),
        doc["decimals"],
        doc["datetime"],
        bool(doc["discrete"]),
    )


def _codec(doc: dict):
    from synth_ops.synthesizers.copula.backend import ColumnCodec

    return ColumnCodec(
        doc["column"],
        {"sdtype": doc["sdtype"], "datetime_format": doc["datetime_format"], "decimal_places": doc["decimals"]},
    )


class ChildSampler:
    """The model ``child_batches`` samples a child table with, read from the table's sampler."""

    def __init__(self, sampler):
        from synth_ops.synthesizers.copula.model import EPS

        doc, arrays, where = sampler.doc, sampler.arrays, sampler.where
        self.sampler, self.eps = sampler, EPS
        try:
            child = doc["child"]
            self.unconditional = decoders._array(arrays, child["unconditional"], where)
            self.own = [int(i) for i in child["own"]]
            conditional = child["conditional"]
            self.context, self.weights, self.z_clip = [], None, None
            if conditional:
                self.weights = decoders._array(arrays, conditional["weights"], where)
                self.z_clip = float(conditional["z_clip"])
                self.context = [
                    (c["name"], _codec(c["codec"]), _marginal(c["marginal"], arrays, where))
                    for c in conditional["context"]
                ]
            self.sequence = child["sequence"]
            self.axes = {
                name: (
                    axis["loadings"],
                    [(c["name"], c["codec"], _marginal(c["marginal"], arrays, where)) for c in axis["columns"]],
                )
                for name, axis in child["axes"].items()
            }
            self.axis_seed = int(child["axis_seed"])
            self.quantile = NormalQuantile(float(doc["grid"]["z"]), int(doc["grid"]["points"]))
            self.ranks = {
                spec["name"]: (
                    decoders._array(arrays, spec["quantiles"], where),
                    decoders._array(arrays, spec["probabilities"], where),
                )
                for spec in sampler.decoders
                if spec["kind"] == "rank"
            }
        except (KeyError, TypeError, ValueError):
            raise ModelIntegrityError(f"{where}: the child section of sampler.json is incomplete; refit") from None
        d = len(sampler.copula_columns)
        if (
            self.unconditional.shape[0] != self.unconditional.shape[1]
            or len(self.own) != d
            or (self.weights is not None and self.weights.shape != (d, len(self.context)))
        ):
            raise ModelIntegrityError(f"{where}: the child's factors do not match its copula columns; refit")

    def _scores(self, uniforms):
        """Normal scores of uniforms, kept inside (EPS, 1 - EPS) as the backend keeps them."""
        import numpy as np

        return self.quantile(np.clip(uniforms, self.eps, 1 - self.eps))

    def sample_children(self, table: str, context, groups, seed: int):
        """Rows of the child's own columns given their parents' learned columns (``context``, one
        row per child row; None: rows without a parent, as many as ``groups`` has entries)."""
        import numpy as np
        import pandas as pd

        rng = sampling_stream(seed, self.sampler.table)
        rows = len(groups)
        if not self.own:
            return pd.DataFrame(index=range(rows))
        if context is None or not self.context:
            scores = (standard_normal(rng, (rows, len(self.unconditional))) @ self.unconditional.T)[:, self.own]
        else:
            known = np.column_stack(
                [
                    self._scores(marginal.forward(codec.encode(context[name[1:]].reset_index(drop=True)), rng))
                    for name, codec, marginal in self.context
                ]
            )
            known = np.clip(known, -self.z_clip, self.z_clip)
            scores = known @ self.weights.T + standard_normal(rng, (rows, len(self.own))) @ self.sampler.factor.T
        batch = decoders.Batch.from_rows(scores, self.sampler.inverses)
        unused = np.random.default_rng(0)  # the copula's nulls are scores below a bound: no random stream
        out = {}
        for spec in self.sampler.decoders:
            if self.sequence and spec["name"] == self.sequence["column"]:
                spec = self._sequence(spec, batch, groups, unused)
            if spec["kind"] == "rank":
                values = decoders.decode({**spec, "kind": "number"}, batch, unused).to_numpy()
                quantiles, probabilities = self.ranks[spec["name"]]
                out[spec["name"]] = np.where(np.isnan(values), np.nan, np.interp(values, quantiles, probabilities))
            else:
                out[spec["name"]] = decoders.decode(spec, batch, unused).to_numpy()
        return pd.DataFrame(out, index=range(rows))

    def _sequence(self, spec: dict, batch, groups, rng) -> dict:
        """The sequence column's values made strictly increasing within each parent, as the backend
        does before decoding; returns the spec that decodes them as they are."""
        import numpy as np

        from synth_ops.synthesizers.copula.backend import unique_within

        values = decoders._apply(np.array(batch.value(spec["from"]), dtype="float64"), spec.get("ops", []))
        nulls = decoders.null_mask(spec.get("nulls"), batch, spec["from"], rng)
        if nulls is not None:
            values[nulls] = np.nan
        batch._values[spec["from"]] = unique_within(
            values, np.asarray(groups), self.sequence["step"], self.sequence["origin"]
        )
        return {**spec, "ops": [], "nulls": None}

    def relation_scores(self, relation: str, frame):
        """Each parent row's position on ``relation``'s axis (None when the model keeps none)."""
        import numpy as np

        if relation not in self.axes:
            return None
        loadings, columns = self.axes[relation]
        rng = _table_rng(self.axis_seed, f"{relation}/axis")
        scores = np.zeros(len(frame))
        for loading, (column, codec_doc, marginal) in zip(loadings, columns):
            values = _codec(codec_doc).encode(frame[column].reset_index(drop=True))
            scores += loading * self._scores(marginal.forward(values, rng))
        return scores


def child_model(sampler) -> Any:
    """A ChildSampler for a child table's sampler, else None."""
    return ChildSampler(sampler) if "child" in sampler.doc else None
