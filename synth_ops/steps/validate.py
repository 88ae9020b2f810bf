"""validate: run every gate on the staged shards and write ``gates.json`` (pass or fail)."""
from __future__ import annotations

import logging

from synth_ops.errors import InputError
from synth_ops.gates import GATES, GateInput
from synth_ops.records import GateRecord
from synth_ops.steps.generate import shard_records, verify_shard
from synth_ops.workspace import Workspace

log = logging.getLogger("synth_ops")


def validate(ws: Workspace, table: str) -> GateRecord:
    """All gates for one table. Returns the record; callers decide what a failure means."""
    if not ws.has(table, "profile.json"):
        raise InputError(f"tables.{table}: no profile for this run; run `synth-ops profile` first")
    shards = shard_records(ws, table)
    gate_input = GateInput(
        ws=ws, table=table, profile=ws.read(table, "profile.json"),
        shard_paths=[verify_shard(ws, record) for record in shards], shards=shards,
    )
    results = [result for gate in GATES for result in gate(gate_input)]
    passed = all(r.passed for r in results)
    record = GateRecord(
        name=ws.spec.name, table=table, run_id=ws.run_id, passed=passed,
        results=[r.to_dict() for r in results], gates_key=ws.key(table, "gates.json"),
    )
    ws.write(table, "gates.json", record.to_dict())
    log.info("%s: gates %s (%d checks, %d failed)", table, "passed" if passed else "FAILED",
             len(results), sum(not r.passed for r in results))
    return record
