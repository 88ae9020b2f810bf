"""Everything about a spec that can be checked before any fitting, run by the profile step: the
synthesizer's params, the hand-written suites, the utility target. Each check collects every
problem of its part and raises one SpecError naming the fields, never a data value.
"""
from __future__ import annotations

from typing import Any

from synth_ops.errors import SpecError

# Hyper-parameters SDV passes to ctgan unchecked, where a bad value fails deep in training (or never).
_POSITIVE = {"epochs", "batch_size", "pac", "embedding_dim", "discriminator_steps"}
_NON_NEGATIVE = {"generator_lr", "generator_decay", "discriminator_lr", "discriminator_decay", "l2scale",
                 "loss_factor"}


def _type_problems(name: str, value: Any, default: Any) -> list[str]:
    field = f"synthesizer.params.{name}"
    if isinstance(default, bool):
        return [] if isinstance(value, bool) else [f"{field}: expected true or false, got {type(value).__name__}"]
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{field}: expected an integer, got {type(value).__name__}"]
        if name in _POSITIVE and value < 1:
            return [f"{field}: expected at least 1, got {value}"]
        return []
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{field}: expected a number, got {type(value).__name__}"]
        if name in _NON_NEGATIVE and value < 0:
            return [f"{field}: expected at least 0, got {value}"]
        return []
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                           for v in value):
            return [f"{field}: expected a list of positive integers"]
    return []


def check_synthesizer(spec, metadata: dict | None) -> None:
    """Unknown, mistyped or out-of-range ``synthesizer.params``, found before fitting.

    ``metadata`` is the SDV metadata of the learned columns (None when nothing is learned: the
    params are then checked by name and type only).
    """
    import inspect

    from synth_ops.steps.fit import build_synthesizer, synthesizer_class

    signature = inspect.signature(synthesizer_class(spec.kind).__init__)
    known = {name: p.default for name, p in signature.parameters.items() if name not in ("self", "metadata")}
    problems = [f"synthesizer.params.{name}: unknown parameter of {spec.kind} (known: {', '.join(sorted(known))})"
                for name in spec.params if name not in known]
    for name, value in spec.params.items():
        if name in known and known[name] is not inspect.Parameter.empty and known[name] is not None:
            problems += _type_problems(name, value, known[name])
    if spec.kind in ("ctgan", "copulagan") and not problems:
        batch, pac = spec.params.get("batch_size", known["batch_size"]), spec.params.get("pac", known["pac"])
        if batch % 2 or batch % pac:
            problems.append(f"synthesizer.params.batch_size: must be even and a multiple of pac ({pac}), got {batch}")
    if problems:
        raise SpecError("; ".join(problems))
    if metadata is not None:
        build_synthesizer(spec, metadata)  # SDV's own checks of the values (distributions, flags)


def check_suites(paths: tuple[str, ...], table: str, columns: list[str]) -> list[dict]:
    """The hand-written suites that apply to ``table``, each expectation built by GX once, and every
    column they name present in the table. Returns the suite documents."""
    from synth_ops.gates.expectations import build_expectation, load_suites

    suites = load_suites(paths, table)
    problems = []
    for suite in suites:
        for index, expectation in enumerate(suite["expectations"]):
            where = f"gates.suites.{suite['index']}: {suite['path']}: expectation {index}"
            try:
                build_expectation(expectation)
            except SpecError as error:
                problems.append(f"{where}: {error}")
                continue
            kwargs = expectation.get("kwargs") or {}
            named = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
            named += [c for k in ("column_list",) for c in kwargs.get(k) or [] if isinstance(c, str)
                      if expectation.get("type") != "expect_table_columns_to_match_ordered_list"]
            missing = [c for c in named if c not in columns]
            if missing:
                problems.append(f"{where}: no column {', '.join(map(repr, missing))} in table {table!r}")
    if problems:
        raise SpecError("; ".join(problems))
    return suites


def check_utility(utility, table: str, plan: dict[str, dict], tables: int) -> None:
    """The utility target is a learned column of the table (of some table, in a multi-table spec)."""
    if utility is None:
        return
    entry = plan.get(utility.target)
    if entry is None:
        if tables == 1:
            raise SpecError(f"gates.utility.target: no column {utility.target!r} in table {table!r}")
        return
    if entry["role"] != "learned":
        raise SpecError(f"gates.utility.target: column {utility.target!r} of table {table!r} is not learned "
                        f"({entry['role']}: {entry['reason']}); a model cannot be scored on it")


def check_key_capacity(plan: dict[str, dict], table: str, rows: int) -> None:
    """Every unique generated column can number ``rows`` rows (a short code pattern cannot, nor can
    an integer key that would pass 2**63), and every other id its distinct values."""
    from synth_ops import keys
    from synth_ops.columns import unique_columns

    problems = []
    unique = set(unique_columns(plan))
    for column, entry in plan.items():
        if "format" not in entry or entry["format"]["kind"] == "shapes":
            continue
        needed = rows if column in unique else entry["distinct"]
        capacity = keys.capacity(entry["format"])
        if column not in unique and entry["format"]["kind"] == "template":
            continue  # repeated ids draw from what the pattern holds
        if capacity is not None and capacity < needed:
            what = "pattern" if entry["format"]["kind"] == "template" else "numbering (start + step * n, 64-bit)"
            problems.append(f"tables.{table}.metadata.columns.{column}: the key's {what} holds {capacity} distinct "
                            f"values, fewer than the {needed} to generate; lower generate.rows or set its "
                            "key_format (kind integer or numbered, start, step)")
    if problems:
        raise SpecError("; ".join(problems))
