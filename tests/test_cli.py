import argparse
import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import PENGUINS_CSV, REPO, copy_repo_layout, penguins_doc, run_cli, write_spec


def _parser_commands() -> dict[str, str]:
    """Every subcommand the CLI's parser defines, with its one-line help: read from the parser, so a
    command added later is covered without editing this list."""
    from synth_ops.cli import build_parser

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    return {name: helps.get(name) for name in commands.choices}


COMMANDS = _parser_commands()


def test_top_level_help_lists_every_command():
    assert {"run", "profile", "fit", "generate", "validate", "publish", "budget", "pull"} <= set(COMMANDS)
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: synth-ops ")
    for command, summary in COMMANDS.items():
        assert summary, f"{command}: no help text, so --help does not list it"
        assert re.search(rf"^ +{command} +{re.escape(summary)}$", result.stdout, re.MULTILINE), command


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_for_every_command(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: synth-ops {command} "), result.stdout


def test_example_penguins_end_to_end_then_pull(tmp_path, penguins_frame):
    """The demo as a user runs it: the example spec from a copy of the repository layout."""
    copy_repo_layout(tmp_path)
    result = run_cli("run", "examples/penguins.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("published penguins version ")
    out = tmp_path / "out" / "penguins.csv"
    pulled = run_cli("pull", "examples/penguins.yaml", "--out", str(out), cwd=tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    frame = pd.read_csv(out)
    assert len(frame) == 10_000 and list(frame.columns) == list(penguins_frame.columns)
    assert set(frame.species) <= set(penguins_frame.species)
    again = run_cli("run", "examples/penguins.yaml", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.startswith("up to date: penguins")
    # private artifacts hold real values; the published location holds only synthetic tables and records
    published = {p.name for p in (tmp_path / "warehouse").rglob("*") if p.is_file()}
    assert not published & {"profile.json", "metadata.json", "suite.json"} and not any(
        name.endswith(".pkl") for name in published
    )
    # logs never print real values
    for value in ("Adelie", "Torgersen", "Biscoe", "3750", "39.1"):
        assert value not in result.stderr + result.stdout + again.stderr


def test_step_by_step_commands_with_json_records(tmp_path):
    spec = str(write_spec(tmp_path, penguins_doc(generate={"rows": 400, "shards": 4})))
    fit_first = run_cli("fit", spec)
    assert fit_first.returncode == 2 and "run `synth-ops profile` first" in fit_first.stderr
    records = {}
    for step in ("profile", "fit", "generate", "validate", "publish"):
        # global flags go before the command or after it
        flags = ["--json", step, spec] if step in ("profile", "validate") else [step, spec, "--json", "-q"]
        result = run_cli(*flags, *(["--workers", "2"] if step == "generate" else []))
        assert result.returncode == 0, (step, result.stderr)
        records[step] = json.loads(result.stdout)
    assert records["profile"][0]["rows"] == 344
    assert [r["shard"] for r in records["generate"]] == [0, 1, 2, 3]
    assert records["validate"][0]["passed"] is True
    assert records["publish"][0]["status"] == "published"
    one = run_cli("generate", spec, "--shard", "2")
    assert one.returncode == 0 and "100 rows in 1 shard" in one.stdout
    pulled = run_cli(
        "pull",
        "--uri",
        str(tmp_path / "warehouse"),
        "--name",
        "penguins",
        "--table",
        "penguins",
        "--out",
        str(tmp_path / "p.parquet"),
    )
    assert pulled.returncode == 0 and len(pd.read_parquet(tmp_path / "p.parquet")) == 400


def test_flights_sample_end_to_end(tmp_path, flights_sample_csv, flights_frame):
    doc = {
        "name": "flights",
        "tables": {
            "flights": {
                "source": str(flights_sample_csv),
                "exclude": ["year"],
                "metadata": {"primary_key": None, "columns": {"flight": {"sdtype": "categorical"}}},
            }
        },
        "synthesizer": {"kind": "gaussian_copula", "seed": 13},
        "generate": {"rows": 3000, "shards": 3, "batch_rows": 1000},
        # flight numbers in 3,000 flights of a year are nearly all unique: no synthesizer here
        # reproduces that column's profile without copying it (trees draw only shared numbers),
        # and a classifier tells the rows apart by it alone (AUC 0.999, holdout baseline 0.50);
        # this test is the CLI round trip, so the discriminator is reported, not gated
        "gates": {"discriminator_auc_max": None},
    }  # other gates default: judged against the holdout's own score and at the sample's confidence bound
    spec = write_spec(tmp_path, doc)
    result = run_cli("run", str(spec), "--workers", "2")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "flights.parquet"
    assert run_cli("pull", str(spec), "--out", str(out)).returncode == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 3000 and "year" not in frame.columns and frame.shape[1] == 18
    assert set(frame.carrier.dropna()) <= set(flights_frame.carrier)
    assert frame.dep_delay.isna().any()  # real flights have cancellations; so does the copy
    assert str(frame.sched_dep_time.dtype) == "int64"


def test_budget_reads_an_unspent_ledger_without_writing_and_refuses_an_unknown_table(tmp_path):
    """Charges and totals after fits: tests/test_privacy_ledger.py and tests/test_dp.py."""
    doc = {
        "name": "penguins",
        "tables": {"penguins": {"source": str(PENGUINS_CSV)}},
        "privacy": {"epsilon": 1.0, "budget": {"epsilon": 3.0}},
    }
    spec = str(write_spec(tmp_path, doc))
    out = run_cli("budget", spec, "--json")
    assert out.returncode == 0, out.stderr
    (report,) = json.loads(out.stdout)
    assert (report["ledger"], report["tables"], report["fits"], report["entries"]) == (
        "penguins.penguins",
        ["penguins"],
        0,
        [],
    )
    assert (report["epsilon_spent"], report["epsilon_remaining"]) == (0.0, 3.0)
    text = run_cli("budget", spec, "--table", "penguins")
    assert text.returncode == 0 and text.stdout.startswith("privacy ledger penguins.penguins (tables: penguins)")
    assert "remaining 3, 0 fit(s) charged" in text.stdout
    assert not (tmp_path / "warehouse").exists()  # reading the ledger creates nothing in the publish store
    unknown = run_cli("budget", spec, "--table", "pengiuns")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.splitlines() == ["synth-ops: error: --table: no table named pengiuns in the spec"]


def test_pull_without_a_release_is_exit_3(tmp_path):
    result = run_cli(
        "pull", "--uri", str(tmp_path), "--name", "penguins", "--table", "penguins", "--out", str(tmp_path / "x.csv")
    )
    assert result.returncode == 3 and "nothing published" in result.stderr


def test_global_flags_are_accepted_after_the_command(tmp_path):
    spec = str(write_spec(tmp_path, penguins_doc()))
    quiet = run_cli("profile", spec, "-q")
    assert quiet.returncode == 0 and "profiled penguins" in quiet.stdout and "synth-ops: penguins:" not in quiet.stderr
    verbose = run_cli("profile", spec, "--verbose", "--json")
    assert verbose.returncode == 0 and json.loads(verbose.stdout)[0]["table"] == "penguins"
    assert "profile up to date" in verbose.stderr


GIL_DELAY_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
/* Every thread but the main one waits before taking the GIL: a thread that still holds a Python
   reference when the interpreter exits is then (nearly) always caught finalizing. */
typedef int (*ensure_t)(void);
int PyGILState_Ensure(void) {
    static ensure_t real = NULL;
    if (!real) real = (ensure_t)dlsym(RTLD_NEXT, "PyGILState_Ensure");
    if (syscall(SYS_gettid) != getpid()) usleep(1000 * atoi(getenv("GIL_DELAY_MS") ?: "5"));
    return real();
}
"""


def test_pull_never_aborts_at_exit_even_when_threads_are_slow_to_take_the_gil(tmp_path):
    """Arrow pool threads that released Python objects after read_table returned made ``pull``
    abort at interpreter exit ("terminate called without an active exception", -6) once in ~50
    runs under load. Delaying every non-main thread's GIL request turns that race into a near
    certainty (47 of 50 pulls aborted before the fix): now none of six may."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    assert compiler, "a C compiler is needed to build the GIL-delay shim (gcc is on every machine)"
    (tmp_path / "shim.c").write_text(GIL_DELAY_SHIM)
    shim = tmp_path / "shim.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(shim), str(tmp_path / "shim.c"), "-ldl"], check=True)
    from synth_ops.spec import load_spec
    from synth_ops.steps.pipeline import run

    spec = write_spec(tmp_path, penguins_doc(generate={"rows": 700, "shards": 3, "batch_rows": 200}))
    run(load_spec(spec))  # in-process: the pulls below are what is tested
    env = {**os.environ, "LD_PRELOAD": str(shim), "GIL_DELAY_MS": "5"}
    for i in range(6):
        out = tmp_path / f"pulled-{i}.parquet"
        result = subprocess.run(
            [sys.executable, "-m", "synth_ops.cli", "pull", str(spec), "--out", str(out)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0 and "terminate called" not in result.stderr, (i, result.returncode, result.stderr)
        assert len(pd.read_parquet(out)) == 700
