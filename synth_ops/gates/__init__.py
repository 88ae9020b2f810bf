"""Gates: checks that must all pass before a release is published.

A gate is a function ``(GateInput) -> list[GateResult]``; ``GATES``, the registry, lists them in the
order they run, each with the checks it reports under and whether a table gets it (what
``checks.gate_names`` and so Dagster's asset checks are built from). Each result carries its value, threshold and pass/fail; any failure blocks publication.

A check that cannot measure says so (``not_measured``: value None, the reason in the detail, never
a sentinel number). Whether that blocks depends on why: a gate that compares the synthetic rows
with held-out real rows and has none of them (``without_holdout``: exact_match, dcr_share, the
membership and attribute inference attacks, utility) fails wherever it is gated, because a privacy
or utility claim that was not measured must not let a release through; a measure that is
undefined on the data it was given (a target no model predicts better than chance, too few attack
candidates) is reported and does not block.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from synth_ops.runtime.records import GateResult, ShardRecord
from synth_ops.runtime.workspace import Workspace


@dataclasses.dataclass
class GateInput:
    """What gates look at. Real rows and samples load once, on first use, and are shared."""

    ws: Workspace
    table: str
    profile: dict
    shard_paths: list[str]  # verified local Parquet files of the synthetic table
    shards: list[ShardRecord]
    _samples: dict = dataclasses.field(default_factory=dict, repr=False)

    @functools.cached_property
    def real(self):
        """(train, holdout) exactly as the fit step split them."""
        from synth_ops.profiling.holdout import load_training_rows

        return load_training_rows(self.ws, self.table)

    @functools.cached_property
    def all_real(self):
        """The training and holdout rows together: what the gates' encodings are fitted on, so that
        an encoding does not itself tell a training row from a holdout row."""
        import pandas as pd

        train, holdout = self.real
        return pd.concat([train, holdout], ignore_index=True)

    @functools.cached_property
    def learned(self) -> list[str]:
        """The columns the synthesizer learned: the only ones fidelity and privacy are judged on."""
        from synth_ops.spec.columns import learned_columns

        return learned_columns(self.profile["columns_plan"])

    @functools.cached_property
    def metadata(self) -> dict:
        return self.ws.read(self.table, "metadata.json")["tables"][self.table]

    def iter_synthetic(self, batch_rows: int = 200_000, columns: list[str] | None = None):
        """Every synthetic row (of ``columns``, default all), in bounded DataFrame batches."""
        import pyarrow.parquet as pq

        for path in self.shard_paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns):
                yield batch.to_pandas()

    def real_sample(self, rows: int, reference: bool = False):
        """A seeded sample of at most ``rows`` training rows, the same for every caller (of the
        ``reference`` rows, when asked: what the fidelity gates compare with)."""
        train, _ = self.reference if reference else self.real
        return train.sample(min(len(train), rows), random_state=self.ws.spec.synthesizer.seed)

    @functools.cached_property
    def controls(self) -> dict:
        """The table's generation controls (``TableGenerate.doc()``; empty: none)."""
        return self.ws.spec.controls_of(self.table)

    @functools.cached_property
    def reference(self):
        """(train, holdout) as the fidelity gates (quality, discriminator) compare with: the real rows,
        or under a rebalance or fairness control the real rows resampled (seeded, as many) to what the
        controls asked the synthetic rows to be (``control.control_weights``). The privacy and utility gates keep the real rows."""
        train, holdout = self.real
        if not (self.controls.get("rebalance") or self.controls.get("fairness")):
            return train, holdout
        from synth_ops.gates.control import reweighted

        seed = self.ws.spec.synthesizer.seed
        return reweighted(train, self.controls, [seed, 1]), reweighted(holdout, self.controls, [seed, 2])

    def synthetic_sample(self, rows: int, conditioned: bool = True):
        """A seeded uniform sample of at most ``rows`` synthetic rows, read shard by shard (cached);
        ``conditioned=False`` leaves out the rows generation conditions set (the release's first
        rows): the fidelity gates judge the rows drawn as the model drew them."""
        skip = 0 if conditioned else sum(c["rows"] for c in self.controls.get("conditions", ()))
        if skip >= sum(s.rows for s in self.shards):  # every row conditioned: judge them all
            skip = 0
        if (rows, skip) not in self._samples:
            self._samples[(rows, skip)] = self._sample(rows, skip)
        return self._samples[(rows, skip)]

    def _sample(self, rows: int, skip: int = 0):
        import numpy as np
        import pandas as pd
        import pyarrow.parquet as pq

        total = sum(s.rows for s in self.shards)
        rng = np.random.default_rng([self.ws.spec.synthesizer.seed, 0x6A7E])
        chosen = skip + np.sort(rng.choice(total - skip, size=min(rows, total - skip), replace=False))
        parts, offset = [], 0
        for path, shard in zip(self.shard_paths, self.shards):
            local = chosen[(chosen >= offset) & (chosen < offset + shard.rows)] - offset
            if len(local):
                parts.append(pq.read_table(path).take(local).to_pandas())
            offset += shard.rows
        return pd.concat(parts, ignore_index=True)


NO_HOLDOUT = "no holdout rows: nothing to compare the synthetic rows with"


def not_measured(
    gate: str, name: str, threshold: float | None, why: str, *, passed: bool = True, measures: dict | None = None
) -> GateResult:
    """A check that could not measure: value None and ``why`` in the detail (counts and reasons only,
    never a data value)."""
    return GateResult(
        gate=gate,
        name=name,
        value=None,
        threshold=threshold,
        passed=passed,
        detail=f"not measured: {why}",
        measures=measures or {},
    )


def without_holdout(gate_input: GateInput, gate: str, checks: dict[str, float | None]) -> list[GateResult]:
    """The rule every gate that compares with held-out real rows follows: when the holdout has no
    row, each of its ``checks`` (name -> threshold) is not measured and fails where it is gated (a
    threshold of None is reported only, and passes as every ungated check does). ``[]`` when the
    holdout has rows: the gate measures.

    ``holdout.split_holdout`` refuses a split that leaves no holdout row, so the pipeline stops at
    the profile step before this can happen; the rule keeps a gate from passing on nothing when a
    caller builds its input otherwise."""
    _, holdout = gate_input.real
    if len(holdout):
        return []
    return [
        not_measured(gate, name, threshold, NO_HOLDOUT, passed=threshold is None) for name, threshold in checks.items()
    ]


def _expectations(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.expectations import run_expectations

    return run_expectations(gate_input)


def _quality(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.quality import quality_gate

    return quality_gate(gate_input)


def _privacy(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.privacy import privacy_gates

    return privacy_gates(gate_input)


def _membership(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.membership import membership_gate

    return membership_gate(gate_input)


def _attribute_inference(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.inference import attribute_inference_gate

    return attribute_inference_gate(gate_input)


def _utility(gate_input: GateInput) -> list[GateResult]:
    if gate_input.ws.spec.gates.utility is None:
        return []
    from synth_ops.gates.utility import utility_gate

    return utility_gate(gate_input)


def _control(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.control import control_gate

    return control_gate(gate_input)


def _discriminator(gate_input: GateInput) -> list[GateResult]:
    from synth_ops.gates.discriminator import discriminator_gate

    return discriminator_gate(gate_input)


@dataclasses.dataclass(frozen=True)
class Gate:
    """One gate of the registry: what it runs, the checks its results report under (``checks.check_of``;
    Dagster's asset checks, one each) and whether a spec's table gets it at all."""

    run: Callable[[GateInput], list[GateResult]]
    checks: tuple[str, ...]
    applies: Callable[..., bool] = lambda spec, table: True

    def __call__(self, gate_input: GateInput) -> list[GateResult]:
        return self.run(gate_input)

    @property
    def __name__(self) -> str:  # the benches label a gate by its function's name
        return self.run.__name__


GATES: list[Gate] = [
    Gate(_expectations, ("expectations",)),
    Gate(_quality, ("quality",)),
    # measured on every run, blocking only where its threshold is set
    Gate(_discriminator, ("discriminator",)),
    Gate(_utility, ("utility",), lambda spec, table: spec.gates.utility is not None),
    # for a table whose generation is controlled (tables.<t>.generate)
    Gate(_control, ("control",), lambda spec, table: bool(spec.controls_of(table))),
    Gate(_privacy, ("exact_match", "dcr_share", "pii_leak")),
    Gate(_membership, ("membership_inference",), lambda spec, table: spec.gates.membership_inference is not None),
    # for a table naming sensitive columns
    Gate(
        _attribute_inference,
        ("attribute_inference",),
        lambda spec, table: (
            table is not None and spec.gates.attribute_inference is not None and bool(spec.tables[table].sensitive)
        ),
    ),
]
