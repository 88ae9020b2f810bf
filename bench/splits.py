"""Train-on-synthetic over many splits: ``kind: trees`` under two or more ``params`` sets, judged on
the same seeded 80/20 splits of each table, so a change to the trees is not judged on one lucky
split (on a table of a few hundred rows the real rows' own score moves by 0.1 between splits:
docs/benchmarks/fidelity.md).

Per table with a declared target (bench/corpus_tables.py) and per split: the table's numeric
columns and its target (a category when it is text or has at most 10 values), fitted and sampled
through the trees' own model and sampler code (``synthesizers/trees/model.py``, the sampler's tree
engine; no profiling, gates or CLI: this isolates the model), then the gates' learner
(``gates/learning.py``: gradient boosting) trained on the synthetic rows and on the real training
rows, both scored on the split's holdout rows (balanced accuracy or R²). Printed per table and
params set: the mean synthetic and real scores over the splits and their ratio.

    python bench/splits.py [--tables diabetes,cars,wine] [--splits 8]
                           [--params '{"linear": false}' '{"linear": true}']
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from corpus_tables import TABLES  # noqa: E402

DEFAULT_TABLES = ("diabetes", "cars", "wine", "breast_cancer", "modechoice", "star98")


def _frame(name: str):
    import pandas as pd

    table = TABLES[name]
    frame = table.load()
    target = table.target
    classify = not pd.api.types.is_float_dtype(frame[target]) or frame[target].nunique() <= 10
    numbers = [c for c in frame.select_dtypes(include=["number"]).columns if c != target]
    frame = frame[[*numbers, target]].dropna(subset=[target]).reset_index(drop=True)
    return frame, target, classify


def _synthetic(train, target: str, classify: bool, params: dict, seed: int):
    import pandas as pd

    from synth_ops.sampler import decoders
    from synth_ops.sampler.trees import TreeEngine
    from synth_ops.synthesizers.trees.encoding import encode
    from synth_ops.synthesizers.trees.knobs import read_knobs
    from synth_ops.synthesizers.trees.model import decoders as output_decoders
    from synth_ops.synthesizers.trees.model import fit_table
    from synth_ops.synthesizers.trees.order import visit_order

    knobs = read_knobs(params).resolved(len(train))
    meta = {c: {"sdtype": "categorical" if c == target and classify else "numerical"} for c in train.columns}
    encoded = {c: encode(c, train[c], meta[c], knobs.rare_min, knobs.tail_quantile) for c in train.columns}
    order = visit_order(encoded)
    trees, arrays, _ = fit_table("t", [encoded[c] for c in order], knobs, seed)
    batch = next(iter(TreeEngine(trees, arrays, "t").batches(len(train), seed + 1, len(train))))
    specs = output_decoders(encoded, order, list(train.columns))
    return pd.DataFrame({s["name"]: decoders.decode(s, batch, None) for s in specs})


def _score(rows, holdout, target: str, classify: bool, seed: int) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    from synth_ops.gates.learning import model

    rows = rows.dropna(subset=[target])
    features = [c for c in holdout.columns if c != target]
    learner = model("classify" if classify else "regress", seed)
    if classify:
        learner.fit(rows[features].astype(float), rows[target].astype(str))
        return float(balanced_accuracy_score(holdout[target].astype(str), learner.predict(holdout[features])))
    learner.fit(rows[features].astype(float), rows[target].astype(float))
    return float(r2_score(holdout[target].astype(float), learner.predict(holdout[features])))


def run(name: str, splits: int, param_sets: list[dict]) -> list[dict]:
    import numpy as np

    frame, target, classify = _frame(name)
    scores = {i: [] for i in range(len(param_sets))}
    real = []
    for split in range(splits):
        order = np.random.default_rng(split).permutation(len(frame))
        cut = int(0.8 * len(frame))
        train = frame.iloc[order[:cut]].reset_index(drop=True)
        holdout = frame.iloc[order[cut:]].reset_index(drop=True)
        real.append(_score(train, holdout, target, classify, split))
        for i, params in enumerate(param_sets):
            synthetic = _synthetic(train, target, classify, params, split)
            scores[i].append(_score(synthetic, holdout, target, classify, split))
    real_mean = float(np.mean(real))
    return [
        {
            "table": name,
            "params": params,
            "synthetic": float(np.mean(scores[i])),
            "real": real_mean,
            "ratio": float(np.mean(scores[i]) / real_mean) if real_mean else None,
        }
        for i, params in enumerate(param_sets)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(DEFAULT_TABLES))
    parser.add_argument("--splits", type=int, default=8)
    parser.add_argument("--params", nargs="+", default=['{"linear": false}', '{"linear": true}'])
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    param_sets = [json.loads(p) for p in args.params]
    rows = []
    print(f"| table | params | synthetic score (mean of {args.splits} splits) | real score | ratio |")
    print("|---|---|---|---|---|")
    for name in args.tables.split(","):
        for row in run(name, args.splits, param_sets):
            rows.append(row)
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.3f}"
            print(
                f"| {name} | `{json.dumps(row['params'])}` | {row['synthetic']:.3f} | {row['real']:.3f} | {ratio} |",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
