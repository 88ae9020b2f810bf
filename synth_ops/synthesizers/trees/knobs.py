"""``synthesizer.params`` of ``kind: trees``: the privacy knobs and the visit order, with their
defaults, checked before anything is fitted (one SpecError naming ``synthesizer.params.<name>``).

min_leaf       real training rows a leaf holds at least (scikit-learn's ``min_samples_leaf``):
               every synthetic value is drawn from a pool of at least this many real rows.
               ``auto`` (the default) depends on what protects the donor beside the leaf:
               a number that smoothing moves gets leaves of 0.5% of the rows the trees are
               fitted on, at least 10 and at most 25; a column whose donors are drawn as they
               are (a category, a discrete number, any column with ``smoothing: none``) gets 25.
               Chosen on the corpus (docs/concepts/trees.md): smaller leaves
               are what a small table needs to keep its rare classes and interactions
               (seattle_weather, 1,169 rows: train-on-synthetic 0.63 of train-on-real at 25, 0.84
               at 10, 0.99 at 5), and what privacy cannot afford everywhere: at 5, penguins'
               synthetic rows sit closer to training rows than to holdout rows often enough to
               fail the DCR gate (share 0.72), and fair_pt's (481 rows, every column discrete)
               match training rows beyond the holdout's rate (exact-match and DCR fail); drawn
               as they are from leaves of 25, categories and discrete numbers pass on every
               corpus table. A number sets every leaf.
smoothing      ``density`` (synthpop's smoothing="density"): a donor of a continuous number is
               moved by a Gaussian kernel of its leaf's bandwidth (Silverman's rule, R's bw.nrd0),
               so rare numbers are not copies of real ones; ``none``: donors as they are. Discrete
               numbers (at most ``columns.DISCRETE_MAX`` values), values shared by at least
               ``rare_min`` training rows, and categories are never smoothed.
rare_min       how many training rows must share a value for it to be drawn as it is. A category
               with fewer is never drawn: its rows leave the donor pools (the leaf's other donors
               take their share, so no category's frequency is inflated globally; a leaf left
               without donors draws from its nearest ancestor's), and as a predictor they share one
               code. A number with fewer (or held by one row only) is smoothed (with ``smoothing:
               density``); a common one is not, so a column's spikes stay spikes. 10 is the usual
               small-cell threshold of statistical disclosure control. 1 turns the categories'
               protection off. A column none of whose categories reaches it uses 2 instead
               (model.json's ``rare_min_lowered`` names it).
tail_quantile  numbers are clipped to their ``q`` and ``1 - q`` quantiles, taken as order
               statistics (real values, so integers and discrete supports stay): 0.001 clips the
               top and bottom 0.1% of a large table and, on one of fewer than 1,000 rows, exactly
               its most extreme value at each end (the records most easily recognised). 0 turns it off.
linear         ``true`` (the default): with ``smoothing: density``, a continuous number without a
               spike or lattice whose earlier columns explain some of it gets a linear term over
               the earlier numbers and small categories (``model.linear_term``): its donors are residuals and a row's value is its own
               prediction plus a drawn residual, so a slope within a leaf is not flattened into a
               step (diabetes' disease progression given bmi and blood pressure). Its values are
               not real values, and stay within the column's range. ``false``: donors as values.
order          the visit order: a permutation of the learned columns (default: ``order.py``).
max_depth      a cap on each tree's depth (default: none; min_leaf bounds the trees already).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from synth_ops.errors import SpecError

MIN_LEAF = "auto"
AUTO_LEAF_SHARE, AUTO_LEAF_LEAST, AUTO_LEAF_MOST = 0.005, 10, 25
SMOOTHING = "density"
SMOOTHINGS = ("density", "none")
RARE_MIN = 10
TAIL_QUANTILE = 0.001


@dataclasses.dataclass(frozen=True)
class Knobs:
    min_leaf: int | str = MIN_LEAF
    smoothing: str = SMOOTHING
    rare_min: int = RARE_MIN
    tail_quantile: float = TAIL_QUANTILE
    linear: bool = True
    order: tuple[str, ...] | None = None
    max_depth: int | None = None
    exact_leaf: int | None = None  # set by resolved(): the leaves of columns drawn as they are

    def resolved(self, rows: int) -> Knobs:
        """These knobs with ``min_leaf: auto`` made numbers for a fit on ``rows`` rows: ``min_leaf``
        for the columns smoothing moves, ``exact_leaf`` for the ones drawn as they are."""
        if self.min_leaf != "auto":
            return dataclasses.replace(self, exact_leaf=self.min_leaf)
        leaf = min(AUTO_LEAF_MOST, max(AUTO_LEAF_LEAST, round(AUTO_LEAF_SHARE * rows)))
        return dataclasses.replace(
            self, min_leaf=leaf if self.smoothing == "density" else AUTO_LEAF_MOST, exact_leaf=AUTO_LEAF_MOST
        )

    def leaf(self, smoothed: bool) -> int:
        """The least rows of a leaf of a column's tree (resolved knobs): ``smoothed``, its donors are
        moved by smoothing."""
        return self.min_leaf if smoothed else self.exact_leaf

    def to_doc(self) -> dict[str, Any]:
        doc = dataclasses.asdict(self)
        doc["order"] = list(self.order) if self.order is not None else None
        return doc


def _integer(name: str, value: Any, least: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"synthesizer.params.{name}: expected an integer, got {type(value).__name__}"]
    if value < least:
        return [f"synthesizer.params.{name}: expected at least {least}, got {value}"]
    return []


def _order(value: Any, learned: list[str] | None) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(c, str) for c in value):
        return ["synthesizer.params.order: expected a list of learned column names"]
    if learned is None:
        return []
    unknown = [c for c in value if c not in learned]
    missing = [c for c in learned if c not in value]
    repeated = sorted({c for c in value if list(value).count(c) > 1})
    if unknown or missing or repeated:
        parts = [
            f"{label} {names}"
            for label, names in (("not learned:", unknown), ("missing:", missing), ("repeated:", repeated))
            if names
        ]
        return [
            f"synthesizer.params.order: expected a permutation of the {len(learned)} learned columns; "
            + ", ".join(parts)
        ]
    return []


def read_knobs(params: dict[str, Any], learned: list[str] | None = None) -> Knobs:
    """The knobs of ``params``, or one SpecError listing every problem. ``learned``: the table's
    learned columns, which ``order`` must be a permutation of (None: not checked here)."""
    known = {f.name for f in dataclasses.fields(Knobs)} - {"exact_leaf"}
    problems = [
        f"synthesizer.params.{name}: unknown parameter of trees (known: {', '.join(sorted(known))})"
        for name in params
        if name not in known
    ]
    if "min_leaf" in params and params["min_leaf"] != "auto":
        problems += [
            p.replace("expected an integer", "expected 'auto' or an integer")
            for p in _integer("min_leaf", params["min_leaf"], 1)
        ]
    if "rare_min" in params:
        problems += _integer("rare_min", params["rare_min"], 1)
    if "max_depth" in params and params["max_depth"] is not None:
        problems += _integer("max_depth", params["max_depth"], 1)
    if "smoothing" in params and params["smoothing"] not in SMOOTHINGS:
        problems.append(
            f"synthesizer.params.smoothing: expected one of {', '.join(SMOOTHINGS)}, got {params['smoothing']!r}"
        )
    if "tail_quantile" in params:
        value = params["tail_quantile"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 0.5:
            problems.append(f"synthesizer.params.tail_quantile: expected a number in [0, 0.5), got {value!r}")
    if "linear" in params and not isinstance(params["linear"], bool):
        problems.append(f"synthesizer.params.linear: expected true or false, got {params['linear']!r}")
    if "order" in params and params["order"] is not None:
        problems += _order(params["order"], learned)
    if problems:
        raise SpecError("; ".join(problems))
    values = {name: params[name] for name in known if name in params}
    if values.get("order") is not None:
        values["order"] = tuple(values["order"])
    if "tail_quantile" in values:
        values["tail_quantile"] = float(values["tail_quantile"])
    return Knobs(**values)
