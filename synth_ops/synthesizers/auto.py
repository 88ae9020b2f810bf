"""``synthesizer.kind: auto``: champion/challenger. This class is what the spec and the plan see
(its params checked before anything is fitted, its capabilities); the choosing is the fit step's
(``steps/auto.py``: it judges candidates with the gates, which sit above the backends), and the
model it stores is the winning candidate's own, so generation, the portable sampler and the
controls are the winner's.

params:
    candidates      the kinds tried, in order (default: ``DEFAULT_CANDIDATES``, plus
                    ``tabular_argn`` when its backend is installed); any registered single-table,
                    non-DP kind but ``auto``
    time_budget_s   once this many seconds have gone, no further candidate starts (at least one
                    runs); default 600
    params          per candidate kind, its own params (``{trees: {min_leaf: 10}}``)
"""

from __future__ import annotations

from typing import Any

from synth_ops.errors import SpecError
from synth_ops.synthesizers.base import Capabilities, Synthesizer

DEFAULT_CANDIDATES = ("trees", "gaussian_copula")
TIME_BUDGET_S = 600.0
VALIDATION_SHARE = 0.2  # of the training rows, carved for judging candidates (the holdout stays untouched)


class AutoSynthesizer(Synthesizer):
    kinds = ("auto",)
    library = "python"
    # what any candidate can: a control is honoured by the candidates that support it (the others
    # are not tried); shards and the portable sampler are the winner's
    capabilities = Capabilities(
        shards=True, controls=("rebalance", "fairness", "conditions", "ranges", "impute", "temperature")
    )

    def _check(self, metadata: dict[str, dict]) -> None:
        from synth_ops import synthesizers

        kinds, _, per_kind = candidates(self.params)
        for kind in kinds:  # each candidate's own params, before anything is fitted
            synthesizers.backend(kind)(kind, per_kind.get(kind, {}), self.seed, self.options).check(metadata)

    def _fit(self, data, metadata, *relations):
        raise SpecError("synthesizer.kind: auto is fitted by the fit step (synth_ops.steps.auto), not directly")


def candidates(params: dict[str, Any]) -> tuple[list[str], float, dict[str, dict]]:
    """(candidate kinds, time budget in seconds, params per kind) of ``params``; SpecError naming
    the field for anything else."""
    from synth_ops import synthesizers
    from synth_ops.spec.kinds import kinds
    from synth_ops.synthesizers.argn.backend import engine_installed

    problems = []
    unknown = sorted(set(params) - {"candidates", "time_budget_s", "params"})
    problems += [f"synthesizer.params.{name}: unknown parameter of auto" for name in unknown]
    chosen = params.get("candidates")
    if chosen is None:
        chosen = list(DEFAULT_CANDIDATES) + (["tabular_argn"] if engine_installed() else [])
    elif not isinstance(chosen, list) or not chosen or not all(isinstance(k, str) for k in chosen):
        problems.append("synthesizer.params.candidates: expected a non-empty list of kinds")
        chosen = []
    for index, kind in enumerate(chosen):
        if kind == "auto" or kind not in kinds():
            problems.append(f"synthesizer.params.candidates.{index}: {kind!r} is not a kind auto can try")
            continue
        capabilities = synthesizers.capabilities(kind)
        if capabilities.differential_privacy:
            problems.append(f"synthesizer.params.candidates.{index}: {kind} is differentially private; choose it alone")
    budget = params.get("time_budget_s", TIME_BUDGET_S)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
        problems.append("synthesizer.params.time_budget_s: expected seconds above 0")
    per_kind = params.get("params", {})
    if not isinstance(per_kind, dict) or not all(isinstance(v, dict) for v in per_kind.values()):
        problems.append("synthesizer.params.params: expected {kind: {param: value}}")
        per_kind = {}
    problems += [
        f"synthesizer.params.params.{kind}: not a candidate" for kind in per_kind if kind not in (chosen or [])
    ]
    if problems:
        raise SpecError("; ".join(problems))
    return list(dict.fromkeys(chosen)), float(budget), per_kind
