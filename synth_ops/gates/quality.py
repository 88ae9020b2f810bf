"""The fidelity gate: SDMetrics quality score (column shapes and column-pair trends).

Synthetic rows are compared with the training rows the model saw, both on a seeded subsample of
at most ``gates.quality_rows`` rows, so the gate stays fast on large tables.
"""
from __future__ import annotations

import logging
import warnings

from synth_ops.records import GateResult

log = logging.getLogger("synth_ops")


def quality_gate(gate_input) -> list[GateResult]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated in favour of sdmetrics.reports, same API today
        from sdmetrics.reports.single_table import QualityReport

    gates = gate_input.ws.spec.gates
    real = gate_input.real_sample(gates.quality_rows)
    synthetic = gate_input.synthetic_sample(gates.quality_rows)
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, synthetic[real.columns], gate_input.metadata, verbose=False)
    score = float(report.get_score())
    properties = {row["Property"]: float(row["Score"]) for _, row in report.get_properties().iterrows()}
    detail = ", ".join(f"{name.lower()} {value:.3f}" for name, value in properties.items())
    log.debug("%s: quality %.3f (%s)", gate_input.table, score, detail)
    return [GateResult(gate="quality", name="quality_score", value=round(score, 4), threshold=gates.quality_min,
                       passed=score >= gates.quality_min, detail=detail)]
