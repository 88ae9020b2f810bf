"""Privacy loss in zero-concentrated DP (zCDP): each DP fit spends ``rho``; fits compose by adding
their rho (Bun and Steinke 2016, Lemma 2.3); a total is reported as (epsilon, delta)-DP at the
budget's delta.

Between rho and (epsilon, delta) the conversion is OpenDP's own, ``make_zCDP_to_approxDP`` (Canonne,
Kamath and Steinke, "The Discrete Gaussian for Differential Privacy", NeurIPS 2020, Section 2.3),
the one OpenDP's mechanisms are accounted with, and tighter than Bun and Steinke's
rho + 2 sqrt(rho ln(1/delta)) (TCC 2016, Prop. 1.3) that the ledger used before. OpenDP
converts forward only (rho to a privacy profile, which answers epsilon at a delta or delta at an
epsilon); a fit declared as (epsilon, delta) runs with the largest rho whose profile stays within
it, found by ``brentq`` over that forward conversion. Both directions are deterministic and cached
(OpenDP's epsilon at a delta is a numeric search of its own: 3 ms a call on an idle core, 15-20
under load).
"""

from __future__ import annotations

import functools
import math

from synth_ops.errors import DependencyError


@functools.cache
def _converter():
    """OpenDP converts a measurement's privacy map, not a bare number: the Gaussian mechanism of
    scale 1 is rho-zCDP at sensitivity sqrt(2 rho) (OpenDP's map, (d / scale)^2 / 2, rounds up, so a
    profile is never looser than rho's). Imported module by module: ``opendp.prelude`` loads its
    extras (polars, mbi), seconds of imports that accounting does not use."""
    try:
        from opendp.combinators import make_zCDP_to_approxDP
        from opendp.domains import atom_domain
        from opendp.measurements import make_gaussian
        from opendp.metrics import absolute_distance
        from opendp.mod import enable_features
    except ImportError:
        raise DependencyError("privacy accounting needs OpenDP (opendp>=0.16): pip install 'synth-ops[dp]'") from None
    enable_features("contrib")  # what the DP backend enables too; the constructors below require it
    return make_zCDP_to_approxDP(make_gaussian(atom_domain(T=float, nan=False), absolute_distance(T=float), scale=1.0))


def _profile(rho: float):
    return _converter().map(math.sqrt(2.0 * rho))


def bun_steinke_epsilon(rho: float, delta: float) -> float:
    """Bun and Steinke 2016, Prop. 1.3: the looser bound the ledger used before OpenDP's conversion
    (kept as the bracket ``rho_of`` searches from, and for comparison)."""
    return 0.0 if rho <= 0 else rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))


def bun_steinke_rho(epsilon: float, delta: float) -> float:
    """The inverse of ``bun_steinke_epsilon`` in rho."""
    if epsilon <= 0:
        return 0.0
    log_term = math.log(1.0 / delta)
    return (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2


@functools.lru_cache(maxsize=4096)
def epsilon_of(rho: float, delta: float) -> float:
    """The epsilon at ``delta`` that rho-zCDP implies (OpenDP's conversion)."""
    if rho <= 0:
        return 0.0
    return float(_profile(rho).epsilon(delta))


@functools.lru_cache(maxsize=4096)
def rho_of(epsilon: float, delta: float) -> float:
    """The largest rho whose (epsilon, delta) conversion stays within ``epsilon`` at ``delta``.

    Searched as the root in rho of OpenDP's delta at ``epsilon`` (a direct formula there, 0.2 ms a
    call, where epsilon at a delta is a search), on a log scale since deltas are tiny. Bun and
    Steinke's rho is within the budget (their bound is looser), so the bracket starts there.

    The tighter conversion works both ways: a fit declared as (epsilon, delta) now runs with more
    rho (less noise) than under Bun and Steinke's bound, and fits compose in rho, so a budget holds
    fewer of them (63 fits of epsilon 1 at delta 1e-6 in a budget of epsilon 10 at delta 1e-6, 77
    before), each exactly as private as declared rather than more private than declared."""
    from scipy.optimize import brentq

    if epsilon <= 0:
        return 0.0

    def spent(rho: float) -> float:
        return float(_profile(rho).delta(epsilon))

    def excess(rho: float) -> float:
        # on a log scale for brentq's interpolation (deltas are tiny); a delta that rounds to 0 taken
        # as the smallest float, since brentq needs finite values
        return math.log(max(spent(rho), 5e-324)) - math.log(delta)

    low = bun_steinke_rho(epsilon, delta)
    while spent(low) > delta:  # not expected (OpenDP's bound is the tighter): keep the bracket honest
        low /= 2
    high = 2 * low
    while spent(high) <= delta:
        low, high = high, 2 * high
    rho = brentq(excess, low, high, xtol=1e-300, rtol=4 * 2.0**-52)
    # brentq's root is within its tolerance on either side of the crossing, and the log scale
    # rounds: step below it until OpenDP's delta is within the budget (a few ulps), or take the
    # bracket's end that is
    for _ in range(64):
        if spent(rho) <= delta:
            return rho
        rho = math.nextafter(rho, 0.0)
    return low
