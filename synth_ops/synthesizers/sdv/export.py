"""SDV's GaussianCopulaSynthesizer, as synth-ops fits it, translated into sampler parts.

What SDV does when it samples, step by step, and what the sampler keeps of it:

1. copulas' ``GaussianMultivariate`` draws normal vectors with the correlation and maps each
   through its marginal's ``percent_point(norm.cdf(z))``: here the correlation's factor and each
   marginal tabulated on the normal-score grid, exactly as the fast sampling path
   (``fastpath.tabulate_marginals``) samples it;
2. RDT's HyperTransformer reverses each column's transformer: ``FloatFormatter`` (nulls at the
   learned rate or from an ``.is_null`` column, clipping to the fitted range, learned rounding),
   ``UniformEncoder`` and ``OrderedUniformEncoder`` (the interval each value falls in), ``LabelEncoder``, ``BinaryEncoder``,
   ``UnixTimestampEncoder``/``OptimizedTimestampEncoder`` (nanoseconds, divider, clipping, the
   truncation its format implies): each becomes a decoder with the transformer's fitted numbers;
3. SDV's DataProcessor casts to the training dtypes and applies its NumericalFormatter (clip,
   round) and DatetimeFormatter: appended as further operations; then synth-ops snaps a discrete
   number to its support (a ``snap`` operation with the support and the backend's cuts);
4. synth-ops prints natively parsed datetime columns back in the source's format.

Anything else (another transformer, chained transformers, constraints, keys SDV generates, time
zones, datetime text SDV keeps as text) raises ``Unsupported``: the pickle path stays for that model.
"""

from __future__ import annotations

import re

from synth_ops.sampler.export_parts import Parts, Unsupported, grid_scores, json_values
from synth_ops.synthesizers.sdv import compat

# strftime directive chains whose print-and-parse is a floor to a unit (as fastpath's)
_TRUNCATING = {
    ("Y", "m", "d"): "D",
    ("Y", "m", "d", "H"): "h",
    ("Y", "m", "d", "H", "M"): "min",
    ("Y", "m", "d", "H", "M", "S"): "s",
}


def _factor(correlation):
    import numpy as np

    try:
        return np.linalg.cholesky(correlation)
    except np.linalg.LinAlgError:  # positive semi-definite (duplicated columns): any A with A A' = R
        values, vectors = np.linalg.eigh((correlation + correlation.T) / 2)
        return vectors * np.sqrt(np.clip(values, 0.0, None))


def _nulls(transformer, column: str, index: dict) -> dict | None:
    nulls = getattr(transformer, "null_transformer", None)
    if nulls is None or not getattr(nulls, "nulls", False):
        return None
    rule, share = compat.null_generation(nulls)
    if rule == "from_column":
        indicator = f"{column}.is_null"
        if indicator not in index:
            raise Unsupported(f"column {column!r}: its null indicator is not a copula column")
        return {"indicator": index[indicator]}
    if rule == "random":
        return {"rate": float(share)}
    return None


def _number(value) -> float | None:
    import math

    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _clip(transformer) -> list:
    low, high = compat.fitted_range(transformer)
    return ["clip", _number(low), _number(high)]


def _float_ops(transformer, dtype_is_integer: bool) -> list:
    ops = []
    if transformer.enforce_min_max_values:
        ops.append(_clip(transformer))
    elif not transformer.computer_representation.startswith("Float"):
        low, high = compat.integer_bounds(transformer.computer_representation)
        ops.append(["clip", float(low), float(high)])
    digits = compat.rounding_digits(transformer)
    if transformer.learn_rounding_scheme and digits is not None:
        ops.append(["round", int(digits)])
    elif dtype_is_integer:
        ops.append(["round", 0])
    return ops


def _formatter_ops(formatter, dtype_is_integer: bool) -> list:
    """SDV's DataProcessor after RDT: integer columns rounded, then its NumericalFormatter."""
    ops = [["round", 0]] if dtype_is_integer else []
    if formatter is None:
        return ops
    if formatter.enforce_min_max_values:
        ops.append(_clip(formatter))
    digits = compat.rounding_digits(formatter)
    if formatter.enforce_rounding and digits is not None:
        ops.append(["round", int(digits)])
    elif dtype_is_integer:
        ops.append(["round", 0])
    return ops


def _datetime(transformer, column: str, index: dict, native_format: str | None) -> dict:
    import pandas as pd

    if compat.has_time_zones(transformer):
        raise Unsupported(f"column {column!r}: datetimes with time zones")
    dtype = compat.fitted_dtype(transformer)
    if not pd.api.types.is_datetime64_dtype(dtype):
        raise Unsupported(f"column {column!r}: datetimes SDV samples as text")
    ops = [["round", 0]]
    divider = getattr(transformer, "divider", None)
    if divider not in (None, 1):
        ops.append(["scale", float(divider)])
    if transformer.enforce_min_max_values:
        ops.append(_clip(transformer))
    floor = None
    fmt = transformer.datetime_format
    if fmt and ".%f" not in fmt:  # RDT prints with the format and parses back: a floor for these
        floor = _TRUNCATING.get(tuple(re.findall(r"%(.)", fmt)))
        if floor is None:
            raise Unsupported(f"column {column!r}: a datetime format that does not truncate to a unit")
    return {
        "name": column,
        "kind": "datetime",
        "from": index[column],
        "nulls": _nulls(transformer, column, index),
        "ops": ops,
        "floor": floor,
        "format": native_format,
        "tz": None,
    }


def parts(backend, table: str) -> Parts:
    import warnings

    import numpy as np
    import pandas as pd
    from scipy.stats import norm

    from synth_ops.synthesizers.sdv.fastpath import quantile_table

    if backend.kind != "gaussian_copula":
        raise Unsupported(f"kind {backend.kind} has no portable sampler")
    if not backend.options.get("fast_sampling", True):
        raise Unsupported("fast_sampling is off: SDV's own sampling path is asked for")
    model = backend.model
    copula = compat.copula_of(model)
    processor = compat.data_processor(model)
    hyper = compat.hyper_transformer(model)
    if type(copula).__name__ != "GaussianMultivariate" or not getattr(copula, "univariates", None):
        raise Unsupported("the fitted model is not a Gaussian copula")
    if compat.generates_keys(processor):
        raise Unsupported("SDV generates key columns of this table")
    if compat.has_constraints(model):
        raise Unsupported("SDV constraints")
    if any(not t.output_columns for t in processor.grouped_columns_to_transformers.values()):
        raise Unsupported("SDV column-group transformers")

    out = Parts()
    out.columns = [str(c) for c in copula.columns]
    index = {c: i for i, c in enumerate(out.columns)}
    correlation = np.asarray(copula.correlation, dtype="float64")
    out.factor = _factor(correlation)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's tail warnings, as on SDV's own path
        # norm.cdf rounds to 1.0 above z ~ 8.29, where a marginal's ppf is infinite (a normal's): the
        # largest uniform below 1 instead, which changes only draws SDV itself makes once in ~1e16
        grid_u = np.clip(norm.cdf(grid_scores()), np.finfo("float64").tiny, 1.0 - np.finfo("float64").epsneg)
        for univariate in copula.univariates:
            try:
                table_x = quantile_table(univariate, grid_u)
            except Exception as error:
                raise Unsupported(f"a marginal cannot be tabulated ({type(error).__name__})") from None
            out.inverse.append(out.grid(table_x))

    used = set()
    for column in compat.input_columns(hyper):
        transformer = hyper.field_transformers.get(column)
        name = type(transformer).__name__
        if transformer is None:
            raise Unsupported(f"column {column!r}: no RDT transformer")
        outputs = transformer.get_output_columns()
        if (
            any(p.get("next_transformer") is not None for p in transformer.output_properties.values())
            or not set(outputs) <= set(index)
            or outputs[0] != column
        ):
            raise Unsupported(f"column {column!r}: chained or renamed RDT outputs")
        used.update(outputs)
        dtype = compat.training_dtypes(processor)[column]
        integer = pd.api.types.is_integer_dtype(dtype)
        formatter = processor.formatters.get(column)
        if name == "FloatFormatter":
            out.decoders.append(
                {
                    "name": column,
                    "kind": "number",
                    "from": index[column],
                    "nulls": _nulls(transformer, column, index),
                    "ops": _float_ops(transformer, pd.api.types.is_integer_dtype(compat.fitted_dtype(transformer)))
                    + _formatter_ops(formatter, integer)
                    + _snap_ops(backend, column),
                }
            )
        elif name in ("UniformEncoder", "OrderedUniformEncoder"):  # ordinal: the same intervals, in the given order
            intervals = transformer.intervals
            if not intervals:
                raise Unsupported(f"column {column!r}: a categorical transformer that learned nothing")
            values = json_values(list(intervals), column)
            out.decoders.append(
                {
                    "name": column,
                    "kind": "category",
                    "from": index[column],
                    "input": "value",
                    "clip": [0.0, 1.0],
                    "bounds": [float(v[1]) for v in intervals.values()],
                    "side": "left",
                    "overflow": "null",
                    "values": values,
                    "frequencies": [float(f) for f in transformer.frequencies.values()],
                }
            )
        elif name == "LabelEncoder":
            mapping = transformer.values_to_categories
            codes = sorted(mapping)
            if not codes or codes != list(range(codes[0], codes[0] + len(codes))):
                raise Unsupported(f"column {column!r}: label codes that are not consecutive")
            out.decoders.append(
                {
                    "name": column,
                    "kind": "label",
                    "from": index[column],
                    "ops": [["floor"]] if transformer.add_noise else [],
                    "first_code": int(codes[0]),
                    "values": json_values([mapping[c] for c in codes], column),
                }
            )
        elif name == "BinaryEncoder":
            out.decoders.append(
                {"name": column, "kind": "boolean", "from": index[column], "nulls": _nulls(transformer, column, index)}
            )
        elif name in ("UnixTimestampEncoder", "OptimizedTimestampEncoder"):
            out.decoders.append(_datetime(transformer, column, index, backend.datetimes.get(column)))
        else:
            raise Unsupported(f"column {column!r}: RDT transformer {name} is not translated")
    if used != set(index):
        raise Unsupported("copula columns no transformer reads")
    snapped = {d["name"] for d in out.decoders if any(op[0] == "snap" for op in d.get("ops", []))}
    if snapped != set(getattr(backend, "supports", {})):
        raise Unsupported("a discrete number that is not a FloatFormatter column")
    return out


def _snap_ops(backend, column: str) -> list:
    """The backend's last step for a discrete number (``SDVSingleTable._sample``): its values
    snapped to the training support at the backend's cuts (``columns.snap_to_support``)."""
    from synth_ops.spec.columns import support_cuts

    support = getattr(backend, "supports", {}).get(column)
    if support is None:
        return []
    cuts = (getattr(backend, "cuts", None) or {}).get(column)
    cuts = support_cuts(support) if cuts is None else cuts
    return [["snap", [float(v) for v in support], [float(v) for v in cuts]]]
