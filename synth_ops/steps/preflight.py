"""Everything about a spec that can be checked before any fitting, run by the profile step: the
hand-written suites, the utility target, room in the key formats (the synthesizer's params are
checked by its backend: ``Synthesizer.check``). Each check collects every problem of its part and
raises one SpecError naming the fields, never a data value.
"""

from __future__ import annotations

from synth_ops.errors import SpecError


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
            named += [
                c
                for k in ("column_list",)
                for c in kwargs.get(k) or []
                if isinstance(c, str)
                if expectation.get("type") != "expect_table_columns_to_match_ordered_list"
            ]
            missing = [c for c in named if c not in columns]
            if missing:
                problems.append(f"{where}: no column {', '.join(map(repr, missing))} in table {table!r}")
    if problems:
        raise SpecError("; ".join(problems))
    return suites


def check_utility(utility, table: str, plan: dict[str, dict], tables: int) -> None:
    """Every utility target is a learned column of the table (of some table, in a multi-table spec:
    there a target absent from this table is another table's). A generated column (key, id,
    replaced, constant, null) is not learned, so no model trained on synthetic rows can be scored
    on it. Every problem is named at once, by its field."""
    if utility is None:
        return
    problems = []
    for index, target in enumerate(utility.columns):
        entry, field = plan.get(target), utility.field_of(index)
        if entry is None:
            if tables == 1:
                problems.append(f"{field}: no column {target!r} in table {table!r}")
        elif entry["role"] != "learned":
            problems.append(
                f"{field}: column {target!r} of table {table!r} is not learned ({entry['role']}: "
                f"{entry['reason']}); a model cannot be scored on it"
            )
    if problems:
        raise SpecError("; ".join(problems))


def check_attack_columns(spec_table, table: str, plan: dict[str, dict]) -> None:
    """Every quasi-identifier and sensitive column of the attribute inference gate is a learned
    column of the table: a generated column (key, id, replaced, constant, null) holds no real value
    to look up or to infer. Every problem is named at once, by its field."""
    problems = []
    for role in ("quasi_identifiers", "sensitive"):
        for index, column in enumerate(getattr(spec_table, role)):
            entry, field = plan.get(column), f"tables.{table}.{role}.{index}"
            if entry is None:
                problems.append(f"{field}: no column {column!r} in table {table!r}")
            elif entry["role"] != "learned":
                problems.append(
                    f"{field}: column {column!r} of table {table!r} is not learned ({entry['role']}: "
                    f"{entry['reason']}): its generated values say nothing about a real person"
                )
    if problems:
        raise SpecError("; ".join(problems))


def check_key_capacity(plan: dict[str, dict], table: str, rows: int) -> None:
    """Every unique generated column can number ``rows`` rows (a short code pattern cannot, nor can
    an integer key that would pass 2**63), and every other id its distinct values."""
    from synth_ops.profiling import keys
    from synth_ops.spec.columns import unique_columns

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
            problems.append(
                f"tables.{table}.metadata.columns.{column}: the key's {what} holds {capacity} distinct "
                f"values, fewer than the {needed} to generate; lower generate.rows or set its "
                "key_format (kind integer or numbered, start, step)"
            )
    if problems:
        raise SpecError("; ".join(problems))


def check_controls(
    spec_table,
    table: str,
    frame,
    plan: dict[str, dict],
    sdtypes: dict[str, str],
    kind: str,
    supported: tuple[str, ...],
    related: bool,
    rows: int,
) -> None:
    """``tables.<t>.generate`` against the source, before any fit: every control supported by the
    table's kind, every column learned, a rebalanced column categorical and its values present, a
    condition's value present (a category) or a range on a number or datetime, and room for the
    condition rows in the release. Every problem is named at once, by its field; values are never
    quoted (they may be real data)."""
    controls = spec_table.generate
    if controls is None:
        return
    field = f"tables.{table}.generate"
    problems = []
    if related and controls.controls:
        problems.append(f"{field}: controls apply to a table in no relationship")
    for name in controls.controls:
        if name not in supported:
            problems.append(f"{field}.{name}: synthesizer.kind {kind} does not support it")

    def learned(column: str, where: str) -> bool:
        entry = plan.get(column)
        if entry is None:
            problems.append(f"{where}: no column {column!r} in table {table!r}")
        elif entry["role"] != "learned":
            problems.append(f"{where}: column {column!r} is not learned ({entry['role']}): nothing to control")
        else:
            return True
        return False

    from synth_ops.gates.learning import as_text, value_as_text

    def texts(column: str) -> set[str]:
        return set(as_text(frame[column].dropna()))

    rebalance = controls.rebalance
    if rebalance is not None and learned(rebalance.column, f"{field}.rebalance.column"):
        if sdtypes.get(rebalance.column) not in ("categorical", "boolean"):
            problems.append(f"{field}.rebalance.column: column {rebalance.column!r} is not categorical")
        else:
            known = texts(rebalance.column)
            unknown = [i for i, value in enumerate(rebalance.shares) if value_as_text(value) not in known]
            if unknown:
                problems.append(
                    f"{field}.rebalance.shares: {len(unknown)} value(s) do not occur in column {rebalance.column!r}"
                )
    fairness = controls.fairness
    if fairness is not None:
        named = [(fairness.target, f"{field}.fairness.target")] + [
            (column, f"{field}.fairness.sensitive.{i}") for i, column in enumerate(fairness.sensitive)
        ]
        for column, where in named:
            if learned(column, where) and sdtypes.get(column) not in ("categorical", "boolean"):
                problems.append(f"{where}: column {column!r} is not categorical")
    for index, condition in enumerate(controls.conditions):
        for column, value in condition.values.items():
            where = f"{field}.conditions.{index}.values.{column}"
            if not learned(column, where):
                continue
            numeric = sdtypes.get(column) in ("numerical", "datetime")
            if isinstance(value, (list, tuple)) and not numeric:
                problems.append(f"{where}: a range needs a number or datetime column")
            elif isinstance(value, (list, tuple)) and "ranges" not in supported:
                problems.append(f"{where}: synthesizer.kind {kind} does not support a range (a value only)")
            elif not numeric and value_as_text(value) not in texts(column):
                problems.append(f"{where}: the value does not occur in column {column!r}")
            elif numeric and not _numeric_ok(value, sdtypes.get(column)):
                problems.append(f"{where}: expected a {sdtypes.get(column)} value or [low, high]")
    wanted = sum(condition.rows for condition in controls.conditions)
    if wanted > rows:
        problems.append(f"{field}.conditions: {wanted} condition rows, more than the {rows} rows generated")
    for index, column in enumerate(controls.impute):
        learned(column, f"{field}.impute.{index}")
    if problems:
        raise SpecError("; ".join(problems))


def _numeric_ok(value, sdtype: str | None) -> bool:
    import pandas as pd

    ends = value if isinstance(value, (list, tuple)) else [value]
    try:
        if sdtype == "datetime":
            [pd.Timestamp(v) for v in ends]
        else:
            [float(v) for v in ends]
    except (TypeError, ValueError):
        return False
    return True
