"""The privacy-budget ledger: what DP fits spent on one source, across runs, schedules and specs.

One JSON object per ledger in the publish store, ``_privacy/<ledger>.json``, changed only by
conditional writes (``Store.write_if`` against the version read): two fits racing for the last of a
budget both read, both try to write, and one loses and re-reads, so the total never exceeds it.

An entry is keyed by (run id, table) and moves through:

    reserved  written before the fit reads a row; counts as spent
    charged   the fit ran its mechanism (it finished, or failed after measuring): spent for good
    released  the backend refused the input before measuring anything: not spent

A fit killed before it settles leaves its reservation, which stays spent: nothing tells whether
its noisy measurements were seen. The next attempt of the same run id takes that reservation over
instead of charging again (a run id is one spec content on one source; its model is written once),
as does an unchanged re-run. Sampling more rows from a fitted model reads no real row and costs
nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

from synth_ops.errors import BudgetExceeded, SpecError, StoreError
from synth_ops.privacy.accounting import epsilon_of, rho_of

FORMAT = "synth-ops-privacy-ledger"
PREFIX = "_privacy"
LEDGER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
SPENT = ("reserved", "charged")
_ATTEMPTS = 50  # conditional-write retries: each loss means another fit moved the ledger meanwhile


@dataclasses.dataclass(frozen=True)
class Charge:
    """What one fit spends, as declared ((epsilon, delta)) and as composed (rho)."""

    epsilon: float
    delta: float

    @property
    def rho(self) -> float:
        return rho_of(self.epsilon, self.delta)


@dataclasses.dataclass(frozen=True)
class Budget:
    epsilon: float
    delta: float


@dataclasses.dataclass
class LedgerState:
    name: str
    entries: list[dict[str, Any]]

    @property
    def rho(self) -> float:
        return sum(e["rho"] for e in self.entries if e["status"] in SPENT)

    def epsilon(self, delta: float) -> float:
        return epsilon_of(self.rho, delta)

    def entry(self, run_id: str, table: str) -> dict[str, Any] | None:
        return next((e for e in self.entries if e["run_id"] == run_id and e["table"] == table), None)

    def summary(self, budget: Budget | None) -> dict[str, Any]:
        """Totals for records, metadata and ``synth-ops budget``: rho, and epsilon at the budget's delta."""
        out = {"ledger": self.name, "rho_spent": self.rho, "fits": sum(e["status"] in SPENT for e in self.entries)}
        if budget is not None:
            spent = self.epsilon(budget.delta)
            out.update(
                epsilon_spent=spent,
                epsilon_remaining=max(budget.epsilon - spent, 0.0),
                budget={"epsilon": budget.epsilon, "delta": budget.delta},
            )
        return out


def ledger_key(name: str) -> str:
    if not LEDGER_NAME.match(name):
        raise SpecError(f"privacy.ledger: {name!r} is not a ledger name (lower-case letters, digits, '_', '.', '-')")
    return f"{PREFIX}/{name}.json"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _read(store, name: str) -> tuple[LedgerState, str | None]:
    from synth_ops.stores import ObjectNotFound

    key = ledger_key(name)
    try:
        data, tag = store.read_versioned(key)
    except ObjectNotFound:
        return LedgerState(name, []), None
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT or doc.get("ledger") != name:
            raise ValueError
        return LedgerState(name, list(doc["entries"])), tag
    except (ValueError, KeyError, TypeError, AttributeError):
        raise StoreError(
            f"{store.uri.rstrip('/')}/{key}: not a synth-ops privacy ledger; it was modified outside synth-ops"
        ) from None


def read_ledger(store, name: str) -> LedgerState:
    return _read(store, name)[0]


def _write(store, state: LedgerState, tag: str | None) -> None:
    doc = {"format": FORMAT, "version": 1, "ledger": state.name, "entries": state.entries}
    # never unconditionally: a ledger that two fits overwrite could spend past its budget
    store.write_if(ledger_key(state.name), json.dumps(doc, indent=1).encode(), tag, fallback=False)


def check_room(state: LedgerState, charge: Charge, budget: Budget) -> None:
    """BudgetExceeded (one line: ledger, spent, requested, remaining) when ``charge`` does not fit."""
    if epsilon_of(state.rho + charge.rho, budget.delta) > budget.epsilon * (1 + 1e-9):
        raise BudgetExceeded(_refusal(state, charge, budget))


def _refusal(state: LedgerState, charge: Charge, budget: Budget) -> str:
    spent = state.epsilon(budget.delta)
    return (
        f"privacy ledger {state.name}: spent epsilon {spent:.4g}, this fit requests epsilon {charge.epsilon:.4g} "
        f"(delta {charge.delta:.3g}), remaining {max(budget.epsilon - spent, 0.0):.4g} of the budget's "
        f"epsilon {budget.epsilon:.4g} at delta {budget.delta:.3g}: fit refused, nothing fitted or published"
    )


def reserve(
    store, name: str, run_id: str, table: str, charge: Charge, budget: Budget, who: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Reserve ``charge`` for (run id, table) before the fit reads a row, or raise BudgetExceeded
    when the ledger's total with it would pass ``budget``. A run id that holds a reservation or a
    charge already is not charged again."""
    from synth_ops.stores import PreconditionFailed

    for _ in range(_ATTEMPTS):
        state, tag = _read(store, name)
        entry = state.entry(run_id, table)
        if entry is not None and entry["status"] in SPENT:
            return entry
        check_room(state, charge, budget)
        fresh = {
            "run_id": run_id,
            "table": table,
            **(who or {}),
            "epsilon": charge.epsilon,
            "delta": charge.delta,
            "rho": charge.rho,
            "status": "reserved",
            "reserved_at": _now(),
        }
        state.entries = [e for e in state.entries if e is not entry] + [fresh]
        try:
            _write(store, state, tag)
            return fresh
        except PreconditionFailed:
            continue  # another fit changed the ledger since we read it: read again, decide again
    raise StoreError(f"privacy ledger {name}: {_ATTEMPTS} conditional writes lost in a row; try again")


def settle(store, name: str, run_id: str, table: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """Mark (run id, table)'s reservation ``charged`` or ``released``."""
    from synth_ops.stores import PreconditionFailed

    if status not in ("charged", "released"):
        raise ValueError(f"unknown ledger status {status!r}")
    for _ in range(_ATTEMPTS):
        state, tag = _read(store, name)
        entry = state.entry(run_id, table)
        if entry is None:
            raise StoreError(f"privacy ledger {name}: no reservation for run {run_id} of {table}")
        entry.update(status=status, settled_at=_now())
        if reason:
            entry["reason"] = reason
        try:
            _write(store, state, tag)
            return entry
        except PreconditionFailed:
            continue
    raise StoreError(f"privacy ledger {name}: {_ATTEMPTS} conditional writes lost in a row; try again")


def budget_of(spec) -> Budget:
    return Budget(spec.privacy.budget.epsilon, spec.privacy.budget.delta)


def budget_report(spec, tables: list[str]) -> list[dict[str, Any]]:
    """Per ledger the given tables are charged to: its entries and totals (``synth-ops budget``)."""
    from synth_ops.stores import open_store

    store = open_store(spec.publish.uri, spec.s3)
    ledgers: dict[str, list[str]] = {}
    for table in tables:
        ledgers.setdefault(spec.privacy.ledger_of(spec.name, table), []).append(table)
    reports = []
    for name, of_tables in ledgers.items():
        state = read_ledger(store, name)
        reports.append(
            {
                **state.summary(budget_of(spec)),
                "tables": of_tables,
                "entries": state.entries,
                "uri": f"{store.uri.rstrip('/')}/{ledger_key(name)}",
            }
        )
    return reports
