"""What differential privacy costs in fidelity and utility, on a real mixed table.

    python bench/dp.py [--epsilons 0.5,1,3,10] [--kind dp_mst] [--svg docs/dp-bench.svg]

Table: Fair's extramarital affairs survey (statsmodels, 6,366 rows): six answer codes declared as
categories (rate_marriage, religious, occupation, occupation_husb, children, educ), three numbers
with public bounds (age, yrs_married, affairs), and a derived boolean target ``had_affair``
(affairs > 0).
For each epsilon a DP fit (delta 1e-9) and, beside it in the same run, the non-DP Gaussian copula;
all through synth-ops' own profile, fit and generate on the same seeded training rows. Measured on
as many synthetic rows as training rows, against the training rows:

- quality: SDMetrics' QualityReport score (column shapes and pair trends);
- TVD 1-way / 2-way: mean total variation distance of every column's and every pair's histogram
  (numbers in 10 equal-width bins over their public range; nulls a value of their own);
- utility: ROC AUC on the real holdout of a gradient-boosting classifier of ``had_affair`` trained
  on synthetic rows, beside the same classifier trained on the real training rows.

Prints a Markdown table and writes a small SVG chart (quality and utility against epsilon).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# the survey's answer codes are public (its questionnaire): declared as categories
CATEGORIES = {
    "rate_marriage": [1, 2, 3, 4, 5],
    "religious": [1, 2, 3, 4],
    "occupation": [1, 2, 3, 4, 5, 6],
    "occupation_husb": [1, 2, 3, 4, 5, 6],
    "children": [0, 1, 2, 3, 4, 5.5],
    "educ": [9, 12, 14, 16, 17, 20],
    "had_affair": [False, True],
}
BOUNDS = {"age": [17.5, 42], "yrs_married": [0.5, 23], "affairs": [0, 60]}
INTEGER_CODES = ("rate_marriage", "religious", "occupation", "occupation_husb", "educ")
TARGET = "had_affair"


def _table(directory: Path) -> Path:
    sys.path.insert(0, str(REPO / "bench"))
    from corpus_tables import load

    frame = load("fair")
    for column in INTEGER_CODES:
        frame[column] = frame[column].round().astype("int64")
    frame[TARGET] = frame["affairs"] > 0
    path = directory / "fair.csv"
    frame.to_csv(path, index=False)
    return path


def _doc(source: Path, directory: Path, kind: str, epsilon: float | None) -> dict:
    doc = {
        "name": "fair",
        "tables": {
            "fair": {
                "source": str(source),
                "metadata": {
                    "columns": {c: {"sdtype": "boolean" if c == TARGET else "categorical"} for c in CATEGORIES}
                },
            }
        },
        "synthesizer": {"kind": kind, "seed": 11},
        "publish": {"uri": str(directory / "warehouse")},
        "artifacts": {"uri": str(directory / "artifacts")},
    }
    if epsilon is not None:
        doc["privacy"] = {
            "epsilon": epsilon,
            "delta": 1e-9,
            "budget": {"epsilon": 1000.0, "delta": 1e-6},
            "bounds": {"fair": BOUNDS},
            "categories": {"fair": {c: v for c, v in CATEGORIES.items() if c != TARGET}},
        }
    return doc


def _synthesize(doc: dict, directory: Path):
    """(training rows, holdout rows, synthetic rows, fit seconds) through synth-ops' own steps."""
    import pandas as pd

    from synth_ops.profiling.holdout import load_training_rows
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.generate import generate
    from synth_ops.steps.profile import profile

    spec = directory / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc))
    ws = Workspace.open(load_spec(spec))
    profile(ws, "fair")
    record = fit(ws, "fair")
    train, holdout = load_training_rows(ws, "fair")
    generate(ws, "fair")
    import pyarrow.parquet as pq

    shards = sorted(Path(ws.artifacts.local_path(ws.key("fair", "shards"))).glob("part-*.parquet"))
    synthetic = pd.concat([pq.read_table(p).to_pandas() for p in shards], ignore_index=True)
    return (
        train,
        holdout,
        synthetic.sample(len(train), random_state=0, replace=len(synthetic) < len(train)),
        record.fit_seconds,
        ws.read("fair", "metadata.json")["tables"]["fair"],
    )


def _histograms(frame, real):
    import numpy as np
    import pandas as pd

    frame = frame.reset_index(drop=True)  # a sample keeps its rows' labels: align by position

    def code(value) -> str:  # 5, 5.0 and np.int64(5) are one answer code (ints with nulls read as floats)
        if pd.isna(value):
            return "null"
        if isinstance(value, (bool, np.bool_)):
            return str(bool(value))
        return f"{float(value):g}" if isinstance(value, (int, float, np.number)) else str(value)

    out = {}
    for column in real.columns:
        if column in BOUNDS:  # ten equal-width bins over the public range, the same for every run
            edges = np.linspace(*BOUNDS[column], 11)
            codes = np.searchsorted(edges[1:-1], frame[column].to_numpy(dtype="float64"), side="right")
            out[column] = pd.Series(np.where(frame[column].isna(), -1, codes)).astype(str)
        else:
            out[column] = frame[column].map(code)
    return pd.DataFrame(out)


def _tvd(a, b) -> float:
    p, q = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return float(0.5 * p.sub(q, fill_value=0).abs().sum())


def _scores(train, holdout, synthetic, metadata) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    from synth_ops.gates.quality import quality_score

    quality, _ = quality_score(train, synthetic, metadata, "fair")
    real_h, synthetic_h = _histograms(train, train), _histograms(synthetic, train)
    one = np.mean([_tvd(real_h[c], synthetic_h[c]) for c in real_h.columns])
    two = np.mean(
        [
            _tvd(
                real_h[a].astype(str) + "|" + real_h[b].astype(str),
                synthetic_h[a].astype(str) + "|" + synthetic_h[b].astype(str),
            )
            for a, b in itertools.combinations(real_h.columns, 2)
        ]
    )
    features = [c for c in train.columns if c not in (TARGET, "affairs")]  # affairs would give it away

    def auc(rows) -> float:
        rows = rows.dropna(subset=[TARGET])
        labels = rows[TARGET].astype(bool)
        if labels.nunique() < 2:
            return float("nan")
        model = HistGradientBoostingClassifier(random_state=0)
        model.fit(rows[features].apply(pd.to_numeric, errors="coerce"), labels)
        return float(
            roc_auc_score(
                holdout[TARGET].astype(bool),
                model.predict_proba(holdout[features].apply(pd.to_numeric, errors="coerce"))[:, 1],
            )
        )

    return {"quality": quality, "tvd1": float(one), "tvd2": float(two), "auc": auc(synthetic), "auc_real": auc(train)}


def _svg(rows: list[dict], copula: dict, path: Path) -> None:
    """Quality and AUC against epsilon (log scale), the copula and real-data AUC as dashed lines."""
    import math

    width, height, left, right, top, bottom = 420, 240, 48, 110, 20, 36
    xs = [math.log10(r["epsilon"]) for r in rows]
    x0, x1 = min(xs), max(xs)
    y0, y1 = 0.4, 1.0

    def x(value):
        return left + (value - x0) / ((x1 - x0) or 1) * (width - left - right)

    def y(value):
        return top + (y1 - value) / (y1 - y0) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for tick in (0.4, 0.6, 0.8, 1.0):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.1f}</text>'
        )
    for r, value in zip(rows, xs):
        parts.append(
            f'<text x="{x(value):.1f}" y="{height - bottom + 16}" text-anchor="middle">{r["epsilon"]:g}</text>'
        )
    parts.append(
        f'<text x="{(left + width - right) / 2:.1f}" y="{height - 4}" text-anchor="middle">epsilon per fit '
        "(log scale)</text>"
    )
    for key, colour, label in (("quality", "#2f6db5", "quality"), ("auc", "#d9822b", "AUC, trained on synthetic")):
        points = " ".join(f"{x(v):.1f},{y(r[key]):.1f}" for r, v in zip(rows, xs) if r[key] == r[key])
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [
            f'<circle cx="{x(v):.1f}" cy="{y(r[key]):.1f}" r="3" fill="{colour}"/>'
            for r, v in zip(rows, xs)
            if r[key] == r[key]
        ]
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(copula[key]):.1f}" y2="{y(copula[key]):.1f}" '
            f'stroke="{colour}" stroke-dasharray="4 3"/>'
        )
        parts.append(f'<text x="{width - right + 6}" y="{y(rows[-1][key]) + 4:.1f}" fill="{colour}">{label}</text>')
    parts.append(
        f'<text x="{width - right + 6}" y="{y(copula["quality"]) + 14:.1f}" fill="#666">dashed: non-DP '
        "copula</text></svg>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epsilons", default="0.5,1,3,10")
    parser.add_argument("--kind", default="dp_mst", choices=["dp_mst", "dp_aim"])
    parser.add_argument("--svg", default=str(REPO / "docs" / "dp-bench.svg"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory(prefix="synth-ops-dp-bench-") as tmp:
        tmp = Path(tmp)
        source = _table(tmp)
        configs = [("gaussian_copula", None)] + [(args.kind, float(e)) for e in args.epsilons.split(",")]
        for kind, epsilon in configs:
            directory = tmp / f"{kind}-{epsilon}"
            directory.mkdir()
            started = time.perf_counter()
            train, holdout, synthetic, fit_seconds, metadata = _synthesize(
                _doc(source, directory, kind, epsilon), directory
            )
            scores = _scores(train, holdout, synthetic, metadata)
            rows.append(
                {
                    "kind": kind,
                    "epsilon": epsilon,
                    "fit_seconds": fit_seconds,
                    "wall": time.perf_counter() - started,
                    **scores,
                }
            )
            print(rows[-1], flush=True)
    copula, dp_rows = rows[0], rows[1:]
    print()
    print(
        f"| synthesizer | epsilon per fit (delta 1e-9) | quality | TVD 1-way | TVD 2-way | AUC on real holdout "
        f"(real-trained: {copula['auc_real']:.3f}) | fit s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        epsilon = "none (not DP)" if r["epsilon"] is None else f"{r['epsilon']:g}"
        print(
            f"| {r['kind']} | {epsilon} | {r['quality']:.3f} | {r['tvd1']:.3f} | {r['tvd2']:.3f} | {r['auc']:.3f} | {r['fit_seconds']:.1f} |"
        )
    _svg(dp_rows, copula, Path(args.svg))
    print(f"chart: {args.svg}")


if __name__ == "__main__":
    main()
