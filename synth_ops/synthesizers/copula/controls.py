"""Generation controls (``tables.<t>.generate``) for synth-ops' Gaussian copula: the controlled
columns' values are set first and every other column is drawn given them, in normal space (the
Schur complement, as a child is drawn given its parent): no rejection.

rebalance    the column's categories drawn at the requested shares (the rest in their real proportions)
fairness     the sensitive columns drawn from their joint marginal, the target apart from them at its
             overall (or rebalanced) shares, the rest given both
conditions   a condition's rows (the release's first rows, condition after condition) take its values;
             a range is drawn from the column's marginal within it
impute       an imputed column's draw keeps its conditional rank off the null mass: never null
"""

from __future__ import annotations

import copy
from typing import Any

from synth_ops.sampler.controls import condition_of_rows, value_text


def steer(backend, table: str, rows: int, rng, controls: dict, first_row: int) -> dict[str, Any]:
    """{column: encoded values} of ``rows`` rows of ``table`` under ``controls``."""
    import numpy as np

    model, own = backend.models[table], backend.own[table]
    no_null = set(controls.get("impute", ()))
    group_of = condition_of_rows(controls.get("conditions", ()), first_row, rows)
    out: dict[str, Any] = {}
    for group in np.unique(group_of):
        index = np.flatnonzero(group_of == group)
        given = _given(backend, table, len(index), rng, controls, int(group))
        rest = [c for c in own if c not in given]
        if not rest:
            drawn = {}
        elif given:
            drawn = model.sample_given(given, rng, rest, no_null)
        else:  # nothing set for these rows: an ordinary draw (the imputed columns still off null)
            drawn = model.sample(len(index), rng, rest, no_null)
        for column in own:
            values = given[column] if column in given else drawn[column]
            if column not in out:
                out[column] = np.empty(rows, dtype=np.asarray(values).dtype if len(values) else object)
                if out[column].dtype.kind not in "fO":
                    out[column] = out[column].astype(object)
            out[column][index] = values
    return out


def _given(backend, table: str, n: int, rng, controls: dict, group: int) -> dict[str, Any]:

    model = backend.models[table]
    given: dict[str, Any] = {}
    fairness, rebalance = controls.get("fairness"), controls.get("rebalance")
    if fairness:  # the groups as they come, then the target apart from them
        sensitive = list(fairness["sensitive"])
        given.update(model.sample(n, rng, sensitive))
        shares = rebalance["shares"] if rebalance else {}
        given[fairness["target"]] = _categories(model.marginals[fairness["target"]], shares, n, rng)
    elif rebalance:
        given[rebalance["column"]] = _categories(model.marginals[rebalance["column"]], rebalance["shares"], n, rng)
    if group >= 0:
        for column, value in controls["conditions"][group]["values"].items():
            given[column] = _condition(backend, table, column, value, n, rng)
    return given


def _categories(marginal, requested: dict, n: int, rng):
    """``n`` categories at the requested shares, the others sharing the rest in their real proportions."""
    import numpy as np

    real = marginal.shares()
    categories = [c for c in real if c is not None] or list(real)
    asked = {value_text(v): float(s) for v, s in requested.items()}
    listed = np.array([value_text(c) in asked for c in categories])
    shares = np.array([asked.get(value_text(c), 0.0) for c in categories])
    weights = np.array([real[c] for c in categories])
    if weights[~listed].sum() > 0:
        shares[~listed] = max(0.0, 1 - shares.sum()) * weights[~listed] / weights[~listed].sum()
    shares = shares / shares.sum()
    picks = np.minimum(np.searchsorted(np.cumsum(shares), rng.random(n), side="right"), len(shares) - 1)
    return np.asarray(categories, dtype=object)[picks]


def _condition(backend, table: str, column: str, value, n: int, rng):
    import numpy as np
    import pandas as pd

    marginal = backend.models[table].marginals[column]
    codec = copy.copy(backend.codecs[table][column])  # encoding may set state: not on the model's
    if getattr(marginal, "kind", "") == "categorical":
        match = next((c for c in marginal.categories if c is not None and value_text(c) == value_text(value)), value)
        return np.full(n, match, dtype=object)
    if isinstance(value, (list, tuple)):
        low, high = (float(v) for v in codec.encode(pd.Series(list(value))))
        u_low, u_high = marginal.uniforms_within(low, high)
        values = marginal.inverse(u_low + rng.random(n) * max(u_high - u_low, 0.0))
        return np.clip(np.where(np.isnan(values), (low + high) / 2, values), low, high)
    return np.full(n, float(codec.encode(pd.Series([value]))[0]))
