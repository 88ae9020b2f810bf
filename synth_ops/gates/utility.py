"""The optional utility gate: train on synthetic, score on the holdout, compare with train on real.

A histogram gradient-boosting model (NaN-tolerant, categorical features ordinal-encoded with
codes learnt from the training rows) is fitted twice with the same seed; classification is scored
by accuracy and regression by R^2 on the holdout rows.
"""
from __future__ import annotations

from synth_ops.errors import SpecError
from synth_ops.records import GateResult


def _features(frame, columns, categories):
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for column in columns:
        if column in categories:
            out[column] = pd.Categorical(frame[column].astype("string"), categories=categories[column]).codes
            out[column] = out[column].where(out[column] >= 0)
        else:
            out[column] = pd.to_numeric(frame[column], errors="coerce")
    return out


def utility_gate(gate_input) -> list[GateResult]:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    spec = gate_input.ws.spec
    utility, seed = spec.gates.utility, spec.synthesizer.seed
    train, holdout = gate_input.real
    if utility.target not in train.columns:
        raise SpecError(f"gates.utility.target: no such column in table {gate_input.table!r}")
    if len(holdout) == 0:
        raise SpecError("gates.utility: needs holdout rows (gates.holdout > 0)")
    synthetic = gate_input.synthetic_sample(max(len(train), 1000))
    sdtypes = {c: m.get("sdtype") for c, m in gate_input.metadata["columns"].items()}
    features = [c for c in train.columns if c != utility.target and sdtypes.get(c) not in ("id",)]
    categories = {c: sorted(train[c].dropna().astype(str).unique()) for c in features
                  if not pd.api.types.is_numeric_dtype(train[c]) or sdtypes.get(c) == "categorical"}
    classify = sdtypes.get(utility.target) != "numerical"

    def score(fit_on) -> float:
        rows = fit_on[fit_on[utility.target].notna()]
        test = holdout[holdout[utility.target].notna()]
        model = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(random_state=seed)
        y = rows[utility.target].astype(str) if classify else rows[utility.target].astype(float)
        model.fit(_features(rows, features, categories), y)
        y_test = test[utility.target].astype(str) if classify else test[utility.target].astype(float)
        return float(model.score(_features(test, features, categories), y_test))

    real_score, synthetic_score = score(train), score(synthetic)
    ratio = synthetic_score / real_score if real_score > 0 else float(np.nan)
    passed = bool(np.isfinite(ratio) and ratio >= utility.min_ratio)
    metric = "accuracy" if classify else "R^2"
    return [GateResult(
        gate="utility", name=f"utility_ratio[{utility.target}]", value=round(float(ratio), 4) if np.isfinite(ratio) else -1.0,
        threshold=utility.min_ratio, passed=passed,
        detail=f"{metric} on holdout: trained on synthetic {synthetic_score:.3f}, on real {real_score:.3f}",
    )]
