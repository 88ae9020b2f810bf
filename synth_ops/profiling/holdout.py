"""The seeded split of each source table into training rows and holdout rows (kept out of fitting,
for the privacy gates' and the quality gate's baselines)."""

from __future__ import annotations

from synth_ops.errors import InputError
from synth_ops.runtime.workspace import Workspace


def split_holdout(n_rows: int, share: float, seed: int):
    """Seeded split of row positions into (train, holdout), both sorted."""
    import numpy as np

    order = np.random.default_rng([seed, 0x5EED]).permutation(n_rows)
    n_holdout = int(round(n_rows * share))
    if n_rows - n_holdout < 2:
        raise InputError(f"gates.holdout: {share} leaves fewer than 2 training rows out of {n_rows}")
    # The spec refuses a share of 0; a positive share of a small table can still round to no row.
    # The profile step splits before any fit, so such a table ends there (exit 2), not at gates
    # that would have nothing to compare with.
    if n_holdout == 0:
        raise InputError(
            f"gates.holdout: {share} of {n_rows} rows is no holdout row; every privacy and utility "
            "gate compares the synthetic rows with held-out real rows (raise gates.holdout, or "
            "use a larger table)"
        )
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


def load_training_rows(ws: Workspace, table: str):
    """(train, holdout) frames of the source, exactly as the fit step split them."""
    from synth_ops.profiling.relations import kept_source

    frame = kept_source(ws, table)
    train, holdout = split_holdout(len(frame), ws.spec.gates.holdout, ws.spec.synthesizer.seed)
    return frame.iloc[train].reset_index(drop=True), frame.iloc[holdout].reset_index(drop=True)
