"""The expectations gate: the one module that touches Great Expectations.

An automatic suite is built from the profile (columns and types, no nulls where the real column
had none, categories within the real set, numbers within the real range), and the hand-written
suites of ``gates.suites`` run beside it. Everything runs in one ephemeral GX context created
here, so no GX state leaks between runs. The synthetic table is read in batches of
``gates.validate_batch_rows``; an expectation passes only if it passes on every batch (exact for
row-wise expectations; aggregate ones are judged per batch).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from synth_ops.errors import SpecError, one_line
from synth_ops.runtime.records import GateResult

log = logging.getLogger("synth_ops")

_SET_SDTYPES = {"categorical", "boolean", "ordinal"}
# Judged on every row of the release at once (over the columns they name), not batch by batch:
# a key repeated across two shards is only visible there.
WHOLE_RELEASE = {
    "expect_column_values_to_be_unique",
    "expect_compound_columns_to_be_unique",
    "expect_column_unique_value_count_to_be_between",
    "expect_column_proportion_of_unique_values_to_be_between",
}


def gx_type_names(arrow_type: str) -> list[str] | None:
    """The type names GX's in_type_list accepts for a column of this Arrow type, as the gate reads
    shards (``_to_pandas``); None where GX has no name for it (time-zone-aware timestamps: the
    Parquet schema of every shard pins their type already)."""
    if arrow_type.startswith(("int", "uint")):
        return ["int64", "Int64Dtype"]
    if arrow_type in ("double", "float", "halffloat"):
        return ["float64", "Float64Dtype"]
    if arrow_type == "bool":
        return ["bool", "BooleanDtype"]
    if arrow_type in ("string", "large_string"):
        return ["object", "str", "StringDtype"]
    if arrow_type.startswith("timestamp"):
        return None if "tz=" in arrow_type else ["datetime64[ns]"]
    if arrow_type.startswith("date"):
        return ["date"]
    return [arrow_type]


def automatic_suite(profile: dict, public: dict | None = None, controls: dict | None = None) -> dict:
    """The suite, as plain GX JSON, that every synthetic table must meet: types and nulls for every
    column, domains for learned ones (a discrete number's: its support, the profile's real values),
    and for generated ones what their role promises (keys unique over the release and of the
    source's pattern, constants constant, all-null columns null).

    ``public``: a DP fit's declared domain of its learned columns ({"bounds": {column: [low, high]},
    "categories": {column: [values]}}): their domains are those, and nulls are not refused (the
    mechanism measures every column's null cell with noise; the real rows' extremes, categories
    and null shares are exactly what it does not release).

    ``controls``: the table's generation controls (``TableGenerate.doc()``): a number a condition
    asks for widens its column's range or support, so the suite never refuses a requested value."""
    from synth_ops.profiling import keys
    from synth_ops.spec import columns as roles

    order = [name for name, _ in profile["arrow_schema"]]
    types = dict((name, kind) for name, kind in profile["arrow_schema"])
    expectations = [{"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": order}}]
    plan = profile["columns_plan"]
    requested = _requested_numbers(controls or {})
    for column in order:
        stats, entry = profile["columns"][column], plan[column]
        role = entry["role"]

        def expect(kind: str, column=column, **kwargs):  # this column's, bound now
            expectations.append({"type": kind, "kwargs": {"column": column, **kwargs}})

        names = gx_type_names(types[column])
        if names and role != roles.NULL:
            expect("expect_column_values_to_be_in_type_list", type_list=names)
        if role == roles.NULL:
            expect("expect_column_values_to_be_null")
            continue
        # a foreign key is null where the real one is null or an orphan that is kept
        unlinked = any(column in r["foreign_key"] and r["unlinked"] for r in profile.get("relationships", {}).values())
        if stats["null_share"] == 0 and not unlinked and not (public is not None and role == roles.LEARNED):
            expect("expect_column_values_to_not_be_null")
        if role == roles.CONSTANT:
            if not types[column].startswith(("timestamp", "date")):  # GX compares those as text
                expect("expect_column_values_to_be_in_set", value_set=[entry["value"]])
        elif role in (roles.KEY, roles.ID):
            if role == roles.KEY or entry.get("unique"):
                expect("expect_column_values_to_be_unique")
            pattern = keys.regex(entry["format"])
            if pattern:
                expect("expect_column_values_to_match_regex", regex=pattern)
        elif role == roles.LEARNED and public is not None:
            bounds, categories = public.get("bounds", {}).get(column), public.get("categories", {}).get(column)
            if categories is not None:
                expect("expect_column_values_to_be_in_set", value_set=list(categories))
            elif bounds is not None and all(isinstance(b, (int, float)) for b in bounds):
                expect("expect_column_values_to_be_between", min_value=bounds[0], max_value=bounds[1])
        elif role == roles.LEARNED:
            if stats["sdtype"] in _SET_SDTYPES and "categories" in stats:
                expect("expect_column_values_to_be_in_set", value_set=stats["categories"])
            elif "support" in stats:  # a discrete number: every backend keeps to its real values
                wanted = requested.get(column, [])
                if any(isinstance(v, tuple) for v in wanted):  # a range asked for: any value within it
                    low, high = _span(stats["min"], stats["max"], wanted)
                    expect("expect_column_values_to_be_between", min_value=low, max_value=high)
                else:
                    expect("expect_column_values_to_be_in_set", value_set=sorted({*stats["support"], *wanted}))
            elif "min" in stats and "unique_within" not in entry:  # a key's own column may move past max
                low, high = _span(stats["min"], stats["max"], requested.get(column, []))
                expect(
                    "expect_column_values_to_be_between",
                    min_value=_widened(low, -1),
                    max_value=_widened(high, 1),
                )
    return {
        "name": f"{profile['name']}.{profile['table']}.automatic",
        "expectations": expectations,
        "meta": {"generated_by": "synth-ops"},
    }


def _requested_numbers(controls: dict) -> dict[str, list]:
    """{column: the numbers its conditions ask for (a range as a (low, high) tuple)}."""
    out: dict[str, list] = {}
    for condition in controls.get("conditions", ()):
        for column, value in condition["values"].items():
            if isinstance(value, (list, tuple)):
                if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                    out.setdefault(column, []).append((value[0], value[1]))
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out.setdefault(column, []).append(value)
    return out


def _span(low, high, wanted: list):
    """[low, high] widened to every requested number and range (where both are numbers)."""
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return low, high
    for value in wanted:
        ends = value if isinstance(value, tuple) else (value, value)
        low, high = min(low, ends[0]), max(high, ends[1])
    return low, high


def _widened(bound, direction: int):
    """A float bound moved out by a relative 1e-12: SDV rounds to the source's decimals (up to 15),
    which can land a last-digit step beyond the real extreme without being out of range."""
    if isinstance(bound, float):
        return bound + direction * 1e-12 * max(1.0, abs(bound))
    return bound


def load_suites(paths: tuple[str, ...], table: str) -> list[dict]:
    """Hand-written suites that apply to ``table``: ``meta.table`` names it, or is absent (all tables)."""
    suites = []
    for i, path in enumerate(paths):
        field = f"gates.suites.{i}"
        try:
            doc = json.loads(Path(path).read_text())
        except OSError as error:
            raise SpecError(f"{field}: cannot read GX suite {path} ({error.strerror})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise SpecError(f"{field}: {path} is not JSON ({one_line(error)})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
            raise SpecError(f"{field}: {path} is not a GX suite (expected an object with an 'expectations' list)")
        meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
        if meta.get("table", table) == table:
            suites.append(
                {
                    "name": doc.get("name") or Path(path).stem,
                    "expectations": doc["expectations"],
                    "meta": meta,
                    "path": path,
                    "index": i,
                }
            )
    return suites


def build_expectation(doc):
    """One expectation built by GX from its JSON, or SpecError saying why not (GX only logs some)."""
    import logging as _logging

    import great_expectations as gx

    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        raise SpecError("expected an object with a 'type' naming a GX expectation and its 'kwargs'")
    gx_log = _logging.getLogger("great_expectations")
    level = gx_log.level
    gx_log.setLevel(_logging.CRITICAL)  # GX logs a traceback for an unknown type, then drops it
    try:
        suite = gx.ExpectationSuite(name="check", expectations=[doc])
    except Exception as error:  # GX raises several types (pydantic, TypeError, its own)
        raise SpecError(f"invalid {doc['type']}: {one_line(error)[:300]}") from None
    finally:
        gx_log.setLevel(level)
    if len(suite.expectations) != 1:
        raise SpecError(f"unknown expectation type {doc['type']!r}")
    return suite.expectations[0]


def _columns_of(expectation: dict) -> list[str]:
    kwargs = expectation.get("kwargs") or {}
    named = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    return named + [c for c in kwargs.get("column_list") or [] if isinstance(c, str)]


def public_domain(spec, table: str) -> dict | None:
    """The declared domain of ``table``'s learned columns when a DP synthesizer fits it, else None."""
    from synth_ops import synthesizers

    if (
        spec.privacy is None
        or not synthesizers.backend(spec.synthesizer_of(table).kind).capabilities.differential_privacy
    ):
        return None
    return {
        "bounds": dict(spec.privacy.bounds.get(table, {})),
        "categories": dict(spec.privacy.categories.get(table, {})),
    }


def run_expectations(gate_input) -> list[GateResult]:
    import warnings

    import great_expectations as gx
    import pyarrow.parquet as pq
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ws, table = gate_input.ws, gate_input.table
    suite_docs = [
        automatic_suite(
            gate_input.profile,
            public_domain(ws.spec, table),
            ws.spec.controls_of(table),
        ),
        *load_suites(ws.spec.gates.suites, table),
    ]
    ws.write(table, "suite.json", suite_docs)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("synthetic")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("batch")
    )

    def definition(name: str, expectations: list[dict]):
        try:
            suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        except Exception as error:  # GX raises several types for an invalid expectation config
            raise SpecError(f"gates.suites: invalid expectation in suite {name}: {one_line(error)[:300]}") from None
        return context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch_definition, suite=suite)
        )

    batched, whole, whole_columns = [], [], []
    for i, doc in enumerate(suite_docs):
        rows = [e for e in doc["expectations"] if e.get("type") not in WHOLE_RELEASE]
        release = [e for e in doc["expectations"] if e.get("type") in WHOLE_RELEASE]
        if rows:
            batched.append((doc["name"], definition(f"{i}-{doc['name']}", rows)))
        if release:
            whole.append((doc["name"], definition(f"{i}-{doc['name']}-release", release)))
            whole_columns += [c for e in release for c in _columns_of(e)]

    # (suite, expectation id) -> [passed on every batch, unexpected rows, type, column]
    outcome: dict[tuple[str, int], list] = {}

    def record(suite_name: str, frame, validation) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = validation.run(
                batch_parameters={"dataframe": frame},
                result_format={"result_format": "BASIC", "partial_unexpected_count": 0},
            )
        for item in result.results:
            config = item.expectation_config
            entry = outcome.setdefault((suite_name, config.id), [True, 0, config.type, config.kwargs.get("column")])
            entry[0] = entry[0] and bool(item.success)
            # Row-wise expectations count unexpected rows; others count failed batches.
            counted = (item.result or {}).get("unexpected_count")
            entry[1] += int(counted) if counted is not None else int(not item.success)

    for batch in release_batches(gate_input.shard_paths, ws.spec.gates.validate_batch_rows):
        frame = _to_pandas(batch)
        for suite_name, validation in batched:
            record(suite_name, frame, validation)
    if whole:
        present = [c for c in dict.fromkeys(whole_columns) if c in pq.read_schema(gate_input.shard_paths[0]).names]
        import pyarrow as pa

        release = pa.concat_tables(pq.read_table(path, columns=present) for path in gate_input.shard_paths)
        frame = _to_pandas(release, compact_text=True)
        for suite_name, validation in whole:
            record(suite_name, frame, validation)

    results = []
    for (suite_name, _), (passed, unexpected, kind, column) in outcome.items():
        target = f"{column}: " if column else ""
        # Never the unexpected values themselves: only counts reach gates.json and the logs.
        results.append(
            GateResult(
                gate="expectations",
                name=f"{suite_name}/{kind}" + (f"[{column}]" if column else ""),
                value=float(unexpected),
                threshold=0.0,
                passed=passed,
                detail="" if passed else f"{target}{unexpected} unexpected",
            )
        )
    failed = sum(not r.passed for r in results)
    log.debug("%s: %d expectations checked, %d failed", table, len(results), failed)
    return results


def release_batches(paths: list[str], batch_rows: int):
    """The release's rows as Arrow tables of ``batch_rows`` (the last one fewer), across shard
    boundaries. A GX validation costs ~10 ms per expectation however few its rows (its own
    bookkeeping), so a table's small shards are validated together: at 200 columns, 3 shards of a
    300-row table took 17 s one shard at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pending, held = [], 0
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            pending.append(batch)
            held += batch.num_rows
            while held >= batch_rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, batch_rows)
                rest = table.slice(batch_rows)
                pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def _to_pandas(batch, compact_text: bool = False):
    """A shard batch as GX sees it. Nullable integers and booleans keep their type (a default
    conversion makes floats and objects of them); timestamps in nanoseconds. ``compact_text``
    keeps text in Arrow buffers: the whole-release frame holds every key of the release."""
    import pandas as pd
    import pyarrow as pa

    mapping = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    if compact_text:
        mapping[pa.string()] = pd.StringDtype("pyarrow")
    return batch.to_pandas(types_mapper=mapping.get, coerce_temporal_nanoseconds=True)
