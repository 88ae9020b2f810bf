"""The fast fitting path: SDV's own model, without fitting it one row at a time.

Measured on flights (cProfile of raw SDV's GaussianCopula fit, 75 s): ~55 s go to the copula's
marginal fits (scipy's generic maximum likelihood: Nelder-Mead evaluating the log-density of every
row at every step) and ~14 s to SDV's preprocessing, mostly Python calls per value (metadata
validation, RDT's UniformEncoder, datetime casts). Inside ``fast_fit``:

- a scipy marginal's likelihood is summed over the column's *distinct* values, weighted by their
  counts. Same objective, same start values, same optimiser: the same parameters up to the order
  of floating-point summation (bit-identical for most columns, 1e-6 relative at worst). A column
  with more than ``fit_rows`` distinct values (a categorical encoded as uniform noise, a continuous
  float) is fitted on a seeded sample of ``fit_rows`` of its values instead;
- SDV's per-value validity checks run once per distinct value (the same invalid values are found),
  and a value that already is a datetime passes the datetime check without being printed and parsed;
- the correlation step evaluates each marginal's CDF once per distinct value, and datetime format
  guesses print the distinct datetimes rather than every row;
- UniformEncoder draws its uniforms in one vectorised call from the same random stream (the same
  numbers, tested bit for bit); columns already datetime64 are not re-parsed value by value.

Everything is patched for the duration of the context only and restored after; one lock makes
concurrent fits in threads of one process take turns, so no fit sees another's patches or
settings. (SDV fits in the same process that do not go through synth-ops would see the patches
while one is active; every patch but the sampled marginals is exact.) (Fitting the
marginals in parallel processes, tried before this module existed, no longer pays: spawning a
worker and importing SDV costs more than all 18 flights marginals take to fit here.)
"""

from __future__ import annotations

import threading
import zlib
from contextlib import ExitStack, contextmanager

from synth_ops.synthesizers.sdv import compat

_ACTIVE = threading.RLock()  # held while the patches are in place


class DistinctValueMLE:
    """Stands in for a scipy distribution inside a copulas univariate: ``fit`` on distinct values.

    Reproduces ``rv_continuous.fit`` for the calls copulas makes (``fit(X)`` and ``fit(X, loc=,
    scale=)``, maximum likelihood, nothing fixed); any other use goes to scipy untouched.
    """

    def __init__(self, dist, fit_rows: int | None, seed: int, fitted: dict):
        self._dist, self._fit_rows, self._seed, self._fitted = dist, fit_rows, seed, fitted

    def __getattr__(self, name):
        return getattr(self._dist, name)

    def fit(self, data, *args, **kwds):
        import numpy as np

        if args or set(kwds) - {"loc", "scale"}:
            return self._dist.fit(data, *args, **kwds)
        name = str(getattr(data, "name", "?"))
        x = np.asarray(data, dtype="float64").ravel()
        if not np.isfinite(x).all():
            return self._dist.fit(data, *args, **kwds)  # scipy's own error message
        values, counts = _distinct(x)
        if self._fit_rows and len(values) > self._fit_rows:
            rng = np.random.default_rng([self._seed, zlib.crc32(name.encode())])
            x = rng.choice(x, self._fit_rows, replace=False)
            values, counts = _distinct(x)
            self._fitted[name] = {"fitted_on": "sample", "rows": int(len(x))}
        else:
            self._fitted[name] = {"fitted_on": "all rows", "rows": int(len(x)), "distinct": int(len(values))}
        return weighted_mle(self._dist, x, values, counts.astype("float64"), **kwds)


def _distinct(x):
    """(distinct values, their counts) by hashing: no sort of every row."""
    import numpy as np
    import pandas as pd

    codes, values = pd.factorize(x)
    return values, np.bincount(codes, minlength=len(values))


def weighted_mle(dist, x, values, weights, **kwds):
    """``dist.fit(x, **kwds)`` (MLE, Nelder-Mead) with the likelihood summed over distinct values.

    ``_penalized_nnlf`` of scipy 1.17, term for term: out-of-support and non-finite log-densities
    count as "bad" points with scipy's penalty, and n*log(scale) uses the full row count.
    """
    import numpy as np
    from scipy import optimize

    scipy = compat.scipy_likelihood(dist)
    penalty = scipy.log_xmax * 100
    start = scipy.fitstart(x)
    shapes = tuple(start[:-2])
    x0 = list(shapes) + [kwds.get("loc", start[-2]), kwds.get("scale", start[-1])]
    n_rows = float(weights.sum())

    def penalized_nnlf(theta, _):
        loc, scale, args = scipy.unpack_loc_scale(theta)
        if not scipy.argcheck(*args) or scale <= 0:
            return np.inf
        z = (values - loc) / scale
        inside = scipy.support_mask(z, *args)
        everywhere = inside.all()  # the usual case: skip the masked copies
        logpdf = scipy.logpdf(z if everywhere else z[inside], *args)
        w_inside = weights if everywhere else weights[inside]
        bad = 0.0 if everywhere else weights[~inside].sum()
        finite = np.isfinite(logpdf)
        if finite.all():
            return -np.dot(w_inside, logpdf) + bad * penalty + n_rows * np.log(scale)
        bad += w_inside[~finite].sum()
        return -np.dot(w_inside[finite], logpdf[finite]) + bad * penalty + n_rows * np.log(scale)

    vals = tuple(optimize.fmin(penalized_nnlf, x0, args=(None,), disp=0))
    loc, scale, shapes = scipy.unpack_loc_scale(vals)
    if not (np.all(scipy.argcheck(*shapes)) and scale > 0):
        from scipy.stats import FitError

        raise FitError("Optimization converged to parameters that are outside the range allowed by the distribution.")
    return vals


def _distinct_invalid_values(column, validation_function):
    """SingleTableMetadata._get_invalid_column_values, checking each distinct value once."""
    import pandas as pd

    if column.dtype == object:
        # True == 1 == 1.0 in Python: distinct per (type, value), or a bool would fold into a number
        distinct = column[~pd.DataFrame({"type": column.map(type), "value": column}).duplicated()]
    else:
        distinct = column.drop_duplicates()
    valid = distinct.apply(validation_function).astype(bool)
    return set(distinct[~valid])


def _vectorised_uniform_transform(original):
    def _transform(self, data):
        """UniformEncoder._transform: one uniform draw per row, in row order, in one call."""
        import numpy as np
        import pandas as pd

        if isinstance(data.dtype, pd.CategoricalDtype):
            return original(self, data)  # pandas maps a categorical once per category: one draw each
        filled = data if self.missing_value_encoding is None else compat.fill_nan_with_none(data)
        known = filled.isin(self.frequencies)
        unseen = ~known & ~pd.isna(filled) if self.missing_value_encoding is None else ~known
        labels = filled[known]
        categories = pd.Index(list(self.intervals))
        codes = categories.get_indexer(labels) if categories.is_unique else None
        if unseen.any() or codes is None or (codes < 0).any():
            return original(self, data)  # RDT's own path: unseen-category warning and random choice
        bounds = np.asarray([self.intervals[c] for c in categories], dtype="float64").reshape(-1, 2)
        result = pd.Series(np.nan, index=data.index, name=data.name, dtype=float)
        if len(labels):
            # legacy RandomState: uniform(lows, highs) draws low + (high - low) * next_double() per
            # element in order, exactly what RDT's per-value np.random.uniform(low, high) calls do
            result.loc[known] = np.random.uniform(bounds[codes, 0], bounds[codes, 1])
        return result

    return _transform


def _datetime_type_check(original):
    def _is_datetime_type(value):
        """sdv._utils._is_datetime_type; a Timestamp or datetime passes its check whatever else holds."""
        from datetime import datetime

        return True if isinstance(value, datetime) else original(value)

    return _is_datetime_type


def _distinct_value_cdf(original):
    def cdf(self, X):
        """ScipyModel.cdf evaluated once per distinct value: the correlation step's transform."""
        import numpy as np
        import pandas as pd

        x = np.asarray(X)
        if x.ndim != 1 or len(x) < 1024:
            return original(self, X)
        codes, values = pd.factorize(x, use_na_sentinel=False)
        if len(values) > len(x) // 4:
            return original(self, X)
        return np.asarray(original(self, values))[codes]

    return cdf


def _distinct_datetimes(series):
    """A datetime64 column's non-null distinct values, first occurrences in order. Printed with
    ``astype(str)`` they give the same first string as the whole column (pandas picks one format
    for an array from its resolution and whether all values are dates: the same for both)."""
    return series[series.notna()].drop_duplicates()


def _format_guess_on_distinct(original):
    def _get_datetime_format(value):
        """sdv._utils._get_datetime_format: the format is guessed from the first printed value."""
        import pandas as pd

        if isinstance(value, pd.Series) and pd.api.types.is_datetime64_dtype(value.dtype):
            value = _distinct_datetimes(value)
        return original(value)

    return _get_datetime_format


def _timestamp_fit_on_distinct(original):
    def _fit(self, data):
        """UnixTimestampEncoder._fit, its format guess printing distinct datetimes, not every row."""
        import pandas as pd

        if self.datetime_format is None and pd.api.types.is_datetime64_dtype(data.dtype):
            self.datetime_format = compat.guess_datetime_format(_distinct_datetimes(data).astype(str).to_numpy())
        return original(self, data)

    return _fit


def _datetime64_cast(original):
    def _cast_to_datetime64(value, datetime_format=None, ignore_timezone=True):
        """sdv._utils._cast_to_datetime64; a tz-naive datetime64 Series is already what it returns."""
        import pandas as pd

        if isinstance(value, pd.Series) and pd.api.types.is_datetime64_dtype(value.dtype):
            return value.astype("datetime64[ns]")
        return original(value, datetime_format=datetime_format, ignore_timezone=ignore_timezone)

    return _cast_to_datetime64


@contextmanager
def _patched(owner, name: str, replacement):
    # From __dict__, not getattr: a staticmethod must be put back as one, and an inherited method
    # must be un-shadowed rather than copied onto the subclass.
    missing = object()
    original = vars(owner).get(name, missing)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        if original is missing:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


@contextmanager
def fast_fit(fit_rows: int | None, seed: int):
    """While active, SDV fits through the shortcuts above; yields {column: how its marginal was fitted}.
    DependencyError first when SDV, RDT or copulas is outside the range ``compat`` is tested with."""
    from scipy import stats

    hooks = compat.fit_hooks()
    marginal_hooks = compat.scipy_marginal_hooks()
    replacements = {
        "invalid_column_values": lambda original: staticmethod(_distinct_invalid_values),
        "uniform_encoder_transform": _vectorised_uniform_transform,
        "cast_to_datetime64": _datetime64_cast,
        "is_datetime_type": _datetime_type_check,
        "scipy_model_cdf": _distinct_value_cdf,
        "guess_datetime_format": _format_guess_on_distinct,
        "timestamp_encoder_fit": _timestamp_fit_on_distinct,
    }
    fitted: dict[str, dict] = {}
    with _ACTIVE, ExitStack() as stack:
        for dist_name, (module, name) in marginal_hooks.items():
            proxy = DistinctValueMLE(getattr(stats, dist_name), fit_rows, seed, fitted)
            stack.enter_context(_patched(module, name, proxy))
        for hook, replacement in replacements.items():
            owner, name = hooks[hook]
            stack.enter_context(_patched(owner, name, replacement(getattr(owner, name))))
        yield fitted
