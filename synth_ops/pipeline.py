"""run(spec): the five steps in order, for every table. What the CLI and the tests call."""
from __future__ import annotations

from typing import Callable

from synth_ops import releases
from synth_ops.errors import GateFailed
from synth_ops.plan import build_plan
from synth_ops.records import ReleaseRecord
from synth_ops.spec import Spec
from synth_ops.steps.fit import fit
from synth_ops.steps.generate import generate
from synth_ops.steps.profile import profile
from synth_ops.steps.publish import publish, up_to_date
from synth_ops.steps.validate import validate, validate_release
from synth_ops.stores import open_store
from synth_ops.workspace import Workspace


def run(spec: Spec, workers: int = 1, on_rows: Callable[[int], None] | None = None,
        on_fit: Callable[[str, int], None] | None = None) -> ReleaseRecord:
    """Profile, fit, generate, validate and publish. Raises GateFailed (nothing published) if a gate fails.

    With unchanged spec, sources and libraries the version id is unchanged, and a run whose
    version is already current does no work at all.
    """
    ws = Workspace.open(spec)
    store = open_store(spec.publish.uri, spec.s3)
    # Fail before hours of fitting, not after: both stores must be usable.
    store.check()
    ws.artifacts.check()
    if releases.current_version(store, spec.name) == ws.run_id:
        return up_to_date(ws, store)
    plan = build_plan(spec)
    from synth_ops.privacy.charges import check_budget, planned_charge

    for model in plan.models:  # a DP refit past its ledger's budget is refused before any work
        planned = planned_charge(spec, spec.synthesizer_of(model.tables[0]).kind, model.tables)
        if planned is not None:
            check_budget(spec, ws.run_id, planned)
    for table in plan.tables:  # every table's input is checked before any model is fitted
        profile(ws, table.name)
    for model in plan.models:
        fit(ws, model.name, progress=on_fit)
    failures = []
    for table in plan.tables:  # parents before children
        generate(ws, table.name, workers=workers, on_rows=on_rows)
        failures += validate(ws, table.name).failures()
    release = validate_release(ws)
    if release is not None:
        failures += release.failures()
    if failures:
        raise GateFailed(f"{len(failures)} gate(s) failed; nothing published", failures)
    return publish(ws, store)
