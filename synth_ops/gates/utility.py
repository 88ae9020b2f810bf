"""The utility gate: what a model learns from the synthetic rows, against what it learns from real ones.

For each target of ``gates.utility`` in the table, one gradient-boosting model (``learning.py``:
same features, encoding and seed) is trained three times and scored on the same holdout rows, which
neither the synthesizer nor any of the models saw:

real        trained on the real training rows (a seeded sample of ``gates.model_rows``)
synthetic   trained on as many synthetic rows
augmented   trained on the real rows plus ``augmentation_share`` times as many synthetic rows

Scores: a two-class target by ROC AUC; more classes by balanced accuracy; a numerical or datetime
target by R^2, on ``sign(y) log(1 + |y|)`` when its training values are heavy-tailed (skewness
beyond ``HEAVY_TAIL_SKEW``: one extreme row would otherwise decide R^2). The gate is
synthetic / real (``utility_ratio[<target>]``); augmented / real (``augmentation[<target>]``) is
reported beside it and gated only when ``augmentation_min`` is set.

Holdout rows that copy a training row (every learned column equal) are left out of the scoring
(``holdout_copies_left_out``): on them a model trained on the real rows recalls the answer, which
no synthetic data that passes the privacy gates lets a model do, so they measure memorisation,
not what was learned.

Both ratios carry a bound at the holdout's size: the rows scored are resampled (a paired seeded
bootstrap of ``BOOTSTRAP`` draws, the models fixed) and the gate passes while the ratio's upper 95%
bound reaches the threshold, so the holdout's own noise does not fail a good synthesizer on a small
table. When the model trained on real rows does no better than chance there is nothing to
compare with: the result says "not measured" (value None) and does not block. When the model
trained on synthetic (or augmented) rows gives no score (a numerical target none of its rows holds a
value of) the ratio is "not measured" too, and fails where gated, as a ratio it cannot reach. No
holdout rows: "not measured", failing where gated (``synth_ops.gates.without_holdout``).
"""

from __future__ import annotations

import warnings

from synth_ops.runtime.records import GateResult

HEAVY_TAIL_SKEW = 2.0
BOOTSTRAP = 200


def utility_gate(gate_input) -> list[GateResult]:
    from synth_ops.gates import without_holdout

    utility = gate_input.ws.spec.gates.utility
    targets = [t for t in utility.columns if t in gate_input.learned]
    checks = {}
    for target in targets:
        checks |= {f"utility_ratio[{target}]": utility.min_ratio, f"augmentation[{target}]": utility.augmentation_min}
    if unmeasured := without_holdout(gate_input, "utility", checks):
        return unmeasured
    results = []
    for target in targets:
        results += _target(gate_input, utility, target)
    return results


def _target(gate_input, utility, target: str) -> list[GateResult]:
    import numpy as np
    import pandas as pd

    from synth_ops.gates import learning

    gates, seed = gate_input.ws.spec.gates, gate_input.ws.spec.synthesizer.seed
    train = gate_input.real_sample(gates.model_rows)
    training, holdout = gate_input.real
    copies = _copies(holdout, training, gate_input.learned)
    holdout = holdout[~copies]
    test = holdout.sample(min(len(holdout), gates.model_rows), random_state=seed)
    train, test = train[train[target].notna()], test[test[target].notna()]
    task = _Task.of(train[target], gate_input.metadata["columns"][target].get("sdtype"))
    if task.chance is None or len(test) < 2:
        why = task.why or "fewer than two holdout rows have a value"
        return [
            _not_measured(f"utility_ratio[{target}]", utility.min_ratio, why),
            _not_measured(f"augmentation[{target}]", utility.augmentation_min, why),
        ]
    features = [c for c in gate_input.learned if c != target]
    synthetic = gate_input.synthetic_sample(len(train))
    extra = gate_input.synthetic_sample(max(1, round(utility.augmentation_share * len(train))))
    encoding = learning.Encoding.fit(train, gate_input.metadata, features)
    predictions = {}
    for name, rows in (("real", train), ("synthetic", synthetic), ("augmented", pd.concat([train, extra]))):
        rows = rows[rows[target].notna()]
        predictions[name] = task.predict(
            rows[target], encoding.transform(rows[features]), encoding.transform(test[features]), seed
        )
    truth = task.truth(test[target])
    scores = {name: task.score(truth, p) for name, p in predictions.items()}
    draws = _bootstrap(task, truth, predictions, seed)
    measures = {
        "metric": task.metric,
        "real": _score(scores["real"]),
        "synthetic": _score(scores["synthetic"]),
        "augmented": _score(scores["augmented"]),
        "train_rows": len(train),
        "holdout_rows": len(test),
        "holdout_copies_left_out": int(copies.sum()),
        "transform": task.transform,
    }
    if not scores["real"] - task.chance > 0:  # NaN too: the holdout rows hold one class
        why = (
            f"a model trained on the real rows scores {scores['real']:.3f} {task.metric}, no better than chance"
            if np.isfinite(scores["real"])
            else f"{task.metric} is undefined on these holdout rows"
        )
        return [
            _not_measured(f"utility_ratio[{target}]", utility.min_ratio, why, measures),
            _not_measured(f"augmentation[{target}]", utility.augmentation_min, why, measures),
        ]
    return [
        _ratio(
            f"utility_ratio[{target}]",
            scores["synthetic"],
            scores["real"],
            draws["synthetic"] / draws["real"],
            utility.min_ratio,
            measures,
            "trained on synthetic",
        ),
        _ratio(
            f"augmentation[{target}]",
            scores["augmented"],
            scores["real"],
            draws["augmented"] / draws["real"],
            utility.augmentation_min,
            measures,
            f"trained on real + {len(extra)} synthetic rows",
        ),
    ]


def _copies(holdout, training, columns: list[str]):
    """Which holdout rows equal a training row in every learned column. They are not scored: a model
    trained on the real rows would be credited for recalling them, which synthetic rows are built
    to deny (randhie, a panel: 68% of its holdout rows are copies; fair: 24%; no other corpus table
    has any)."""
    import pandas as pd

    seen = pd.util.hash_pandas_object(training[columns], index=False)
    return pd.util.hash_pandas_object(holdout[columns], index=False).isin(set(seen)).to_numpy()


def _score(score: float) -> float | None:
    """A score for gates.json: None when the metric is undefined (JSON has no NaN)."""
    import math

    return round(score, 4) if math.isfinite(score) else None


class _Task:
    """What kind of prediction a target asks for, and how it is scored."""

    def __init__(
        self,
        kind: str,
        metric: str,
        chance: float | None,
        classes=(),
        transform: str = "none",
        why: str = "",
        sdtype: str = "numerical",
    ):
        self.kind, self.metric, self.chance, self.classes = kind, metric, chance, list(classes)
        self.transform, self.why, self.sdtype = transform, why, sdtype

    @classmethod
    def of(cls, values, sdtype: str | None) -> _Task:
        import numpy as np
        from scipy.stats import skew

        from synth_ops.gates.learning import as_text
        from synth_ops.gates.privacy import as_number

        if sdtype in ("numerical", "datetime"):
            numbers = as_number(values, sdtype)
            numbers = numbers[np.isfinite(numbers)]
            if np.unique(numbers).size < 2:
                return cls("regress", "r2", None, why="the target has one value in the training rows")
            heavy = sdtype == "numerical" and abs(float(skew(numbers))) > HEAVY_TAIL_SKEW
            return cls("regress", "r2", 0.0, transform="signed log1p" if heavy else "none", sdtype=sdtype)
        classes = sorted(as_text(values).dropna().unique())
        if len(classes) < 2:
            return cls("classify", "roc_auc", None, why="the target has one class in the training rows")
        if len(classes) == 2:
            return cls("classify", "roc_auc", 0.5, classes)
        return cls("classify", "balanced_accuracy", 1.0 / len(classes), classes)

    def truth(self, values):
        import numpy as np

        from synth_ops.gates.learning import as_text
        from synth_ops.gates.privacy import as_number

        if self.kind == "classify":
            return as_text(values).to_numpy(dtype=object)
        numbers = as_number(values, self.sdtype)
        return np.sign(numbers) * np.log1p(np.abs(numbers)) if self.transform != "none" else numbers

    def predict(self, target, features, test_features, seed: int):
        """The model's predictions on the test rows: the positive class's probability for two
        classes, the class for more, the (transformed) value for a regression."""
        import numpy as np

        from synth_ops.gates import learning

        y = self.truth(target)
        keep = np.ones(len(y), bool) if self.kind == "classify" else np.isfinite(y)
        y, features = y[keep], features[keep]
        if self.kind == "classify":
            seen = sorted(set(y))
            if len(seen) < 2:  # the rows hold one class: a model predicts it everywhere
                if self.metric == "roc_auc":
                    return np.full(len(test_features), 1.0 if seen and seen[0] == self.classes[1] else 0.0)
                return np.full(len(test_features), seen[0] if seen else self.classes[0], dtype=object)
        if len(y) == 0:
            return np.full(len(test_features), np.nan)
        fitted = learning.model(self.kind, seed)
        with warnings.catch_warnings(), learning.fitting(len(y)):
            warnings.simplefilter("ignore")
            fitted.fit(features, y)
            if self.metric == "roc_auc":
                positive = list(fitted.classes_).index(self.classes[1]) if self.classes[1] in fitted.classes_ else None
                return (
                    fitted.predict_proba(test_features)[:, positive]
                    if positive is not None
                    else np.zeros(len(test_features))
                )
            return fitted.predict(test_features)

    def score(self, truth, predicted) -> float:
        import numpy as np
        from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.metric == "roc_auc":
                positive = truth == self.classes[1]
                if positive.all() or not positive.any():
                    return float("nan")
                return float(roc_auc_score(positive, predicted))
            if self.metric == "balanced_accuracy":
                return float(balanced_accuracy_score(truth, predicted))
            if not np.isfinite(predicted).all():
                return float("nan")
            return float(r2_score(truth, predicted))


def _bootstrap(task: _Task, truth, predictions: dict, seed: int) -> dict:
    """Each model's score on ``BOOTSTRAP`` seeded resamples of the scored rows, the same resamples
    for every model so their ratios are paired. A resample is a row of multinomial counts, and each
    metric is computed with those counts as weights, all resamples at once (the same numbers as
    scoring the resampled rows, without ``BOOTSTRAP`` calls per model)."""
    import numpy as np

    rng = np.random.default_rng([seed, 0xB007])
    weights = rng.multinomial(len(truth), np.full(len(truth), 1.0 / len(truth)), size=BOOTSTRAP).astype("float64")
    return {name: _weighted_scores(task, truth, predicted, weights) for name, predicted in predictions.items()}


def _weighted_scores(task: _Task, truth, predicted, weights):
    """``task``'s metric under each row of ``weights`` (resamples x rows): an array of scores."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        if task.metric == "r2":
            total = weights.sum(axis=1)
            mean = weights @ truth / total
            residual = weights @ (truth - predicted) ** 2
            spread = (weights * (truth[None, :] - mean[:, None]) ** 2).sum(axis=1)
            return 1 - residual / spread
        if task.metric == "balanced_accuracy":
            classes = sorted(set(truth))
            members = np.stack([truth == c for c in classes], axis=1).astype("float64")  # rows x classes
            hits = weights @ (members * (predicted == truth)[:, None])
            recall = hits / (weights @ members)
            return np.nanmean(recall, axis=1)  # classes a resample misses do not count, as sklearn's
        # ROC AUC as the weighted Mann-Whitney statistic: per positive row, the negative weight
        # ranked below it (ties count half), summed over positives
        positive = truth == task.classes[1]
        order = np.argsort(predicted, kind="stable")
        scores, positive, w = predicted[order], positive[order], weights[:, order]
        negative_w = np.where(positive, 0.0, w)
        below = np.cumsum(negative_w, axis=1) - negative_w  # negatives strictly earlier in the order
        # rows of equal score form a group: a negative in the group counts half for every positive in it
        group = np.r_[0, np.cumsum(scores[1:] != scores[:-1])]
        starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
        group_neg = np.add.reduceat(negative_w, starts, axis=1)[:, group]
        before_group = below[:, starts][:, group]
        wins = np.where(positive, w * (before_group + 0.5 * group_neg), 0.0).sum(axis=1)
        return wins / (np.where(positive, w, 0.0).sum(axis=1) * negative_w.sum(axis=1))


def _ratio(
    name: str, score: float, real: float, ratios, threshold: float | None, measures: dict, what: str
) -> GateResult:
    import numpy as np

    from synth_ops.gates import not_measured

    value = score / real  # real beats chance (checked by the caller): finite and above 0
    if not np.isfinite(value):
        # the model gave no score: a numerical target none of its training rows holds a value of
        # (``_Task.predict``); no ratio reaches the threshold, so a gated one fails, as before
        return not_measured(
            "utility",
            name,
            threshold,
            f"the model {what} gives no {measures['metric']} on "
            f"{measures['holdout_rows']} holdout rows (its training rows hold no value of the target)",
            passed=threshold is None,
            measures=measures,
        )
    finite = ratios[np.isfinite(ratios)]
    upper = float(np.quantile(finite, 0.95)) if finite.size else value
    passed = threshold is None or upper >= threshold
    detail = (
        f"{measures['metric']} on {measures['holdout_rows']} holdout rows: {what} {score:.3f}, trained on "
        f"real {real:.3f}; upper 95% bound of the ratio {upper:.3f}"
        + ("" if threshold is not None else "; reported, not gated")
    )
    return GateResult(
        gate="utility",
        name=name,
        value=round(float(value), 4),
        threshold=threshold,
        passed=passed,
        detail=detail,
        baseline=1.0,
        bound=round(upper, 4),
        measures=measures,
    )


def _not_measured(name: str, threshold: float | None, why: str, measures: dict | None = None) -> GateResult:
    """Nothing to compare with (the real model does no better than chance): reported, not blocking."""
    from synth_ops.gates import not_measured

    return not_measured("utility", name, threshold, why, measures=measures)
