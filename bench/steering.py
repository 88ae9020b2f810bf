"""What steering costs the copulas (issue 32 bounds a rebalance at 2x an uncontrolled run).

Both copulas (synth-ops' ``copula`` and SDV's ``gaussian_copula``) are steered inside the portable
sampler (``sampler/copula_controls.py``), the path ``synth-ops generate`` takes with or without
controls. Here, per case of ``bench/controls.py`` (a rare class) and per kind, on the same fitted
model, sampler and seed: the sampler's uncontrolled rows, the rare class rebalanced to 50%, and
fairness against the case's sensitive column (where it has one), best of three each, ``--rows``
rows decoded to Arrow tables, in this process.

    python bench/steering.py [--rows 1000000] [--kinds copula,gaussian_copula]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controls import CASES, _spec  # noqa: E402
from corpus_tables import write_source  # noqa: E402


def _best(run, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(name: str, kind: str, rows: int, directory: Path) -> dict:
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.sampler.sampler import Sampler
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.profile import profile

    column, rare, sensitive, columns = CASES[name]
    spec = _spec(directory, name, write_source(name, directory), kind, columns, None)
    ws = Workspace.open(load_spec(spec))
    profile(ws, name)
    fit(ws, name)
    record = ws.read(name, "model.json")["sampler"][name]
    sampler = Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])
    batch = 50_000
    cases = {"rebalanced": {"rebalance": {"column": column, "shares": {rare: 0.5}}}}
    if sensitive:
        cases["fair"] = {"fairness": {"target": column, "sensitive": [sensitive]}}

    def draw(controls=None):
        return sum(table.num_rows for table, _ in sampler.batches(rows, 3, 0, batch, controls=controls))

    out = {"uncontrolled": _best(draw)}
    for label, controls in cases.items():
        if draw(controls) != rows:  # every row drawn, or the timing means nothing
            raise RuntimeError(f"{name}: the steered sampler gave another count of rows than {rows}")
        out[label] = _best(lambda controls=controls: draw(controls))
    return {"table": name, "kind": kind, "rows": rows, **out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--kinds", default="copula,gaussian_copula")
    args = parser.parse_args(argv)
    print("| case | kind | uncontrolled s | rebalanced s (ratio) | fair s (ratio) |")
    print("|---|---|---|---|---|")
    for name in CASES:
        for kind in args.kinds.split(","):
            with tempfile.TemporaryDirectory(prefix=f"steering-{name}-") as directory:
                row = measure(name, kind, args.rows, Path(directory))
            plain = row["uncontrolled"]
            cells = [f"{row[k]:.3f} ({row[k] / plain:.2f}x)" if k in row else "-" for k in ("rebalanced", "fair")]
            print(f"| {name} | {kind} | {plain:.3f} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
