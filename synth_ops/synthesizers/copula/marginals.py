"""Column marginals of synth-ops' own Gaussian copula: each maps a column to uniforms on [0, 1] and
back. State is plain numbers and short lists (JSON and numpy arrays), so a fitted model can be
exported and sampled without any modelling library.

- Numbers (integers, floats, datetimes as nanoseconds): the empirical quantile function on a grid
  of ``KNOTS`` probabilities, linearly interpolated (exact marginals up to the grid); nulls are a
  point mass at the bottom of [0, 1). Discrete numbers (child counts; columns of at most
  ``columns.DISCRETE_MAX`` values) are the step function of their sorted values instead: only
  real values come out, at their real frequencies.
- Categories (text, booleans, nulls as a category): one interval of [0, 1) per category, its width
  the category's frequency, most frequent first (as RDT's UniformEncoder).

Forward transforms of training rows break ties at random (seeded), so the uniforms are uniform and
the normal scores Gaussian, which the copula's correlation assumes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

KNOTS = 2049


@dataclasses.dataclass
class NumericMarginal:
    kind = "numeric"
    null_share: float
    probabilities: Any  # np.ndarray of KNOTS increasing probabilities in [0, 1]
    quantiles: Any  # np.ndarray of KNOTS non-decreasing values
    decimals: int | None  # round sampled values to this many decimals (0: integers); None: no rounding
    datetime: str | None = None  # "ns" for datetime columns (values are int64 nanoseconds)
    discrete: bool = False  # sampled values are the knots themselves (counts, few values): no interpolation

    @classmethod
    def fit(cls, values, decimals: int | None, datetime: str | None = None, discrete: bool = False) -> NumericMarginal:
        import numpy as np

        values = np.asarray(values, dtype="float64")
        present = values[~np.isnan(values)]
        null_share = 1.0 - len(present) / len(values) if len(values) else 0.0
        if not len(present):
            present = np.zeros(1)
        probabilities = np.linspace(0.0, 1.0, min(KNOTS, max(len(present), 2)))
        quantiles = np.quantile(present, probabilities)
        if discrete:  # the quantile function of the counts themselves, at their own resolution
            present = np.sort(present)
            if len(present) > 8 * KNOTS:  # evenly spaced order statistics: the same law, bounded size
                present = present[np.linspace(0, len(present) - 1, 8 * KNOTS).round().astype("int64")]
            probabilities = np.linspace(0.0, 1.0, len(present)) if len(present) > 1 else np.array([0.0, 1.0])
            quantiles = present if len(present) > 1 else np.repeat(present, 2)
        return cls(null_share, probabilities, quantiles, decimals, datetime, discrete)

    def forward(self, values, rng):
        """Uniforms of ``values``; ties (repeated values, nulls) spread at random over their interval."""
        import numpy as np

        values = np.asarray(values, dtype="float64")
        out = np.empty(len(values))
        missing = np.isnan(values)
        out[missing] = rng.random(int(missing.sum())) * self.null_share
        x = values[~missing]
        low = np.interp(x, self.quantiles, self.probabilities, left=0.0, right=1.0)
        # the rightmost knot at or below x: the upper end of a tie's probability interval
        right = np.searchsorted(self.quantiles, x, side="right")
        high = np.where(right > 0, self.probabilities[np.minimum(right, len(self.probabilities)) - 1], 0.0)
        left = np.searchsorted(self.quantiles, x, side="left")
        low = np.where(left < right, self.probabilities[np.minimum(left, len(self.probabilities) - 1)], low)
        high = np.maximum(high, low)
        position = low + rng.random(len(x)) * (high - low)
        out[~missing] = self.null_share + (1.0 - self.null_share) * position
        return out

    def inverse(self, u):
        import numpy as np

        u = np.asarray(u, dtype="float64")
        p = (u - self.null_share) / max(1.0 - self.null_share, 1e-12)
        if self.discrete:
            values = self.quantiles[
                np.clip(np.floor(p * len(self.quantiles)), 0, len(self.quantiles) - 1).astype("int64")
            ].astype("float64")
        else:
            values = np.interp(p, self.probabilities, self.quantiles)
        if self.decimals is not None and not self.discrete:  # a discrete value is a real one: kept exact
            values = np.round(values, self.decimals)
        values[u < self.null_share] = np.nan
        return values

    def to_doc(self) -> dict:
        return {
            "kind": self.kind,
            "null_share": self.null_share,
            "probabilities": self.probabilities.tolist(),
            "quantiles": self.quantiles.tolist(),
            "decimals": self.decimals,
            "datetime": self.datetime,
            "discrete": self.discrete,
        }


@dataclasses.dataclass
class CategoricalMarginal:
    kind = "categorical"
    categories: list  # most frequent first; None stands for null
    bounds: Any  # np.ndarray: upper end of each category's interval, the last one 1.0

    @classmethod
    def fit(cls, values) -> CategoricalMarginal:
        import numpy as np
        import pandas as pd

        series = pd.Series(values, dtype=object).where(pd.notna(values), None)
        counts = series.value_counts(dropna=False)
        order = sorted(range(len(counts)), key=lambda i: (-int(counts.iloc[i]), str(counts.index[i])))
        categories = [counts.index[i] for i in order]
        categories = [None if _is_null(c) else _plain(c) for c in categories]
        bounds = np.cumsum([counts.iloc[i] for i in order]) / counts.sum()
        bounds[-1] = 1.0
        return cls(categories, bounds)

    def forward(self, values, rng):
        import numpy as np
        import pandas as pd

        lows = np.concatenate([[0.0], self.bounds[:-1]])
        series = pd.Series(values, dtype=object)
        missing = series.isna().to_numpy()
        positions = np.array([i for i, c in enumerate(self.categories) if c is not None], dtype="int64")
        known = pd.Index([c for c in self.categories if c is not None], dtype=object)
        found = known.get_indexer(series.where(~missing, None)) if len(known) else np.full(len(series), -1)
        codes = np.where(found >= 0, positions[np.maximum(found, 0)] if len(positions) else 0, -1)
        null = next((i for i, c in enumerate(self.categories) if c is None), None)
        codes[missing] = -1 if null is None else null
        unseen = codes < 0
        codes = np.where(unseen, 0, codes).astype("int64")
        u = lows[codes] + rng.random(len(codes)) * (self.bounds[codes] - lows[codes])
        u[unseen] = rng.random(int(unseen.sum()))  # a category the model never saw: anywhere
        return u

    def inverse(self, u):
        import numpy as np

        codes = np.minimum(np.searchsorted(self.bounds, np.asarray(u), side="right"), len(self.categories) - 1)
        return np.asarray(self.categories, dtype=object)[codes]

    def shares(self):
        """{category: its share} in the training rows."""
        import numpy as np

        return dict(zip(self.categories, np.diff(np.concatenate([[0.0], self.bounds]))))

    def to_doc(self) -> dict:
        return {"kind": self.kind, "categories": list(self.categories), "bounds": self.bounds.tolist()}


def _is_null(value) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value):
    return value.item() if hasattr(value, "item") else value
