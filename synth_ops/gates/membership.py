"""Membership inference: can an attacker who holds the synthetic rows tell whether a given real
row was among the rows the synthesizer was trained on? And the privacy loss its success proves.

Candidates. ``m`` members (a seeded sample of training rows) and ``m`` non-members (a seeded sample
of holdout rows, which the synthesizer never saw), ``m = min(holdout rows, gates.privacy_rows // 2)``.
They are judged on the learned columns, encoded exactly as the DCR gate encodes them
(``privacy.real_encoder``, fitted on all the real rows so that the encoding itself does not tell
members from non-members: numbers scaled to [0, 1] by their range, few categories one-hot, many by
frequency); the synthetic rows are the seeded sample of
``gates.privacy_rows`` rows the DCR gate measures too. Each attack gives every candidate a score,
higher meaning "was trained on":

distance    minus the Euclidean distance to the closest synthetic row: a model that memorised its
            training rows puts synthetic rows next to them.
density     in the spirit of DOMIAS (van Breugel et al. 2023), with k-nearest-neighbour densities:
            log r_k(population) - log r_k(synthetic), r_k the distance to the k-th nearest
            neighbour (k = ``K``, fewer on tiny sets), the population being the holdout rows (a
            seeded sample of at most ``gates.privacy_rows``) with the candidate itself left out
            when it is one of them, so members and non-members are treated alike. It is the log
            of the synthetic density over the real one (times the dimension, which changes no
            ranking): a row is suspicious where the synthetic rows are denser than real rows are,
            which the distance attack misses in dense regions and catches in sparse ones.

Per attack:

AUC             ROC AUC of the scores, members positive: 0.5 is chance, 1 a perfect attacker. Its
                bound is the one-sided 95% lower bound, AUC - 1.645 SE, SE Hanley and McNeil's at
                m and m; ``gates.membership_inference.auc_max`` is compared with that bound, so the
                gate fails only when the leakage is statistically clear (as exact_match and DCR do).
ROC curve       the attack's ROC curve at FPR 0, 0.05, ..., 1 (``ROC_POINTS``), for the report's chart:
                rates only, rounded, never a score or a value.
TPR at 1% FPR   the share of members scoring above the threshold that at most 1% of non-members
                exceed (the regime Carlini et al. 2022 argue matters: confident attacks on a few
                rows), with its Clopper-Pearson 95% interval (scipy's ``binomtest`` exact interval);
                not measured below 100 non-members.

Empirical epsilon (Jagielski et al. 2020; Carlini et al. 2022): an attack with true and false
positive rates TPR and FPR against an (epsilon, delta)-DP mechanism obeys
TPR <= e^epsilon FPR + delta and 1 - delta - FPR <= e^epsilon (1 - TPR), so
epsilon >= max(log((TPR - delta) / FPR), log((1 - delta - FPR) / (1 - TPR))). Taken at the
thresholds of 1%, 5% and 10% FPR (each where at least 1/FPR non-members make it measurable), with
the lower Clopper-Pearson limit of TPR and the upper of FPR, each two-sided interval at 1 - 0.05 / L
for the L (attack, level) pairs measured (Bonferroni), so the largest of them all is still a 95%
lower bound; clipped at 0. The threshold is an order statistic of the non-member scores, so the
upper FPR limit is taken at the count of non-members it allows above it (``floor(FPR n)``; ties at
the threshold can leave fewer), for which the Clopper-Pearson limit holds however the threshold
fell; the members never set it. delta is the spec's ``privacy.delta`` for a differentially
private fit, else 0. It is a *lower* bound on the privacy loss the attacks prove, not a guarantee:
for a DP fit, whose charged epsilon is an upper bound, it must not exceed that epsilon (the gate
checks that); for any other fit it is reported only.

No holdout rows: "not measured", failing where gated (``synth_ops.gates.without_holdout``). No
learned columns, or fewer than ``MIN_CANDIDATES`` candidates of each kind: "not measured", not
blocking.
"""

from __future__ import annotations

import math

from synth_ops.runtime.records import GateResult

K = 5
MIN_CANDIDATES = 10
FPR_LEVELS = (0.01, 0.05, 0.1)
ROC_POINTS = 21  # the report's chart: a 0.05 FPR grid keeps gates.json small
EPSILON_LOG = 1e-9  # inside the density logs: a distance of 0 (a duplicate) stays finite
ATTACKS = {
    "distance": "minus the distance to the closest synthetic row",
    "density": f"the log ratio of synthetic to holdout {K}-nearest-neighbour densities",
}


def candidate_rows(gate_input):
    """(members, non-members, population): ``m`` seeded training rows, ``m`` seeded holdout rows and the
    holdout rows the density attack takes as the population, of which the non-members are the first
    ``m``. The attribute inference gate judges the same candidates."""
    train, holdout = gate_input.real
    rows, seed = gate_input.ws.spec.gates.privacy_rows, gate_input.ws.spec.synthesizer.seed
    m = min(len(holdout), len(train), rows // 2)
    population = holdout.sample(min(len(holdout), rows), random_state=seed).reset_index(drop=True)
    members = train.sample(m, random_state=seed).reset_index(drop=True)
    return members, population.iloc[:m], population


def membership_gate(gate_input) -> list[GateResult]:
    from synth_ops.gates import not_measured, without_holdout

    settings = gate_input.ws.spec.gates.membership_inference
    if settings is None:
        return []
    threshold = settings.auc_max
    dp, delta, charged = _privacy_of(gate_input)
    checks = {f"membership[{attack}]": threshold for attack in ATTACKS} | {"empirical_epsilon": charged if dp else None}
    if unmeasured := without_holdout(gate_input, "membership", checks):
        return unmeasured
    columns = gate_input.learned
    members, non_members, population = candidate_rows(gate_input)
    synthetic = gate_input.synthetic_sample(gate_input.ws.spec.gates.privacy_rows) if columns else None
    m = len(members)
    why = (
        "no learned columns"
        if not columns
        else f"{m} candidate rows of each kind (holdout rows), fewer than {MIN_CANDIDATES}"
        if m < MIN_CANDIDATES
        else "no synthetic rows"
        if len(synthetic) == 0
        else None
    )
    if why is not None:
        return [not_measured("membership", name, limit, why) for name, limit in checks.items()]
    scores = _scores(gate_input, columns, members, non_members, population, synthetic)
    levels = [f for f in FPR_LEVELS if _allowed(f, m) >= 1]
    confidence = 1 - 0.05 / max(1, len(levels) * len(scores))  # Bonferroni over every (attack, level)
    results, epsilons = [], {}
    for attack, (inside, outside) in scores.items():
        result, epsilons[attack] = _judge(
            attack, inside, outside, threshold, levels, confidence, delta, len(synthetic), settings.tpr_max
        )
        results.append(result)
    results.append(_empirical_epsilon(epsilons, levels, confidence, delta, dp, charged, m))
    return results


def _privacy_of(gate_input) -> tuple[bool, float, float | None]:
    """(differentially private fit, its delta (0 otherwise), its charged per-fit epsilon)."""
    from synth_ops import synthesizers

    spec = gate_input.ws.spec
    kind = spec.synthesizer_of(gate_input.table).kind
    dp = bool(synthesizers.backend(kind).capabilities.differential_privacy) and spec.privacy is not None
    return dp, (spec.privacy.delta if dp else 0.0), (spec.privacy.epsilon if dp else None)


def _scores(gate_input, columns, members, non_members, population, synthetic) -> dict:
    """Per attack, (member scores, non-member scores)."""
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    from synth_ops.gates.privacy import _encode, real_encoder

    encoders = real_encoder(gate_input, columns)
    candidates = np.vstack([_encode(members, encoders), _encode(non_members, encoders)])
    m = len(members)
    encoded_synthetic = _encode(synthetic, encoders)
    k = max(1, min(K, len(encoded_synthetic), len(population) - 1))
    to_synthetic = NearestNeighbors(n_neighbors=k).fit(encoded_synthetic).kneighbors(candidates)[0]
    distance = -to_synthetic[:, 0]
    to_population = NearestNeighbors(n_neighbors=k + 1).fit(_encode(population, encoders)).kneighbors(candidates)[0]
    # a non-member is in the population at distance 0 from itself: its k-th neighbour other than
    # itself is the (k+1)-th (dropping any one neighbour at distance 0 leaves the same distances)
    r_population = np.r_[to_population[:m, k - 1], to_population[m:, k]]
    density = np.log(r_population + EPSILON_LOG) - np.log(to_synthetic[:, k - 1] + EPSILON_LOG)
    return {"distance": (distance[:m], distance[m:]), "density": (density[:m], density[m:])}


def _allowed(fpr: float, negatives: int) -> int:
    """Non-members that may score above the threshold at this false positive rate."""
    return int(math.floor(fpr * negatives + 1e-9))


def _at_fpr(inside, outside, fpr: float) -> tuple[int, int]:
    """(members, non-members) above the threshold that at most ``fpr`` of the non-members exceed."""
    import numpy as np

    threshold = np.sort(outside)[::-1][_allowed(fpr, len(outside))]
    return int((inside > threshold).sum()), int((outside > threshold).sum())


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval of a binomial proportion (scipy's)."""
    from scipy.stats import binomtest

    if n == 0:
        return 0.0, 1.0
    interval = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence, method="exact")
    return float(interval.low), float(interval.high)


def epsilon_lower_bound(
    true_positives: int, false_positives: int, positives: int, negatives: int, confidence: float, delta: float
) -> float:
    """The epsilon an attack with these counts proves at ``confidence`` (see the module docstring)."""
    tpr_low = clopper_pearson(true_positives, positives, confidence)[0]
    fpr_high = clopper_pearson(false_positives, negatives, confidence)[1]
    bounds = [0.0]
    if tpr_low - delta > 0:
        bounds.append(math.log((tpr_low - delta) / fpr_high))
    if 1 - delta - fpr_high > 0:
        bounds.append(math.log((1 - delta - fpr_high) / (1 - tpr_low)))
    return max(bounds)


def _judge(attack, inside, outside, threshold, levels, confidence, delta, synthetic_rows, tpr_max=None):
    import numpy as np
    from scipy.stats import norm
    from sklearn.metrics import roc_auc_score

    from synth_ops.gates.learning import auc_standard_error

    m, n = len(inside), len(outside)
    auc = float(roc_auc_score(np.r_[np.ones(m), np.zeros(n)], np.r_[inside, outside]))
    error = auc_standard_error(auc, m, n)
    lower = auc - float(norm.ppf(0.95)) * error  # the one-sided 95% lower bound
    rates, epsilon = {}, 0.0
    for fpr in levels:
        tp, fp = _at_fpr(inside, outside, fpr)
        rates[str(fpr)] = {"tpr": round(tp / m, 4), "fpr": round(fp / n, 4)}
        epsilon = max(epsilon, epsilon_lower_bound(tp, _allowed(fpr, n), m, n, confidence, delta))
    if 0.01 in levels:
        tp, _ = _at_fpr(inside, outside, 0.01)
        tpr, (tpr_low, tpr_high) = tp / m, clopper_pearson(tp, m)
        at_1pct = f"TPR at 1% FPR {tpr:.3f} (95% CI {tpr_low:.3f}-{tpr_high:.3f})"
    else:
        tpr = tpr_low = tpr_high = None
        at_1pct = f"TPR at 1% FPR not measured ({n} holdout candidates, fewer than 100)"
    # a few members singled out with confidence fail the gate even when the AUC stays low
    sure = tpr_max is not None and tpr_low is not None and tpr_low > tpr_max
    passed = (threshold is None or lower <= threshold) and not sure
    detail = (
        f"ROC AUC {auc:.3f} telling {m} training from {n} holdout rows by {ATTACKS[attack]} "
        f"({synthetic_rows} synthetic rows), lower 95% bound {lower:.3f}; {at_1pct}; 0.5 is chance"
        + ("; reported, not gated" if threshold is None else "")
        + (f"; FAILED on TPR at 1% FPR: its lower bound {tpr_low:.3f} > {tpr_max:g}" if sure else "")
    )
    measures = {
        "tpr_at_1pct_fpr": _rounded(tpr),
        "tpr_low": _rounded(tpr_low),
        "tpr_high": _rounded(tpr_high),
        "members": m,
        "non_members": n,
        "epsilon_lower_bound": round(epsilon, 4),
        "auc_standard_error": round(error, 4),
        "rates": rates,
        "roc": roc_points(np.r_[np.ones(m), np.zeros(n)], np.r_[inside, outside]),
    }
    return GateResult(
        gate="membership",
        name=f"membership[{attack}]",
        value=round(auc, 4),
        threshold=threshold,
        passed=passed,
        detail=detail,
        baseline=0.5,
        bound=round(lower, 4),
        measures=measures,
    ), epsilon


def roc_points(labels, scores, points: int = ROC_POINTS) -> list[list[float]]:
    """The ROC curve as ``[[fpr, tpr], ...]`` at ``points`` evenly spaced false positive rates.

    Between two thresholds the curve is the straight line that randomising between them achieves
    (the line the AUC integrates); at an FPR where the curve rises vertically (tied non-member
    scores), the top of the rise: the best rate an attacker reaches at that FPR."""
    import numpy as np
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    out = []
    for x in np.linspace(0, 1, points):
        left = int(np.searchsorted(fpr, x, side="right")) - 1  # the last point at or left of x: its top
        if fpr[left] == x or left + 1 == len(fpr):
            y = tpr[left]
        else:  # the next point is the bottom of the rise at the next FPR
            y = tpr[left] + (tpr[left + 1] - tpr[left]) * (x - fpr[left]) / (fpr[left + 1] - fpr[left])
        out.append([round(float(x), 4), round(float(y), 4)])
    return out


def _empirical_epsilon(epsilons: dict, levels, confidence, delta, dp, charged, m) -> GateResult:
    name = "empirical_epsilon"
    if not levels:
        return GateResult(
            gate="membership",
            name=name,
            value=None,
            threshold=charged if dp else None,
            passed=True,
            detail=f"not measured: {m} holdout candidates, too few for a 10% false positive rate",
        )
    value = round(max(epsilons.values()), 4)
    each = ", ".join(f"{a} {e:.3f}" for a, e in epsilons.items())
    detail = (
        f"a lower bound on the privacy loss implied by the membership attacks ({each}; at FPR "
        f"{', '.join(f'{f:g}' for f in levels)}, Clopper-Pearson at {confidence:.4f} each, delta {delta:g})"
    )
    if dp:
        passed = value <= charged
        detail += f"; the fit's differential privacy guarantees at most epsilon {charged:g}, an upper bound on it"
    else:
        passed = True
        detail += "; reported, not gated: the fit is not differentially private"
    return GateResult(
        gate="membership",
        name=name,
        value=value,
        threshold=charged if dp else None,
        passed=passed,
        detail=detail,
        baseline=0.0,
        measures={
            "attacks": {a: round(e, 4) for a, e in epsilons.items()},
            "delta": delta,
            "fpr_levels": list(levels),
            "confidence": round(confidence, 6),
        },
    )


def _rounded(number: float | None) -> float | None:
    return None if number is None else round(number, 4)
