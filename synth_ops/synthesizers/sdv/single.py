"""SDV's single-table synthesizers (GaussianCopula, CTGAN, TVAE, CopulaGAN) behind the contract, with
synth-ops' exact speed-ups: ``fastfit`` while fitting, ``fastpath`` while sampling.

The only module that builds, fits or samples an SDV single-table synthesizer.
"""

from __future__ import annotations

import logging
import warnings
import zlib
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import InputError, SpecError, one_line
from synth_ops.runtime.quiet import quiet_libraries
from synth_ops.synthesizers.base import Capabilities, Synthesizer, keep_supports, learn_supports

log = logging.getLogger("synth_ops")

SDV_CLASSES = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
    "copulagan": "CopulaGANSynthesizer",
}
# Hyper-parameters SDV passes to ctgan unchecked, where a bad value fails deep in training (or never).
_POSITIVE = {"epochs", "batch_size", "pac", "embedding_dim", "discriminator_steps"}
_NON_NEGATIVE = {"generator_lr", "generator_decay", "discriminator_lr", "discriminator_decay", "l2scale", "loss_factor"}


def sdv_class(kind: str):
    import sdv.single_table

    return getattr(sdv.single_table, SDV_CLASSES[kind])


def metadata_doc(table: str, columns_metadata: dict) -> dict:
    """SDV's metadata document for one table of learned columns."""
    return {"tables": {table: columns_metadata}, "relationships": [], "METADATA_SPEC_VERSION": "V2"}


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an SDV dependency
        return
    torch.manual_seed(seed)


def sdv_error_summary(error: Exception, columns) -> str:
    """What went wrong inside SDV, without its message: SDV quotes offending data values there."""
    text = str(error)
    named = [c for c in columns if f"'{c}'" in text or f'"{c}"' in text]
    where = f" in column(s) {', '.join(map(repr, named))}" if named else ""
    return f"{type(error).__name__}{where} (run with -v for SDV's own message, which may show data values)"


def _type_problems(name: str, value: Any, default: Any) -> list[str]:
    field = f"synthesizer.params.{name}"
    if isinstance(default, bool):
        return [] if isinstance(value, bool) else [f"{field}: expected true or false, got {type(value).__name__}"]
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{field}: expected an integer, got {type(value).__name__}"]
        if name in _POSITIVE and value < 1:
            return [f"{field}: expected at least 1, got {value}"]
        return []
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{field}: expected a number, got {type(value).__name__}"]
        if name in _NON_NEGATIVE and value < 0:
            return [f"{field}: expected at least 0, got {value}"]
        return []
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
        ):
            return [f"{field}: expected a list of positive integers"]
    return []


class SDVSingleTable(Synthesizer):
    kinds = tuple(SDV_CLASSES)
    library = "sdv"
    capabilities = Capabilities(portable_sampler=("gaussian_copula",))

    def _build(self, table: str, columns_metadata: dict):
        """An unfitted SDV synthesizer with this spec's params; SpecError if SDV refuses them."""
        from sdv.metadata import Metadata

        cls = sdv_class(self.kind)
        with warnings.catch_warnings(), quiet_libraries():
            warnings.simplefilter("ignore")
            try:
                return cls(Metadata.load_from_dict(metadata_doc(table, columns_metadata)), **self.params)
            except (TypeError, ValueError) as error:
                raise SpecError(f"synthesizer.params: {one_line(error)}") from None
            except Exception as error:
                if type(error).__module__.startswith(("sdv", "rdt")):
                    raise SpecError(f"synthesizer.params: {one_line(error)}") from None
                raise

    def _check(self, metadata: dict[str, dict]) -> None:
        import inspect

        signature = inspect.signature(sdv_class(self.kind).__init__)
        known = {name: p.default for name, p in signature.parameters.items() if name not in ("self", "metadata")}
        problems = [
            f"synthesizer.params.{name}: unknown parameter of {self.kind} (known: {', '.join(sorted(known))})"
            for name in self.params
            if name not in known
        ]
        for name, value in self.params.items():
            if name in known and known[name] is not inspect.Parameter.empty and known[name] is not None:
                problems += _type_problems(name, value, known[name])
        if self.kind in ("ctgan", "copulagan") and not problems:
            batch, pac = self.params.get("batch_size", known["batch_size"]), self.params.get("pac", known["pac"])
            if batch % 2 or batch % pac:
                problems.append(
                    f"synthesizer.params.batch_size: must be even and a multiple of pac ({pac}), got {batch}"
                )
        if problems:
            raise SpecError("; ".join(problems))
        for table, columns_metadata in metadata.items():
            if columns_metadata.get("columns"):
                self._build(table, columns_metadata)  # SDV's own checks of the values

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        from synth_ops.synthesizers.sdv.fastfit import fast_fit

        ((table, train),) = data.items()
        columns_metadata = {**metadata[table], "columns": {c: dict(m) for c, m in metadata[table]["columns"].items()}}
        fast = self.options.get("fast_sampling", True)
        fit_rows = self.options.get("fit_rows")
        self.datetimes = native_datetimes(columns_metadata, train) if fast else {}
        for column in self.datetimes:  # parsed to datetime64 already: SDV must not re-parse strings
            # ranges are detected from the strings (with their offsets); SDV only checks data against them
            for setting in ("datetime_format", "range_min", "range_max"):
                columns_metadata["columns"][column].pop(setting, None)
        self.model = self._build(table, columns_metadata)
        # discrete numbers (few distinct values): every sampled value is snapped to one of them
        self.supports = learn_supports(train, columns_metadata)
        self.cuts = {}
        seed_everything(self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                # Transformers and correlations learn from every training row; a marginal with more
                # distinct values than fit_rows is fitted on a seeded sample of fit_rows values.
                with fast_fit(fit_rows, self.seed) as marginals, quiet_libraries():
                    self.model.fit({table: train})
            except Exception as error:
                if type(error).__module__.startswith(("sdv", "rdt", "copulas", "ctgan")):
                    raise InputError(
                        f"tables.{table}: SDV cannot fit this table: {sdv_error_summary(error, train.columns)}"
                    ) from None
                raise
        if self.kind == "gaussian_copula":
            self.cuts = quantile_cuts(self.model, train, self.supports)
        return {"fit_rows": fit_rows, "marginals": marginals, "fast_sampling": fast, "native_datetimes": self.datetimes}

    def sampler_parts(self, table: str, child: bool):
        from synth_ops.sampler.export_parts import Unsupported
        from synth_ops.synthesizers.sdv.export import parts

        if child:
            raise Unsupported("a child table is sampled under its parents' rows")
        return parts(self, table)

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        """Seeds the copula/GAN random state and every RDT transformer's reverse-transform state, so
        that shards with different seeds draw independent rows and the same seed repeats exactly.
        Discrete numbers are snapped to their training values last (``keep_supports``), as the
        portable sampler's ``snap`` operation does."""
        from synth_ops.io.datetime_text import format_datetimes
        from synth_ops.synthesizers.sdv import compat
        from synth_ops.synthesizers.sdv.fastpath import accelerate

        model = self.model
        seed_everything(seed)
        compat.set_random_state(model, seed % 2**32)
        seed_transformers(model, seed)
        remaining = rows
        with warnings.catch_warnings():
            # scipy warns when a beta ppf root search gives up in the far tails; SDV's path does the same
            warnings.simplefilter("ignore")
            if self.options.get("fast_sampling", True):
                outcome = accelerate(model)
                log.debug("%s: fast sampling: %s", table, outcome)
            while remaining > 0:
                n = min(batch_rows, remaining)
                with quiet_libraries():
                    batch = model.sample(n)
                frame = batch[table] if isinstance(batch, dict) else batch
                for column, fmt in self.datetimes.items():
                    frame[column] = format_datetimes(frame[column], fmt)
                keep_supports(frame, getattr(self, "supports", {}), getattr(self, "cuts", None))
                remaining -= len(frame)
                yield frame


def seed_transformers(model, seed: int) -> None:
    import numpy as np

    from synth_ops.synthesizers.sdv.compat import hyper_transformer

    transformers = getattr(hyper_transformer(model), "field_transformers", None) or {}
    # Keyed by column name, not position: RDT builds this dict in an order that varies with
    # PYTHONHASHSEED, and a positional seed would make two processes disagree.
    for column, transformer in transformers.items():
        if transformer is not None and hasattr(transformer, "set_random_state"):
            key = zlib.crc32(repr(column).encode())
            state = np.random.RandomState(np.random.SeedSequence([seed, key]).generate_state(1)[0])
            transformer.set_random_state(state, "reverse_transform")


def native_datetimes(columns_metadata: dict, train) -> dict[str, str]:
    """Datetime string columns parsed once, vectorised (in place); column -> format to print back."""
    import pandas as pd

    from synth_ops.synthesizers.sdv.fastpath import roundtrip_format, utc_format

    formats = {}
    for column, meta in columns_metadata["columns"].items():
        if meta.get("sdtype") == "datetime" and column in train and train[column].dtype == object:
            fmt = roundtrip_format(train[column], meta.get("datetime_format"))
            if fmt:
                train[column] = pd.to_datetime(train[column], format=fmt)
                formats[column] = fmt
                continue
            # Offsets (+02:00, Z): learned as UTC instants, printed back in UTC in the source's notation
            fmt = utc_format(train[column], meta.get("datetime_format"))
            if fmt:
                parsed = pd.to_datetime(train[column], format=meta["datetime_format"], utc=True)
                train[column] = parsed.dt.tz_localize(None)
                formats[column] = fmt
    return formats


def quantile_cuts(model, train, supports: dict) -> dict:
    """Per discrete column of a fitted GaussianCopula, the cuts between its support values where
    its copula marginal reaches the real cumulative shares: snapped there, the marginal's quantile
    says which value a draw is, and each value comes out at its real frequency (nearest-value cuts
    keep whatever share of a smooth fit lands near each value). A column whose marginal cannot
    give them keeps the nearest-value cuts."""
    import numpy as np

    from synth_ops.synthesizers.sdv.compat import copula_of

    copula = copula_of(model)
    columns = [str(c) for c in getattr(copula, "columns", None) or []]
    cuts = {}
    for column, support in supports.items():
        if column not in columns:
            continue
        values = train[column].to_numpy(dtype="float64", na_value=np.nan)
        values = values[~np.isnan(values)]
        shares = np.searchsorted(np.sort(values), support[:-1], side="right") / max(len(values), 1)
        try:
            found = np.asarray(copula.univariates[columns.index(column)].percent_point(shares), dtype="float64")
        except Exception:  # noqa: BLE001 - any univariate of copulas; nearest-value cuts then
            continue
        if len(found) == len(support) - 1 and np.isfinite(found).all() and (np.diff(found) >= 0).all():
            cuts[column] = found
    return cuts


class SDVGaussianCopula(SDVSingleTable):
    """SDV's GaussianCopulaSynthesizer (``kind: gaussian_copula``). Generation controls steer its own
    sampler parts in normal space (``sampler/copula_controls.py``), as synth-ops' copula is
    steered, never SDV's rejection sampling (slow for a rare class: SDV #496, #2364; no ranges: #1843).
    A model pickled as ``SDVSingleTable`` still loads: that class still covers the kind."""

    kinds = ("gaussian_copula",)
    capabilities = Capabilities(
        portable_sampler=("gaussian_copula",), controls=("rebalance", "fairness", "conditions", "ranges", "impute")
    )

    def _sample_controlled(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict, first_row: int
    ) -> Iterator[Any]:
        yield from self._sample_steered(table, rows, seed, batch_rows, controls, first_row)
