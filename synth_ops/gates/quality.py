"""The fidelity gate: SDMetrics quality score (column shapes and column-pair trends), judged against
what real data achieves.

Two disjoint halves of a real table do not score 1.0 against each other: on a high-cardinality
table they score 0.43. So the score of the synthetic rows is compared with a *baseline*, the
holdout rows (real rows the model never saw) scored against the training rows by the same measure
with the same sample sizes: the synthetic rows pass when they reach ``gates.quality_share`` of the
baseline (and ``gates.quality_min``, an absolute floor, when set). As mostlyai-qa compares a
synthesizer's accuracy with its holdout's.

Only learned columns are scored: keys, ids, replaced and constant columns are generated, not
learned from the real rows. Samples are seeded; the synthetic score is the mean over up to three
disjoint samples of the holdout's size, so a small table's synthetic noise averages out.

The score is the one SDMetrics' ``QualityReport`` (0.32) computes, computed here so that its cost
grows linearly with the number of columns (the report scores every one of the k(k-1)/2 column
pairs, once per comparison: 19,900 pairs at 200 columns, four times a run):

- column shapes, on every learned column: KSComplement (numerical, datetime) and TVComplement
  (categorical, ordinal, boolean), exactly as ``ColumnShapes`` applies them;
- column-pair trends, on every pair when there are at most ``MAX_PAIRS``, else on a seeded uniform
  sample of ``MAX_PAIRS`` of them, the same pairs for the holdout baseline and every synthetic
  sample: CorrelationSimilarity (Pearson) for two continuous columns, ContingencySimilarity for the
  rest, a continuous column of a mixed pair cut into numpy's 10 equal-width bins of its own frame;
  as in the report, only pairs whose real correlation exceeds 0.5 (association, Cramér's V, 0.3)
  count;
- the score is the mean of the two property means.

Everything that depends on the real training sample alone (its parsed columns, their sorted values
and frequencies, bins, codes, each pair's real correlation, association and cell shares) is
computed once and reused by every comparison. With all pairs scored the score equals the report's
(tests/test_quality_width.py checks it to 1e-9); with a sample, the gate says how many pairs it
scored of how many, and the standard error the sampling adds.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import warnings

from synth_ops.runtime.records import GateResult

log = logging.getLogger("synth_ops")
SYNTHETIC_ROWS_PER_SCORE = 5_000  # below this many rows per sample, average several samples
MAX_SAMPLES = 3
# Column pairs scored per comparison, a seeded uniform sample beyond. Cost: a pair costs about 2 ms
# once on the real rows (correlation, or contingency cells and association) and less per comparison,
# so 1,000 pairs add about 2 s to the gate at any width. Error: SDMetrics counts only the pairs whose
# real correlation exceeds 0.5 (association 0.3), on wide tables a few percent of them (4% on
# bench/width.py's 200 columns), so a sample's standard error falls slowly with its size; measured
# there, the score's was 0.023 at 300 pairs, 0.012 at 1,000, 0.007 at 3,000 (4 s a gate). 1,000 keeps it
# about 0.01, well inside the 0.7 x baseline margin the gate judges with; and 1,000 is every pair of
# 45 columns, so up to 45 learned columns the score is the report's, unsampled.
MAX_PAIRS = 1_000
_PAIR_SEED = 0x9A1125  # mixed into the spec's seed: the pair sample is its own random stream

# SDMetrics 0.32's constants, restated so that a validation does not import sdmetrics (3-4 s: it loads
# its multi-table and visualisation modules); tests/test_quality_width.py checks them against it.
REAL_CORRELATION_THRESHOLD = 0.5  # sdmetrics.reports.utils.DEFAULT_REAL_CORRELATION_THRESHOLD
REAL_ASSOCIATION_THRESHOLD = 0.3  # sdmetrics.reports.utils.DEFAULT_REAL_ASSOCIATION_THRESHOLD
MAX_DECIMALS = sys.float_info.dig - 1  # KSComplement rounds both samples to this many decimals

CONTINUOUS = ("numerical", "datetime")
DISCRETE = ("categorical", "ordinal", "boolean")
_KEY_SHIFT = 32  # two per-column codes (< 2**31: at most a code per row) joined into one int64 cell key


@dataclasses.dataclass(frozen=True)
class PairChoice:
    """The column pairs scored, as positions into ``columns`` (i < j), out of ``total`` pairs."""

    columns: list[str]
    index: object  # (n, 2) int array
    total: int

    @property
    def scored(self) -> int:
        return len(self.index)

    @property
    def names(self) -> list[tuple[str, str]]:
        return [(self.columns[i], self.columns[j]) for i, j in self.index]


def choose_pairs(columns: list[str], seed: int, max_pairs: int = MAX_PAIRS) -> PairChoice:
    """Every pair of ``columns`` when there are at most ``max_pairs``, else a seeded uniform sample of
    ``max_pairs`` of them (the same for the same seed and columns). Linear in the column count: pairs
    are drawn as ranks and unranked, never listed."""
    import numpy as np

    k = len(columns)
    total = k * (k - 1) // 2
    if total <= max_pairs:
        ranks = np.arange(total)
    else:
        ranks = np.sort(np.random.default_rng([seed, _PAIR_SEED]).choice(total, size=max_pairs, replace=False))
    # rank r is the r-th pair of itertools.combinations(columns, 2): row i starts at starts[i]
    starts = np.concatenate([[0], np.cumsum(np.arange(k - 1, 0, -1))]).astype("int64")
    first = np.searchsorted(starts, ranks, side="right") - 1
    second = first + 1 + ranks - starts[first]
    return PairChoice(columns=list(columns), index=np.column_stack([first, second]).astype("int64"), total=total)


# --- one frame's columns, read as QualityReport reads them ------------------------------------------


class _Frame:
    """One frame's scored columns as the report reads them: datetimes parsed (by the metadata's
    format), continuous columns as float64 numbers, binned, and discrete columns as codes. Each is
    computed on first use, so a comparison touches only the columns its pairs need."""

    def __init__(self, frame, sdtypes: dict[str, str], metadata_columns: dict[str, dict]):
        self.frame, self.sdtypes, self.meta = frame, sdtypes, metadata_columns
        self._cache: dict = {}

    def _cached(self, kind: str, column: str, compute):
        key = (kind, column)
        if key not in self._cache:
            try:
                self._cache[key] = compute(column)
            except Exception:  # the report scores a column or pair it cannot read as NaN: it does not count
                self._cache[key] = None
        return self._cache[key]

    def typed(self, column: str):
        """The column after the report's datetime conversion (None: a datetime that does not parse)."""

        def parse(name):
            import pandas as pd

            series = self.frame[name]
            if self.sdtypes[name] != "datetime" or pd.api.types.is_datetime64_any_dtype(series):
                return series
            # sdmetrics' _convert_datetime_column: text parses by the metadata's format, and only by it
            return pd.to_datetime(series, format=self.meta[name]["datetime_format"])

        return self._cached("typed", column, parse)

    def numbers(self, column: str):
        """A continuous column as float64, NaN for missing (datetimes as their integer time stamps),
        as ColumnPairTrends' ``_convert_datetime_columns_to_numeric`` leaves it."""
        import numpy as np
        import pandas as pd

        def numeric(name):
            series = self.typed(name)
            if self.sdtypes[name] == "datetime":
                missing = pd.isna(series).to_numpy()
                values = pd.to_numeric(series).to_numpy(dtype="float64")
                values[missing] = np.nan
                return values
            return series.to_numpy(dtype="float64", na_value=np.nan)

        return self._cached("numbers", column, numeric)

    def constant(self, column: str) -> bool:
        """One distinct non-null value: CorrelationSimilarity refuses the pair (ConstantInputError)."""
        import numpy as np

        def single(name):
            values = self.numbers(name)
            return len(np.unique(values[~np.isnan(values)])) == 1

        return bool(self._cached("constant", column, single))

    def bins(self, column: str):
        """A continuous column cut into numpy's 10 equal-width bins over this frame's own range, as
        ColumnPairTrends' ``_discretize_column`` cuts it for a mixed pair (NaN lands in the top bin)."""
        import numpy as np

        def cut(name):
            values = self.numbers(name)
            if values is None:
                raise ValueError("not numeric")
            return np.digitize(values, bins=np.histogram_bin_edges(values[~np.isnan(values)])).astype("int64")

        return self._cached("bins", column, cut)


# --- the reference: everything that depends on the real training sample alone ----------------------


@dataclasses.dataclass
class _Shape:
    column: str
    metric: str  # KSComplement | TVComplement
    real: object  # KS: the real values as KSComplement cleans them, sorted; TV: value counts; None: unreadable


@dataclasses.dataclass
class _Trend:
    """One chosen pair, with what its score needs from the real rows."""

    columns: tuple[str, str]
    metric: str  # CorrelationSimilarity | ContingencySimilarity
    counts: bool  # the real correlation (association) passes the report's threshold: the pair counts
    real_correlation: float = float("nan")
    real_keys: object = None  # contingency: sorted cell keys of the real pair and their shares
    real_shares: object = None
    discrete: tuple = ()  # contingency: how each column is coded, "codes" (its values) or "bins"


@dataclasses.dataclass
class Reference:
    """The real training sample, prepared once for every comparison against it."""

    frame: _Frame
    shapes: list[_Shape]
    trends: list[_Trend]
    pairs: PairChoice
    vocabulary: dict  # discrete column -> the real values (pandas Index), the code space for every frame


def prepare_reference(
    real, metadata: dict, pairs: PairChoice | None = None, seed: int = 0, max_pairs: int = MAX_PAIRS
) -> Reference:
    """Prepare ``real`` (the columns ``metadata`` lists) for scoring: per column, its cleaned values or
    frequencies; per chosen pair (``pairs``, else chosen from ``seed``), its real statistics."""
    columns_meta = metadata["columns"]
    columns = [c for c in columns_meta if columns_meta[c].get("sdtype") in CONTINUOUS + DISCRETE and c in real.columns]
    sdtypes = {c: columns_meta[c]["sdtype"] for c in columns}
    frame = _Frame(real[columns], sdtypes, columns_meta)
    pairs = pairs if pairs is not None else choose_pairs(columns, seed, max_pairs)
    reference = Reference(frame=frame, shapes=[], trends=[], pairs=pairs, vocabulary={})
    reference.shapes = [_real_shape(frame, column) for column in columns]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's constant-input warnings: such a pair does not count
        reference.trends = [_real_trend(reference, a, b) for a, b in pairs.names]
    return reference


def _ks_values(series):
    """KSComplement's cleaning: nulls dropped, datetimes as integers, rounded to 14 decimals."""
    import pandas as pd

    values = series.dropna()
    if pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_numeric(values)
    return values.round(MAX_DECIMALS).to_numpy()


def _real_shape(frame: _Frame, column: str) -> _Shape:
    import numpy as np

    continuous = frame.sdtypes[column] in CONTINUOUS
    metric = "KSComplement" if continuous else "TVComplement"
    typed = frame.typed(column)
    try:
        real = np.sort(_ks_values(typed)) if continuous else typed.dropna().value_counts(sort=False)
    except Exception:  # unparsed datetimes, text where numbers are declared: the report scores NaN
        real = None
    return _Shape(column, metric, real)


def _codes(reference: Reference, frame: _Frame, column: str):
    """A discrete column as int codes in the real values' code space: a real value's position, then
    one code for null (grouped as one value, as ``groupby(dropna=False)`` does), then values the real
    column does not have. The same value gets the same code in every frame."""
    import pandas as pd

    def encode(name):
        series = frame.typed(name)
        if frame is reference.frame:  # the real values are the vocabulary
            reference.vocabulary[name] = pd.Index(pd.unique(series.dropna()))
        vocabulary = reference.vocabulary[name]
        codes = vocabulary.get_indexer(series).astype("int64")
        missing = pd.isna(series).to_numpy()
        codes[missing] = len(vocabulary)
        unseen = (codes == -1) & ~missing
        if unseen.any():
            codes[unseen] = len(vocabulary) + 1 + pd.factorize(series[unseen])[0]
        return codes

    return frame._cached("codes", column, encode)


def _pair_codes(reference: Reference, frame: _Frame, trend: _Trend):
    """The pair's cells as one int64 key per row (None: a column could not be read)."""
    parts = []
    for column, how in zip(trend.columns, trend.discrete):
        part = frame.bins(column) if how == "bins" else _codes(reference, frame, column)
        if part is None:
            return None
        parts.append(part)
    return (parts[0] << _KEY_SHIFT) | parts[1]


def _real_trend(reference: Reference, a: str, b: str) -> _Trend:
    frame = reference.frame
    continuous = [frame.sdtypes[c] in CONTINUOUS for c in (a, b)]
    if all(continuous):
        correlation = _correlation(frame, a, b)
        counts = not math.isnan(correlation) and abs(correlation) > REAL_CORRELATION_THRESHOLD
        return _Trend((a, b), "CorrelationSimilarity", counts, real_correlation=correlation)
    # a mixed pair bins its continuous column; two discrete columns are compared as they are
    trend = _Trend((a, b), "ContingencySimilarity", False, discrete=tuple("bins" if c else "codes" for c in continuous))
    keys = _pair_codes(reference, frame, trend)
    if keys is None:
        return trend
    trend.real_keys, counts = _cells(keys)
    trend.real_shares = counts / len(keys)
    association = _association(trend.real_keys, counts)
    trend.counts = not math.isnan(association) and association > REAL_ASSOCIATION_THRESHOLD
    return trend


def _cells(keys):
    import numpy as np

    return np.unique(keys, return_counts=True)


def _association(keys, counts) -> float:
    """Cramér's V of the real contingency table, as ContingencySimilarity's real-association threshold
    computes it (NaN when either column has a single value: the pair does not count)."""
    import numpy as np
    from scipy.stats.contingency import association

    rows, row_index = np.unique(keys >> _KEY_SHIFT, return_inverse=True)
    cols, col_index = np.unique(keys & ((1 << _KEY_SHIFT) - 1), return_inverse=True)
    if min(len(rows), len(cols)) < 2:
        return float("nan")
    table = np.zeros((len(rows), len(cols)), dtype="int64")
    table[row_index, col_index] = counts
    return float(association(table, method="cramer"))


def _correlation(frame: _Frame, a: str, b: str) -> float:
    """Pearson's r on the rows where both are present, as CorrelationSimilarity computes it; NaN when
    it refuses the pair (a constant column, fewer than two rows)."""
    import numpy as np
    from scipy.stats import pearsonr

    x, y = frame.numbers(a), frame.numbers(b)
    if x is None or y is None or frame.constant(a) or frame.constant(b):
        return float("nan")
    both = ~(np.isnan(x) | np.isnan(y))
    if both.sum() < 2:
        return float("nan")
    return float(pearsonr(x[both], y[both])[0])


# --- one comparison ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scores:
    """One comparison: a score per column and per chosen pair (NaN: the pair does not count)."""

    shapes: object  # float array, one per scored column
    trends: object  # float array, one per chosen pair

    @property
    def properties(self) -> dict[str, float]:
        """{property: mean} as the report names them, without the properties that have no score."""
        means = {"Column Shapes": _mean(self.shapes), "Column Pair Trends": _mean(self.trends)}
        return {name: value for name, value in means.items() if not math.isnan(value)}

    @property
    def score(self) -> float:
        """The report's overall score: the mean of its property scores."""
        properties = self.properties
        return float(sum(properties.values()) / len(properties)) if properties else float("nan")


def _mean(values) -> float:
    import numpy as np

    values = np.asarray(values, dtype="float64")
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


def compare(reference: Reference, synthetic) -> Scores:
    """Score ``synthetic`` against the reference on its columns and its chosen pairs."""
    import numpy as np

    frame = _Frame(synthetic, reference.frame.sdtypes, reference.frame.meta)
    shapes = np.array([_shape_score(shape, frame) for shape in reference.shapes], dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trends = np.array([_trend_score(reference, trend, frame) for trend in reference.trends], dtype="float64")
    return Scores(shapes=shapes, trends=trends)


def _shape_score(shape: _Shape, frame: _Frame) -> float:
    typed = frame.typed(shape.column)
    if shape.real is None or typed is None:
        return float("nan")
    try:
        if shape.metric == "KSComplement":
            return _ks_complement(shape.real, _ks_values(typed))
        return _tv_complement(shape.real, typed.dropna().value_counts(sort=False))
    except Exception:  # as ColumnShapes: a column the metric cannot compare scores NaN
        return float("nan")


def _ks_complement(real_sorted, synthetic) -> float:
    """1 - scipy.stats.ks_2samp's two-sided statistic, computed as scipy does (the largest gap between
    the empirical CDFs, at every value of either sample) on the reference sorted once, and without
    the p-value scipy adds: that took most of the gate's time at 200 columns and the score ignores it."""
    import numpy as np

    if not len(real_sorted) or not len(synthetic):
        return float("nan")
    synthetic = np.sort(synthetic)
    values = np.concatenate([real_sorted, synthetic])
    gaps = np.searchsorted(real_sorted, values, side="right") / len(real_sorted) - np.searchsorted(
        synthetic, values, side="right"
    ) / len(synthetic)
    return float(1 - max(np.clip(-gaps.min(), 0, 1), gaps.max()))


def _tv_complement(real_counts, synthetic_counts) -> float:
    """TVComplement over the real values and the synthetic ones the real column lacks, with its
    regularisation: such a value counts 1e-6 times in the real column (so the real shares shrink a
    little), which keeps the score equal to the report's."""
    import numpy as np

    if not len(real_counts) or not len(synthetic_counts):
        return float("nan")
    position = real_counts.index.get_indexer(synthetic_counts.index)
    new = position == -1
    observed = np.zeros(len(real_counts))
    observed[position[~new]] = synthetic_counts.to_numpy()[~new]
    observed = np.concatenate([observed, synthetic_counts.to_numpy()[new]]) / synthetic_counts.sum()
    expected = np.concatenate([real_counts.to_numpy(dtype="float64"), np.full(new.sum(), 1e-6)])
    return float(1 - 0.5 * np.abs(observed - expected / expected.sum()).sum())


def _trend_score(reference: Reference, trend: _Trend, frame: _Frame) -> float:
    if not trend.counts:
        return float("nan")
    if trend.metric == "CorrelationSimilarity":
        synthetic = _correlation(frame, *trend.columns)
        return float("nan") if math.isnan(synthetic) else 1 - abs(trend.real_correlation - synthetic) / 2
    keys = _pair_codes(reference, frame, trend)
    if keys is None:
        return float("nan")
    return _contingency_similarity(trend.real_keys, trend.real_shares, *_cells(keys), len(keys))


def _contingency_similarity(real_keys, real_shares, keys, counts, rows: int) -> float:
    """1 - total variation distance between the real and synthetic cell shares (over both's cells)."""
    import numpy as np

    cells = np.union1d(real_keys, keys)
    real, synthetic = np.zeros(len(cells)), np.zeros(len(cells))
    real[np.searchsorted(cells, real_keys)] = real_shares
    synthetic[np.searchsorted(cells, keys)] = counts / rows
    return float(1 - np.abs(real - synthetic).sum() / 2)


# --- the standard error the pair sampling adds ------------------------------------------------------


def sampling_error(trends, pairs: PairChoice, with_shapes: bool = True) -> float | None:
    """The standard error the pair sample adds to the score: the spread of the counted pairs' scores
    over the square root of their number, times the finite-population correction for drawing
    ``pairs.scored`` of ``pairs.total`` pairs without replacement; the pair property is half the score
    when there are column shapes too. 0 when every pair is scored; None when too few pairs count."""
    import numpy as np

    if pairs.scored >= pairs.total:
        return 0.0
    counted = np.asarray(trends, dtype="float64")
    counted = counted[~np.isnan(counted)]
    if len(counted) < 2:
        return None
    correction = math.sqrt((pairs.total - pairs.scored) / (pairs.total - 1))
    error = float(np.std(counted, ddof=1) / math.sqrt(len(counted)) * correction)
    return error / 2 if with_shapes else error


# --- the public measures ----------------------------------------------------------------------------


def quality_score(
    real, synthetic, metadata: dict, table: str | None = None, *, seed: int = 0, max_pairs: int = MAX_PAIRS
) -> tuple[float, dict[str, float]]:
    """SDMetrics' quality score of ``synthetic`` against ``real``: (score, {property: score}).

    The columns are those ``metadata["columns"]`` lists; the pairs all of theirs up to ``max_pairs``,
    else a sample seeded by ``seed``. ``table`` is accepted for callers of the report-based version.
    """
    scores = compare(prepare_reference(real, metadata, seed=seed, max_pairs=max_pairs), synthetic)
    return scores.score, scores.properties


def quality_gate(gate_input) -> list[GateResult]:
    import numpy as np

    gates = gate_input.ws.spec.gates
    learned = gate_input.learned
    floor = gates.quality_min
    if not learned:
        return [
            GateResult(
                gate="quality",
                name="quality_score",
                value=1.0,
                threshold=floor or 0.0,
                passed=True,
                detail="no learned columns: every column is generated",
            )
        ]
    metadata = {**gate_input.metadata, "columns": {c: gate_input.metadata["columns"][c] for c in learned}}
    seed = gate_input.ws.spec.synthesizer.seed
    _, holdout = gate_input.reference
    reference = prepare_reference(
        gate_input.real_sample(gates.quality_rows, reference=True)[learned], metadata, seed=seed
    )
    total = sum(s.rows for s in gate_input.shards)
    # one sample size for both: fewer rows score lower by noise alone
    size = min(gates.quality_rows, len(holdout) or len(reference.frame.frame), total)
    baseline = None
    if len(holdout):
        baseline = compare(reference, holdout.sample(size, random_state=seed)[learned])
    samples = max(1, min(MAX_SAMPLES, math.ceil(SYNTHETIC_ROWS_PER_SCORE / size), total // size))
    pool = gate_input.synthetic_sample(min(total, size * samples), conditioned=False)[learned]
    scored = [compare(reference, pool.iloc[chunk]) for chunk in np.array_split(np.arange(len(pool)), samples)]
    score = float(np.mean([s.score for s in scored]))
    measures = _measures(reference, scored, baseline, samples, len(pool) // samples)

    names = scored[0].properties.keys()
    detail = ", ".join(
        f"{name.lower()} {np.mean([s.properties.get(name, np.nan) for s in scored]):.3f}" for name in names
    )
    detail += "; " + _pairs_detail(measures)
    shared = None if baseline is None else gates.quality_share * baseline.score
    threshold = max(t for t in (floor, shared) if t is not None)
    if baseline is not None:
        detail += (
            f"; holdout baseline {baseline.score:.3f} ({size} rows), synthetic mean of {samples} sample(s) of "
            f"{len(pool) // samples} rows; needs {gates.quality_share:g} x baseline"
            + (f" and at least {floor:g}" if floor is not None else "")
        )
    log.debug("%s: quality %.3f (%s)", gate_input.table, score, detail)
    # GateResult.measures is new: where a record lacks it, the detail above carries the pair counts and error
    return [
        GateResult(
            gate="quality",
            name="quality_score",
            value=round(score, 4),
            threshold=round(threshold, 4),
            passed=score >= threshold,
            detail=detail,
            baseline=None if baseline is None else round(baseline.score, 4),
            measures=measures,
        )
    ]


def _measures(reference: Reference, scored: list[Scores], baseline: Scores | None, samples: int, rows: int) -> dict:
    """The numbers behind the score: pairs scored of how many, how many count, the sampling error."""
    import numpy as np

    pairs = reference.pairs
    with_shapes = len(reference.shapes) > 0
    # the same pairs in every sample: the synthetic score's pair error is that of the per-pair means
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a pair that counts in no sample is all-NaN: it stays NaN
        per_pair = np.nanmean(np.vstack([s.trends for s in scored]), axis=0) if pairs.scored else np.array([])

    def rounded(value):
        return None if value is None or math.isnan(value) else round(float(value), 6)

    return {
        "columns_scored": len(reference.shapes),
        "pairs_scored": pairs.scored,
        "pairs_total": pairs.total,
        "pairs_counted": int(sum(t.counts for t in reference.trends)),
        "pairs_sampled": pairs.scored < pairs.total,
        "standard_error": rounded(sampling_error(per_pair, pairs, with_shapes)),
        "baseline_standard_error": None
        if baseline is None
        else rounded(sampling_error(baseline.trends, pairs, with_shapes)),
        "column_shapes": rounded(np.mean([s.properties.get("Column Shapes", np.nan) for s in scored])),
        "column_pair_trends": rounded(np.mean([s.properties.get("Column Pair Trends", np.nan) for s in scored])),
        "samples": samples,
        "sample_rows": rows,
    }


def _pairs_detail(measures: dict) -> str:
    scored, total, counted = measures["pairs_scored"], measures["pairs_total"], measures["pairs_counted"]
    if not measures["pairs_sampled"]:
        return f"pair trends on all {total} pairs ({counted} above the real correlation/association thresholds)"
    error = measures["standard_error"]
    return (
        f"pair trends on a seeded sample of {scored} of {total} pairs ({counted} above the real "
        f"correlation/association thresholds), sampling standard error of the score "
        + ("not estimable" if error is None else f"{error:.4f}")
    )
