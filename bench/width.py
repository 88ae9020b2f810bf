"""Width bench: the same 300 real rows at 20 and at 200 columns, end to end through the real CLI.

The wide table is built from scikit-learn's bundled real tables, side by side: a seeded sample of 300
rows of breast_cancer (30 measurements and the diagnosis, as its label text) beside a seeded sample of
300 rows of digits (the digit, as a label, and its 8x8 pixel counts, 0-16; pixels constant in the
sample are left out, as a profile would make them generated constants). That gives 87 real
columns; the rest up to 200 are copies of them under a seeded row permutation (suffix ``_p1``,
``_p2``): each copy keeps its block's shapes and within-block pair trends, and is independent of
the other blocks. The 20-column table is the first 20 columns of the same rows (the diagnosis and
19 measurements), so the two runs differ only in width.

For each width, a default spec (bench/corpus.py: the source and ``generate.shards: 3``) runs as
``python -m synth_ops.cli -q run spec.yaml`` (timed whole), then again in a fresh directory one step
at a time (``profile``, ``fit``, ``generate``, ``validate``, ``publish``; each timed, each a new
process). It prints the whole-run seconds, each step's, and the 200/20 ratios; then, in process, the
seconds of every gate of ``synth_ops.gates.GATES`` and of the HTML report on each width's generated
shards, with their ratio, and (``--profile N``) the N functions with most cumulative time in the
widest validation.
The in-process timings follow an untimed pass that pays the libraries' imports; a CLI step pays them
every time.

    python bench/width.py [--widths 20,200] [--rows 300] [--profile 25] [--keep DIR]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import default_spec  # noqa: E402

STEPS = ("profile", "fit", "generate", "validate", "publish")
SEED = 11


def wide_table(rows: int, width: int, seed: int = SEED):
    """``rows`` real rows and ``width`` columns, built as the module docstring says."""
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_digits

    cancer, digits = load_breast_cancer(as_frame=True), load_digits(as_frame=True)
    measures = cancer.frame.sample(rows, random_state=seed).reset_index(drop=True)
    measures.insert(0, "diagnosis", cancer.target_names[measures.pop("target").to_numpy()])
    measures.columns = [c.replace(" ", "_") for c in measures.columns]
    pixels = digits.frame.sample(rows, random_state=seed + 1).reset_index(drop=True)
    pixels.insert(0, "digit", "digit_" + pixels.pop("target").astype(str))
    pixels = pixels.loc[:, pixels.nunique() > 1]
    block = pd.concat([measures, pixels], axis=1)
    blocks, rng = [block], np.random.default_rng(seed)
    while sum(b.shape[1] for b in blocks) < width:
        copy = block.iloc[rng.permutation(rows)].reset_index(drop=True)
        blocks.append(copy.add_suffix(f"_p{len(blocks)}"))
    return pd.concat(blocks, axis=1).iloc[:, :width]


def _cli(*args: str, timeout: float) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "synth_ops.cli", "-q", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return time.perf_counter() - started, result


def _spec(directory: Path, frame, width: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    source = directory / f"wide{width}.csv"
    frame.to_csv(source, index=False)
    return default_spec(f"wide{width}", source, directory)


def run_width(frame, width: int, directory: Path, timeout: float) -> dict:
    """The whole run, then the steps one by one in a fresh directory: seconds of each."""
    seconds, result = _cli("run", str(_spec(directory / "run", frame, width)), timeout=timeout)
    row = {"width": width, "run": seconds, "run_exit": result.returncode, "stderr": result.stderr.strip()}
    spec = _spec(directory / "steps", frame, width)
    for step in STEPS:
        row[step], result = _cli(step, str(spec), timeout=timeout)
        row[f"{step}_exit"] = result.returncode
        if result.returncode not in (0, 1):  # 1: a gate failed; publish then refuses, which is timed too
            row["stderr"] += f"\n{step}: " + result.stderr.strip()[-500:]
            break
    row["spec"] = spec
    return row


def gate_breakdown(spec_path: Path, table: str, profile_top: int) -> tuple[list[tuple[str, float, int]], str]:
    """Seconds of each gate family and of the HTML report on the generated shards, in process (a gate's
    first use loads the real rows, shared by the later ones); with ``profile_top``, a cProfile listing."""
    from synth_ops.gates import GATES, GateInput
    from synth_ops.runtime.quiet import quiet_libraries
    from synth_ops.runtime.shards import verified_shards
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.generate import shard_records
    from synth_ops.steps.validate import _write_report

    ws = Workspace.open(load_spec(spec_path))
    shards = shard_records(ws, table)
    rows, profiler = [], cProfile.Profile() if profile_top else None
    with verified_shards(ws, shards) as paths, quiet_libraries():
        gate_input = GateInput(
            ws=ws, table=table, profile=ws.read(table, "profile.json"), shard_paths=paths, shards=shards
        )
        _ = gate_input.real  # loaded once for every gate: not charged to the first one
        results = []
        for gate in GATES:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            found = gate(gate_input)
            if profiler:
                profiler.disable()
            rows.append((gate.__name__.strip("_"), time.perf_counter() - started, len(found)))
            results += [r.to_dict() for r in found]
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        _write_report(ws, table, gate_input, results)
        if profiler:
            profiler.disable()
        rows.append(("report (HTML)", time.perf_counter() - started, 1))
    listing = ""
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(profile_top)
        listing = out.getvalue()
    return rows, listing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="20,200", help="comma-separated column counts (default 20,200)")
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also list the N functions with most cumulative time in the widest validation",
    )
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--keep", help="work in this directory and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",")]

    frame = wide_table(args.rows, max(widths))
    with tempfile.TemporaryDirectory(prefix="synth-ops-width-") as tmp:
        root = Path(args.keep or tmp)
        results = []
        print("| columns | run s | exit | " + " | ".join(f"{s} s" for s in STEPS) + " |", flush=True)
        print("|---:|---:|---:|" + "---:|" * len(STEPS), flush=True)
        for width in widths:
            row = run_width(frame.iloc[:, :width], width, root / f"w{width}", args.timeout)
            results.append(row)
            steps = " | ".join(f"{row[s]:.1f}" if s in row else "-" for s in STEPS)
            print(f"| {width} | {row['run']:.1f} | {row['run_exit']} | {steps} |", flush=True)
            if row["run_exit"] not in (0, 1):
                print(row["stderr"][-2000:], file=sys.stderr)
        narrow, wide = results[0], results[-1]
        ratio = wide["run"] / narrow["run"]
        print(
            f"\nwhole run {wide['width']}/{narrow['width']} columns: {wide['run']:.1f} s / {narrow['run']:.1f} s "
            f"= {ratio:.1f}x (columns {wide['width'] / narrow['width']:.0f}x; target <= ~12x)"
        )
        for step in STEPS:
            if step in narrow and step in wide:
                print(f"  {step}: {wide[step]:.1f} s / {narrow[step]:.1f} s = {wide[step] / narrow[step]:.1f}x")

        # a first pass, not shown, pays the libraries' imports (GX alone takes 10 s or more), which
        # would otherwise be charged to the first gate of the first width
        gate_breakdown(narrow["spec"], f"wide{narrow['width']}", 0)
        breakdowns = {row["width"]: gate_breakdown(row["spec"], f"wide{row['width']}", 0)[0] for row in results}
        # profiled apart: cProfile's overhead on GX's pure-Python graph work would skew the timings
        listing = gate_breakdown(wide["spec"], f"wide{wide['width']}", args.profile)[1] if args.profile else ""
        print(
            f"\nvalidate, in process, each gate family and the HTML report (target at {wide['width']} columns: "
            "well under 60 s):"
        )
        print("| gate | " + " | ".join(f"{w} cols s" for w in breakdowns) + f" | {wide['width']}/{narrow['width']} |")
        print("|---|" + "---:|" * (len(breakdowns) + 1))
        names = [name for name, _, _ in breakdowns[wide["width"]]]
        for name in names + ["all"]:
            cells = []
            for gates in breakdowns.values():
                seconds = {n: s for n, s, _ in gates}
                cells.append(sum(seconds.values()) if name == "all" else seconds.get(name, float("nan")))
            ratio = cells[-1] / cells[0] if cells[0] > 0.05 else float("nan")
            print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + f" | {ratio:.1f}x |")
        if listing:
            print(f"\ncProfile of the {wide['width']}-column validation (gates and report), by cumulative time:")
            print(listing)
    return 0 if all(r["run_exit"] in (0, 1) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
