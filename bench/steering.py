"""What steering costs the copula, path by path (issue 32 bounds a rebalance at 2x an uncontrolled run).

``bench/controls.py`` times generation through the CLI: an uncontrolled copula run samples through
the portable sampler's compiled kernels, a controlled one through the fitted model's numpy code
(conditioning in normal space is the model's, not the sampler's), so its ratio mixes the cost of
steering with the difference between the two engines. Here, on the same fitted ``kind: copula``
model and seed, per case (bench/controls.py's rare classes rebalanced to 50%): the model's
uncontrolled and rebalanced sampling, and the exported sampler's uncontrolled sampling, best of
three each, ``--rows`` rows, in this process.

    python bench/steering.py [--rows 200000]
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


def measure(name: str, rows: int, directory: Path) -> dict:
    from synth_ops.runtime import models
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.sampler.sampler import Sampler
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.profile import profile

    column, rare, _, columns = CASES[name]
    spec = _spec(directory, name, write_source(name, directory), "copula", columns, None)
    ws = Workspace.open(load_spec(spec))
    profile(ws, name)
    fit(ws, name)
    model = models.load(ws, name)
    record = ws.read(name, "model.json")["sampler"][name]
    sampler = Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])
    controls = {"rebalance": {"column": column, "shares": {rare: 0.5}}}
    batch = 50_000
    out = {
        "model_uncontrolled": _best(lambda: list(model.sample(name, rows, 3, batch))),
        "model_rebalanced": _best(lambda: list(model.sample(name, rows, 3, batch, controls=controls))),
        "sampler_uncontrolled": _best(lambda: list(sampler.batches(rows, 3, 0, batch))),
        "sampler_rows": sum(table.num_rows for table, _ in sampler.batches(rows, 3, 0, batch)),
    }
    if out["sampler_rows"] != rows:  # every row drawn, or the timing means nothing
        raise RuntimeError(f"{name}: the sampler gave {out['sampler_rows']} rows, not {rows}")
    return {"table": name, "rows": rows, **out}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    print(
        "| case | model, uncontrolled s | model, rebalanced s | steering / model | sampler, uncontrolled s | rebalanced / sampler |"
    )
    print("|---|---|---|---|---|---|")
    for name in CASES:
        with tempfile.TemporaryDirectory(prefix=f"steering-{name}-") as directory:
            row = measure(name, args.rows, Path(directory))
        plain, steered, sampler = row["model_uncontrolled"], row["model_rebalanced"], row["sampler_uncontrolled"]
        print(
            f"| {name} | {plain:.3f} | {steered:.3f} | {steered / plain:.2f}x | {sampler:.3f} | {steered / sampler:.2f}x |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
