"""The control gate: did the published rows get what the table's generation controls asked for?
(``tables.<t>.generate``, ``spec/controls.py``.) The other gates judge the rest: quality and the
discriminator compare the rows drawn without a condition with the real rows resampled to the
requested shares (quality: ``GateInput.reference``, resampled by ``rebalanced``; the discriminator:
the real rows weighted by ``rebalance_weights``); privacy and utility are unchanged.

rebalance[<column>]      per requested value, its published share against the requested one:
                         the largest gap, which must be within sampling noise (the two-sided 99.9%
                         normal bound of a share of that many rows, plus half a row).
conditions.<i>           the rows of condition ``i`` (the release's rows after the conditions
                         before it) holding its values (a range: within it): all of them.
impute[<column>]         nulls in the column: none.

Counts, shares and column names only: never a value (the values are the spec's).
"""

from __future__ import annotations

import math

from synth_ops.runtime.records import GateResult

Z = 3.29  # two-sided 99.9%: a correct release fails one share in a thousand, not one in twenty


def rebalance_weights(frame, rebalance: dict):
    """Per row of ``frame``, the weight that gives its rebalanced column the requested shares and
    its other values the rest in their own proportions (mean 1; every other column keeps its
    distribution given the rebalanced one)."""
    import numpy as np

    from synth_ops.gates.learning import as_text

    if not len(frame):
        return np.ones(0)
    text = as_text(frame[rebalance["column"]]).fillna("\0<null>").to_numpy(dtype=object)
    requested = {str(as_text(_series(value))[0]): float(share) for value, share in rebalance["shares"].items()}
    values, counts = np.unique(text, return_counts=True)
    real = dict(zip(values, counts / len(text)))
    others = sum(share for value, share in real.items() if value not in requested)
    rest = max(0.0, 1 - sum(requested.values()))
    target = {
        value: requested.get(value, rest * share / others if others > 0 else 0.0) for value, share in real.items()
    }
    weights = np.array([target[v] / real[v] for v in text])
    return weights * len(weights) / weights.sum() if weights.sum() > 0 else np.ones(len(weights))


def rebalanced(frame, rebalance: dict, seed):
    """``frame``'s rows resampled with replacement (as many, seeded) by ``rebalance_weights``."""
    import numpy as np

    if not len(frame):
        return frame
    weights = rebalance_weights(frame, rebalance)
    rng = np.random.default_rng(seed)
    return frame.iloc[rng.choice(len(frame), size=len(frame), p=weights / weights.sum())].reset_index(drop=True)


def _series(value):
    import pandas as pd

    return pd.Series([value])


def control_gate(gate_input) -> list[GateResult]:
    import numpy as np
    import pandas as pd

    from synth_ops.gates.learning import as_text

    controls = gate_input.controls
    if not controls:
        return []
    columns = list(
        dict.fromkeys(
            ([controls["rebalance"]["column"]] if controls.get("rebalance") else [])
            + [c for condition in controls.get("conditions", ()) for c in condition["values"]]
            + list(controls.get("impute", ()))
        )
    )
    frame = pd.concat(list(gate_input.iter_synthetic(columns=columns)), ignore_index=True)
    results = []
    rebalance = controls.get("rebalance")
    if rebalance:
        column, n = rebalance["column"], len(frame)
        text = as_text(frame[column])
        gaps, worst = [], 0.0
        for value, share in rebalance["shares"].items():
            published = float((text == str(as_text(_series(value))[0])).mean()) if n else 0.0
            allowed = Z * math.sqrt(share * (1 - share) / max(n, 1)) + 0.5 / max(n, 1)
            gaps.append(abs(published - share) - allowed)
            worst = max(worst, abs(published - share))
        passed = bool(n) and max(gaps) <= 0
        results.append(
            GateResult(
                gate="control",
                name=f"rebalance[{column}]",
                value=round(worst, 4),
                threshold=0.0,
                passed=passed,
                baseline=0.0,
                detail=f"largest gap between a requested and a published share {worst:.4f} over {n} rows, "
                f"{len(rebalance['shares'])} value(s) requested; within sampling noise (99.9%): "
                f"{'yes' if passed else 'no'}",
                measures={"rows": n, "values": len(rebalance["shares"])},
            )
        )
    start = 0
    for index, condition in enumerate(controls.get("conditions", ())):
        rows = frame.iloc[start : start + condition["rows"]]
        start += condition["rows"]
        holds = np.ones(len(rows), dtype=bool)
        for column, value in condition["values"].items():
            holds &= _holds(rows[column], value, gate_input.metadata["columns"].get(column, {}).get("sdtype"))
        held = int(holds.sum())
        results.append(
            GateResult(
                gate="control",
                name=f"conditions.{index}",
                value=held,
                threshold=float(condition["rows"]),
                passed=held == condition["rows"] and len(rows) == condition["rows"],
                detail=f"{held} of the {condition['rows']} rows asked for hold the condition on "
                f"{', '.join(condition['values'])}",
                measures={"rows": int(len(rows)), "held": held},
            )
        )
    for column in controls.get("impute", ()):
        nulls = int(frame[column].isna().sum())
        results.append(
            GateResult(
                gate="control",
                name=f"impute[{column}]",
                value=nulls,
                threshold=0.0,
                passed=nulls == 0,
                detail=f"{nulls} null(s) in {len(frame)} rows (imputed: none expected)",
                measures={"rows": int(len(frame))},
            )
        )
    return results


def _holds(series, value, sdtype):
    """Whether each of ``series`` holds a condition's value (a range: lies within it)."""
    import numpy as np
    import pandas as pd

    from synth_ops.gates.learning import as_text

    if sdtype == "datetime":
        stamps = pd.to_datetime(series, errors="coerce", utc=True)
        ends = value if isinstance(value, (list, tuple)) else (value, value)
        low, high = (pd.Timestamp(v) for v in ends)
        low = low.tz_localize("UTC") if low.tzinfo is None else low
        high = high.tz_localize("UTC") if high.tzinfo is None else high
        return ((stamps >= low) & (stamps <= high)).fillna(False).to_numpy()
    if isinstance(value, (list, tuple)):
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
        with np.errstate(invalid="ignore"):
            return (numbers >= float(value[0])) & (numbers <= float(value[1]))
    if sdtype == "numerical":
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
        return np.isclose(numbers, float(value), rtol=0, atol=1e-9)
    return (as_text(series) == str(as_text(_series(value))[0])).fillna(False).to_numpy()
