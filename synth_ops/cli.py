"""The `synth-ops` command: CI/CD-triggered regeneration and local runs.

Exit codes (docs/concepts/design.md): 0 published or up to date, 1 a gate failed (nothing published),
2 invalid spec or input, 3 store or infrastructure failure, 4 an internal error (a bug: please
report it with the traceback that --verbose prints).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from synth_ops.errors import GateFailed, SynthOpsError

log = logging.getLogger("synth_ops")
INTERNAL_ERROR = 4


def _add_spec(parser: argparse.ArgumentParser, tables: bool = True) -> None:
    parser.add_argument("spec", help="path to the pipeline spec (YAML)")
    parser.add_argument("--root", help="directory relative paths in the spec resolve against (default: cwd)")
    if tables:
        parser.add_argument("--table", action="append", help="only this table (repeatable; default: all)")


def _add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=1, help="worker processes for shards (default: 1)")


def _global_flags(defaults: bool) -> argparse.ArgumentParser:
    """-v, -q and --json, accepted before the command and after it (``run spec.yaml --json``).

    The subcommands' copies default to SUPPRESS, so a flag given before the command is not reset
    by the subcommand parser that runs after it.
    """
    flags = argparse.ArgumentParser(add_help=False)
    default = (lambda value: value) if defaults else (lambda value: argparse.SUPPRESS)
    flags.add_argument("-v", "--verbose", action="store_true", default=default(False), help="debug logs and tracebacks")
    flags.add_argument("-q", "--quiet", action="store_true", default=default(False), help="only warnings and errors")
    flags.add_argument(
        "--json", action="store_true", default=default(False), help="print the step records as JSON on stdout"
    )
    return flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="synth-ops",
        description="Make, gate and publish privacy-safe synthetic copies of tables.",
        epilog="exit codes: 0 published or up to date, 1 gate failed, 2 invalid spec or input, "
        "3 store failure, 4 internal error",
        parents=[_global_flags(defaults=True)],
    )
    commands = _Subcommands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))

    run = commands.add_parser(
        "run",
        help="all steps: profile, fit, generate, validate, publish",
        description="Run every step for every table; publish only if every gate passes.",
    )
    _add_spec(run, tables=False)
    _add_workers(run)
    p = commands.add_parser(
        "profile",
        help="profile the sources (stats, SDV metadata, PII flags)",
        description="Profile each source table into the private artifacts.",
    )
    _add_spec(p)
    p = commands.add_parser(
        "fit",
        help="fit the synthesizer on the training rows",
        description="Fit the spec's SDV synthesizer; writes model.pkl and model.json.",
    )
    _add_spec(p)
    p = commands.add_parser(
        "generate",
        help="sample the synthetic shards",
        description="Sample every shard (or one, with --shard) into staged Parquet.",
    )
    _add_spec(p)
    _add_workers(p)
    p.add_argument("--shard", type=int, help="only this shard index")
    p = commands.add_parser(
        "validate", help="run the gates on the staged shards", description="Run every gate; exit 1 if one fails."
    )
    _add_spec(p)
    p = commands.add_parser(
        "publish",
        help="publish a validated run",
        description="Publish the run if every gate passed; _latest.json is switched last.",
    )
    _add_spec(p, tables=False)
    p = commands.add_parser(
        "budget",
        help="the privacy ledger of each table: charges, total, remaining",
        description="Print each DP table's privacy ledger from the publish store: run ids, "
        "dates, charges, the total (epsilon at the budget's delta) and what remains.",
    )
    _add_spec(p)
    pull = commands.add_parser(
        "pull",
        help="write the latest published table to a file",
        description="Read the current release through _latest.json (checksums verified) "
        "and write one table to a .parquet or .csv file.",
    )
    pull.add_argument("spec", nargs="?", help="spec to take the publish URI and name from")
    pull.add_argument("--root", help="directory relative paths in the spec resolve against")
    pull.add_argument("--uri", help="publish location (overrides the spec's)")
    pull.add_argument("--name", help="pipeline name (overrides the spec's)")
    pull.add_argument("--table", help="table to pull (default: the only table)")
    pull.add_argument("-o", "--out", required=True, help="output file: .parquet or .csv")
    return parser


class _Subcommands:
    """add_parser with the global flags attached to every subcommand."""

    def __init__(self, actions):
        self._actions = actions

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        return self._actions.add_parser(name, parents=[_global_flags(defaults=False)], **kwargs)


class _Progress:
    """tqdm bars on a terminal; silent otherwise (CI logs stay readable)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    @contextmanager
    def rows(self, total: int | None, label: str):
        if not self.enabled:
            yield None
            return
        from tqdm import tqdm

        with tqdm(total=total, desc=label, unit="rows", unit_scale=True, file=sys.stderr) as bar:
            yield bar.update

    def fit(self) -> Callable[[str, int], None] | None:
        if not self.enabled:
            return None
        from tqdm import tqdm

        bars = {}

        def update(stage: str, done: int) -> None:
            if stage == "fitting":
                bars["bar"] = tqdm(
                    total=1, desc="fit", unit="model", file=sys.stderr, bar_format="{desc}: {bar} {elapsed}"
                )
            elif "bar" in bars:
                bars.pop("bar").update(1)

        return update


def _configure_logging(verbose: bool, quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("synth-ops: %(message)s"))
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _emit(args, records: list, summary: str) -> None:
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2, sort_keys=True))
    else:
        print(summary)


def _run(args, progress: _Progress) -> int:
    from synth_ops.spec import load_spec

    if args.command == "pull":
        return _pull(args)
    spec = load_spec(args.spec, root=args.root)
    if args.command == "budget":
        return _budget(args, spec)
    from synth_ops.steps.pipeline import Runner

    if args.command == "run":
        with progress.rows(None, "generate") as on_rows:
            release = Runner.open(spec).run(workers=args.workers, on_rows=on_rows, on_fit=progress.fit())
        _emit(args, [release], _release_line(release))
        return 0

    runner = Runner.open(spec)
    ws = runner.ws
    if args.command == "publish":
        release = runner.publish()
        _emit(args, [release], _release_line(release))
        return 0
    tables = runner.tables(args.table)
    if args.command == "profile":
        records = runner.profile(tables)
        _emit(
            args,
            records,
            "\n".join(
                f"profiled {r.table}: {r.rows} rows x {r.columns} columns; generated, not learned: "
                f"{', '.join(f'{c} ({role})' for c, role in r.generated.items()) or 'none'}; "
                f"profile at {ws.location(r.profile_key)}"
                for r in records
            ),
        )
    elif args.command == "fit":
        records = runner.fit(tables, progress=progress.fit())  # related tables: one model
        _emit(
            args,
            records,
            "\n".join(
                f"fitted {r.table}: {r.kind} on {r.train_rows} rows ({r.holdout_rows} held out) in {r.fit_seconds:.1f}s"
                for r in records
            ),
        )
    elif args.command == "generate":
        records = []
        for t in tables:
            total = runner.planned_rows(t)
            with progress.rows(total[args.shard] if args.shard is not None else sum(total), f"generate {t}") as on_rows:
                if args.shard is not None:
                    records.append(runner.generate_shard(t, args.shard, on_rows))
                else:
                    records += runner.generate([t], workers=args.workers, on_rows=on_rows)
        _emit(args, records, f"generated {sum(r.rows for r in records)} rows in {len(records)} shard(s)")
    elif args.command == "validate":
        records = runner.validate(args.table)  # every table: related tables are judged as one release too
        _emit(
            args,
            records,
            "\n".join(
                f"validated {r.table}: {'passed' if r.passed else 'FAILED'} ({len(r.results)} checks); "
                f"results in {ws.location(r.gates_key)}; report at {ws.location(r.report_key)}"
                for r in records
            ),
        )
        runner.raise_failures(records, "nothing published")
    return 0


def _release_line(release) -> str:
    tables = ", ".join(f"{t} {v['rows']} rows" for t, v in release.tables.items())
    if release.status == "up_to_date":
        return f"up to date: {release.name} version {release.version} ({tables})"
    return f"published {release.name} version {release.version} to {release.publish_uri} ({tables})"


def _budget(args, spec) -> int:
    from synth_ops.errors import SpecError
    from synth_ops.privacy.ledger import budget_report

    if spec.privacy is None:
        raise SpecError("privacy: this spec has no privacy section, so no fit of it spends privacy")
    unknown = [t for t in (args.table or []) if t not in spec.tables]
    if unknown:
        raise SpecError(f"--table: no table named {', '.join(unknown)} in the spec")
    reports = budget_report(spec, args.table or list(spec.tables))
    if args.json:
        print(json.dumps(reports, indent=2, sort_keys=True))
        return 0
    for report in reports:
        print(
            f"privacy ledger {report['ledger']} (tables: {', '.join(report['tables'])}): spent epsilon "
            f"{report['epsilon_spent']:.4g} of {report['budget']['epsilon']:.4g} at delta "
            f"{report['budget']['delta']:.3g} (rho {report['rho_spent']:.4g}), remaining "
            f"{report['epsilon_remaining']:.4g}, {report['fits']} fit(s) charged"
        )
        for entry in report["entries"]:
            print(
                f"  {entry.get('reserved_at', '?')}  run {entry['run_id']}  {entry['table']}  {entry['status']}  "
                f"epsilon {entry['epsilon']:.4g} delta {entry['delta']:.3g} rho {entry['rho']:.4g}"
                + (f"  ({entry['reason']})" if entry.get("reason") else "")
            )
    return 0


def _pull(args) -> int:
    from pathlib import Path

    from synth_ops.errors import SpecError
    from synth_ops.runtime import releases
    from synth_ops.stores import open_store

    uri, name, table, s3_options = args.uri, args.name, args.table, None
    if args.spec:
        from synth_ops.spec import load_spec

        spec = load_spec(args.spec, root=args.root)
        uri, name, s3_options = uri or spec.publish.uri, name or spec.name, spec.s3
        if table is None and len(spec.tables) == 1:
            table = next(iter(spec.tables))
    missing = [flag for flag, value in (("--uri", uri), ("--name", name), ("--table", table)) if not value]
    if missing:
        raise SpecError(f"pull: give a spec or {', '.join(missing)}")
    out = Path(args.out)
    if out.suffix not in (".parquet", ".csv"):
        raise SpecError(f"--out: expected a .parquet or .csv file, got {out.name}")
    store = open_store(uri, s3_options)
    release = releases.latest_release(store, name)
    data = releases.read_table(store, release, table)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(data, out)
    else:
        data.to_pandas().to_csv(out, index=False)
    print(f"pulled {name}/{table} version {release['version']}: {data.num_rows} rows to {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    progress = _Progress(sys.stderr.isatty() and not args.quiet)
    try:
        return _run(args, progress)
    except GateFailed as error:
        for line in error.failures:
            print(f"synth-ops: gate failed: {line}", file=sys.stderr)
        print(f"synth-ops: {error}", file=sys.stderr)
        return error.exit_code
    except SynthOpsError as error:
        print(f"synth-ops: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("synth-ops: interrupted; nothing was published by the unfinished step", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: keep data values out of the default output
        if args.verbose:
            raise
        print(
            f"synth-ops: internal error ({type(error).__name__}); re-run with --verbose for the traceback",
            file=sys.stderr,
        )
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
