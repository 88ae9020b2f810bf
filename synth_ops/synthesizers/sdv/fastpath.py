"""The fast sampling path: tabulated inverse CDFs and vectorised datetimes, with SDV as fallback.

Raw SDV spends its sampling time in two places (measured on flights, cProfile): scipy's per-call
``percent_point`` (beta ppf) of every copula marginal, and a per-value ``to_datetime`` check of
datetime strings. Here:

- each fitted marginal's inverse CDF is evaluated once on a dense grid (uniform in normal-quantile
  space, so the tails are as well resolved as the middle) and each normal draw is mapped through it
  by linear interpolation; a marginal whose grid is not finite and monotone keeps SDV's own
  ``percent_point`` (fallback per column);
- datetime string columns whose format round-trips exactly are parsed once, vectorised, before
  fitting and formatted back, vectorised, after sampling; others stay on SDV's string path;
- RDT's HyperTransformer reverses column by column instead of copying the batch per column;
- RDT's print-and-reparse truncation of sampled datetime64 values becomes ``floor`` where the
  format makes the two the same.
"""

from __future__ import annotations

import functools
import re

from synth_ops.synthesizers.sdv import compat
from synth_ops.synthesizers.sdv.compat import hyper_transformer

GRID_Z = 8.3  # norm.cdf(-8.3) ~ 5e-17: beyond any probability a float64 uniform reaches
GRID_POINTS = 16385
# grid points a percent_point call: copulas' GaussianKDE solves with a (points x training rows)
# array per step, 780 MB more peak memory at 5,000 rows for the whole grid, 80 MB in chunks
QUANTILE_CHUNK = 1024


def quantile_table(univariate, grid_u):
    """``univariate.percent_point`` on ``grid_u``, a chunk at a time.

    copulas' GaussianKDE answers -inf and +inf within its EPSILON (float32's, 1.2e-7) of 0 and 1,
    so normal scores beyond about 5.17 sigma, and a table with them was never finite: every KDE
    marginal fell back to SDV's per-row solver, and no KDE model had a portable sampler. Those
    ends take the KDE's own solver bracket (data minimum - 5 std, maximum + 5 std), which no
    finite quantile passes: SDV's reverse transform clips both to the fitted range as it clips
    the infinities (``enforce_min_max_values``, on by default; off, SDV writes the infinities).

    A quantile function rounded in the far tails can step back by an ulp or so (scipy's
    truncnorm on penguins' body mass: -9e-13 at 7.57 sigma, which refused the whole model's
    sampler): steps back within a billionth of the table's magnitude are levelled, larger ones
    kept for the caller to refuse."""
    import numpy as np

    table = np.concatenate(
        [
            np.asarray(univariate.percent_point(grid_u[start : start + QUANTILE_CHUNK]), dtype="float64")
            for start in range(0, len(grid_u), QUANTILE_CHUNK)
        ]
    )
    if type(univariate).__name__ == "GaussianKDE" and np.isinf(table).any():
        low, high = compat.kde_bounds(univariate)
        table[table == -np.inf] = low
        table[table == np.inf] = high
    if np.isfinite(table).all():
        levelled = np.maximum.accumulate(table)
        if (levelled - table <= 1e-9 * np.abs(table).max()).all():
            return levelled
    return table


def accelerate(model) -> dict:
    """Every shortcut below, on one loaded model (SDV's own path wherever one does not apply)."""
    outcome = tabulate_marginals(model)
    outcome["floored_datetimes"] = truncate_datetimes_natively(model)
    outcome["columnwise_reverse"] = columnwise_reverse_transform(model)
    return outcome


def tabulate_marginals(model) -> dict[str, list[str]]:
    """Make the copula sample through inverse-CDF tables, in memory only.

    The grid is uniform in normal space, so a draw's table position is arithmetic on the normal
    sample itself: no norm.cdf, no search. Marginals that cannot be tabulated stay on SDV's
    ``percent_point``; conditional sampling goes to SDV's own ``sample``.
    """
    import numpy as np
    from scipy.stats import norm

    copula = compat.copula_of(model)
    univariates = getattr(copula, "univariates", None)
    columns = list(getattr(copula, "columns", []) or [])
    if type(copula).__name__ != "GaussianMultivariate" or not univariates:
        return {"tabulated": [], "fallback": columns or ["<model>"]}
    grid_u = norm.cdf(np.linspace(-GRID_Z, GRID_Z, GRID_POINTS))
    tables, fallback = {}, []
    for column, univariate in zip(columns, univariates):
        try:
            grid_x = quantile_table(univariate, grid_u)
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
    from scipy.stats import norm

    if conditions:
        return type(copula).sample(copula, num_rows, conditions)
    copula.check_fit()
    normal = compat.normal_samples(copula, num_rows)
    out = {}
    for column, univariate in zip(copula.columns, copula.univariates):
        z = normal[column].to_numpy()
        table = tables.get(column)
        out[column] = _lookup(z, table) if table is not None else univariate.percent_point(norm.cdf(z))
    return pd.DataFrame(out)


def columnwise_reverse_transform(model) -> bool:
    """RDT's HyperTransformer reverse, one column at a time instead of one table copy per column.

    RDT's ``BaseTransformer.reverse_transform`` copies the whole batch, drops the transformer's
    columns and concatenates its output back, once per transformer: on flights that quadratic
    shuffling was 55% of the sampling time. Here each transformer's own reverse step
    (``compat.reverse_one``) gets exactly what RDT would hand it (a copy of its columns), under the same random state and
    with the same missing-value rule, and the table is assembled once; the rows are identical
    (tested). Set on this loaded model only (an instance attribute, never pickled back).
    """
    hyper = hyper_transformer(model)
    if hyper is None or compat.transformer_sequence(hyper) is None:
        return False
    compat.override_hyper_reverse(hyper, _reverse_columnwise)
    return True


def _reverse_columnwise(hyper, original, data, prevent_subset):
    import warnings

    import numpy as np
    import pandas as pd

    if prevent_subset or set(data.columns) - set(compat.output_columns(hyper)):
        return original(hyper, data, prevent_subset)  # RDT's own checks and error messages
    compat.validate_fitted(hyper)
    index = data.index
    columns = {name: data[name] for name in data.columns}
    for transformer in reversed(compat.transformer_sequence(hyper)):
        outputs = transformer.get_output_columns()
        if not outputs or not set(outputs).issubset(columns):
            continue
        given = columns[outputs[0]].copy() if len(outputs) == 1 else pd.DataFrame({c: columns[c] for c in outputs})
        missing_rule = transformer.missing_value_generation
        if missing_rule is not None and np.asarray(pd.isna(given)).any():
            warnings.warn(  # noqa: B028  (RDT's warning, word for word, where RDT raises it)
                f"The 'missing_value_generation' parameter is set to '{missing_rule}' but the data already "
                "contains missing values. Missing value generation will be skipped.",
                UserWarning,
            )
            transformer.missing_value_generation = None
        try:
            reversed_data = compat.reverse_one(transformer, given)
        finally:
            transformer.missing_value_generation = missing_rule
        for name in outputs:
            del columns[name]
        # RDT places the output by position (set_index(data.index)), whatever index it came with
        if isinstance(reversed_data, pd.DataFrame):
            for name, position in zip(transformer.columns, range(reversed_data.shape[1])):
                columns[name] = reversed_data.iloc[:, position].set_axis(index)
        elif isinstance(reversed_data, pd.Series):
            columns[transformer.columns[0]] = reversed_data.set_axis(index)
        else:
            values = np.asarray(reversed_data)
            values = values.reshape(len(index), -1)
            for position, name in enumerate(transformer.columns):
                columns[name] = pd.Series(values[:, position], index=index)
    ordered = [name for name in compat.input_columns(hyper) if name in columns]
    return pd.DataFrame({name: columns[name].rename(name) for name in ordered}, index=index)


# Directive chains that pin a timestamp down to a unit, coarse to fine; nothing else may appear
_TRUNCATING_FORMATS = {
    ("Y", "m", "d"): "D",
    ("Y", "m", "d", "H"): "h",
    ("Y", "m", "d", "H", "M"): "min",
    ("Y", "m", "d", "H", "M", "S"): "s",
}


def truncate_datetimes_natively(model) -> list[str]:
    """RDT prints sampled datetime64 values with its learned format and parses them back, to drop
    what the format does not show; for formats that pin a date down to a unit that is ``floor``.
    Set on this loaded model's transformers only (instance attributes, never pickled back)."""
    import pandas as pd

    hyper = hyper_transformer(model)
    changed = []
    for column, transformer in (getattr(hyper, "field_transformers", None) or {}).items():
        fmt = getattr(transformer, "datetime_format", None)
        dtype = compat.fitted_dtype(transformer)
        if (
            not fmt
            or type(transformer).__name__ != "UnixTimestampEncoder"
            or dtype is None
            or not pd.api.types.is_datetime64_dtype(dtype)
        ):
            continue
        unit = _TRUNCATING_FORMATS.get(tuple(re.findall(r"%(.)", fmt)))
        if unit:
            compat.override_datetime_format(transformer, functools.partial(_floor, unit=unit))
            changed.append(str(column))
    return changed


def _floor(datetime_data, unit: str):
    return datetime_data.dt.floor(unit)


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


def utc_format(series, detected: str | None) -> str | None:
    """For datetime strings with UTC offsets (``%z``): the format that prints a UTC instant in the
    source's offset notation (``Z``, ``+00:00`` or ``+0000``), or None if they do not all parse."""
    import warnings

    import pandas as pd

    if not detected or "%z" not in detected:
        return None
    values = series.dropna().astype(str)
    if values.empty:
        return None
    sample = values.sample(min(len(values), 2000), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pd.to_datetime(values, format=detected, utc=True)
        except (ValueError, TypeError):
            return None
    tail = sample.str.extract(r"(Z|[+-]\d{2}:?\d{2})$")[0]
    if tail.isna().any():
        return None
    notation = "Z" if (tail == "Z").all() else "+00:00" if tail.str.contains(":").all() else "+0000"
    return detected.replace("%z", notation)
