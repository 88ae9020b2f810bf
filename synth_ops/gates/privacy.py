"""Privacy gates, always measured against the holdout rows kept out of fitting, on the learned
columns only (keys, ids, replaced and constant columns are generated, so they say nothing about
what the model memorised; a copied row with a fresh key must still count as copied).

Both share gates judge a *confidence bound* at their sample size rather than the point estimate,
so sampling noise on a small table does not fail a good synthesizer, while a copying one (share
near 1) still fails on a few hundred rows:

exact_match     share of synthetic rows identical to a training row, beyond the holdout's own
                share: its bound is the 95% Wilson lower bound of the synthetic share minus the
                upper bound of the holdout's; all-categorical tables repeat rows naturally and the
                baseline says so.
dcr_share       share of synthetic rows closer to a training row than to any holdout row, with
                the two reference sets weighted by their sizes so that 0.5 is ideal: with n_t
                training and n_h holdout references and raw share s, the value is
                (s/n_t) / (s/n_t + (1-s)/n_h). Its bound is that value at the 95% Wilson lower
                bound of s, at the effective sample size of ``effective_rows`` (to the nearest whole
                row). References are every training and holdout row up to ``REFERENCE_ROWS`` each
                (seeded samples beyond); ``gates.privacy_rows`` synthetic rows are measured.
pii_leak        values of replaced (identifying) columns that appear verbatim in the output.

Wilson intervals are scipy's (``binomtest(k, n).proportion_ci(method="wilson")``). exact_match and
dcr_share compare with the holdout rows; with none they are "not measured" and fail
(``synth_ops.gates.without_holdout``).

DCR encoding (documented so the number means something), fitted on all the real rows, training
and holdout alike (``real_encoder``): numeric and datetime columns are scaled to [0, 1] by their
range, a missing value sits at -1; categorical columns with at most
``ONE_HOT_MAX`` categories are one-hot scaled by 1/sqrt(2), so a mismatch adds exactly 1 to the
squared distance; higher-cardinality categoricals are encoded by their frequency among the real
rows, log(1 + count) / log(1 + largest count), an unseen value as one seen once. (Counted over the
training rows alone, a training row's own value counted once more than a holdout row's: a
synthesizer that draws only values many rows share then sat nearer training rows. On two days of
flights, whose flight numbers each fly a few times, that alone made the DCR share 0.78 rather than
0.57 and the membership attacks' AUC 0.73; the encoding must not tell members from non-members
before any synthetic row is seen.) Two rare values are as close
as two rare values are in real data (by identity, every synthetic category is a training one and no holdout
row with a category unseen in training could ever be nearer, which fails every synthesizer). A
synthetic row as near to a training row as to a holdout row counts at the share a good synthesizer
has, n_t / (n_t + n_h), not as a half.
Distance is Euclidean over that encoding.
"""

from __future__ import annotations

import math

from synth_ops.runtime.records import GateResult

ONE_HOT_MAX = 50
REFERENCE_ROWS = 100_000
_NUMERIC_SDTYPES = {"numerical", "datetime"}


def privacy_gates(gate_input) -> list[GateResult]:
    return [_exact_match(gate_input), _dcr(gate_input), _pii_leak(gate_input)]


def _row_hashes(frame, columns):
    """One uint64 per row; numbers compare as float64 and everything else as text."""
    import pandas as pd

    canonical = pd.DataFrame(index=frame.index)
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            canonical[column] = series.astype("float64")
        else:
            canonical[column] = series.astype("string").fillna("\0<null>")
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy()


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The two-sided Wilson score interval of ``successes`` out of ``n`` rows (scipy's); (0, 1) on no row."""
    from scipy.stats import binomtest

    if n == 0:
        return 0.0, 1.0
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def _no_learned_columns(name: str, threshold: float) -> GateResult:
    return GateResult(
        gate="privacy",
        name=name,
        value=0.0,
        threshold=threshold,
        passed=True,
        detail="no learned columns: nothing was learned from the real rows",
    )


def _exact_match(gate_input) -> GateResult:
    import numpy as np

    from synth_ops.gates import without_holdout

    threshold = gate_input.ws.spec.gates.exact_match_max
    if unmeasured := without_holdout(gate_input, "privacy", {"exact_match": threshold}):
        return unmeasured[0]
    columns = gate_input.learned
    if not columns:
        return _no_learned_columns("exact_match", threshold)
    train, holdout = gate_input.real
    train_hashes = np.unique(_row_hashes(train, columns))
    holdout_matched = int(np.isin(_row_hashes(holdout, columns), train_hashes).sum())
    holdout_share = holdout_matched / len(holdout)
    matched = total = 0
    for batch in gate_input.iter_synthetic(columns=columns):
        matched += int(np.isin(_row_hashes(batch, columns), train_hashes).sum())
        total += len(batch)
    synthetic_share = matched / total if total else 0.0
    holdout_upper = wilson(holdout_matched, len(holdout))[1]
    synthetic_lower = wilson(matched, total)[0]
    bound = max(0.0, synthetic_lower - holdout_upper)
    return GateResult(
        gate="privacy",
        name="exact_match",
        value=round(max(0.0, synthetic_share - holdout_share), 6),
        threshold=threshold,
        passed=bound <= threshold,
        baseline=round(holdout_share, 6),
        bound=round(bound, 6),
        detail=f"synthetic {synthetic_share:.4f} of {total} rows match a training row (lower bound "
        f"{synthetic_lower:.4f}); holdout baseline {holdout_share:.4f} (upper bound {holdout_upper:.4f}, "
        f"{len(holdout)} rows); judged on {len(columns)} learned columns",
    )


def real_encoder(gate_input, columns: list[str]):
    """The encoders of ``columns`` the distance-based gates share, fitted on all the real rows."""
    return _encoder(gate_input.all_real, gate_input.metadata, columns)


def _encoder(train, metadata: dict, columns: list[str]):
    """Encoders of the learned ``columns``, fitted on the rows ``train`` (see the module docstring)."""
    import numpy as np
    import pandas as pd

    encoders = []
    for column in columns:
        sdtype = metadata["columns"].get(column, {}).get("sdtype", "categorical")
        series = train[column]
        if sdtype in _NUMERIC_SDTYPES:
            values = as_number(series, sdtype)
            finite = values[np.isfinite(values)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            span = (high - low) or 1.0
            encoders.append(("number", column, sdtype, low, span))
        else:
            counts = series.astype("string").fillna("\0<null>").value_counts()
            if len(counts) <= ONE_HOT_MAX:
                encoders.append(("onehot", column, list(counts.index)))
            else:
                frequency = np.log1p(counts) / np.log1p(counts.max())
                unseen = float(np.log1p(1) / np.log1p(counts.max()))  # as rare as a value seen once
                encoders.append(("frequency", column, pd.Series(frequency.to_numpy(), index=counts.index), unseen))
    return encoders


def as_number(series, sdtype):
    """Numbers as float64, datetimes (strings or datetime64) as epoch seconds; unparseable -> NaN."""
    import numpy as np
    import pandas as pd

    if sdtype == "datetime":
        parsed = pd.to_datetime(series, errors="coerce", utc=True)
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def _encode(frame, encoders):
    import numpy as np

    blocks = []
    for encoder in encoders:
        kind, column = encoder[0], encoder[1]
        if kind == "number":
            _, _, sdtype, low, span = encoder
            values = (as_number(frame[column], sdtype) - low) / span
            blocks.append(np.where(np.isnan(values), -1.0, values)[:, None])
        elif kind == "onehot":
            text = frame[column].astype("string").fillna("\0<null>").to_numpy()
            blocks.append((text[:, None] == np.array(encoder[2], dtype=object)[None, :]) / math.sqrt(2))
        else:
            text = frame[column].astype("string").fillna("\0<null>")
            blocks.append(text.map(encoder[2]).fillna(encoder[3]).to_numpy(dtype="float64")[:, None])
    return np.hstack(blocks).astype("float64") if blocks else np.zeros((len(frame), 0))


def _weighted(raw: float, n_t: int, n_h: int) -> float:
    """A raw closer-to-training share, reweighted for the reference sizes (0.5 is ideal)."""
    return (raw / n_t) / (raw / n_t + (1 - raw) / n_h) if 0 < raw < 1 else raw


def effective_rows(synthetic: int, training: int) -> float:
    """The sample size of a DCR share, counting the noise of both samples it depends on.

    Under a good synthesizer the share closer to the holdout is the probability mass of the
    holdout rows' neighbourhoods; with N real rows those masses vary about as much as a binomial
    sample of the training rows would (variance about p/N on top of the synthetic sample's
    p(1-p)/n). Adding the two gives a binomial of 1 / (1/n_synthetic + 1/n_training) rows. On a
    30-row table that is ~15, not 30: the bound must not pretend the reference rows are exact.
    """
    return 1.0 / (1.0 / max(synthetic, 1) + 1.0 / max(training, 1))


def dcr_lower(raw: float, rows: float) -> float:
    """The 95% Wilson lower bound of a raw closer-to-training share at an effective size of ``rows``.

    The Wilson interval counts whole rows, and neither number is one: ``rows`` is the size of a
    binomial with the share's variance (``effective_rows``), ``raw`` counts ties at a fraction. Both
    are taken to the nearest whole row (the count as the share of the rounded size), which moves the
    share by at most half a row in ``rows`` (0.5 / rows), well inside the interval's own half-width
    (about 1 / sqrt(rows))."""
    n = max(1, round(rows))
    return wilson(round(raw * n), n)[0]


def _dcr(gate_input) -> GateResult:
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from synth_ops.gates import without_holdout

    gates, seed = gate_input.ws.spec.gates, gate_input.ws.spec.synthesizer.seed
    if unmeasured := without_holdout(gate_input, "privacy", {"dcr_share": gates.dcr_share_max}):
        return unmeasured[0]
    columns = gate_input.learned
    if not columns:
        return _no_learned_columns("dcr_share", gates.dcr_share_max)
    train, holdout = gate_input.real
    train_ref = train.sample(min(len(train), REFERENCE_ROWS), random_state=seed)
    holdout_ref = holdout.sample(min(len(holdout), REFERENCE_ROWS), random_state=seed)
    synthetic = gate_input.synthetic_sample(gates.privacy_rows)
    encoders = real_encoder(gate_input, columns)
    to_train = NearestNeighbors(n_neighbors=1).fit(_encode(train_ref, encoders))
    to_holdout = NearestNeighbors(n_neighbors=1).fit(_encode(holdout_ref, encoders))
    encoded = _encode(synthetic, encoders)
    d_train = to_train.kneighbors(encoded)[0][:, 0]
    d_holdout = to_holdout.kneighbors(encoded)[0][:, 0]
    n_t, n_h = len(train_ref), len(holdout_ref)
    # A tie (as near to both) is neutral: counted at the share a good synthesizer has, n_t / (n_t + n_h)
    tied = np.isclose(d_train, d_holdout, rtol=0, atol=1e-12)
    raw = float(((d_train < d_holdout) & ~tied).mean() + n_t / (n_t + n_h) * tied.mean())
    share = _weighted(raw, n_t, n_h)
    bound = _weighted(dcr_lower(raw, effective_rows(len(synthetic), n_t)), n_t, n_h)
    return GateResult(
        gate="privacy",
        name="dcr_share",
        value=round(share, 4),
        threshold=gates.dcr_share_max,
        passed=bound <= gates.dcr_share_max,
        baseline=0.5,
        bound=round(bound, 4),
        detail=f"{len(synthetic)} synthetic rows vs {n_t} training and {n_h} holdout rows "
        f"(unweighted share {raw:.4f}, lower bound {bound:.4f}); 0.5 is ideal",
    )


def _pii_leak(gate_input) -> GateResult:
    """Replaced values equal to real ones, beyond what random filling of their shapes gives by chance.

    A value with no letter or digit ("-", "?") is punctuation, kept as it is, not a leak."""
    import math

    from synth_ops.profiling import keys

    flagged = sorted(gate_input.profile.get("pii", {}))  # the replaced columns
    plan = gate_input.profile["columns_plan"]
    leaked, expected = {}, 0.0
    for column in flagged:
        # every real row: the training rows and the holdout, already loaded for the other gates
        real = set().union(*(set(part[column].dropna().astype(str)) for part in gate_input.real))
        rows = hits = 0
        for batch in gate_input.iter_synthetic(columns=[column]):
            values = batch[column].dropna().astype(str)
            values = values[values.str.contains(r"[^\W_]", regex=True)]
            hits += int(values.isin(real).sum())
            rows += len(values)
        expected += keys.chance_matches(plan[column]["format"], real, rows)
        if hits:
            leaked[column] = hits
    total = sum(leaked.values())
    bound = expected + 4 * math.sqrt(expected) + 1 if expected else 0.0  # chance alone stays below this
    detail = (
        "no columns replaced"
        if not flagged
        else (
            f"checked {', '.join(flagged)}"
            if not total
            else "real values reproduced in " + ", ".join(f"{c} ({n} rows)" for c, n in leaked.items())
        )
    )
    if flagged and expected:
        detail += f"; {expected:.1f} expected by chance (random fill of short shapes)"
    return GateResult(
        gate="privacy",
        name="pii_leak",
        value=float(total),
        threshold=round(bound, 3),
        passed=total <= bound,
        baseline=round(expected, 3),
        detail=detail,
    )
