"""Generation controls on corpus tables with a rare class (tables.<t>.generate, docs/how-to/controls.md).

Per case and per backend that supports controls (``--kinds``: trees, copula, gaussian_copula, and tabular_argn when its
engine is installed, at its default training time), four runs of the real CLI in this
process on the same spec and seed: uncontrolled, the rare class rebalanced to 50%, fairness of the
class against a sensitive column, and the uncontrolled and rebalanced generation again at
``--rows`` rows to time it (generation seconds from the shard records: the cost of steering, which
issue 32 bounds at 2x). For each published release: the rare class's share, the parity gap (the
largest gap between a class's share within a group of the sensitive column and overall), every
gate's verdict, and train-on-synthetic on the real holdout rows: a gradient-boosting classifier of
the class from the other learned columns, its recall of the rare class and balanced accuracy,
against the same model trained on the real training rows.

    python bench/controls.py [--cases seattle_weather,randhie,planes] [--kinds trees,copula,tabular_argn]
                             [--rows 200000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus_tables import write_source  # noqa: E402

# table -> (column, rare value, sensitive column for fairness, metadata overrides)
CASES = {
    "seattle_weather": ("weather", "drizzle", None, {}),
    "randhie": ("hlthp", 1, "idp", {"hlthp": {"sdtype": "categorical"}, "idp": {"sdtype": "categorical"}}),
    "planes": ("engine", "Reciprocating", "type", {}),
}
KINDS = ("trees", "copula", "gaussian_copula")


def default_kinds() -> list[str]:
    from synth_ops.synthesizers.argn.backend import engine_installed

    return [*KINDS, *(["tabular_argn"] if engine_installed() else [])]


def _spec(directory: Path, table: str, source: Path, kind: str, columns: dict, generate: dict | None, rows=None):
    table_doc = {"source": str(source), "metadata": {"columns": columns}}
    if generate:
        table_doc["generate"] = generate
    doc = {
        "name": table,
        "tables": {table: table_doc},
        "synthesizer": {"kind": kind, "seed": 7},
        "generate": {"shards": 2, **({"rows": rows} if rows else {})},
        "artifacts": {"uri": str(directory / "artifacts")},
        "publish": {"uri": str(directory / "warehouse")},
    }
    path = directory / "spec.yaml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _run(spec: Path, table: str) -> dict:
    from synth_ops.cli import main
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.stores import read_json

    started = time.perf_counter()
    code = main(["-q", "run", str(spec)])
    if code == 2:  # refused before fitting: a bench case that does not fit the data (said in the table)
        raise SystemExit(f"{spec}: refused (exit 2)")
    ws = Workspace.open(load_spec(spec))
    records = [read_json(ws.artifacts, k) for k in ws.artifacts.list(ws.key(table, "shards")) if k.endswith(".json")]
    gates = {r["name"]: r for r in ws.read(table, "gates.json")["results"]} if ws.has(table, "gates.json") else {}
    return {
        "exit": code,
        "seconds": round(time.perf_counter() - started, 1),
        "generate_seconds": round(sum(r["seconds"] for r in records), 3),
        "failed": [name for name, r in gates.items() if not r["passed"]],
        "ws": ws,
    }


def _frame(ws, table: str):
    import pandas as pd
    import pyarrow.parquet as pq

    keys = sorted(k for k in ws.artifacts.list(ws.key(table, "shards")) if k.endswith(".parquet"))
    return pd.concat([pq.read_table(ws.artifacts.local_path(k)).to_pandas() for k in keys], ignore_index=True)


def _text(series):
    from synth_ops.gates.learning import as_text

    return as_text(series).astype(str)


def _tstr(train, holdout, column: str, rare: str, learned: list[str], metadata: dict, seed: int) -> dict:
    """Recall of the rare class and balanced accuracy on the real holdout of a classifier trained on ``train``."""
    import numpy as np
    from sklearn.metrics import balanced_accuracy_score, recall_score

    from synth_ops.gates import learning

    # a column the rows hold no value of (a backend that drew it all null) teaches nothing, and
    # scikit-learn's binning cannot take it
    features = [c for c in learned if c != column and train[c].notna().any()]
    encoding = learning.Encoding.fit(train, metadata, features)
    model = learning.model("classify", seed)
    labels = _text(train[column]).to_numpy()
    if len(np.unique(labels)) < 2:
        return {"recall": None, "balanced_accuracy": None}
    model.fit(encoding.transform(train), labels)
    truth = _text(holdout[column]).to_numpy()
    predicted = model.predict(encoding.transform(holdout))
    return {
        "recall": round(float(recall_score(truth == rare, predicted == rare, zero_division=0)), 3),
        "balanced_accuracy": round(float(balanced_accuracy_score(truth, predicted)), 3),
    }


def _parity(frame, column: str, sensitive: str | None):
    from synth_ops.gates.control import parity_gap

    return round(parity_gap(frame, column, [sensitive])[0], 3) if sensitive else None


def run_case(table: str, kind: str, rows: int, workdir: Path) -> dict:
    from synth_ops.profiling.holdout import load_training_rows
    from synth_ops.spec.columns import learned_columns

    column, rare, sensitive, columns = CASES[table]
    rare = str(rare)
    source = write_source(table, workdir / "data")
    runs = {
        "uncontrolled": None,
        "rebalance": {"rebalance": {"column": column, "shares": {CASES[table][1]: 0.5}}},
    }
    if sensitive:
        runs["fairness"] = {"fairness": {"target": column, "sensitive": [sensitive]}}
    out = {"table": table, "kind": kind, "column": column, "runs": {}}
    for name, generate in runs.items():
        result = _run(_spec(workdir / kind / name, table, source, kind, columns, generate), table)
        ws = result.pop("ws")
        train, holdout = load_training_rows(ws, table)
        learned = learned_columns(ws.read(table, "profile.json")["columns_plan"])
        metadata = ws.read(table, "metadata.json")["tables"][table]
        synthetic = _frame(ws, table)
        if "real" not in out:
            out["real"] = {
                "share": round(float((_text(train[column]) == rare).mean()), 4),
                "parity_gap": _parity(train, column, sensitive),
                **_tstr(train, holdout, column, rare, learned, metadata, 7),
            }
        out["runs"][name] = {
            **result,
            "share": round(float((_text(synthetic[column]) == rare).mean()), 4),
            "parity_gap": _parity(synthetic, column, sensitive),
            **_tstr(synthetic, holdout, column, rare, learned, metadata, 7),
        }
    for name in ("uncontrolled", "rebalance"):  # the cost of steering, at a size worth timing
        spec = _spec(workdir / kind / f"{name}-timed", table, source, kind, columns, runs[name], rows)
        from synth_ops.cli import main
        from synth_ops.runtime.workspace import Workspace
        from synth_ops.spec import load_spec
        from synth_ops.stores import read_json

        for step in ("profile", "fit", "generate"):  # the gates are not what is timed
            main(["-q", step, str(spec)])
        ws = Workspace.open(load_spec(spec))
        keys = [k for k in ws.artifacts.list(ws.key(table, "shards")) if k.endswith(".json")]
        out["runs"][name]["timed_generate_seconds"] = round(sum(read_json(ws.artifacts, k)["seconds"] for k in keys), 3)
    timed = out["runs"]
    out["steering_cost"] = round(
        timed["rebalance"]["timed_generate_seconds"] / timed["uncontrolled"]["timed_generate_seconds"], 2
    )
    return out


def render(results: list[dict], rows: int) -> str:
    lines = [
        f"| table | kind | column (rare value) | run | exit (failed gates) | rare share | parity gap | recall of the rare class | balanced accuracy | generate {rows:,} rows s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        real = result["real"]
        head = f"| {result['table']} | {result['kind']} | {result['column']} ({CASES[result['table']][1]}) |"
        lines.append(
            f"{head} real training rows | - | {real['share']:.3f} | {real['parity_gap'] if real['parity_gap'] is not None else '-'} "
            f"| {real['recall']} | {real['balanced_accuracy']} | - |"
        )
        for name, run in result["runs"].items():
            failed = f" ({', '.join(run['failed'])})" if run["failed"] else ""
            timed = run.get("timed_generate_seconds", "-")
            lines.append(
                f"{head} {name} | {run['exit']}{failed} | {run['share']:.3f} | "
                f"{run['parity_gap'] if run['parity_gap'] is not None else '-'} | {run['recall']} | "
                f"{run['balanced_accuracy']} | {timed} |"
            )
        lines.append(
            f"{head} steering cost (rebalance / uncontrolled generation) | | | | | | {result['steering_cost']}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--kinds", default=",".join(default_kinds()))
    parser.add_argument("--rows", type=int, default=200_000, help="rows generated for the timed runs")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for table in args.cases.split(","):
            for kind in args.kinds.split(","):
                results.append(run_case(table, kind, args.rows, Path(directory) / table))
                print("\n".join(render(results[-1:], args.rows).splitlines()[2:]), file=sys.stderr, flush=True)
    print(render(results, args.rows))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
