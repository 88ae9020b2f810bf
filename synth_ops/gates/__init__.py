"""Gates: checks that must all pass before a release is published.

A gate is a function ``(GateInput) -> list[GateResult]``; ``GATES`` lists them in the order they
run. Fidelity and privacy gates slot in here beside the expectations gate.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from synth_ops.records import GateResult, ShardRecord
from synth_ops.workspace import Workspace


@dataclasses.dataclass(frozen=True)
class GateInput:
    ws: Workspace
    table: str
    profile: dict
    shard_paths: list[str]  # verified local Parquet files of the synthetic table
    shards: list[ShardRecord]


def _expectations(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.expectations import run_expectations

    return run_expectations(gate_input)


GATES: list[Callable[[GateInput], list[GateResult]]] = [_expectations]
