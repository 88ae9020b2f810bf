"""The synthesizer contract: what every backend (SDV single-table, SDV HMA, synth-ops' own copula,
later differential privacy) states it can do, and the calls the steps make on it.

A backend is plain configuration in (``synthesizer`` of the spec), a fitted model out, and
seeded batches of the learned columns when sampled. Public methods validate, then call the
private ones a backend implements (as SDV's ``fit`` calls ``_fit``). What the run knows at fit time
and the configuration does not say (the release's scale) comes in as a ``FitContext``. Persistence
is not the backend's: the runtime pickles the fitted object with its checksum and the library
versions it was made under (``synth_ops/runtime/models.py``) and never unpickles a mismatch. A
backend translates itself into the portable sampler (``sampler_parts`` or ``export_sampler``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the run plan and the preflight checks read these, nothing else."""

    multi_table: bool = False  # one model covers several related tables
    max_tables: int | None = 1  # None: no limit
    max_depth: int | None = None  # longest parent -> child chain it accepts
    composite_keys: bool = False  # keys of several columns
    shards: bool = True  # a table can be sampled in independent seeded shards
    differential_privacy: bool = False
    portable_sampler: tuple[str, ...] = ()  # kinds whose fitted models export a sampler (synth_ops/sampler/)
    controls: tuple[str, ...] = ()  # the tables.<t>.generate controls it honours (spec/controls.py)


@dataclasses.dataclass
class RelationData:
    """What a multi-table backend learns of one relationship: structure, never key values.

    ``counts``: per parent training row, its children among the child's kept source rows.
    ``parents``: per child training row, the parent's row in ``context`` terms: -1 when it has none
    (a null or orphan foreign key that is kept). ``context``: the parent's learned columns per child
    training row (NaN rows where it has none).
    ``sequence``: (column, step) of a composite key's own column, unique within each parent.
    ``parents`` index the parent's kept source rows; ``parent_rows`` says which of those are its
    training rows (a child row whose parent is held out has a parent the model never saw).
    """

    plan: Any  # plan.RelationPlan
    counts: Any  # np.ndarray[int64]
    parents: Any  # np.ndarray[int64]
    context: Any = None  # pd.DataFrame | None
    sequence: tuple[str, float] | None = None
    parent_rows: Any = None  # np.ndarray: the parent's training rows, as positions ``parents`` uses


@dataclasses.dataclass(frozen=True)
class FitContext:
    """What a fit needs from the run beyond its configuration."""

    # rows the release asks for per training row of the first (root) table: a backend that samples
    # a whole schema at once (hma) draws it at this scale
    scale: float = 1.0
    # the table's generation controls (tables.<t>.generate, ``TableGenerate.doc()``): a sequential
    # model visits the controlled columns first, so every other column is drawn given them
    controls: dict = dataclasses.field(default_factory=dict)


class Synthesizer:
    """One fitted (or to-be-fitted) model. Subclasses set ``kinds``, ``library`` and ``capabilities``
    and implement ``_check``, ``_fit`` and ``_sample``."""

    kinds: ClassVar[tuple[str, ...]] = ()
    # the library its models are made with, as catalogs name it (a Dagster kind: numpy, scikitlearn, ...)
    library: ClassVar[str] = "python"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self, kind: str, params: dict[str, Any], seed: int, options: dict[str, Any] | None = None):
        if kind not in self.kinds:
            raise ValueError(f"{type(self).__name__} does not implement kind {kind!r}")
        self.kind, self.params, self.seed = kind, dict(params), seed
        self.options = dict(options or {})  # backend settings of the spec (fit_rows, fast_sampling, ...)
        self.tables: tuple[str, ...] = ()

    # -- before fitting -----------------------------------------------------------------------
    def check(self, metadata: dict[str, dict]) -> None:
        """SpecError for params this backend refuses, given each table's metadata of learned
        columns (empty for a table with nothing to learn). Never fits anything."""
        self._check(metadata)

    def _check(self, metadata: dict[str, dict]) -> None:
        raise NotImplementedError

    # -- fitting --------------------------------------------------------------------------------
    def fit(
        self,
        data: dict[str, Any],
        metadata: dict[str, dict],
        relations: dict[str, RelationData] | None = None,
        context: FitContext | None = None,
    ) -> dict[str, Any]:
        """Fit on ``data`` (table -> training rows of its learned columns, parents first) and, for a
        multi-table backend, ``relations`` (name -> RelationData); ``context``: what the run knows
        that the configuration does not say. Returns what model.json should say about how it was
        fitted (JSON-serialisable)."""
        unknown = set(data) - set(metadata)
        if unknown:
            raise ValueError(f"no metadata for tables {sorted(unknown)}")
        if not self.capabilities.multi_table and (len(data) != 1 or relations):
            raise ValueError(f"{self.kind} fits one table at a time, got {len(data)}")
        self.tables = tuple(data)
        self.context = context or FitContext()
        if self.capabilities.multi_table:
            return self._fit(data, metadata, relations or {})
        return self._fit(data, metadata)

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict], *relations) -> dict[str, Any]:
        raise NotImplementedError

    # -- sampling -------------------------------------------------------------------------------
    def sample(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict | None = None, first_row: int = 0
    ) -> Iterator[Any]:
        """DataFrames of the learned columns of ``table``, ``rows`` in all, at most ``batch_rows``
        each, from a stream seeded by ``seed`` alone (a shard's seed): same seed, same rows.
        A multi-table backend adds, for a parent table, one ``#<relationship>`` column of child
        counts per relationship it is the parent of. ``controls``: the table's generation controls
        (``TableGenerate.doc()``), for a backend whose capabilities name them; ``first_row``: the
        release row number of the first row (condition rows come first in the release)."""
        if table not in self.tables:
            raise ValueError(f"this model does not cover table {table!r}")
        if controls:
            yield from self._sample_controlled(table, rows, seed, batch_rows, controls, first_row)
            return
        yield from self._sample(table, rows, seed, batch_rows)

    def _sample_controlled(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict, first_row: int
    ) -> Iterator[Any]:
        raise ValueError(f"kind {self.kind} does not support generation controls")

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        raise NotImplementedError

    def _sample_steered(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict, first_row: int
    ) -> Iterator[Any]:
        """A Gaussian-copula backend's controlled rows: its own sampler parts, steered as the
        exported sampler steers them (``sampler/copula_controls.py``), so a release generated
        through either is the same."""
        from synth_ops.sampler.controls import ControlError
        from synth_ops.sampler.export_parts import Unsupported
        from synth_ops.sampler.sampler import Sampler

        try:
            doc, arrays = self.sampler_parts(table, False).doc(table)
        except Unsupported as reason:
            raise ControlError(
                f"tables.{table}.generate: this {self.kind} model cannot be steered ({reason})"
            ) from None
        sampler = Sampler({**doc, "schema": [], "columns_plan": {}}, arrays, f"{table} (in memory)")
        yield from sampler.learned_batches(rows, seed, batch_rows, controls, first_row)

    def sample_children(self, table: str, context, groups, seed: int) -> Any:
        """Multi-table backends: one DataFrame of ``table``'s learned columns (and its own count
        columns), one row per row of ``context`` (the primary parent's synthetic learned columns,
        repeated once per child; None for rows without a parent, then ``groups`` gives the count).
        ``groups`` numbers each row's parent, so a composite key's own column is made unique
        within it."""
        raise NotImplementedError(f"{self.kind} does not sample child tables")

    # -- the portable sampler --------------------------------------------------------------------
    def sampler_parts(self, table: str, child: bool):
        """A Gaussian-copula backend's sampler parts of ``table`` (``sampler.export_parts.Parts``;
        ``child``: sampled under its primary parent's rows). A backend with its own sampler engine
        writes it itself (``export_sampler``); any other raises ``Unsupported``, and generation
        loads the pickled model."""
        from synth_ops.sampler.export_parts import Unsupported

        raise Unsupported(f"kind {self.kind} has no portable sampler")


def learn_supports(frame, columns_metadata: dict) -> dict[str, Any]:
    """{column: sorted distinct values} of the learned numbers of ``frame`` (training rows) that
    are discrete (``columns.discrete_support``): a backend without a discrete marginal of its own
    snaps its output of them to these (``keep_supports``)."""
    import pandas as pd

    from synth_ops.spec.columns import discrete_support

    supports = {}
    for column, meta in columns_metadata.get("columns", {}).items():
        if meta.get("sdtype") != "numerical" or column not in frame:
            continue
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        support = discrete_support(series.to_numpy(dtype="float64", na_value=float("nan")))
        if support is not None:
            supports[column] = support
    return supports


def keep_supports(frame, supports: dict[str, Any], cuts: dict[str, Any] | None = None):
    """``frame`` with each column of ``supports`` snapped to its support (``columns.snap_to_support``,
    at ``cuts[column]`` when given, else to the nearest value), in the column's own dtype."""
    import pandas as pd

    from synth_ops.spec.columns import snap_to_support

    for column, support in supports.items():
        if column not in frame:
            continue
        series = frame[column]
        values = snap_to_support(
            series.to_numpy(dtype="float64", na_value=float("nan")), support, (cuts or {}).get(column)
        )
        snapped = pd.Series(values, index=series.index)
        frame[column] = snapped.astype(series.dtype) if pd.api.types.is_numeric_dtype(series) else snapped
    return frame
