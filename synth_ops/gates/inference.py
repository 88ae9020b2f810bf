"""Attribute inference: does the synthetic data reveal a sensitive value of the people it was
trained on, to an attacker who knows their quasi-identifiers, beyond what it reveals about anyone?

Runs for a table whose spec names ``quasi_identifiers`` (what an attacker knows of a person: age,
zip code, ...) and ``sensitive`` columns (what they want to learn); both must be learned columns
(the profile step's preflight checks that before any fit).

The attack. Candidates are the membership gate's (``membership.candidate_rows``): ``m`` seeded
training rows and ``m`` seeded holdout rows, ``m = min(holdout rows, gates.privacy_rows // 2)``.
For each candidate, the nearest of the ``gates.privacy_rows`` sampled synthetic rows on the
quasi-identifiers only (encoded as the DCR gate encodes columns, ``privacy.real_encoder`` fitted on
the real rows' quasi-identifier columns; Euclidean; among rows tied at the same distance the first
of the seeded sample) is taken as the candidate's record, and each sensitive column is predicted
as that row's value. A prediction succeeds when:

- categorical, boolean or discrete numeric column (at most ``columns.DISCRETE_MAX`` distinct
  values in the training rows): it equals the true value (compared as text, so 1 and 1.0 agree);
- continuous numeric or datetime column: |predicted - true| <= ``TOLERANCE`` (5%) of the span
  between the training values' 5% and 95% quantiles (a span robust to outliers; a tolerance of
  0 for a column whose quantiles coincide);
- a missing true value: the prediction is missing too.

Risk. The success rate on training candidates minus that on holdout candidates: what an attacker
learns about the people the synthesizer was trained on beyond what the synthetic data tells them
about anyone from the same population (which is its purpose: a model that learned that body mass
follows flipper length predicts it for everyone). 0 is ideal; a synthesizer that copies each
training row's sensitive values next to its quasi-identifiers scores its training candidates'
success rate minus the population's. Its bound is the one-sided 95% lower bound of the difference
of two independent proportions by Newcombe's hybrid score method (Newcombe 1998, method 10: scipy's
Wilson score limits of each rate at one-sided 95%, i.e. the two-sided 90% interval, z = 1.645,
combined as a square root of squares), compared with ``gates.attribute_inference.risk_max``: the
gate fails only when the excess is statistically clear. One result per sensitive column. No holdout
rows: "not measured", failing (``synth_ops.gates.without_holdout``); fewer than ``MIN_CANDIDATES``
candidates of each kind: "not measured", not blocking.
"""

from __future__ import annotations

import math

from synth_ops.runtime.records import GateResult

TOLERANCE = 0.05
WILSON_CONFIDENCE = 0.90  # two-sided: each limit is a one-sided 95% bound (z = 1.645)
_NUMERIC_SDTYPES = {"numerical", "datetime"}


def attribute_inference_gate(gate_input) -> list[GateResult]:
    from synth_ops.gates import not_measured, without_holdout
    from synth_ops.gates.membership import MIN_CANDIDATES, candidate_rows

    settings = gate_input.ws.spec.gates.attribute_inference
    table = gate_input.ws.spec.tables[gate_input.table]
    if settings is None or not table.sensitive:
        return []
    threshold = settings.risk_max
    known, sensitive = list(table.quasi_identifiers), list(table.sensitive)
    names = [f"attribute_inference[{column}]" for column in sensitive]
    if unmeasured := without_holdout(gate_input, "attribute_inference", dict.fromkeys(names, threshold)):
        return unmeasured
    members, non_members, _ = candidate_rows(gate_input)
    m = len(members)
    synthetic = gate_input.synthetic_sample(gate_input.ws.spec.gates.privacy_rows)
    if m < MIN_CANDIDATES or len(synthetic) == 0:
        why = (
            f"{m} candidate rows of each kind (holdout rows), fewer than {MIN_CANDIDATES}"
            if m < MIN_CANDIDATES
            else "no synthetic rows"
        )
        return [not_measured("attribute_inference", name, threshold, why) for name in names]
    from sklearn.neighbors import NearestNeighbors

    from synth_ops.gates.privacy import _encode, real_encoder

    train, _ = gate_input.real
    encoders = real_encoder(gate_input, known)
    nearest = NearestNeighbors(n_neighbors=1).fit(_encode(synthetic, encoders))
    chosen = [nearest.kneighbors(_encode(rows, encoders))[1][:, 0] for rows in (members, non_members)]
    results = []
    for column in sensitive:
        hits = [
            _successes(synthetic[column].iloc[index], rows[column], train[column], gate_input.metadata, column)
            for index, rows in zip(chosen, (members, non_members))
        ]
        results.append(_judge(column, hits[0], hits[1], m, len(known), len(synthetic), threshold))
    return results


def _successes(predicted, truth, training, metadata: dict, column: str) -> int:
    """How many predictions succeed (see the module docstring)."""
    import numpy as np

    from synth_ops.gates.learning import as_text
    from synth_ops.gates.privacy import as_number
    from synth_ops.spec.columns import discrete_support

    sdtype = metadata["columns"].get(column, {}).get("sdtype", "categorical")
    predicted, truth = predicted.reset_index(drop=True), truth.reset_index(drop=True)
    if sdtype in _NUMERIC_SDTYPES:
        reference = as_number(training, sdtype)
        reference = reference[np.isfinite(reference)]
        if sdtype == "datetime" or discrete_support(reference) is None:
            low, high = np.quantile(reference, [0.05, 0.95]) if reference.size else (0.0, 0.0)
            guess, real = as_number(predicted, sdtype), as_number(truth, sdtype)
            close = np.abs(guess - real) <= TOLERANCE * (high - low)
            return int((close | (np.isnan(guess) & np.isnan(real))).sum())
    guess, real = as_text(predicted), as_text(truth)
    equal = (guess == real).fillna(False).to_numpy(dtype=bool)
    return int((equal | (guess.isna() & real.isna()).to_numpy(dtype=bool)).sum())


def newcombe_lower(hits_a: int, hits_b: int, n_a: int, n_b: int, confidence: float = WILSON_CONFIDENCE) -> float:
    """The lower limit of rate a minus rate b, Newcombe's hybrid score method (his method 10), from the
    Wilson intervals of each rate at two-sided ``confidence``."""
    from synth_ops.gates.privacy import wilson

    a, b = hits_a / n_a, hits_b / n_b
    low_a, _ = wilson(hits_a, n_a, confidence)
    _, high_b = wilson(hits_b, n_b, confidence)
    return a - b - math.sqrt((a - low_a) ** 2 + (high_b - b) ** 2)


def _judge(column, hits_train, hits_holdout, m, known, synthetic_rows, threshold) -> GateResult:
    train_rate, holdout_rate = hits_train / m, hits_holdout / m
    risk = train_rate - holdout_rate
    lower = newcombe_lower(hits_train, hits_holdout, m, m)
    passed = threshold is None or lower <= threshold
    detail = (
        f"the nearest of {synthetic_rows} synthetic rows on {known} quasi-identifiers gives {column} of "
        f"{train_rate:.3f} of {m} training rows and {holdout_rate:.3f} of {m} holdout rows; excess {risk:.3f}, "
        f"lower 95% bound {lower:.3f}; 0 is ideal" + ("; reported, not gated" if threshold is None else "")
    )
    return GateResult(
        gate="attribute_inference",
        name=f"attribute_inference[{column}]",
        value=round(risk, 4),
        threshold=threshold,
        passed=passed,
        detail=detail,
        baseline=0.0,
        bound=round(lower, 4),
        measures={
            "train_success": round(train_rate, 4),
            "holdout_success": round(holdout_rate, 4),
            "candidates": m,
            "quasi_identifiers": known,
        },
    )
