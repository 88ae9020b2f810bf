"""The fidelity gate: SDMetrics quality score (column shapes and column-pair trends), judged against
what real data achieves.

Two disjoint halves of a real table do not score 1.0 against each other: on a high-cardinality
table they score 0.43. So the score of the synthetic rows is compared with a *baseline*, the
holdout rows (real rows the model never saw) scored against the training rows by the same report
with the same sample sizes: the synthetic rows pass when they reach ``gates.quality_share`` of the
baseline (and ``gates.quality_min``, an absolute floor, when set). As mostlyai-qa compares a
synthesizer's accuracy with its holdout's.

Only learned columns are scored: keys, ids, replaced and constant columns are generated, not
learned from the real rows. Samples are seeded; the synthetic score is the mean over up to three
disjoint samples of the holdout's size, so a small table's synthetic noise averages out.
"""
from __future__ import annotations

import logging
import math
import warnings

from synth_ops.records import GateResult

log = logging.getLogger("synth_ops")
SYNTHETIC_ROWS_PER_SCORE = 5_000  # below this many rows per sample, average several samples
MAX_SAMPLES = 3


def quality_score(real, synthetic, metadata: dict, table: str) -> tuple[float, dict[str, float]]:
    """SDMetrics QualityReport of ``synthetic`` against ``real``: (score, {property: score})."""
    from sdmetrics.reports import QualityReport

    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({table: real}, {table: synthetic[real.columns]},
                        {"tables": {table: metadata}}, verbose=False)
    properties = {row["Property"]: float(row["Score"]) for _, row in report.get_properties().iterrows()
                  if not math.isnan(float(row["Score"]))}
    return float(report.get_score()), properties


def quality_gate(gate_input) -> list[GateResult]:
    import numpy as np

    gates = gate_input.ws.spec.gates
    learned = gate_input.learned
    floor = gates.quality_min
    if not learned:
        return [GateResult(gate="quality", name="quality_score", value=1.0, threshold=floor or 0.0, passed=True,
                           detail="no learned columns: every column is generated")]
    metadata = {**gate_input.metadata, "columns": {c: gate_input.metadata["columns"][c] for c in learned}}
    table = gate_input.table
    _, holdout = gate_input.real
    reference = gate_input.real_sample(gates.quality_rows)[learned]
    baseline = None
    total = sum(s.rows for s in gate_input.shards)
    # one sample size for both: fewer rows score lower by noise alone
    size = min(gates.quality_rows, len(holdout) or len(reference), total)
    if len(holdout):
        held = holdout.sample(size, random_state=gate_input.ws.spec.synthesizer.seed)[learned]
        baseline, _ = quality_score(reference, held, metadata, table)
    samples = max(1, min(MAX_SAMPLES, math.ceil(SYNTHETIC_ROWS_PER_SCORE / size), total // size))
    pool = gate_input.synthetic_sample(min(total, size * samples))[learned]
    scores, properties = [], []
    for chunk in np.array_split(np.arange(len(pool)), samples):
        score, props = quality_score(reference, pool.iloc[chunk], metadata, table)
        scores.append(score)
        properties.append(props)
    score = float(np.mean(scores))
    names = properties[0].keys()
    detail = ", ".join(f"{name.lower()} {np.mean([p.get(name, np.nan) for p in properties]):.3f}" for name in names)
    thresholds = [t for t in (floor, None if baseline is None else gates.quality_share * baseline) if t is not None]
    threshold = max(thresholds)
    if baseline is not None:
        detail += (f"; holdout baseline {baseline:.3f} ({size} rows), synthetic mean of {samples} sample(s) of "
                   f"{len(pool) // samples} rows; needs {gates.quality_share:g} x baseline"
                   + (f" and at least {floor:g}" if floor is not None else ""))
    log.debug("%s: quality %.3f (%s)", table, score, detail)
    return [GateResult(gate="quality", name="quality_score", value=round(score, 4), threshold=round(threshold, 4),
                       passed=score >= threshold, detail=detail,
                       baseline=None if baseline is None else round(baseline, 4))]
