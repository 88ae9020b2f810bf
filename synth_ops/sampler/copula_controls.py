"""Generation controls (``tables.<t>.generate``: ``spec/controls.py``) inside a copula sampler.

The controlled columns' normal scores are set first and every other column is drawn given them
(the Schur complement of the copula's correlation, as a child table is drawn given its parent): no
rejection, so a rebalanced 1% class costs one extra product and a few array passes, not 50x the
draws. Any copula sampler is steered the same way (synth-ops' ``copula``, SDV's
``gaussian_copula``), since every controlled value is located on the column's own decoding, which
is monotone in the score: bisection finds the interval of scores that decodes to a value or a range.

rebalance    the column's score is drawn within the interval of a category picked at the requested
             shares (its other categories share the rest in the model's own proportions)
fairness     the sensitive columns drawn jointly, as the copula draws them; the target's score
             drawn apart from them at its overall (or rebalanced) shares; the rest given both
conditions   a condition's rows (the release's first rows, condition after condition) take its
             values: a score within the interval that decodes to the value (a number's exact value
             where that interval is a point) or into the range, uniform in probability within it
impute       what makes a null (the column's own score below its null share, or its indicator
             column's score) keeps its conditional rank within the non-null part; nulls drawn at a
             rate are not drawn. Conditioned and rebalanced columns are never null either.

Each row takes a fixed number of normals and uniforms from its streams, drawn in row order, so the
same seed gives the same rows whatever the batch sizes. Only numpy: the normal CDF and its inverse
are tables (``_normal_table``), accurate to 1e-7 in probability, far below what a control asks.
"""

from __future__ import annotations

import functools
import zlib

from synth_ops.sampler import decoders
from synth_ops.sampler.controls import ControlError, condition_runs, value_text

STEERABLE = ("number", "datetime", "category", "label", "boolean")
BISECTIONS = 64  # halvings of the score range: far below a float64's spacing of the scores
RIDGE = 1e-9  # added to the conditioning block's diagonal: a column set twice (perfectly correlated) still solves
ONE_BELOW = 1.0 - 2.0**-53  # the greatest uniform below 1
INDICATOR_NULL = 0.5  # an indicator column's value above which its column is null (``decoders.null_mask``)


@functools.cache
def _normal_table():
    """(z, Phi(z)) for z from -9 to 0: the normal CDF by interpolation, the upper half by symmetry
    (so its tail does not lose its precision to 1 - p). Its inverse is ``NormalDraws``' own table."""
    import math

    import numpy as np

    z = np.linspace(-9.0, 0.0, 36_001)
    return z, np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in z])


def normal_cdf(z):
    import numpy as np

    grid, p = _normal_table()
    z = np.asarray(z, dtype="float64")
    lower = np.interp(-np.abs(z), grid, p)
    return np.where(z <= 0, lower, 1.0 - lower)


class _Column:
    """One output column as the controls see it: the copula column it reads, its decoding as a
    number that never decreases with the score (``key``: a value, a code's position, 0/1), and
    where its nulls come from."""

    def __init__(self, spec: dict, inverses: list, reach: float, where: str):
        self.spec, self.kind, self.j = spec, spec["kind"], spec["from"]
        if self.kind not in STEERABLE:
            raise ControlError(f"{where}: a {self.kind} column of this sampler cannot be controlled")
        self.inverse, self.inverses, self.reach = inverses[self.j], inverses, reach
        self.nulls = spec.get("nulls") or {}
        self._shares = None
        self._indicator_last = None
        self.texts = [value_text(v) for v in spec.get("values", ())] if self.kind in ("category", "label") else None
        # a category whose null is one of its values (synth-ops' copula), not a null mask: its code
        self.null_code = next((i for i, v in enumerate(spec.get("values", ())) if v is None), None)
        if self.texts is not None and self.null_code is not None:
            self.texts[self.null_code] = None  # never matches a requested value

    def key(self, z):
        import numpy as np

        spec = self.spec
        if self.kind == "category":
            x = z if spec.get("input") == "score" else self.inverse(z)
            if spec.get("clip"):
                x = np.clip(x, *spec["clip"])
            codes = np.searchsorted(np.asarray(spec["bounds"], dtype="float64"), x, side=spec.get("side", "left"))
            return np.minimum(codes, len(self.texts) - 1) if spec.get("overflow", "null") == "last" else codes
        values = decoders._apply(np.array(self.inverse(z), dtype="float64"), spec.get("ops", []))
        if self.kind == "label":
            first = spec["first_code"]
            return np.clip(np.round(values), first, first + len(self.texts) - 1) - first
        if self.kind == "boolean":
            return np.clip(np.round(values), 0, 1)
        return values

    def point(self, value, where: str) -> float:
        """The key a requested value decodes to."""
        if self.texts is not None:
            if value_text(value) not in self.texts:
                raise ControlError(f"{where}: the model never draws this value")
            return float(self.texts.index(value_text(value)))
        if self.kind == "boolean":
            return 1.0 if value_text(value).lower() in ("true", "1") else 0.0
        if self.kind == "datetime":
            import pandas as pd

            stamp = pd.Timestamp(value)
            if stamp.tzinfo is not None:
                stamp = stamp.tz_convert("UTC").tz_localize(None)
            return float(stamp.as_unit("ns").value)
        return float(value)

    def interval(self, low, high, where: str, point: bool = False):
        """(first score, last score) decoding into keys [low, high] (scalars), the null part left
        out; ControlError where no score decodes there. ``point``: a number's or datetime's exact
        value, whose interval is a point (a continuous column's) or falls between two values (a
        discrete one's, or beyond the column's range): the nearest score, its value set exactly."""
        import numpy as np

        first = _first(lambda z: self.key(z) >= low, 1, self.reach)[0]
        last = -_first(lambda z: self.key(-z) <= high, 1, self.reach)[0]
        if "below" in self.nulls:
            first = max(first, self.nulls["below"])
        if first <= last:
            return float(first), float(last)
        if point and self.kind in ("number", "datetime"):
            at = float(
                np.clip(
                    (np.clip(first, -self.reach, self.reach) + np.clip(last, -self.reach, self.reach)) / 2,
                    -self.reach,
                    self.reach,
                )
            )
            return at, at
        raise ControlError(f"{where}: the model draws no value there")

    def shares(self):
        """(first scores, last scores, probabilities) of each code of a category, label or boolean."""
        if self._shares is None:
            self._shares = self._code_intervals()
        return self._shares

    def _code_intervals(self):
        import numpy as np

        codes = np.arange(2 if self.texts is None else len(self.texts), dtype="float64")
        first = _first(lambda z: self.key(z) >= codes, len(codes), self.reach)
        last = -_first(lambda z: self.key(-z) <= codes, len(codes), self.reach)
        if "below" in self.nulls:
            first = np.maximum(first, self.nulls["below"])
        mass = np.where(first <= last, normal_cdf(last) - normal_cdf(first), 0.0)
        if self.null_code is not None:  # a null is never a picked category
            mass[self.null_code] = 0.0
        return first, last, mass

    def indicator_last(self) -> float:
        """The greatest score of this column's null indicator column that leaves it non-null."""
        if self._indicator_last is None:
            indicator = self.inverses[self.nulls["indicator"]]
            self._indicator_last = float(-_first(lambda z: indicator(-z) <= INDICATOR_NULL, 1, self.reach)[0])
        return self._indicator_last

    def exact(self, key: float):
        """The copula column's value that decodes to ``key`` exactly (a number or a datetime: its ops
        inverted), or None where the interval's own decoding is exact (codes, booleans)."""
        if self.kind not in ("number", "datetime"):
            return None
        for op in reversed(self.spec.get("ops", [])):
            if op[0] == "scale":
                key = key / op[1]
        return key


def _first(holds, size: int, reach: float):
    """Per request, the least score in [-reach, reach] where ``holds`` (a vectorised test that stays
    true once true as the score grows) is true; ``inf`` where it never is."""
    import numpy as np

    low, high = np.full(size, -reach), np.full(size, reach)
    at_low, at_high = holds(low), holds(high)
    for _ in range(BISECTIONS):
        middle = (low + high) / 2
        ok = holds(middle)
        high = np.where(ok, middle, high)
        low = np.where(ok, low, middle)
    return np.where(at_low, -reach, np.where(at_high, high, np.inf))


class CopulaControls:
    """Controls bound to one copula sampler's columns (``sampler.Sampler`` with no engine)."""

    def __init__(self, doc: dict, sampler, field: str):
        import numpy as np

        from synth_ops.sampler.normals import NormalDraws

        self.sampler, self.field, self.width = sampler, field, len(sampler.copula_columns)
        self._specs, self._reach, self._columns = (
            {spec["name"]: spec for spec in sampler.decoders},
            float(sampler.doc["grid"]["z"]),
            {},
        )
        self.correlation = sampler.factor @ sampler.factor.T
        self._quantiles = NormalDraws(None)  # its table turns uniforms into scores
        self._solved: dict[tuple, tuple] = {}
        self._buffers = None  # (normals, uniforms) of a batch, reused
        self.picked = None  # (column, cumulative shares by code, per code its bounds: _bounds)
        fairness, rebalance = doc.get("fairness"), doc.get("rebalance")
        if fairness or rebalance:
            name = fairness["target"] if fairness else rebalance["column"]
            where = f"{field}.fairness.target" if fairness else f"{field}.rebalance.column"
            self.picked = self._picks(self._column(name, where), (rebalance or {}).get("shares", {}))
        sensitive = (fairness or {}).get("sensitive", ())
        self.sensitive = [self._column(c, f"{field}.fairness.sensitive").j for c in sensitive]
        if self.sensitive:
            self._sensitive_factor = np.linalg.cholesky(self.correlation[np.ix_(self.sensitive, self.sensitive)])
        self.requested = list(doc.get("conditions", ()))
        self.conditions = [
            {
                name: self._condition(name, value, f"{field}.conditions.{index}.values.{name}")
                for name, value in condition["values"].items()
            }
            for index, condition in enumerate(self.requested)
        ]
        self.impute = [self._column(c, f"{field}.impute") for c in doc.get("impute", ())]
        set_columns = [self.picked[0].j] if self.picked else []
        set_columns += [column.j for condition in self.conditions for column, _, _ in condition.values()]
        self.slots = {j: k for k, j in enumerate(dict.fromkeys(set_columns))}  # each its two uniforms a row

    # -- binding ---------------------------------------------------------------------------------
    def _column(self, name: str, where: str) -> _Column:
        if name not in self._columns:
            if name not in self._specs:
                raise ControlError(f"{where}: {name!r} is not a column this sampler draws")
            self._columns[name] = _Column(self._specs[name], self.sampler.inverses, self._reach, where)
        return self._columns[name]

    def _picks(self, column: _Column, requested: dict):
        """(column, cumulative shares, bounds of each code): the requested shares, the column's
        other codes the rest in the model's own proportions."""
        import numpy as np

        where = f"{self.field}.rebalance.shares"
        if column.texts is None and column.kind != "boolean":
            raise ControlError(f"{where}: the column is not a category of this sampler")
        first, last, mass = column.shares()
        shares = np.zeros(len(mass))
        listed = np.zeros(len(mass), dtype=bool)
        for value, share in requested.items():
            code = int(column.point(value, where))
            if mass[code] <= 0:
                raise ControlError(f"{where}: the model never draws this value")
            shares[code], listed[code] = float(share), True
        others = np.where(listed, 0.0, mass)
        if others.sum() > 0:
            shares += max(0.0, 1.0 - shares.sum()) * others / others.sum()
        return column, np.cumsum(shares / shares.sum()), _bounds(first, last)

    def _condition(self, name: str, value, where: str):
        """(column, bounds of its scores: _bounds, exact value or None) of one condition's column."""
        column = self._column(name, where)
        if isinstance(value, (list, tuple)):
            return (
                column,
                _bounds(*column.interval(column.point(value[0], where), column.point(value[1], where), where)),
                None,
            )
        key = column.point(value, where)
        return column, _bounds(*column.interval(key, key, where, point=True)), column.exact(key)

    # -- drawing ---------------------------------------------------------------------------------
    def streams(self, seed: int, table: str):
        """The uniforms placing each set score within its interval: their own stream, two a copula
        column a row (the normals are the sampler's own stream, one a column a row)."""
        import numpy as np

        return np.random.Generator(np.random.SFC64(np.random.SeedSequence([seed, zlib.crc32(table.encode()), 2])))

    def batches(self, normals, uniforms, rows: int, batch_rows: int, first_row: int):
        """decoders.Batch of ``rows`` steered rows: at most ``batch_rows`` each, split where a
        condition's rows end."""
        for start in range(0, rows, max(batch_rows, 1)):
            size = min(batch_rows, rows - start)
            for index, count in condition_runs(self.requested, first_row + start, size):
                yield self._batch(index, count, normals, uniforms)

    def _batch(self, condition: int, rows: int, normals, uniforms) -> decoders.Batch:
        import numpy as np

        # a fixed count of each stream a row (the sampler's normals, two uniforms a set column),
        # whichever columns this row's control sets: the same rows whatever the batch sizes
        if self._buffers is None or len(self._buffers[0]) < rows:  # one pair for the run: fresh
            # arrays a batch paid their page faults again (as ``Sampler._score_batches`` says)
            self._buffers = (np.empty((rows, self.width)), np.empty((rows, 2 * len(self.slots))))
        draws, spread = normals.fill(self._buffers[0][:rows]), self._buffers[1][:rows]
        uniforms.random(out=spread)
        given, exact, off_null = {}, {}, list(self.impute)
        if self.sensitive:  # drawn jointly, as the copula draws them
            joint = self._sensitive_factor @ draws[:, self.sensitive].T
            given.update(zip(self.sensitive, joint))
        if self.picked is not None:
            column, cumulative, bounds = self.picked
            slot = 2 * self.slots[column.j]
            codes = np.minimum(np.searchsorted(cumulative, spread[:, slot], side="right"), len(cumulative) - 1)
            given[column.j] = self._within([b.take(codes) for b in bounds], spread[:, slot + 1])
            off_null.append(column)
        for column, bounds, value in self.conditions[condition].values() if condition >= 0 else ():
            given[column.j] = self._within(bounds, spread[:, 2 * self.slots[column.j] + 1])
            if value is not None:
                exact[column.j] = np.full(rows, value)
            off_null.append(column)
        known = tuple(sorted(given))
        # the Schur complement, a row of the copula each: rest = L e + W known, known as given
        noise, weights = self._solve(known)
        scores = noise @ draws.T
        if known:
            scratch = np.empty(rows)
            for i, j in enumerate(known):  # a few axpys in place: no (width, rows) temporary
                for row in np.flatnonzero(weights[:, i]):
                    scores[row] += np.multiply(given[j], weights[row, i], out=scratch)
            for j in known:
                scores[j] = given[j]
        never_null = set()
        for column in off_null:
            never_null |= self._off_null(column, scores, given)
        batch = decoders.Batch(scores, self.sampler.inverses)
        batch.never_null = frozenset(never_null)
        batch._values.update(exact)  # a number's exact value, where its interval is a point
        return batch

    def _within(self, bounds, uniforms):
        """A score per row uniform in probability within its interval (``bounds``: first score,
        last score and their probabilities, per row or one for all), kept within it."""
        import numpy as np

        first, last, low, high = bounds
        return np.clip(self._normal_quantile(low + uniforms * (high - low)), first, last)

    def _normal_quantile(self, u):
        """Phi^-1 of ``u`` (a new array) by the sampler's own table (``NormalDraws.quantiles``)."""
        import numpy as np

        return self._quantiles.quantiles(np.ascontiguousarray(np.clip(u, 0.0, ONE_BELOW), dtype="float64"))

    def _solve(self, known: tuple):
        """(noise, weights) of drawing every copula column but ``known`` given them, as full-width
        matrices: ``noise @ e + weights @ known`` (e: a row's standard normals), whose rows of
        ``known`` are zero: the residual's Cholesky factor and Sigma_rk Sigma_kk^-1."""
        import numpy as np

        if known not in self._solved:
            rest = [j for j in range(self.width) if j not in known]
            noise, weights = np.zeros((self.width, self.width)), np.zeros((self.width, len(known)))
            s_rr = self.correlation[np.ix_(rest, rest)]
            if known:
                s_kk = self.correlation[np.ix_(known, known)] + RIDGE * np.eye(len(known))
                s_rk = self.correlation[np.ix_(rest, known)]
                weights[rest] = np.linalg.solve(s_kk, s_rk.T).T
                s_rr = s_rr - weights[rest] @ s_rk.T
            if rest:
                s_rr = (s_rr + s_rr.T) / 2
                values, vectors = np.linalg.eigh(s_rr)
                noise[np.ix_(rest, rest)] = np.linalg.cholesky((vectors * np.clip(values, 1e-12, None)) @ vectors.T)
            self._solved[known] = (noise, weights)
        return self._solved[known]

    def _off_null(self, column: _Column, scores, given: dict) -> set[int]:
        """Keep ``column``'s rows off its null part: its own score (nulls below it) or its
        indicator's moved into the non-null part at the same conditional rank; a rate's null draws
        skipped (the copula columns returned)."""
        import numpy as np

        nulls = column.nulls
        if column.null_code is not None and column.j not in given:  # off the null code's interval, order kept
            first, last, _ = column.shares()
            low, high = first[column.null_code], last[column.null_code]
            start = normal_cdf(low)
            width = normal_cdf(high) - start
            moved = normal_cdf(scores[column.j]) * (1.0 - width)
            above = moved >= start
            z = self._normal_quantile(np.where(above, moved + width, moved))
            scores[column.j] = np.where(
                above, np.maximum(z, np.nextafter(high, np.inf)), np.minimum(z, np.nextafter(low, -np.inf))
            )
        elif "below" in nulls and column.j not in given:
            floor = normal_cdf(nulls["below"])
            moved = self._normal_quantile(floor + (1.0 - floor) * normal_cdf(scores[column.j]))
            scores[column.j] = np.maximum(moved, nulls["below"])
        elif "indicator" in nulls:
            i, last = nulls["indicator"], column.indicator_last()
            scores[i] = np.minimum(self._normal_quantile(normal_cdf(last) * normal_cdf(scores[i])), last)
        elif "rate" in nulls:
            return {column.j}
        return set()


def _bounds(first, last):
    """(first score, last score, their probabilities): an interval as ``_within`` reads it."""
    import numpy as np

    first, last = np.asarray(first, dtype="float64"), np.asarray(last, dtype="float64")
    return first, last, normal_cdf(first), normal_cdf(last)
