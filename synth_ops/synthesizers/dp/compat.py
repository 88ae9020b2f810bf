"""The one module that reads OpenDP's private helpers (pinned <0.17, as ``sdv/compat.py`` is for
SDV): OpenDP 0.16's MST with its selection budget split so that OpenDP's own composition accepts it.

OpenDP's MST (``opendp.extras.mbi.MST``) gives its SELECT step ``d_select`` of rho and splits it
evenly among its ``n`` rounds (one per column but one) as ``prior(d_select / n)``: one ulp below an
exact share. OpenDP's adaptive composition then adds the ``n`` shares back rounding each addition
up, and for five rounds or more that sum often comes out above ``d_select`` (by an ulp or two), so
the compositor refuses the step: "insufficient budget for query". The refusal reads only public
numbers (rho, the shares, the number of columns), never the rows, and it does not depend on rho's
size: every rho of a nine-column table fails (eight rounds), so retrying at a lower rho never helps.
Apparently upstream's open opendp/opendp#2789 (MST refused on an eight-column table).

``MST`` here is OpenDP's, except for one line: the SELECT step is built at the largest budget whose
OpenDP privacy map is within ``d_select`` (``_within``), a few ulps lower, so it spends at most
what OpenDP's MST allots it and the whole release at most the rho it was given. The rest is
OpenDP 0.16's ``MST.make_marginals`` as is (private helpers of the same version: pinned <0.17).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import opendp.prelude as dp
from opendp._internal import _new_pure_function
from opendp.combinators import then_adaptive_composition
from opendp.extras.mbi._mst import _make_mst_select
from opendp.extras.mbi._utilities import (
    get_associated_metric,
    make_noise_marginals,
    make_stable_marginals,
    prior,
)
from opendp.mod import binary_search_chain


def _within(make, d_in, d_out: float):
    """``make(d)`` for the largest ``d`` tried (``d_out``, then lower by 1, 2, 4, ... ulps) whose
    privacy map at ``d_in`` is at most ``d_out``: OpenDP's composition rounds up, so the shares
    ``d_out`` splits into can add back to more than ``d_out``. Each round's rounding adds at most an
    ulp of ``d_out``, so doubling the gap ends in a few tries (two on fair's nine columns, four on
    seventeen columns)."""
    d, gap = d_out, math.ulp(d_out)
    while d > 0:
        measurement = make(d)
        if measurement.map(d_in) <= d_out:
            return measurement
        d, gap = d_out - gap, 2 * gap
    # not reached: a budget of 0 composes to 0
    raise RuntimeError("OpenDP's MST selection fits no budget within its share")


@dataclass(kw_only=True, frozen=True)
class MST(dp.mbi.MST):
    def make_marginals(self, input_domain, input_metric, output_measure, d_in, d_out: float, *, marginals, model: Any):
        from mbi import MarkovRandomField

        if not isinstance(model, MarkovRandomField):
            raise ValueError("model must be a MarkovRandomField")

        d_measure = d_out * self.measure_split
        d_select = prior(prior(d_out - d_measure))
        edges = list(itertools.combinations(input_domain.columns, 2))
        t_marginals = make_stable_marginals(input_domain, input_metric, get_associated_metric(output_measure), edges)
        d_marginals = t_marginals.map(d_in)

        def function(qbl):
            # SELECT the pairs, within d_select as OpenDP composes it (the one change from OpenDP's MST)
            m_select = _within(
                lambda d: _make_mst_select(
                    *t_marginals.output_space,
                    output_measure,
                    d_in=d_marginals,
                    d_out=d,
                    edges=edges,
                    model=model,
                    num_selections=self.num_selections,
                ),
                d_marginals,
                d_select,
            )
            selected_cliques = qbl(m_select)
            # MEASURE them with noise
            m_measure = binary_search_chain(
                lambda s: make_noise_marginals(*t_marginals.output_space, output_measure, selected_cliques, scale=s),
                d_in=d_marginals,
                d_out=d_measure,
                T=float,
            )
            all_marginals = marginals.add(*qbl(m_measure))
            # GENERATE: fit the model to every measurement
            return all_marginals, self.estimator(model.domain, all_marginals.flatten(), potentials=model.potentials)

        return (
            t_marginals
            >> then_adaptive_composition(output_measure=output_measure, d_in=d_marginals, d_mids=[d_select, d_measure])
            >> _new_pure_function(function)
        )
