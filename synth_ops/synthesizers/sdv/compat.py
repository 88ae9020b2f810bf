"""The one module that reads SDV's, RDT's and copulas' private names, and the range of their versions
it is tested with.

The fast paths (``fastfit``, ``fastpath``), the backends' seeding (``single``, ``hma``) and the
portable sampler's SDV export (``synthesizers/sdv/export.py``) rely on what no release promises: the
attributes a fitted synthesizer, data processor or transformer keeps, the private helpers a fit is
patched at, the steps of a copula's sampling. A minor release may rename or rework any of them,
and not always loudly: a patch of a renamed helper would do nothing, an export reading a reworked
attribute could write a sampler that draws something else than SDV would. So every such name is
read here, by a named accessor, and the first use of one checks the installed versions against
``TESTED``: outside it, ``DependencyError`` names the library, its version and the range, and
nothing is fitted or sampled.

The few private names of scipy and pandas the fast fit reproduces (``weighted_mle``, the datetime
format guess) are read here too, so that one file lists every library internal synth-ops touches;
they are not version-guarded (scipy's fit internals have been stable across the supported range).
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from synth_ops.errors import DependencyError

# library -> (lowest tested version, first untested version): what the accessors below are tested with
TESTED = {"sdv": ("2.0", "2.1"), "rdt": ("2.0", "2.1"), "copulas": ("0.14", "0.15")}

_verified = False  # set once the installed versions are checked


def installed_version(library: str) -> str | None:
    """The installed version of ``library`` as its distribution says, or None when it is missing."""
    from importlib import metadata

    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return None


def _release(version: str) -> tuple[int, ...]:
    """A version's release numbers ("2.0.1rc1" -> (2, 0, 1)): pre-releases of an untested minor
    count as that minor, so they are refused too."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip())
    return tuple(int(part) for part in match.group().split(".")) if match else ()


def tested_range(library: str) -> str:
    low, high = TESTED[library]
    return f"{library}>={low},<{high}"


def require_tested_versions() -> None:
    """DependencyError (one line) unless every library in ``TESTED`` is installed within its range."""
    global _verified
    for library, (low, high) in TESTED.items():
        version = installed_version(library)
        if version is None:
            raise DependencyError(f"{library} is not installed; synth-ops' SDV backends need {tested_range(library)}")
        if not _release(low) <= _release(version) < _release(high):
            raise DependencyError(
                f"{library} {version} is installed, outside the range synth-ops' SDV fast paths "
                f"are tested with ({tested_range(library)}): pip install '{tested_range(library)}'"
            )
    _verified = True


def _guarded(function):
    """Checks the installed versions on the first use of any accessor (after that, a flag read)."""

    @functools.wraps(function)
    def guarded(*args, **kwargs):
        if not _verified:
            require_tested_versions()
        return function(*args, **kwargs)

    return guarded


# --- SDV: a synthesizer's fitted parts -------------------------------------------------------------


@_guarded
def copula_of(model):
    """The copulas model a fitted SDV synthesizer samples from (GaussianMultivariate), or None."""
    return getattr(model, "_model", None)


@_guarded
def data_processor(model):
    """SDV's DataProcessor inside a synthesizer (its transformers, formatters and dtypes), or None."""
    return getattr(model, "_data_processor", None)


@_guarded
def hyper_transformer(model):
    """The RDT HyperTransformer inside an SDV synthesizer, or None."""
    return getattr(data_processor(model), "_hyper_transformer", None)


@_guarded
def set_random_state(model, seed: int) -> None:
    """Seed an SDV single-table synthesizer's own sampling state (its copula or GAN)."""
    model._set_random_state(seed)


@_guarded
def seed_hma(model, seed: int) -> None:
    """Seed HMA's numpy state and every table synthesizer inside it, as HMA's own reset does."""
    model._numpy_seed = seed
    for table_synthesizer in model._table_synthesizers.values():
        table_synthesizer._set_random_state(seed)


@_guarded
def generates_keys(processor) -> bool:
    """Whether SDV generates key columns of the processor's table."""
    return bool(processor._keys or getattr(processor, "_primary_key", None))


@_guarded
def has_constraints(model) -> bool:
    return bool(getattr(model, "_chained_constraints", None) or getattr(model, "_reject_sampling_constraints", None))


@_guarded
def training_dtypes(processor) -> dict:
    """Column -> the dtype SDV casts sampled values back to."""
    return processor._dtypes


# --- RDT: a transformer's or formatter's fitted numbers ---------------------------------------------


@_guarded
def fitted_dtype(transformer):
    return getattr(transformer, "_dtype", None)


@_guarded
def fitted_range(transformer) -> tuple[Any, Any]:
    """(minimum, maximum) a FloatFormatter, timestamp encoder or SDV NumericalFormatter learned."""
    return transformer._min_value, transformer._max_value


@_guarded
def rounding_digits(transformer) -> int | None:
    """The decimals a formatter learned to round to (set by its fit; None when it rounds nothing)."""
    return getattr(transformer, "_rounding_digits", None)


@_guarded
def null_generation(null_transformer) -> tuple[str | None, float | None]:
    """(how nulls are sampled back: "from_column", "random" or None, the learned null share)."""
    return (
        getattr(null_transformer, "_missing_value_generation", None),
        getattr(null_transformer, "_null_percentage", None),
    )


@_guarded
def has_time_zones(transformer) -> bool:
    return bool(
        getattr(transformer, "_has_multiple_timezones", False) or getattr(transformer, "_timezone_offset", None)
    )


@_guarded
def integer_bounds(representation: str) -> tuple[int, int]:
    """The range RDT clips an integer ``computer_representation`` ("Int8", ...) to."""
    from rdt.transformers.numerical import INTEGER_BOUNDS

    return INTEGER_BOUNDS[representation]


@_guarded
def fill_nan_with_none(data):
    from rdt.transformers.utils import fill_nan_with_none as fill

    return fill(data)


@_guarded
def input_columns(hyper) -> list:
    return hyper._input_columns


@_guarded
def output_columns(hyper) -> list:
    return hyper._output_columns


@_guarded
def transformer_sequence(hyper) -> list | None:
    """The HyperTransformer's fitted transformers in the order it applies them, or None."""
    return getattr(hyper, "_transformers_sequence", None)


@_guarded
def validate_fitted(hyper) -> None:
    """RDT's own checks (and error messages) before a reverse transform."""
    hyper._validate_config_exists()
    hyper._validate_fitted()


@_guarded
def reverse_one(transformer, data):
    """What ``BaseTransformer.reverse_transform`` runs for one transformer: its ``_reverse_transform``
    under the transformer's reverse-transform random state."""
    from rdt.transformers.base import set_random_states

    if transformer.random_states is None:
        return transformer._reverse_transform(data)
    with set_random_states(transformer.random_states, "reverse_transform", transformer.set_random_state):
        return transformer._reverse_transform(data)


@_guarded
def override_hyper_reverse(hyper, replacement: Callable) -> None:
    """The HyperTransformer's reverse transform replaced on this instance only (never pickled back):
    ``replacement(hyper, original, data, prevent_subset)``, ``original`` the class's own method."""
    hyper._reverse_transform = functools.partial(replacement, hyper, type(hyper)._reverse_transform)


@_guarded
def override_datetime_format(transformer, function: Callable) -> None:
    """The print-and-parse a timestamp encoder truncates sampled datetimes with, on this instance only."""
    transformer._format_datetime = function


# --- copulas: the Gaussian copula's sampling steps --------------------------------------------------


@_guarded
def kde_bounds(univariate) -> tuple[float, float]:
    """GaussianKDE's solver bracket (data minimum - 5 std, maximum + 5 std)."""
    return univariate._get_bounds()


@_guarded
def normal_samples(copula, num_rows: int):
    """GaussianMultivariate's correlated normal draws, under its random state as its ``sample`` draws them."""
    from copulas.utils import set_random_state as copula_random_state

    if copula.random_state is None:
        return copula._get_normal_samples(num_rows, None)
    with copula_random_state(copula.random_state, copula.set_random_state):
        return copula._get_normal_samples(num_rows, None)


# --- where a fit is patched (``fastfit``) -------------------------------------------------------------


class Hook(NamedTuple):
    """An attribute a fit replaces for its duration: ``getattr(owner, name)`` is the original."""

    owner: Any
    name: str


@_guarded
def scipy_marginal_hooks() -> dict[str, Hook]:
    """scipy distribution name -> where a copulas univariate looks it up to call ``.fit`` on it."""
    modules = {
        "beta": "copulas.univariate.beta",
        "gamma": "copulas.univariate.gamma",
        "loglaplace": "copulas.univariate.log_laplace",
        "t": "copulas.univariate.student_t",
    }
    return {dist: Hook(importlib.import_module(module), dist) for dist, module in modules.items()}


@_guarded
def fit_hooks() -> dict[str, Hook]:
    """The private helpers of SDV, RDT and copulas ``fast_fit`` replaces, by what they do."""
    import sdv.metadata._single_table as single_table
    from copulas.univariate.base import ScipyModel
    from rdt.transformers.categorical import UniformEncoder
    from rdt.transformers.datetime import UnixTimestampEncoder
    from sdv.data_processing import datetime_formatter

    return {
        # a staticmethod of SingleTableMetadata: (column, validation function) -> invalid values
        "invalid_column_values": Hook(single_table._SingleTableMetadata, "_get_invalid_column_values"),
        "cast_to_datetime64": Hook(single_table, "_cast_to_datetime64"),
        "is_datetime_type": Hook(single_table, "_is_datetime_type"),
        "guess_datetime_format": Hook(datetime_formatter, "_get_datetime_format"),
        "uniform_encoder_transform": Hook(UniformEncoder, "_transform"),
        "timestamp_encoder_fit": Hook(UnixTimestampEncoder, "_fit"),
        "scipy_model_cdf": Hook(ScipyModel, "cdf"),
    }


# --- scipy and pandas internals the fast fit reproduces (not version-guarded) ----------------------


class ScipyLikelihood(NamedTuple):
    """The pieces of ``rv_continuous._penalized_nnlf`` and ``fit`` of one scipy distribution."""

    fitstart: Callable
    unpack_loc_scale: Callable
    argcheck: Callable
    support_mask: Callable
    logpdf: Callable
    log_xmax: float  # scipy's penalty per out-of-support point is log_xmax * 100


def scipy_likelihood(dist) -> ScipyLikelihood:
    from scipy.stats._distn_infrastructure import _LOGXMAX

    return ScipyLikelihood(
        dist._fitstart, dist._unpack_loc_scale, dist._argcheck, dist._support_mask, dist._logpdf, _LOGXMAX
    )


def guess_datetime_format(values) -> str | None:
    """pandas' format guess for an array of datetime strings (what RDT's timestamp encoder calls)."""
    from pandas.core.tools.datetimes import _guess_datetime_format_for_array

    return _guess_datetime_format_for_array(values)
