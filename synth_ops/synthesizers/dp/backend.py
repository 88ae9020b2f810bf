"""``synthesizer.kind: dp_mst`` and ``dp_aim``: differentially private synthesizers from OpenDP's
``opendp[mbi]`` (MST: McKenna, Miklau and Sheldon 2021; AIM: McKenna et al. 2022), behind the
synthesizer contract.

The fit is the only step that reads real rows through a DP mechanism: each learned column coded
in its public domain (``domains.py``), OpenDP measures noisy marginals under rho-zCDP, where rho
is what the spec's ``privacy.epsilon`` and ``delta`` allow (``synth_ops/privacy/accounting.py``),
and estimates a graphical model from them. The model is kept as plain arrays: one conditional
probability table per column in an ancestral order (``tables.py``), so sampling is numpy with a
seeded generator (any number of rows, any shard, no further privacy cost) and the pickle holds no
OpenDP, JAX or mbi object.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import SpecError
from synth_ops.synthesizers.base import Capabilities, Synthesizer

# per kind: parameter -> (type, default); "bins" cuts numbers and datetimes, "iters" bounds the
# estimator's mirror-descent iterations (OpenDP's default 1000 is slow for little gain here).
# "oneway_split" is the share of rho spent measuring every column's one-way marginal first, as MST
# and AIM do in their papers: their selection scores a pair by how badly the model fitted so far
# predicts it, and without one-way measurements that model is uniform, so the score rewards wide,
# skewed pairs rather than dependent ones (measured on penguins: species-island, the strongest
# dependence, was chosen in 13 of 30 MST fits at epsilon 1 without them, in 24 of 30 with them).
# shares of rho, in (0, 1]; True where 1 itself is allowed (OpenDP refuses oneway_split 1)
_SHARES = {"measure_split": True, "oneway_split": False}
_PARAMS = {
    "dp_mst": {"bins": (int, 16), "iters": (int, 300), "measure_split": (float, 0.9), "oneway_split": (float, 0.5)},
    "dp_aim": {
        "bins": (int, 16),
        "iters": (int, 300),
        "measure_split": (float, 0.9),
        "oneway_split": (float, 0.5),
        "rounds": (int, None),
        "max_size": (float, 80.0),
        "queries": (int, 3),
    },
}


class DPSynthesizer(Synthesizer):
    kinds = tuple(_PARAMS)
    library = "opendp"
    capabilities = Capabilities(differential_privacy=True, shards=True)

    def _param(self, name: str):
        return self.params.get(name, _PARAMS[self.kind][name][1])

    def _check(self, metadata: dict[str, dict]) -> None:
        known = _PARAMS[self.kind]
        problems = []
        for name, value in self.params.items():
            if name not in known:
                problems.append(
                    f"synthesizer.params.{name}: unknown parameter of {self.kind} (known: {', '.join(sorted(known))})"
                )
            elif isinstance(value, bool) or not isinstance(value, (known[name][0], int)) or value <= 0:
                problems.append(f"synthesizer.params.{name}: expected a positive {known[name][0].__name__}")
        for name, one_allowed in _SHARES.items():
            value = self.params.get(name)
            if value is not None and not problems and not (0 < value < 1 or (one_allowed and value == 1)):
                problems.append(f"synthesizer.params.{name}: expected a share in (0, 1{']' if one_allowed else ')'}")
        privacy = self.options.get("privacy")
        if privacy is None:
            problems.append(
                f"privacy: synthesizer.kind {self.kind} spends privacy: set privacy.epsilon, "
                "privacy.delta and privacy.budget"
            )
        if problems:
            raise SpecError("; ".join(problems))
        for table, columns_metadata in metadata.items():
            from synth_ops.synthesizers.dp.domains import column_domains

            column_domains(
                table, list(columns_metadata.get("columns", {})), columns_metadata, privacy, self._param("bins")
            )

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        import functools

        import numpy as np
        import polars as pl

        from synth_ops.privacy.accounting import rho_of
        from synth_ops.synthesizers.dp import tables
        from synth_ops.synthesizers.dp.domains import column_domains

        ((table, frame),) = data.items()
        privacy = self.options["privacy"]
        self.domains = column_domains(table, list(frame.columns), metadata[table], privacy, self._param("bins"))
        self.columns = list(frame.columns)
        self.rho = rho_of(privacy["epsilon"], privacy["delta"])
        if not self.columns:
            self.model = None
            return {"dp": {"rho": self.rho, "columns": {}}}
        codes = {}
        for column, domain in self.domains.items():
            values = domain.encode(frame[column])
            codes[column] = pl.Series(column, [None if np.isnan(v) else int(v) for v in values], dtype=pl.Int64)
        lf = pl.LazyFrame(codes)
        keys = {column: list(range(domain.size)) for column, domain in self.domains.items()}

        import mbi

        estimator = functools.partial(mbi.estimation.mirror_descent, iters=self._param("iters"))
        context, released = self._release(lf, keys, estimator)
        self.model = tables.from_release(released, self.columns)
        return {
            "dp": {
                "rho": self.rho,
                "spent_rho": float(context.current_privacy_loss()),
                "cliques": [list(c) for c in released.model.cliques],
                # what OpenDP measured with noise: every column alone, then the chosen sets
                "measured": [list(c) for c in released.marginals.cliques()],
                "columns": {c: {"kind": d.kind, "size": d.size} for c, d in self.domains.items()},
            }
        }

    def _algorithm(self, estimator):
        import opendp.prelude as dp

        common = {
            "measure_split": self._param("measure_split"),
            "oneway": "all",
            "oneway_split": self._param("oneway_split"),
            "estimator": estimator,
        }
        if self.kind == "dp_mst":
            from synth_ops.synthesizers.dp.compat import MST  # OpenDP's, with its selection split fixed

            return MST(**common)
        return dp.mbi.AIM(
            **common, queries=self._param("queries"), max_size=self._param("max_size"), rounds=self._param("rounds")
        )

    def _release(self, lf, keys: dict[str, list], estimator):
        """OpenDP's release at the accounted rho, in one attempt.

        No retry at a lower rho: the refusal seen on fair ("insufficient budget for query", 2 ulps
        over) was OpenDP's MST splitting its selection budget into shares whose rounded-up sum
        exceeds it, the same for every rho of a table with that many columns (``compat.py`` builds
        that step within its share); a refusal now is a bug to report, not a rounding to retry."""
        return _release(lf, keys, self._algorithm(estimator), self.rho)

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        import numpy as np
        import pandas as pd

        from synth_ops.synthesizers.dp import tables

        rng = np.random.default_rng([seed, zlib.crc32(table.encode())])
        for start in range(0, rows, batch_rows):
            n = min(batch_rows, rows - start)
            if self.model is None:
                yield pd.DataFrame(index=range(n))
                continue
            codes = tables.sample(self.model, n, rng)
            yield pd.DataFrame(
                {c: self.domains[c].decode(codes[c], rng).to_numpy() for c in self.columns}, index=range(n)
            )


def _release(lf, keys: dict[str, list], algorithm, rho: float):
    """OpenDP's contingency-table release of ``lf`` under rho-zCDP: (context, ContingencyTable)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    # one row per person (contributions=1): the unit a DP guarantee on a table of people means
    context = dp.Context.compositor(data=lf, privacy_unit=dp.unit_of(contributions=1), privacy_loss=dp.loss_of(rho=rho))
    return context, context.query(rho=rho).contingency_table(keys=keys, algorithm=algorithm).release()
