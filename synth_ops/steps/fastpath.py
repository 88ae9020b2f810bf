"""The fast sampling path: tabulated inverse CDFs and vectorised datetimes, with SDV as fallback.

Raw SDV spends its sampling time in two places (measured on flights, cProfile): scipy's per-call
``percent_point`` (beta ppf) of every copula marginal, and a per-value ``to_datetime`` check of
datetime strings. Here:

- each fitted marginal's inverse CDF is evaluated once on a dense grid (uniform in normal-quantile
  space, so the tails are as well resolved as the middle) and each normal draw is mapped through it
  by linear interpolation; a marginal whose grid is not finite and monotone keeps SDV's own
  ``percent_point`` (fallback per column);
- datetime string columns whose format round-trips exactly are parsed once, vectorised, before
  fitting and formatted back, vectorised, after sampling; others stay on SDV's string path.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

GRID_Z = 8.3      # norm.cdf(-8.3) ~ 5e-17: beyond any probability a float64 uniform reaches
GRID_POINTS = 16385


def tabulate_marginals(model) -> dict[str, list[str]]:
    """Make the copula sample through inverse-CDF tables, in memory only.

    The grid is uniform in normal space, so a draw's table position is arithmetic on the normal
    sample itself: no norm.cdf, no search. Marginals that cannot be tabulated stay on SDV's
    ``percent_point``; conditional sampling goes to SDV's own ``sample``.
    """
    import numpy as np
    from scipy.stats import norm

    copula = getattr(model, "_model", None)
    univariates = getattr(copula, "univariates", None)
    columns = list(getattr(copula, "columns", []) or [])
    if type(copula).__name__ != "GaussianMultivariate" or not univariates:
        return {"tabulated": [], "fallback": columns or ["<model>"]}
    grid_u = norm.cdf(np.linspace(-GRID_Z, GRID_Z, GRID_POINTS))
    tables, fallback = {}, []
    for column, univariate in zip(columns, univariates):
        try:
            grid_x = np.asarray(univariate.percent_point(grid_u), dtype="float64")
        except Exception:  # an unfitted or exotic marginal: SDV samples it
            fallback.append(str(column))
            continue
        if not (np.isfinite(grid_x).all() and (np.diff(grid_x) >= 0).all()):
            fallback.append(str(column))
            continue
        tables[column] = grid_x
    copula.sample = functools.partial(_sample, copula, tables)  # instance attribute: not pickled back
    return {"tabulated": [str(c) for c in tables], "fallback": fallback}


def _lookup(z, table):
    import numpy as np

    step = 2 * GRID_Z / (GRID_POINTS - 1)
    position = (np.clip(z, -GRID_Z, GRID_Z) + GRID_Z) / step
    index = np.minimum(position.astype(np.int64), GRID_POINTS - 2)
    return table[index] + (table[index + 1] - table[index]) * (position - index)


def _sample(copula, tables, num_rows=1, conditions=None):
    """GaussianMultivariate.sample, with the same random-state handling and the same normal draws."""
    import pandas as pd
    from copulas.utils import set_random_state
    from scipy.stats import norm

    if conditions:
        return type(copula).sample(copula, num_rows, conditions)
    copula.check_fit()
    if copula.random_state is None:
        normal = copula._get_normal_samples(num_rows, None)
    else:
        with set_random_state(copula.random_state, copula.set_random_state):
            normal = copula._get_normal_samples(num_rows, None)
    out = {}
    for column, univariate in zip(copula.columns, copula.univariates):
        z = normal[column].to_numpy()
        table = tables.get(column)
        out[column] = _lookup(z, table) if table is not None else univariate.percent_point(norm.cdf(z))
    return pd.DataFrame(out)


def format_datetimes(series, fmt: str):
    """Datetimes back to the source's strings; Arrow's strftime where it matches pandas exactly."""
    if "%f" in fmt:  # Arrow would need sub-second units; keep pandas for fractional formats
        return series.dt.strftime(fmt)
    import pyarrow as pa
    import pyarrow.compute as pc

    seconds = pa.array(series.dt.floor("s"), type=pa.timestamp("s"))
    return pc.strftime(seconds, format=fmt).to_pandas()


def roundtrip_format(series, detected: str | None) -> str | None:
    """A strftime format that parses and re-prints every sampled value exactly, or None."""
    import pandas as pd

    values = series.dropna().astype(str)
    if values.empty or not detected:
        return None
    sample = values.sample(min(len(values), 2000), random_state=0)
    candidates = [detected, detected.replace("%z", "Z"), detected.replace("%z", "+0000")]
    for fmt in dict.fromkeys(candidates):
        if "%z" in fmt:
            continue  # tz-aware parsing would change the dtype SDV sees; keep those on SDV's path
        try:
            parsed = pd.to_datetime(sample, format=fmt)
        except (ValueError, TypeError):
            continue
        if (parsed.dt.strftime(fmt) == sample).all():
            return fmt
    return None


def _fit_marginal(job):
    """One copula marginal, fitted exactly as copulas does it (same code path, same fallback)."""
    import warnings

    from copulas.multivariate.gaussian import GaussianMultivariate

    column, distribution, name = job
    with warnings.catch_warnings():  # the same scipy optimiser warnings the in-process fit silences
        warnings.simplefilter("ignore")
        return GaussianMultivariate._fit_column(GaussianMultivariate(), column, distribution, name)


@contextmanager
def parallel_marginals(workers: int):
    """While active, copulas fits the marginals of a GaussianMultivariate in ``workers`` processes.

    Each marginal fit is independent and deterministic, so the fitted parameters are the ones a
    single process would find (tested); only the wall time changes. Scoped to this context.
    """
    if workers <= 1:
        yield
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from copulas.multivariate.gaussian import GaussianMultivariate

    original = GaussianMultivariate._fit_columns

    def _fit_columns(self, X):
        jobs = [(X[name], self._get_distribution_for_column(name), name) for name in X.columns]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
            univariates = list(pool.map(_fit_marginal, jobs))
        return list(X.columns), univariates

    GaussianMultivariate._fit_columns = _fit_columns
    try:
        yield
    finally:
        GaussianMultivariate._fit_columns = original
