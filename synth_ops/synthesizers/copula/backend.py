"""``synthesizer.kind: copula``: synth-ops' own Gaussian copula behind the synthesizer contract.

Each table's learned columns get an empirical marginal (``marginals.py``) and the table a
correlation of normal scores (``model.py``). No SDV on this path: fitting is a sort per column and
one correlation matrix, sampling a matrix product and interpolation, so it scales to large tables.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import SpecError
from synth_ops.sampler.normals import sampling_stream
from synth_ops.spec.columns import discrete_support
from synth_ops.synthesizers.base import Capabilities, Synthesizer

_NUMERIC = {"numerical"}
_DATETIME = {"datetime"}


def table_rng(seed: int, table: str):
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(table.encode())])


class ColumnCodec:
    """How one learned column goes into the copula (numbers) and comes back (the source's type)."""

    def __init__(self, column: str, meta: dict):
        self.column, self.sdtype = column, meta.get("sdtype", "categorical")
        self.datetime_format = meta.get("datetime_format")
        self.decimals = meta.get("decimal_places")
        self.print_format: str | None = None  # datetimes held as text: printed back with this
        self.tz: str | None = None  # datetimes with a time zone: restored in UTC

    @property
    def numeric(self) -> bool:
        return self.sdtype in _NUMERIC | _DATETIME

    def encode(self, series):
        """The column as the marginal sees it: numbers (datetimes as nanoseconds) or raw categories."""
        import numpy as np
        import pandas as pd

        if self.sdtype in _DATETIME:
            return self._datetimes(series)
        if self.sdtype in _NUMERIC:
            values = pd.to_numeric(series, errors="coerce").astype("float64")
            if self.decimals is None:
                present = values.dropna()
                self.decimals = 0 if len(present) and bool((present % 1 == 0).all()) else None
            return values.to_numpy()
        return np.asarray(series, dtype=object)

    def _datetimes(self, series):
        import numpy as np
        import pandas as pd

        from synth_ops.synthesizers.sdv.fastpath import roundtrip_format, utc_format

        if pd.api.types.is_datetime64_any_dtype(series):
            if getattr(series.dt, "tz", None) is not None:
                self.tz = "UTC"
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            parsed = series
        else:
            fmt = roundtrip_format(series, self.datetime_format)
            if fmt:
                parsed, self.print_format = pd.to_datetime(series, format=fmt), fmt
            else:
                fmt = utc_format(series, self.datetime_format)
                if fmt:
                    parsed = pd.to_datetime(series, format=self.datetime_format, utc=True).dt.tz_localize(None)
                    self.print_format = fmt
                else:
                    parsed = pd.to_datetime(series, format=self.datetime_format or "mixed", errors="coerce")
                    self.print_format = self.datetime_format or "%Y-%m-%d %H:%M:%S"
        values = parsed.astype("datetime64[ns]").to_numpy().astype("int64").astype("float64")
        values[pd.isna(parsed).to_numpy()] = np.nan
        return values

    def marginal(self, values):
        from synth_ops.synthesizers.copula.marginals import CategoricalMarginal, NumericMarginal

        if self.sdtype in _DATETIME:
            return NumericMarginal.fit(values, decimals=0, datetime="ns")
        if self.sdtype in _NUMERIC:
            # a discrete number (few distinct values) is its empirical step function: the inverse
            # gives only real values, at their real frequencies (interpolating gave values between)
            return NumericMarginal.fit(values, decimals=self.decimals, discrete=discrete_support(values) is not None)
        return CategoricalMarginal.fit(values)

    def decode(self, values):
        """Sampled values back to the column's type: numbers as floats (the writer casts to the
        source's Arrow type), datetimes as datetime64 or the source's text, categories as objects."""
        import numpy as np
        import pandas as pd

        if self.sdtype in _DATETIME:
            stamps = pd.Series(pd.to_datetime(np.where(np.isnan(values), np.nan, values), unit="ns"))
            if self.print_format:
                from synth_ops.io.datetime_text import format_datetimes

                text = format_datetimes(stamps, self.print_format)
                return text.where(stamps.notna(), None)
            return stamps.dt.tz_localize(self.tz) if self.tz else stamps
        if self.sdtype in _NUMERIC:
            return pd.Series(values)
        return pd.Series(values, dtype=object)


CONTEXT = "^"  # prefix of a parent's column inside its child's model: never a source column name


class CopulaSynthesizer(Synthesizer):
    """One Gaussian copula per table. A parent's copula also holds its child counts (``#<relationship>``);
    a child's copula also holds its primary parent's learned columns (``^<column>``), so its rows are
    sampled conditionally on their synthetic parent's attributes (Schur complement in normal space)."""

    kinds = ("copula",)
    library = "numpy"
    capabilities = Capabilities(
        multi_table=True,
        max_tables=None,
        composite_keys=True,
        shards=True,
        portable_sampler=("copula",),
        controls=("rebalance", "fairness", "conditions", "ranges", "impute"),  # steered in its sampler
    )

    def _check(self, metadata: dict[str, dict]) -> None:
        if self.params:
            raise SpecError(
                f"synthesizer.params.{next(iter(self.params))}: unknown parameter of copula (it takes none)"
            )

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict], relations: dict | None = None) -> dict[str, Any]:
        import numpy as np
        import pandas as pd

        from synth_ops.synthesizers.copula.marginals import NumericMarginal
        from synth_ops.synthesizers.copula.model import GaussianCopula

        relations = relations or {}
        self.codecs: dict[str, dict[str, ColumnCodec]] = {}
        self.models: dict[str, GaussianCopula] = {}
        self.own: dict[str, list[str]] = {}  # learned and count columns a table's rows carry
        self.context: dict[str, list[str]] = {}  # its model's parent columns, as "^<column>"
        self.sequence: dict[str, tuple[str, float, float]] = {}  # column, step, grid origin
        self.counts: dict[str, list[str]] = {}  # its child count columns
        self.scores: dict[str, list[str]] = {}  # "~<relationship>": where its drawn parents rank
        self.axis: dict[str, tuple] = {}  # relationship -> (parent, its columns, loadings)
        for table, frame in data.items():
            codecs = {c: ColumnCodec(c, metadata[table]["columns"].get(c, {})) for c in frame.columns}
            columns = {c: codec.encode(frame[c]) for c, codec in codecs.items()}
            marginals = {c: codecs[c].marginal(values) for c, values in columns.items()}
            self.counts[table] = []
            for relation in relations.values():
                if relation.plan.parent == table:
                    column = relation.plan.count_column
                    self.counts[table].append(column)
                    columns[column] = relation.counts.astype("float64")
                    marginals[column] = NumericMarginal.fit(columns[column], decimals=0, discrete=True)
            self.own[table] = list(columns)
            rows = np.ones(len(frame), dtype=bool)
            primary = next((r for r in relations.values() if r.plan.child == table and r.plan.primary), None)
            self.context[table] = []
            if primary is not None and primary.context is not None and (primary.parents >= 0).any():
                rows = primary.parents >= 0
                parent_meta = metadata[primary.plan.parent]["columns"]
                for column in primary.context.columns:
                    codec = ColumnCodec(column, parent_meta.get(column, {}))
                    values = codec.encode(primary.context[column].iloc[np.flatnonzero(rows)])
                    full = np.full(len(frame), np.nan) if codec.numeric else np.full(len(frame), None, dtype=object)
                    full[rows] = values
                    name = context_name(column)
                    codecs[name], columns[name] = codec, full
                    marginals[name] = codec.marginal(values)
                    self.context[table].append(name)
            self.scores[table] = []
            for name, relation in relations.items():  # drawn keys: which parent, on the axis that matters
                if (
                    relation.plan.child != table
                    or relation.plan.primary
                    or relation.context is None
                    or not len(relation.context.columns)
                    or not len(frame.columns)
                ):
                    continue
                linked = relation.parents >= 0
                rows_linked = np.flatnonzero(linked)
                if len(rows_linked) < 3:
                    continue
                context = relation.context.iloc[rows_linked].reset_index(drop=True)
                self.axis[name] = self._canonical_axis(
                    relation.plan.parent,
                    context,
                    {c: columns[c][rows_linked] for c in frame.columns},
                    {c: marginals[c] for c in frame.columns},
                    metadata,
                )
                score = np.full(len(frame), np.nan)
                score[linked] = self.relation_scores(name, context)
                column = score_name(name)
                columns[column], marginals[column] = score, NumericMarginal.fit(score, decimals=None)
                self.own[table].append(column)
                self.scores[table].append(column)
            if primary is not None and primary.sequence is not None:
                column, step = primary.sequence
                self.sequence[table] = (column, step, float(np.nanmin(columns[column])) if len(frame) else 0.0)
            order = self.context[table] + self.own[table]
            fitted = pd.DataFrame({c: columns[c] for c in order}, index=range(len(frame))).iloc[np.flatnonzero(rows)]
            self.models[table] = GaussianCopula.fit(
                fitted, {c: marginals[c] for c in order}, table_rng(self.seed, table)
            )
            self.codecs[table] = codecs
        return {"columns": {t: {c: m.kind for c, m in model.marginals.items()} for t, model in self.models.items()}}

    def _frame(self, table: str, values: dict, rows: int, groups=None):
        import numpy as np
        import pandas as pd

        codecs, out = self.codecs[table], {}
        if table in self.sequence and groups is not None:
            column, step, origin = self.sequence[table]
            values[column] = unique_within(values[column], np.asarray(groups), step, origin)
        for column in self.own[table]:
            if column in self.counts.get(table, ()):
                out[column] = np.nan_to_num(values[column], nan=0.0).astype("int64")
            elif column in self.scores.get(table, ()):  # the rank among the child's scores, in [0, 1]
                marginal = self.models[table].marginals[column]
                out[column] = np.where(
                    np.isnan(values[column]),
                    np.nan,
                    np.interp(values[column], marginal.quantiles, marginal.probabilities),
                )
            else:
                out[column] = codecs[column].decode(values[column]).to_numpy()
        return pd.DataFrame(out, index=range(rows))

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        rng = sampling_stream(seed, table)
        model = self.models[table]
        for start in range(0, rows, batch_rows):
            n = min(batch_rows, rows - start)
            yield self._frame(table, model.sample(n, rng, self.own[table]) if self.own[table] else {}, n)

    def _sample_controlled(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict, first_row: int
    ) -> Iterator[Any]:
        yield from self._sample_steered(table, rows, seed, batch_rows, controls, first_row)

    def sampler_parts(self, table: str, child: bool):
        from synth_ops.synthesizers.copula.export import parts

        return parts(self, table, child)

    def sample_children(self, table: str, context, groups, seed: int):
        """Rows of ``table`` given their parents' synthetic learned columns (``context``, one row per
        child row; None: rows without a parent, as many as ``groups`` has entries)."""
        rng = sampling_stream(seed, table)
        model = self.models[table]
        rows = len(groups)
        if not self.own[table]:
            return self._frame(table, {}, rows)
        if context is None or not self.context[table]:
            return self._frame(table, model.sample(rows, rng, self.own[table]), rows, groups)
        given = {}
        for name in self.context[table]:
            codec = self.codecs[table][name]
            given[name] = codec.encode(context[name[len(CONTEXT) :]].reset_index(drop=True))
        return self._frame(table, model.sample_given(given, rng, self.own[table]), rows, groups)

    def _canonical_axis(self, parent: str, context, own: dict, own_marginals: dict, metadata: dict):
        """(parent, its columns, loadings): ``canonical_axis`` of the real (parent, child) rows."""
        columns, loadings, _, _ = canonical_axis(
            context, metadata[parent]["columns"], own, own_marginals, table_rng(self.seed, f"{parent}/axis")
        )
        return parent, columns, loadings

    def relation_scores(self, relation: str, frame):
        """Each parent row's position on the axis of ``relation`` (None if it has none): drawn
        foreign keys pair children and parents by rank on it, so a child keeps the kind of parent
        it had (long flights on big planes, to far airports)."""
        if relation not in self.axis:
            return None
        parent, columns, loadings = self.axis[relation]
        model = self.models[parent]
        return axis_scores(
            frame, columns, loadings, self.codecs[parent], model.marginals, table_rng(self.seed, f"{relation}/axis")
        )


def canonical_axis(context, parent_meta: dict, own: dict, own_marginals: dict, rng) -> tuple:
    """(the parent's columns, loadings, their codecs, their marginals on ``context``): the parent's columns (``context``, one row per linked child
    row) combined as they best predict the child's own columns (``own``: encoded values, with
    their marginals): the first canonical direction of the real (parent, child) rows in normal
    scores. Drawn foreign keys pair children and parents by rank on it."""
    import numpy as np
    import pandas as pd

    from synth_ops.synthesizers.copula.model import GaussianCopula

    columns, marginals, parent_codecs, parent_marginals = {}, {}, {}, {}
    for column in context.columns:
        parent_codecs[column] = codec = ColumnCodec(column, parent_meta.get(column, {}))
        columns[context_name(column)] = values = codec.encode(context[column])
        marginals[context_name(column)] = parent_marginals[column] = codec.marginal(values)
    columns.update(own)
    marginals.update(own_marginals)
    joint = GaussianCopula.fit(pd.DataFrame(columns), marginals, rng)
    k = len(context.columns)
    r = joint.correlation + 1e-3 * np.eye(len(joint.columns))
    r_pp, r_pc, r_cc = r[:k, :k], r[:k, k:], r[k:, k:]
    matrix = np.linalg.solve(r_pp, r_pc) @ np.linalg.solve(r_cc, r_pc.T)
    values, vectors = np.linalg.eig(matrix)
    loadings = np.real(vectors[:, int(np.argmax(np.real(values)))])
    loadings = loadings if loadings[np.argmax(np.abs(loadings))] > 0 else -loadings
    return list(context.columns), loadings / max(np.linalg.norm(loadings), 1e-12), parent_codecs, parent_marginals


def axis_scores(frame, columns: list[str], loadings, codecs: dict, marginals: dict, rng):
    """Each row of ``frame``'s position on an axis: its columns' normal scores (through ``codecs``
    and ``marginals``, by parent column) weighted by ``loadings``."""
    import copy

    import numpy as np
    from scipy.special import ndtri

    from synth_ops.synthesizers.copula.model import EPS

    scores = np.zeros(len(frame))
    for column, loading in zip(columns, loadings):
        codec = copy.copy(codecs[column])  # encoding may set state: not on the model's
        u = marginals[column].forward(codec.encode(frame[column].reset_index(drop=True)), rng)
        scores += loading * ndtri(np.clip(u, EPS, 1 - EPS))
    return scores


def score_name(relation: str) -> str:
    return f"~{relation}"


def context_name(column: str) -> str:
    return f"{CONTEXT}{column}"


def unique_within(values, groups, step: float, origin: float):
    """``values`` snapped to the grid ``origin + k * step`` and made strictly increasing within each
    group by at least ``step`` (each value moved up as little as needed), in their sampled order."""
    import numpy as np
    import pandas as pd

    values = np.asarray(values, dtype="float64")
    snapped = origin + np.round((values - origin) / step) * step
    order = np.lexsort((snapped, groups))
    ordered, grouped = snapped[order], np.asarray(groups)[order]
    starts = np.r_[True, grouped[1:] != grouped[:-1]] if len(grouped) else np.zeros(0, dtype=bool)
    position = np.arange(len(ordered))
    rank = position - np.maximum.accumulate(np.where(starts, position, 0))
    shifted = pd.Series(ordered - rank * step).groupby(grouped).cummax().to_numpy()
    out = np.empty_like(snapped)
    out[order] = shifted + rank * step
    return out
