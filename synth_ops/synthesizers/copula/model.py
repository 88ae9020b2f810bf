"""A Gaussian copula over marginals (``marginals.py``): normal scores of the training rows, their
correlation, and sampling, plain or conditioned on some columns' values (in normal space, by the
Schur complement: the child rows of a synthetic parent are drawn given the parent's attributes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from synth_ops.sampler.normals import standard_normal

EPS = 1e-10  # uniforms are kept inside (EPS, 1 - EPS): the normal quantile of 0 or 1 is infinite
RIDGE = 0.05  # added to the conditioning block's diagonal
Z_CLIP = 3.0  # conditioning scores beyond this are treated as this extreme


def _nearest_correlation(matrix):
    """The matrix with negative eigenvalues lifted and unit diagonal restored: a valid correlation."""
    import numpy as np

    matrix = np.nan_to_num((matrix + matrix.T) / 2, nan=0.0)
    np.fill_diagonal(matrix, 1.0)
    values, vectors = np.linalg.eigh(matrix)
    values = np.clip(values, 1e-6, None)
    fixed = (vectors * values) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    fixed = fixed / scale[:, None] / scale[None, :]
    np.fill_diagonal(fixed, 1.0)
    return fixed


@dataclasses.dataclass
class GaussianCopula:
    columns: list[str]
    marginals: dict[str, Any]
    correlation: Any  # np.ndarray, len(columns) x len(columns)

    @classmethod
    def fit(cls, frame, marginals: dict[str, Any], rng) -> GaussianCopula:
        import numpy as np
        from scipy.special import ndtri

        columns = list(marginals)
        if not columns:
            return cls(columns, marginals, np.zeros((0, 0)))
        scores = np.column_stack(
            [ndtri(np.clip(marginals[c].forward(frame[c].to_numpy(), rng), EPS, 1 - EPS)) for c in columns]
        )
        correlation = np.corrcoef(scores, rowvar=False) if len(frame) > 1 else np.eye(len(columns))
        return cls(columns, marginals, _nearest_correlation(np.atleast_2d(correlation)))

    def _values(self, columns: list[str], scores) -> dict[str, Any]:
        from scipy.special import ndtr

        return {c: self.marginals[c].inverse(ndtr(scores[:, i])) for i, c in enumerate(columns)}

    def sample(self, rows: int, rng, columns: list[str] | None = None) -> dict[str, Any]:
        """``rows`` draws of ``columns`` (default all): {column: values}."""
        import numpy as np

        if not self.columns:
            return {}
        lower = np.linalg.cholesky(self.correlation)
        scores = standard_normal(rng, (rows, len(self.columns))) @ lower.T
        wanted = columns or self.columns
        picked = [self.columns.index(c) for c in wanted]
        return self._values(wanted, scores[:, picked])

    def sample_given(self, given: dict[str, Any], rng, columns: list[str]) -> dict[str, Any]:
        """One draw of ``columns`` per row of ``given`` ({column: values} of other columns of the
        model), from the conditional distribution given those values."""
        import numpy as np
        from scipy.special import ndtri

        known = list(given)
        rows = len(next(iter(given.values()))) if given else 0
        if not known:
            return self.sample(rows, rng, columns)
        k = [self.columns.index(c) for c in known]
        x = [self.columns.index(c) for c in columns]
        z_known = np.column_stack(
            [ndtri(np.clip(self.marginals[c].forward(given[c], rng), EPS, 1 - EPS)) for c in known]
        )
        # A parent's synthetic attributes can lie outside what its real children saw, and context
        # columns are often near-collinear (few distinct parents): clipped scores and a ridge on
        # Sigma_kk keep the conditional mean from extrapolating wildly.
        z_known = np.clip(z_known, -Z_CLIP, Z_CLIP)
        s_kk = self.correlation[np.ix_(k, k)] + RIDGE * np.eye(len(k))
        s_xk = self.correlation[np.ix_(x, k)]
        s_xx = self.correlation[np.ix_(x, x)]
        weights = np.linalg.solve(s_kk, s_xk.T).T  # Sigma_xk Sigma_kk^-1
        residual = _nearest_covariance(s_xx - weights @ s_xk.T)
        lower = np.linalg.cholesky(residual)
        scores = z_known @ weights.T + standard_normal(rng, (rows, len(x))) @ lower.T
        return self._values(columns, scores)


def _nearest_covariance(matrix):
    import numpy as np

    matrix = (matrix + matrix.T) / 2
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.clip(values, 1e-9, None)) @ vectors.T
