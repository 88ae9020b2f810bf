"""synth-ops' own copula (``kind: copula``) as sampler parts: its state is already numbers.

Numeric marginals become inverse tables on the normal-score grid (their quantile function of
``ndtr(z)``), discrete ones (child counts, numbers of few values) and categories exact step
functions of the score; nulls are the scores below ``ndtri(null_share)``. The factor is the same
Cholesky factor the backend samples with, and the sampler draws from the same random stream
(``normals.sampling_stream``), so its rows match the backend's up to the grid's interpolation
(exactly, for step functions).

A child table's copula also holds its primary parent's columns (``^<column>``): its sampler keeps
the conditional law of its own columns given those (``conditional``: the regression weights and
the residual's factor of the Schur complement, the context columns' marginals and codecs, which
turn a synthetic parent's values into normal scores), the unconditional factor for rows without a
parent, the sequence rule, and the axes drawn foreign keys pair parents along (``axes``).
"""

from __future__ import annotations

from synth_ops.sampler.export_parts import Parts, Unsupported, grid_scores, json_values


def _marginal_doc(marginal, column: str, out: Parts) -> dict:
    """A marginal's forward transform as data: numbers' knots as arrays, categories as JSON."""
    import numpy as np

    from synth_ops.synthesizers.copula.marginals import CategoricalMarginal

    if isinstance(marginal, CategoricalMarginal):
        return {
            "kind": "categorical",
            "categories": json_values(marginal.categories, column),
            "bounds": [float(b) for b in marginal.bounds],
        }
    names = {}
    for field in ("probabilities", "quantiles"):
        names[field] = name = f"forward-{len(out.arrays):03d}.npy"
        out.arrays[name] = np.asarray(getattr(marginal, field), dtype="float64")
    return {
        "kind": "numeric",
        "null_share": float(marginal.null_share),
        **names,
        "decimals": marginal.decimals,
        "datetime": marginal.datetime,
        "discrete": bool(marginal.discrete),
    }


def _codec_doc(codec) -> dict:
    return {
        "column": codec.column,
        "sdtype": codec.sdtype,
        "datetime_format": codec.datetime_format,
        "decimals": codec.decimals,
    }


def _decoder(out: Parts, index: int, column: str, marginal, codec, count: bool, score: bool) -> None:
    """Append copula column ``index``'s inverse and its output column's decoder to ``out``."""
    import numpy as np
    from scipy.special import ndtr, ndtri

    from synth_ops.synthesizers.copula.marginals import CategoricalMarginal, NumericMarginal

    z = grid_scores()
    if isinstance(marginal, CategoricalMarginal):
        values = json_values(marginal.categories, column)
        out.inverse.append({"identity": True})
        # the backend's inverse: searchsorted(bounds, ndtr(z), "right"), the last category at most
        out.decoders.append(
            {
                "name": column,
                "kind": "category",
                "from": index,
                "input": "score",
                "bounds": [float(b) for b in ndtri(np.asarray(marginal.bounds, dtype="float64")).clip(-1e300, 1e300)],
                "side": "right",
                "overflow": "last",
                "values": values,
            }
        )
        return
    if not isinstance(marginal, NumericMarginal):
        raise Unsupported(f"column {column!r}: unknown marginal {type(marginal).__name__}")
    share = float(marginal.null_share)
    if marginal.discrete:
        length = len(marginal.quantiles)
        steps = ndtri(share + (1.0 - share) * np.arange(1, length) / length)
        # only the steps where the value changes: a discrete number's thousands of order
        # statistics are a handful of steps (the same function: equal neighbours merge)
        changes = np.flatnonzero(np.diff(marginal.quantiles) != 0)
        out.inverse.append(out.steps(steps[changes], np.append(marginal.quantiles[changes], marginal.quantiles[-1])))
    else:
        p = (ndtr(z) - share) / max(1.0 - share, 1e-12)
        out.inverse.append(out.grid(np.interp(p, marginal.probabilities, marginal.quantiles)))
    nulls = {"below": float(np.clip(ndtri(share), -1e300, 1e300))} if share > 0 else None
    # as the backend's inverse: a discrete marginal's values are real ones, never rounded
    ops = [["round", int(marginal.decimals)]] if marginal.decimals is not None and not marginal.discrete else []
    if count:
        out.decoders.append({"name": column, "kind": "count", "from": index, "nulls": nulls, "ops": ops})
    elif score:  # where the row's drawn parent ranks among the real ones: the marginal's own CDF
        rank = _marginal_doc(marginal, column, out)
        out.decoders.append(
            {
                "name": column,
                "kind": "rank",
                "from": index,
                "nulls": nulls,
                "ops": ops,
                "quantiles": rank["quantiles"],
                "probabilities": rank["probabilities"],
            }
        )
    elif codec is not None and codec.sdtype == "datetime":
        out.decoders.append(
            {
                "name": column,
                "kind": "datetime",
                "from": index,
                "nulls": nulls,
                "ops": ops,
                "format": codec.print_format,
                "tz": codec.tz,
            }
        )
    else:
        out.decoders.append({"name": column, "kind": "number", "from": index, "nulls": nulls, "ops": ops})


def parts(backend, table: str, child: bool = False) -> Parts:
    """The sampler parts of ``table``; ``child``: it is sampled under its primary parent's rows."""
    import numpy as np

    from synth_ops.synthesizers.copula.model import RIDGE, Z_CLIP, _nearest_covariance

    model = backend.models[table]
    own, context = list(backend.own[table]), list(backend.context.get(table, ()))
    if model.columns != context + own:
        raise Unsupported("the copula's columns differ from the table's sampled columns")
    out = Parts()
    out.columns = own
    counts, scores = set(backend.counts.get(table, ())), set(backend.scores.get(table, ()))
    for index, column in enumerate(own):
        _decoder(
            out,
            index,
            column,
            model.marginals[column],
            backend.codecs[table].get(column),
            column in counts,
            column in scores,
        )
    full = np.linalg.cholesky(model.correlation) if model.columns else np.zeros((0, 0))
    if not child:
        if context or scores or table in backend.sequence:
            raise Unsupported("a table with a parent's context is sampled under its parents' rows")
        out.factor = full  # own == all columns
        return out
    picked = [model.columns.index(c) for c in own]
    conditional = None
    if context:
        k = [model.columns.index(c) for c in context]
        s_kk = model.correlation[np.ix_(k, k)] + RIDGE * np.eye(len(k))
        s_xk = model.correlation[np.ix_(picked, k)]
        s_xx = model.correlation[np.ix_(picked, picked)]
        weights = np.linalg.solve(s_kk, s_xk.T).T  # Sigma_xk Sigma_kk^-1
        out.factor = np.linalg.cholesky(_nearest_covariance(s_xx - weights @ s_xk.T))
        out.arrays["weights.npy"] = weights
        conditional = {
            "weights": "weights.npy",
            "z_clip": Z_CLIP,
            "context": [
                {
                    "name": name,
                    "codec": _codec_doc(backend.codecs[table][name]),
                    "marginal": _marginal_doc(model.marginals[name], name, out),
                }
                for name in context
            ],
        }
    else:
        out.factor = full
    # rows without a parent (and children of a parent without learned columns): the whole
    # copula's draws with its own columns picked, as GaussianCopula.sample does
    out.arrays["unconditional.npy"] = full
    sequence = None
    if table in backend.sequence:
        column, step, origin = backend.sequence[table]
        sequence = {"column": column, "step": float(step), "origin": float(origin)}
    axes = {}
    for relation, (parent, columns, loadings) in backend.axis.items():
        if f"~{relation}" in scores:
            axes[relation] = {
                "loadings": [float(v) for v in loadings],
                "columns": [
                    {
                        "name": c,
                        "codec": _codec_doc(backend.codecs[parent][c]),
                        "marginal": _marginal_doc(backend.models[parent].marginals[c], c, out),
                    }
                    for c in columns
                ],
            }
    out.extra["child"] = {
        "conditional": conditional,
        "unconditional": "unconditional.npy",
        "own": picked,
        "sequence": sequence,
        "axes": axes,
        "axis_seed": int(backend.seed),
    }
    return out
