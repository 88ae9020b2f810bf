"""The control gate: did the published rows get what the table's generation controls asked for?
(``tables.<t>.generate``, ``spec/controls.py``.) The other gates judge the rest: quality and the
discriminator compare the rows drawn without a condition with the real rows resampled to the
requested shares or parity (quality: ``GateInput.reference``, resampled by ``reweighted``; the
discriminator: the real rows weighted by ``control_weights``); privacy and utility are unchanged.

rebalance[<column>]      per requested value, its published share against the requested one:
                         the largest gap, which must be within sampling noise (the two-sided 99.9%
                         normal bound of a share of that many rows, plus half a row).
fairness[<target>]       statistical parity: per group of the sensitive columns' values, each target
                         value's share against its overall share; every gap within sampling noise
                         (as above, at the group's size). The training rows' gap is the baseline.
                         And the target's overall shares kept: each within noise of the training
                         rows' (unless the target is rebalanced too: ``rebalance`` judges those).
conditions.<i>           the rows of condition ``i`` (the release's rows after the conditions
                         before it) holding its values (a range: within it): all of them.
impute[<column>]         nulls in the column: none.

Counts, shares and column names only: never a value (the values are the spec's).
"""

from __future__ import annotations

import math

from synth_ops.gates.learning import as_text, value_as_text
from synth_ops.runtime.records import GateResult

Z = 3.29  # two-sided 99.9%: a correct release fails one share in a thousand, not one in twenty


def control_weights(frame, controls: dict):
    """Per row of ``frame`` (real rows), the weight that makes them what the controls asked for
    (mean 1), or None when no control reweights: a rebalanced column at its requested shares (its
    other values sharing the rest in their own proportions); a fairness target independent of the
    sensitive columns, at its overall (or rebalanced) shares. Every other column keeps its
    distribution given the controlled ones."""
    import numpy as np

    rebalance, fairness = controls.get("rebalance"), controls.get("fairness")
    if not rebalance and not fairness:
        return None
    if not len(frame):
        return np.ones(0)
    column = fairness["target"] if fairness else rebalance["column"]
    target = _texts(frame[column])
    values, inverse, counts = np.unique(target, return_inverse=True, return_counts=True)
    real = counts / len(target)
    wanted = _shares(values, real, rebalance["shares"] if rebalance else {})
    if fairness:  # q(t, g) = wanted(t) P(g) over P(t, g): the target apart from the groups
        groups = _groups(frame, fairness["sensitive"])
        _, group_of, group_counts = np.unique(groups, return_inverse=True, return_counts=True)
        cell = group_of * len(values) + inverse
        cell_counts = np.bincount(cell, minlength=len(group_counts) * len(values))
        weights = wanted[inverse] * (group_counts[group_of] / len(target)) / (cell_counts[cell] / len(target))
    else:
        weights = wanted[inverse] / real[inverse]
    return weights * len(weights) / weights.sum() if weights.sum() > 0 else np.ones(len(weights))


def _texts(series):
    return as_text(series).fillna("\0<null>").to_numpy(dtype=object).astype(str)


def _groups(frame, columns):
    """Each row's combination of the sensitive columns' values, as one text."""
    import numpy as np

    parts = [_texts(frame[c]) for c in columns]
    return np.array(["\x1f".join(row) for row in zip(*parts)], dtype=object).astype(str)


def _shares(values, real, requested: dict):
    """The shares asked of ``values`` (real shares ``real``): the requested ones, the rest in proportion."""
    import numpy as np

    asked = {value_as_text(v): float(share) for v, share in requested.items()}
    listed = np.array([v in asked for v in values])
    shares = np.array([asked.get(v, 0.0) for v in values])
    others = real[~listed].sum()
    if others > 0:
        shares[~listed] = max(0.0, 1 - shares.sum()) * real[~listed] / others
    return shares


def reweighted(frame, controls: dict, seed):
    """``frame``'s rows resampled with replacement (as many, seeded) by ``control_weights``."""
    import numpy as np

    weights = control_weights(frame, controls)
    if weights is None or not len(frame):
        return frame
    rng = np.random.default_rng(seed)
    return frame.iloc[rng.choice(len(frame), size=len(frame), p=weights / weights.sum())].reset_index(drop=True)


def control_gate(gate_input) -> list[GateResult]:
    import pandas as pd

    from synth_ops.spec.controls import controlled_columns

    controls = gate_input.controls
    if not controls:
        return []
    columns = list(dict.fromkeys([*controlled_columns(controls), *controls.get("impute", ())]))
    frame = pd.concat(list(gate_input.iter_synthetic(columns=columns)), ignore_index=True)
    results = []
    if controls.get("rebalance"):
        results.append(_rebalance(frame, controls["rebalance"]))
    if controls.get("fairness"):
        rebalanced = (controls.get("rebalance") or {}).get("column") == controls["fairness"]["target"]
        results.append(_fairness(frame, gate_input.real[0], controls["fairness"], shares_kept=not rebalanced))
    start = 0
    for index, condition in enumerate(controls.get("conditions", ())):
        results.append(_condition(frame.iloc[start : start + condition["rows"]], index, condition, gate_input.metadata))
        start += condition["rows"]
    for column in controls.get("impute", ()):
        nulls = int(frame[column].isna().sum())
        results.append(
            _result(
                f"impute[{column}]",
                nulls,
                nulls == 0,
                f"{nulls} null(s) in {len(frame)} rows (imputed: none expected)",
                {"rows": int(len(frame))},
            )
        )
    return results


def _result(name: str, value, passed: bool, detail: str, measures: dict, threshold=0.0, baseline=None) -> GateResult:
    return GateResult(
        gate="control",
        name=name,
        value=value,
        threshold=threshold,
        passed=bool(passed),
        baseline=baseline,
        detail=detail,
        measures=measures,
    )


def _rebalance(frame, rebalance: dict) -> GateResult:
    column, n = rebalance["column"], len(frame)
    text = as_text(frame[column])
    gaps, worst = [], 0.0
    for value, share in rebalance["shares"].items():
        published = float((text == value_as_text(value)).mean()) if n else 0.0
        gaps.append(abs(published - share) - _noise(share, n))
        worst = max(worst, abs(published - share))
    passed = bool(n) and max(gaps) <= 0
    return _result(
        f"rebalance[{column}]",
        round(worst, 4),
        passed,
        f"largest gap between a requested and a published share {worst:.4f} over {n} rows, "
        f"{len(rebalance['shares'])} value(s) requested; within sampling noise (99.9%): {'yes' if passed else 'no'}",
        {"rows": n, "values": len(rebalance["shares"])},
        baseline=0.0,
    )


def _fairness(frame, training, fairness: dict, shares_kept: bool = True) -> GateResult:
    """Parity, and (``shares_kept``: the target is not also rebalanced, whose own result judges its
    shares) the target's overall shares those of the training rows: parity reached by drawing a
    value less, or not at all, is not what fairness asks for."""
    target, sensitive = fairness["target"], fairness["sensitive"]
    gap, within, groups = parity_gap(frame, target, sensitive)
    before, _, _ = parity_gap(training, target, sensitive)
    kept, shift = _shares_kept(frame[target], training[target]) if shares_kept else (True, 0.0)
    return _result(
        f"fairness[{target}]",
        round(gap, 4),
        bool(len(frame)) and within and kept,
        f"statistical parity gap of {target} over {groups} group(s) of {', '.join(sensitive)}: {gap:.4f} "
        f"published, {before:.4f} in the training rows; every group within sampling noise (99.9%) of the "
        f"overall shares: {'yes' if within else 'no'}"
        + (f"; overall shares kept (largest shift {shift:.4f}): {'yes' if kept else 'no'}" if shares_kept else ""),
        {"rows": int(len(frame)), "groups": groups, "real_gap": round(before, 4), "share_shift": round(shift, 4)},
        baseline=round(before, 4),
    )


def _noise(share: float, n: int) -> float:
    """How far a share drawn over ``n`` rows may stray from ``share`` by chance: 99.9%, plus half a row."""
    return Z * math.sqrt(share * (1 - share) / max(n, 1)) + 0.5 / max(n, 1)


def _shares_kept(published, real) -> tuple[bool, float]:
    """(every value's published share within sampling noise (99.9%, plus half a row) of its share in
    the real rows, the largest shift)."""
    n = len(published)
    shares = as_text(real.dropna()).value_counts(normalize=True)
    counts = as_text(published.dropna()).value_counts()
    kept, worst = True, 0.0
    for value, share in shares.items():
        shift = abs(counts.get(value, 0) / max(n, 1) - share)
        kept &= shift <= _noise(share, n)
        worst = max(worst, shift)
    return bool(kept), worst


def _condition(rows, index: int, condition: dict, metadata: dict) -> GateResult:
    import numpy as np

    holds = np.ones(len(rows), dtype=bool)
    for column, value in condition["values"].items():
        holds &= _holds(rows[column], value, metadata["columns"].get(column, {}).get("sdtype"))
    held = int(holds.sum())
    return _result(
        f"conditions.{index}",
        held,
        held == condition["rows"] and len(rows) == condition["rows"],
        f"{held} of the {condition['rows']} rows asked for hold the condition on {', '.join(condition['values'])}",
        {"rows": int(len(rows)), "held": held},
        threshold=float(condition["rows"]),
    )


def parity_gap(frame, target: str, sensitive) -> tuple[float, bool, int]:
    """(the largest gap between a target value's share within a group of the sensitive columns'
    values and its overall share, whether every group's gaps are within sampling noise (99.9%, plus
    half a row), the number of groups)."""
    import numpy as np

    if not len(frame):
        return 0.0, True, 0
    values, inverse = np.unique(_texts(frame[target]), return_inverse=True)
    _, group_of, sizes = np.unique(_groups(frame, sensitive), return_inverse=True, return_counts=True)
    overall = np.bincount(inverse, minlength=len(values)) / len(frame)
    cells = np.bincount(group_of * len(values) + inverse, minlength=len(sizes) * len(values))
    within_group = cells.reshape(len(sizes), len(values)) / sizes[:, None]
    gaps = np.abs(within_group - overall[None, :])
    allowed = Z * np.sqrt(overall * (1 - overall))[None, :] / np.sqrt(sizes)[:, None] + 0.5 / sizes[:, None]
    return float(gaps.max()), bool((gaps <= allowed).all()), len(sizes)


def _holds(series, value, sdtype):
    """Whether each of ``series`` holds a condition's value (a range: lies within it)."""
    import numpy as np
    import pandas as pd

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
    return (as_text(series) == value_as_text(value)).fillna(False).to_numpy()
