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

# strftime directive chains whose print-and-parse is a floor to a unit (as fastpath's)
_TRUNCATING = {("Y", "m", "d"): "D", ("Y", "m", "d", "H"): "h", ("Y", "m", "d", "H", "M"): "min",
               ("Y", "m", "d", "H", "M", "S"): "s"}


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
    rule = getattr(nulls, "_missing_value_generation", None)
    if rule == "from_column":
        indicator = f"{column}.is_null"
        if indicator not in index:
            raise Unsupported(f"column {column!r}: its null indicator is not a copula column")
        return {"indicator": index[indicator]}
    if rule == "random":
        return {"rate": float(nulls._null_percentage)}
    return None


def _number(value) -> float | None:
    import math

    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _float_ops(transformer, dtype_is_integer: bool) -> list:
    from rdt.transformers.numerical import INTEGER_BOUNDS

    ops = []
    if transformer.enforce_min_max_values:
        ops.append(["clip", _number(transformer._min_value), _number(transformer._max_value)])
    elif not transformer.computer_representation.startswith("Float"):
        low, high = INTEGER_BOUNDS[transformer.computer_representation]
        ops.append(["clip", float(low), float(high)])
    if transformer.learn_rounding_scheme and transformer._rounding_digits is not None:
        ops.append(["round", int(transformer._rounding_digits)])
    elif dtype_is_integer:
        ops.append(["round", 0])
    return ops


def _formatter_ops(formatter, dtype_is_integer: bool) -> list:
    """SDV's DataProcessor after RDT: integer columns rounded, then its NumericalFormatter."""
    ops = [["round", 0]] if dtype_is_integer else []
    if formatter is None:
        return ops
    if formatter.enforce_min_max_values:
        ops.append(["clip", _number(formatter._min_value), _number(formatter._max_value)])
    if formatter.enforce_rounding and formatter._rounding_digits is not None:
        ops.append(["round", int(formatter._rounding_digits)])
    elif dtype_is_integer:
        ops.append(["round", 0])
    return ops


def _datetime(transformer, column: str, index: dict, native_format: str | None) -> dict:
    import pandas as pd

    if getattr(transformer, "_has_multiple_timezones", False) or getattr(transformer, "_timezone_offset", None):
        raise Unsupported(f"column {column!r}: datetimes with time zones")
    dtype = transformer._dtype
    if not pd.api.types.is_datetime64_dtype(dtype):
        raise Unsupported(f"column {column!r}: datetimes SDV samples as text")
    ops = [["round", 0]]
    divider = getattr(transformer, "divider", None)
    if divider not in (None, 1):
        ops.append(["scale", float(divider)])
    if transformer.enforce_min_max_values:
        ops.append(["clip", _number(transformer._min_value), _number(transformer._max_value)])
    floor = None
    fmt = transformer.datetime_format
    if fmt and ".%f" not in fmt:  # RDT prints with the format and parses back: a floor for these
        floor = _TRUNCATING.get(tuple(re.findall(r"%(.)", fmt)))
        if floor is None:
            raise Unsupported(f"column {column!r}: a datetime format that does not truncate to a unit")
    return {"name": column, "kind": "datetime", "from": index[column], "nulls": _nulls(transformer, column, index),
            "ops": ops, "floor": floor, "format": native_format, "tz": None}


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
    copula = getattr(model, "_model", None)
    processor = model._data_processor
    hyper = processor._hyper_transformer
    if type(copula).__name__ != "GaussianMultivariate" or not getattr(copula, "univariates", None):
        raise Unsupported("the fitted model is not a Gaussian copula")
    if processor._keys or getattr(processor, "_primary_key", None):
        raise Unsupported("SDV generates key columns of this table")
    if getattr(model, "_chained_constraints", None) or getattr(model, "_reject_sampling_constraints", None):
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
    for column in hyper._input_columns:
        transformer = hyper.field_transformers.get(column)
        name = type(transformer).__name__
        if transformer is None:
            raise Unsupported(f"column {column!r}: no RDT transformer")
        outputs = transformer.get_output_columns()
        if any(p.get("next_transformer") is not None for p in transformer.output_properties.values()) \
                or not set(outputs) <= set(index) or outputs[0] != column:
            raise Unsupported(f"column {column!r}: chained or renamed RDT outputs")
        used.update(outputs)
        dtype = processor._dtypes[column]
        integer = pd.api.types.is_integer_dtype(dtype)
        formatter = processor.formatters.get(column)
        if name == "FloatFormatter":
            out.decoders.append({"name": column, "kind": "number", "from": index[column],
                                 "nulls": _nulls(transformer, column, index),
                                 "ops": _float_ops(transformer, pd.api.types.is_integer_dtype(transformer._dtype))
                                 + _formatter_ops(formatter, integer) + _snap_ops(backend, column)})
        elif name in ("UniformEncoder", "OrderedUniformEncoder"):  # ordinal: the same intervals, in the given order
            intervals = transformer.intervals
            if not intervals:
                raise Unsupported(f"column {column!r}: a categorical transformer that learned nothing")
            values = json_values(list(intervals), column)
            out.decoders.append({"name": column, "kind": "category", "from": index[column], "input": "value",
                                 "clip": [0.0, 1.0], "bounds": [float(v[1]) for v in intervals.values()],
                                 "side": "left", "overflow": "null", "values": values,
                                 "frequencies": [float(f) for f in transformer.frequencies.values()]})
        elif name == "LabelEncoder":
            mapping = transformer.values_to_categories
            codes = sorted(mapping)
            if not codes or codes != list(range(codes[0], codes[0] + len(codes))):
                raise Unsupported(f"column {column!r}: label codes that are not consecutive")
            out.decoders.append({"name": column, "kind": "label", "from": index[column],
                                 "ops": [["floor"]] if transformer.add_noise else [],
                                 "first_code": int(codes[0]), "values": json_values([mapping[c] for c in codes], column)})
        elif name == "BinaryEncoder":
            out.decoders.append({"name": column, "kind": "boolean", "from": index[column],
                                 "nulls": _nulls(transformer, column, index)})
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
    from synth_ops.columns import support_cuts

    support = getattr(backend, "supports", {}).get(column)
    if support is None:
        return []
    cuts = (getattr(backend, "cuts", None) or {}).get(column)
    cuts = support_cuts(support) if cuts is None else cuts
    return [["snap", [float(v) for v in support], [float(v) for v in cuts]]]
