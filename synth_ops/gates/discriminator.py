"""The discriminator gate: can a classifier tell the synthetic rows from the real training rows?

A gradient-boosting classifier (``learning.py``: the same encoding of the learned columns as the
utility gate) is trained to separate ``n`` synthetic rows from ``n`` training rows (``n``: the
training rows, at most ``gates.model_rows`` and the synthetic rows); its ROC AUC is measured by
``FOLDS``-fold cross-validation (every row scored by a model that did not see it). 0.5 means it
cannot tell them apart. The encoding is fitted on all the real rows, training and holdout alike,
so that it does not itself tell holdout rows from training rows. Its baseline is the same classifier separating the holdout rows (real rows
the synthesizer never saw, at most ``n``) from as many training rows: what a fresh real sample
scores, about 0.5, off it by the classifier's own noise at the holdout's size.

The gate, ``gates.discriminator_auc_max``, bounds AUC minus baseline, judged at its lower 95%
bound (each AUC's Hanley-McNeil standard error at its counts). Its default, ``auto``, is
``spec.DISCRIMINATOR_AUC_MAX`` for a table modelled alone and no limit for related tables; with no
limit (``null``) the AUC is measured and reported on every run and never blocks. Without holdout
rows there is no baseline: "not measured".
"""

from __future__ import annotations

import math
import warnings

from synth_ops.runtime.records import GateResult

FOLDS = 3
Z_ONE_SIDED_95 = 1.6449


def discriminator_gate(gate_input) -> list[GateResult]:
    gates, seed = gate_input.ws.spec.gates, gate_input.ws.spec.synthesizer.seed
    threshold = gates.discriminator_limit(gate_input.ws.spec.is_related(gate_input.table))
    columns = gate_input.learned
    training, holdout = gate_input.real
    total = sum(s.rows for s in gate_input.shards)
    rows = min(len(training), gates.model_rows, total)
    held_rows = min(len(holdout), rows)
    if not columns or held_rows < 2 * FOLDS:
        why = "no learned columns" if not columns else f"{held_rows} holdout rows: too few to cross-validate"
        return _not_measured(threshold, why)

    from synth_ops.gates import learning

    train = gate_input.real_sample(rows)[columns]
    synthetic = gate_input.synthetic_sample(rows, conditioned=False)[columns]
    held = holdout.sample(held_rows, random_state=seed)[columns]

    # under a rebalance or fairness control the real rows are weighted to what was asked (weights,
    # not resampled copies: a classifier would tell a repeated real row from any synthetic one)
    from synth_ops.gates.control import control_weights

    first = train.iloc[:held_rows]
    w_train, w_first, w_held = (control_weights(f, gate_input.controls) for f in (train, first, held))
    # the encoding is fitted on all the real rows: fitted on training rows alone, a holdout row's
    # category unseen in training (or counted once less) told it from a training row before any
    # synthetic row was seen, and that inflated baseline hid a real excess (two days of flights:
    # baseline 0.88, synthetic 1.00, "passed")
    encoding, lone = learning.Encoding.fit(
        gate_input.all_real[columns], gate_input.metadata, columns
    ).without_near_unique(gate_input.all_real)
    if not encoding.columns:
        return _not_measured(threshold, f"every learned column is a near-unique label ({len(lone)})")
    auc = _cross_validated_auc(encoding, train, synthetic, seed, w_train, None)
    baseline = _cross_validated_auc(encoding, first, held, seed, w_first, w_held)
    # weighted rows count as fewer (Kish's effective size): a rare class weighted up is a few rows
    real_n, first_n, held_n = (_effective(w) for w in (w_train, w_first, w_held))
    spread = math.hypot(
        learning.auc_standard_error(auc, real_n or rows, rows),
        learning.auc_standard_error(baseline, first_n or held_rows, held_n or held_rows),
    )
    excess = auc - baseline
    lower = excess - Z_ONE_SIDED_95 * spread
    passed = threshold is None or lower <= threshold
    detail = (
        f"{FOLDS}-fold ROC AUC telling {rows} synthetic from {rows} training rows {auc:.3f}; {held_rows} "
        f"holdout rows from as many training rows {baseline:.3f}; excess {excess:.3f}, lower 95% bound {lower:.3f}; 0.5 is "
        f"indistinguishable"
        + (f"; {len(lone)} near-unique label column(s) left out: {', '.join(lone)}" if lone else "")
        + ("" if threshold is not None else "; reported, not gated")
    )
    return [
        GateResult(
            gate="discriminator",
            name="discriminator_auc",
            value=round(auc, 4),
            threshold=threshold,
            passed=passed,
            detail=detail,
            baseline=round(baseline, 4),
            bound=round(lower, 4),
            measures={
                "excess": round(excess, 4),
                "rows": rows,
                "holdout_rows": held_rows,
                "folds": FOLDS,
                "left_out": len(lone),
            },
        )
    ]


def _not_measured(threshold, why: str) -> list[GateResult]:
    return [
        GateResult(
            gate="discriminator",
            name="discriminator_auc",
            value=None,
            threshold=threshold,
            passed=True,
            detail=f"not measured: {why}",
        )
    ]


def _effective(weights) -> float | None:
    """Kish's effective sample size of weighted rows (None: unweighted)."""
    if weights is None or not len(weights):
        return None
    return float(weights.sum() ** 2 / (weights**2).sum())


def _cross_validated_auc(encoding, real, other, seed: int, real_weights=None, other_weights=None) -> float:
    """Out-of-fold ROC AUC of a classifier telling ``other`` (label 1) from ``real`` (label 0),
    each row weighted (fitting and scoring) by its weights where given."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from synth_ops.gates import learning

    features = pd.concat([encoding.transform(real), encoding.transform(other)], ignore_index=True)
    labels = np.r_[np.zeros(len(real)), np.ones(len(other))]
    weights = None
    if real_weights is not None or other_weights is not None:
        weights = np.r_[
            np.ones(len(real)) if real_weights is None else real_weights,
            np.ones(len(other)) if other_weights is None else other_weights,
        ]
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    with warnings.catch_warnings(), learning.fitting(len(labels)):
        warnings.simplefilter("ignore")
        scores = cross_val_predict(
            learning.model("classify", seed),
            features,
            labels,
            cv=folds,
            method="predict_proba",
            params=None if weights is None else {"sample_weight": weights},
        )[:, 1]
    return float(roc_auc_score(labels, scores, sample_weight=weights))
