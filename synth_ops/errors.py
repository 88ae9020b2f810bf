"""One error root for everything synth-ops raises on purpose.

Each subclass maps to one CLI exit code (see ``EXIT_CODES``), so the shells
(CLI, Dagster, Airflow) translate errors the same way.
"""

from __future__ import annotations


def one_line(error: Exception) -> str:
    """A library's error message, whitespace collapsed, for embedding in one of ours."""
    return " ".join(str(error).split())


class SynthOpsError(Exception):
    """Root of all synth-ops errors. ``str(error)`` is a single line for the user."""

    exit_code = 2

    def __init__(self, message: str):
        # One line, always: multi-problem errors are joined with "; " by their producers.
        super().__init__(" ".join(str(message).split("\n")))


class SpecError(SynthOpsError):
    """The pipeline spec is malformed or names something that does not exist."""

    exit_code = 2


class InputError(SynthOpsError):
    """The source data cannot be synthesized as given (empty, all-null column, ...)."""

    exit_code = 2


class ModelIntegrityError(SynthOpsError):
    """A stored model does not match its checksum or the installed library versions."""

    exit_code = 2


class GateFailed(SynthOpsError):
    """A gate refused the synthetic data; nothing was published."""

    exit_code = 1

    def __init__(self, message: str, failures: list[str] | None = None):
        super().__init__(message)
        self.failures = list(failures or [])


class StoreError(SynthOpsError):
    """The store could not be read or written (after retries where they apply)."""

    exit_code = 3


class BudgetExceeded(SynthOpsError):
    """A DP fit would take its privacy ledger past the budget; nothing was fitted or published."""

    exit_code = 1


class DependencyError(SynthOpsError):
    """An installed library is missing or outside the version range synth-ops is tested with: a
    fast path that reads its internals could sample wrongly, so nothing is fitted or sampled."""

    exit_code = 2
