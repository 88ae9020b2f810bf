"""synth-ops' own copula (``kind: copula``) as sampler parts: its state is already numbers.

Numeric marginals become inverse tables on the normal-score grid (their quantile function of
``ndtr(z)``), discrete ones (child counts) and categories exact step functions of the score;
nulls are the scores below ``ndtri(null_share)``. The factor is the same Cholesky factor the
backend samples with, and the sampler draws from the same random stream (``table_rng``), so its
rows match the backend's up to the grid's interpolation.
"""
from __future__ import annotations

from synth_ops.sampler.export_parts import Parts, Unsupported, grid_scores, json_values


def parts(backend, table: str) -> Parts:
    import numpy as np
    from scipy.special import ndtr, ndtri

    from synth_ops.synthesizers.copula.marginals import CategoricalMarginal, NumericMarginal

    if backend.context.get(table) or backend.scores.get(table) or table in backend.sequence:
        raise Unsupported("a child table of the copula is sampled under its parents' rows")
    model = backend.models[table]
    if model.columns != backend.own[table]:
        raise Unsupported("the copula's columns differ from the table's sampled columns")
    out = Parts()
    out.columns = list(model.columns)
    out.factor = np.linalg.cholesky(model.correlation) if out.columns else np.zeros((0, 0))
    z = grid_scores()
    counts = set(backend.counts.get(table, ()))
    for index, column in enumerate(model.columns):
        marginal = model.marginals[column]
        codec = backend.codecs[table].get(column)
        if isinstance(marginal, CategoricalMarginal):
            values = json_values(marginal.categories, column)
            out.inverse.append({"identity": True})
            # the backend's inverse: searchsorted(bounds, ndtr(z), "right"), the last category at most
            out.decoders.append({"name": column, "kind": "category", "from": index, "input": "score",
                                 "bounds": [float(b) for b in ndtri(np.asarray(marginal.bounds, dtype="float64"))
                                            .clip(-1e300, 1e300)],
                                 "side": "right", "overflow": "last", "values": values})
            continue
        if not isinstance(marginal, NumericMarginal):
            raise Unsupported(f"column {column!r}: unknown marginal {type(marginal).__name__}")
        share = float(marginal.null_share)
        if marginal.discrete:
            length = len(marginal.quantiles)
            steps = ndtri(share + (1.0 - share) * np.arange(1, length) / length)
            out.inverse.append(out.steps(steps, marginal.quantiles))
        else:
            p = (ndtr(z) - share) / max(1.0 - share, 1e-12)
            out.inverse.append(out.grid(np.interp(p, marginal.probabilities, marginal.quantiles)))
        nulls = {"below": float(np.clip(ndtri(share), -1e300, 1e300))} if share > 0 else None
        ops = [["round", int(marginal.decimals)]] if marginal.decimals is not None else []
        if column in counts:
            out.decoders.append({"name": column, "kind": "count", "from": index, "nulls": nulls, "ops": ops})
        elif codec is not None and codec.sdtype == "datetime":
            out.decoders.append({"name": column, "kind": "datetime", "from": index, "nulls": nulls, "ops": ops,
                                 "format": codec.print_format, "tz": codec.tz})
        else:
            out.decoders.append({"name": column, "kind": "number", "from": index, "nulls": nulls, "ops": ops})
    return out
