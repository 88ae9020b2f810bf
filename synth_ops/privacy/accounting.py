"""Privacy loss in zero-concentrated DP (zCDP): each DP fit spends ``rho``; fits compose by adding
their rho; a total is reported as (epsilon, delta)-DP at the budget's delta.

Bun and Steinke, "Concentrated Differential Privacy: Simplifications, Extensions, and Lower
Bounds" (TCC 2016), Proposition 1.3: rho-zCDP implies (rho + 2 sqrt(rho ln(1/delta)), delta)-DP
for every delta > 0; Lemma 2.3: zCDP composes by adding rho. A fit declared as (epsilon, delta)
runs with the largest rho that satisfies it, the inverse of that conversion:
rho = (sqrt(ln(1/delta) + epsilon) - sqrt(ln(1/delta)))^2.
"""
from __future__ import annotations

import math


def epsilon_of(rho: float, delta: float) -> float:
    """The epsilon at ``delta`` that rho-zCDP implies (Bun and Steinke 2016, Prop. 1.3)."""
    if rho <= 0:
        return 0.0
    return rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def rho_of(epsilon: float, delta: float) -> float:
    """The largest rho whose (epsilon, delta) conversion stays within ``epsilon`` at ``delta``."""
    if epsilon <= 0:
        return 0.0
    log_term = math.log(1.0 / delta)
    return (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2
