"""What the model-based gates (utility, discriminator) share: one feature encoding of the learned
columns, fitted on the training rows, and one gradient-boosting model family.

Encoding (so the scores mean the same on every table): numbers as float64; datetimes as epoch
seconds; categorical and boolean columns as pandas categories of the training rows' values (an
unseen value is missing), which scikit-learn's ``HistGradientBoosting*`` splits natively; a column
of more than ``MAX_NATIVE_CATEGORIES`` distinct values (its bins hold at most 255) is encoded by its
training frequency instead, an unseen value as 0. Missing values stay missing: the models route
them natively.
"""

from __future__ import annotations

import dataclasses
import math

MAX_NATIVE_CATEGORIES = 250
# A label column is near-unique (names, towns) when at least NEAR_UNIQUE_SHARE of its real rows hold
# a value at most LONE_ROWS rows share
LONE_ROWS = 2
NEAR_UNIQUE_SHARE = 0.5
# Below this many training rows a model fits in one thread: OpenMP's threads cost more than they
# save there, and with another busy process on the cores (a second shard, a second test worker)
# its spinning threads made a 140-row fit ~8x slower (measured: discriminator 1.2 s against 9.6 s).
THREADED_ROWS = 10_000
_NUMERIC_SDTYPES = {"numerical", "datetime"}


@dataclasses.dataclass(frozen=True)
class Encoding:
    """How each feature column is turned into a model input: ("number", sdtype), ("category",
    values) or ("frequency", {value: count})."""

    columns: dict[str, tuple]

    @classmethod
    def fit(cls, train, metadata: dict, columns: list[str]) -> Encoding:
        out = {}
        for column in columns:
            sdtype = metadata["columns"].get(column, {}).get("sdtype", "categorical")
            if sdtype in _NUMERIC_SDTYPES:
                out[column] = ("number", sdtype)
                continue
            counts = as_text(train[column]).value_counts()
            if len(counts) <= MAX_NATIVE_CATEGORIES:
                out[column] = ("category", tuple(sorted(counts.index)))
            else:
                out[column] = ("frequency", counts.to_dict())
        return cls(out)

    def without_near_unique(self, real) -> tuple[Encoding, list[str]]:
        """This encoding without its near-unique label columns, and their names. Such a column has
        no distribution to learn (its values stand a row or two each), and a synthesizer that
        protects its rare values never copies them, so a model telling rows apart by it would only
        measure whether real labels were copied: what the privacy gates forbid."""
        dropped = []
        for column, (kind, _) in self.columns.items():
            if kind == "number":
                continue
            values = as_text(real[column])
            counts = values.map(values.value_counts())
            if len(values) and (counts <= LONE_ROWS).mean() >= NEAR_UNIQUE_SHARE:
                dropped.append(column)
        return Encoding({c: how for c, how in self.columns.items() if c not in dropped}), dropped

    def transform(self, frame):
        import pandas as pd

        from synth_ops.gates.privacy import as_number

        out = {}
        for column, (kind, how) in self.columns.items():
            if kind == "number":
                out[column] = as_number(frame[column], how)
            elif kind == "category":
                out[column] = pd.Categorical(as_text(frame[column]), categories=list(how))
            else:
                out[column] = as_text(frame[column]).map(how).fillna(0).to_numpy(dtype="float64")
        return pd.DataFrame(out, index=frame.index)


def as_text(series):
    """Values as text, so 1, 1.0 and "1" read from different files compare equal as categories."""
    import pandas as pd

    if pd.api.types.is_float_dtype(series):
        whole = series.dropna()
        if len(whole) and (whole % 1 == 0).all():
            series = series.astype("Int64")
    return series.astype("string")


def value_as_text(value) -> str:
    """One value as ``as_text`` writes a column's (a control's value against a column's)."""
    import pandas as pd

    return str(as_text(pd.Series([value]))[0])


def model(kind: str, seed: int):
    """A gradient-boosting classifier (kind "classify") or regressor, categories split natively."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    family = HistGradientBoostingClassifier if kind == "classify" else HistGradientBoostingRegressor
    return family(categorical_features="from_dtype", random_state=seed)


def fitting(rows: int):
    """The thread limit a fit on ``rows`` rows runs under (a context manager)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1 if rows < THREADED_ROWS else None, user_api="openmp")


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil (1982): the standard error of a ROC AUC measured on these counts."""
    if positives == 0 or negatives == 0:
        return math.inf
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    return math.sqrt(max(variance, 0.0) / (positives * negatives))
