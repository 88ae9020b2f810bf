"""``synthesizer.kind: auto`` (champion/challenger): which candidate kind models this table, by
evidence, not by guess.

A validation slice (``auto.VALIDATION_SHARE`` of the training rows, seeded) is carved from the
training rows; each candidate is fitted on the rest, samples as many rows, and is judged by the
run's own gates (quality, discriminator, utility where targets are declared, exact match, DCR,
membership), with the fitted rows as "training" and the validation slice as "holdout": the real
holdout stays untouched for the final gates. The best candidate passes every one of those gates
and has the best utility ratio where targets are declared, else the best quality against its
baseline; when none passes, the one failing fewest (then the same order). The first candidate is
the champion (``trees`` by default): the best challenger displaces it only when it fails fewer
gates, or beats it beyond the validation slice's noise (a utility ratio above the champion's upper
95% bound; a quality ratio more than ``QUALITY_MARGIN`` above). On a slice of a few dozen rows the
scores of two good candidates differ by chance: without the rule, auto swapped the default for
TabularARGN on fair, whose target a model barely predicts (R² 0.056 trained on real rows), and
the swapped model failed the holdout's utility gate. The winner is then fitted on all
the training rows, and that model is the one stored: generation, the sampler and the controls are
the winner's own. ``model.json``'s ``auto`` says who was tried, what each scored, who won and why.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from synth_ops.gates import GATES, GateInput

log = logging.getLogger("synth_ops")

# the gates a candidate is judged by: what tells candidates apart (the suites and the attacks on
# named columns judge the published rows, by the final gates)
JUDGED = frozenset(
    {"quality", "discriminator", "utility", "exact_match", "dcr_share", "pii_leak", "membership_inference"}
)
# how far a challenger's quality ratio must rise above the champion's to displace it: a margin, not
# a measured bound (the quality gate carries none); quality ratios sit at 0.97-1.02 on most tables
QUALITY_MARGIN = 0.02


class _Validation(GateInput):
    """The gates' view of one candidate: its sampled rows in memory, judged against the rows it was
    fitted on (as training rows) and the validation slice (as holdout)."""

    def __init__(self, ws, table, profile, fitted, validation, synthetic, controls):
        # only the learned columns are here: replaced (PII) columns are generated, the same for every
        # candidate, and judged on the published rows by the final gates
        profile = {**profile, "pii": {}}
        super().__init__(ws=ws, table=table, profile=profile, shard_paths=[], shards=[])
        self.frame = synthetic
        self.shards = [_Shard(len(synthetic))]
        self.__dict__["real"] = (fitted, validation)
        self.__dict__["controls"] = controls

    def iter_synthetic(self, batch_rows: int = 200_000, columns: list[str] | None = None):
        yield self.frame if columns is None else self.frame[columns]

    def _sample(self, rows: int, skip: int = 0):
        frame = self.frame.iloc[skip:]
        return frame.sample(min(rows, len(frame)), random_state=self.ws.spec.synthesizer.seed).reset_index(drop=True)


class _Shard:
    def __init__(self, rows: int):
        self.rows = rows


def choose(ws, table: str, train, metadata: dict, context, settings, privacy) -> tuple[Any, dict]:
    """(the winner fitted on ``train``, what model.json says: the winner's fit and ``auto``)."""
    import numpy as np

    from synth_ops import synthesizers
    from synth_ops.synthesizers.auto import VALIDATION_SHARE, candidates

    kinds, budget, per_kind = candidates(settings.params)
    asked = ws.spec.tables[table].generate.needed if ws.spec.tables[table].generate else set()
    eligible = [k for k in kinds if asked <= set(synthesizers.capabilities(k).controls)]
    rng = np.random.default_rng([settings.seed, 0xA070])
    order = rng.permutation(len(train))
    cut = max(1, int(round(len(train) * VALIDATION_SHARE)))
    validation, fitted = train.iloc[np.sort(order[:cut])], train.iloc[np.sort(order[cut:])]
    profile = ws.read(table, "profile.json")
    started, league = time.perf_counter(), []
    for kind in kinds:
        if kind not in eligible:
            league.append({"kind": kind, "skipped": f"does not support {', '.join(sorted(asked))}"})
            continue
        if league and any("gates" in c for c in league) and time.perf_counter() - started > budget:
            league.append({"kind": kind, "skipped": f"time budget of {budget:g} s spent"})
            continue
        league.append(
            _try(
                ws,
                table,
                kind,
                per_kind.get(kind, {}),
                settings,
                privacy,
                profile,
                fitted,
                validation,
                metadata,
                context,
            )
        )
    tried = [c for c in league if "gates" in c]
    if not tried:
        from synth_ops.errors import SpecError

        raise SpecError(f"synthesizer.params.candidates: no candidate supports {', '.join(sorted(asked))}")
    winner = _winner(tried)
    why = _why(winner, tried)
    log.info("%s: auto chose %s (%s)", table, winner["kind"], why)
    final = synthesizers.create(
        settings.model_copy(update={"kind": winner["kind"], "params": per_kind.get(winner["kind"], {})}), privacy
    )
    info = final.fit({table: train}, {table: metadata}, None, context=context)
    record = {
        "winner": winner["kind"],
        "why": why,
        "validation_rows": int(len(validation)),
        "fitted_rows": int(len(fitted)),
        "candidates": league,
    }
    return final, {**info, "auto": record}


def _try(ws, table, kind, params, settings, privacy, profile, fitted, validation, metadata, context) -> dict:
    import pandas as pd

    from synth_ops import synthesizers

    candidate = synthesizers.create(settings.model_copy(update={"kind": kind, "params": params}), privacy)
    began = time.perf_counter()
    candidate.fit({table: fitted}, {table: metadata}, None, context=context)
    fit_seconds = time.perf_counter() - began
    rows = list(candidate.sample(table, len(fitted), settings.seed, 50_000, controls=context.controls or None))
    synthetic = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(index=range(len(fitted)))
    gate_input = _Validation(ws, table, profile, fitted, validation, synthetic, context.controls or {})
    results = [
        r
        for gate in GATES
        if set(gate.checks) <= JUDGED and gate.applies(ws.spec, table)
        for r in gate(gate_input)
        if r.name != "pii_leak"
    ]
    return {
        "kind": kind,
        "fit_seconds": round(fit_seconds, 3),
        "passed": all(r.passed for r in results),
        "failed": [r.name for r in results if not r.passed],
        "gates": {
            r.name: {"value": r.value, "baseline": r.baseline, "bound": r.bound, "passed": r.passed} for r in results
        },
    }


def _ratio(candidate: dict, prefix: str) -> float:
    """The candidate's mean value/baseline over its gates named ``prefix``... (utility ratios are
    ratios already; quality is its score over the holdout's)."""
    values = []
    for name, gate in candidate["gates"].items():
        if not name.startswith(prefix) or gate["value"] is None:
            continue
        if prefix == "utility_ratio":
            values.append(float(gate["value"]))
        elif gate["baseline"]:
            values.append(float(gate["value"]) / float(gate["baseline"]))
    return sum(values) / len(values) if values else float("-inf")


def _rank(candidate: dict):
    """Lower is better: failing gates first, then utility (where declared), then quality."""
    return (len(candidate["failed"]), -_ratio(candidate, "utility_ratio"), -_ratio(candidate, "quality"))


def _winner(tried: list[dict]) -> dict:
    """The champion (the first candidate tried) unless the best challenger is clearly better."""
    champion, best = tried[0], min(tried, key=_rank)
    if best is champion or len(best["failed"]) < len(champion["failed"]):
        return best
    if len(best["failed"]) > len(champion["failed"]):
        return champion
    utility = _ratio(best, "utility_ratio")
    if utility != float("-inf") and _ratio(champion, "utility_ratio") != float("-inf"):
        return best if utility > _upper(champion) else champion
    return best if _ratio(best, "quality") > _ratio(champion, "quality") + QUALITY_MARGIN else champion


def _upper(candidate: dict) -> float:
    """The mean upper 95% bound of the candidate's utility ratios (its value where none is known)."""
    bounds = [
        float(gate["bound"] if gate.get("bound") is not None else gate["value"])
        for name, gate in candidate["gates"].items()
        if name.startswith("utility_ratio") and gate["value"] is not None
    ]
    return sum(bounds) / len(bounds) if bounds else float("-inf")


def _why(winner: dict, tried: list[dict]) -> str:
    others = [c for c in tried if c is not winner]
    if not others:
        return "the only candidate tried"
    utility = _ratio(winner, "utility_ratio")
    measure = (
        f"utility ratio {utility:.3f}"
        if utility != float("-inf")
        else f"quality {_ratio(winner, 'quality'):.3f} x baseline"
    )
    state = "passes every gate" if winner["passed"] else f"fails fewest gates ({len(winner['failed'])})"
    if winner is tried[0] and min(tried, key=_rank) is not winner:
        return f"{state}; the champion, no challenger clearly better on the validation slice ({measure})"
    return f"{state}; best {measure} on the validation slice"
