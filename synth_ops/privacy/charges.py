"""Where fit meets the ledger: which ledger a DP fit is charged to, the budget check a run makes
before any work, and the reservation around the fit itself (see ``ledger.py`` for the rules)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from synth_ops.errors import SpecError, SynthOpsError
from synth_ops.privacy.ledger import Budget, Charge


@dataclasses.dataclass(frozen=True)
class PlannedCharge:
    ledger: str
    table: str
    charge: Charge
    budget: Budget


def planned_charge(spec, kind: str, tables: tuple[str, ...] | list[str], private: bool) -> PlannedCharge | None:
    """The charge a fit of ``tables`` with ``kind`` makes, or None for a backend without DP
    (``private``: the backend's ``capabilities.differential_privacy``). SpecError when privacy and the
    backend disagree (a privacy section on a non-DP kind would promise a guarantee nothing gives)."""
    if spec.privacy is None:
        if private:
            raise SpecError(
                f"privacy: synthesizer.kind {kind} spends privacy: set privacy.epsilon, privacy.delta "
                "and privacy.budget"
            )
        return None
    if not private:
        raise SpecError(
            f"privacy: synthesizer.kind {kind} is not differentially private; use dp_mst or dp_aim, "
            "or remove the privacy section"
        )
    (table,) = tables  # DP backends fit one table at a time (their capabilities say so)
    return PlannedCharge(
        spec.privacy.ledger_of(spec.name, table),
        table,
        Charge(spec.privacy.epsilon, spec.privacy.delta),
        Budget(spec.privacy.budget.epsilon, spec.privacy.budget.delta),
    )


def _store(spec):
    from synth_ops.stores import open_store

    return open_store(spec.publish.uri, spec.s3)


def check_budget(spec, run_id: str, planned: PlannedCharge) -> None:
    """BudgetExceeded now, before profiling or fitting, when this run's fit could not be charged
    (the reservation at fit time decides for good: another fit may spend meanwhile)."""
    from synth_ops.privacy.ledger import SPENT, check_room, read_ledger

    state = read_ledger(_store(spec), planned.ledger)
    entry = state.entry(run_id, planned.table)
    if entry is None or entry["status"] not in SPENT:
        check_room(state, planned.charge, planned.budget)


@contextlib.contextmanager
def charged_fit(spec, run_id: str, planned: PlannedCharge | None) -> Iterator[dict[str, Any]]:
    """Reserve before the body (the fit) runs, then settle: charged when it finished or failed
    after measuring, released when the backend refused its input first (a spec or input error).
    Yields a dict that holds the ledger's entry and totals once settled (for model.json)."""
    outcome: dict[str, Any] = {}
    if planned is None:
        yield outcome
        return
    from synth_ops.privacy.ledger import read_ledger, reserve, settle

    store = _store(spec)
    reserve(
        store, planned.ledger, run_id, planned.table, planned.charge, planned.budget, {"spec": spec.name, "kind": "fit"}
    )
    try:
        yield outcome
    except SynthOpsError as error:
        status = "released" if error.exit_code == 2 else "charged"
        settle(store, planned.ledger, run_id, planned.table, status, f"fit failed ({type(error).__name__})")
        raise
    except BaseException as error:
        settle(store, planned.ledger, run_id, planned.table, "charged", f"fit failed ({type(error).__name__})")
        raise
    entry = settle(store, planned.ledger, run_id, planned.table, "charged")
    outcome.update(privacy_record(read_ledger(store, planned.ledger), planned, entry))


def privacy_record(state, planned: PlannedCharge, entry: dict[str, Any]) -> dict[str, Any]:
    """What records, metadata and the report say of a DP fit: its charge and its ledger's totals."""
    return {
        "ledger": planned.ledger,
        "charge": {k: entry[k] for k in ("epsilon", "delta", "rho")},
        **{k: v for k, v in state.summary(planned.budget).items() if k != "ledger"},
    }
