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

from synth_ops.errors import SpecError
from synth_ops.records import GateResult

log = logging.getLogger("synth_ops")

_TYPE_FAMILIES = {
    # "XDtype" names are how GX's pandas engine recognises pandas' nullable extension dtypes.
    "int": ["int64", "Int64Dtype"],
    "float": ["float64", "Float64Dtype"],
    "bool": ["bool", "BooleanDtype"],
    "object": ["object", "str", "StringDtype"],
}
_SET_SDTYPES = {"categorical", "boolean", "ordinal"}


def _family(dtype: str) -> list[str]:
    for prefix, names in _TYPE_FAMILIES.items():
        if dtype.lower().startswith(prefix):
            return names
    return [dtype]


def automatic_suite(profile: dict) -> dict:
    """The suite, as plain GX JSON, that every synthetic table must meet."""
    order = [name for name, _ in profile["arrow_schema"]]
    expectations = [{"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": order}}]
    for column in order:
        stats = profile["columns"][column]
        expectations.append({
            "type": "expect_column_values_to_be_in_type_list",
            "kwargs": {"column": column, "type_list": _family(stats["dtype"])},
        })
        if stats["null_share"] == 0:
            expectations.append({"type": "expect_column_values_to_not_be_null", "kwargs": {"column": column}})
        if stats["sdtype"] in _SET_SDTYPES and "categories" in stats:
            expectations.append({
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": column, "value_set": stats["categories"]},
            })
        elif "min" in stats:
            expectations.append({
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": column, "min_value": stats["min"], "max_value": stats["max"]},
            })
    return {"name": f"{profile['name']}.{profile['table']}.automatic", "expectations": expectations,
            "meta": {"generated_by": "synth-ops"}}


def load_suites(paths: tuple[str, ...], table: str) -> list[dict]:
    """Hand-written suites that apply to ``table``: ``meta.table`` names it, or is absent (all tables)."""
    suites = []
    for i, path in enumerate(paths):
        field = f"gates.suites.{i}"
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise SpecError(f"{field}: cannot read GX suite {path}: {error}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("expectations"), list):
            raise SpecError(f"{field}: {path} is not a GX suite (expected an object with an 'expectations' list)")
        if doc.get("meta", {}).get("table", table) == table:
            suites.append({"name": doc.get("name") or Path(path).stem, "expectations": doc["expectations"],
                           "meta": doc.get("meta", {}), "path": path})
    return suites


def run_expectations(gate_input) -> list[GateResult]:
    import logging as _logging
    import warnings

    import great_expectations as gx
    import pyarrow.parquet as pq
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ws, table = gate_input.ws, gate_input.table
    suite_docs = [automatic_suite(gate_input.profile), *load_suites(ws.spec.gates.suites, table)]
    ws.write(table, "suite.json", suite_docs)
    _logging.getLogger("great_expectations").setLevel(_logging.ERROR)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = (
        context.data_sources.add_pandas("synthetic")
        .add_dataframe_asset(table)
        .add_batch_definition_whole_dataframe("batch")
    )
    definitions = []
    for i, doc in enumerate(suite_docs):
        try:
            suite = gx.ExpectationSuite(name=f"{i}-{doc['name']}", expectations=doc["expectations"])
        except Exception as error:  # GX raises several types for an invalid expectation config
            where = doc.get("path", "automatic suite")
            raise SpecError(f"gates.suites: invalid expectation in {where}: {' '.join(str(error).split())}") from None
        suite = context.suites.add(suite)
        definitions.append((doc["name"], context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{i}-{doc['name']}", data=batch_definition, suite=suite))))

    # (suite, expectation id) -> [passed on every batch, unexpected rows, type, column]
    outcome: dict[tuple[str, int], list] = {}
    for path in gate_input.shard_paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ws.spec.gates.validate_batch_rows):
            frame = _to_pandas(batch)
            for suite_name, definition in definitions:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = definition.run(batch_parameters={"dataframe": frame},
                                            result_format={"result_format": "BASIC", "partial_unexpected_count": 0})
                for item in result.results:
                    config = item.expectation_config
                    entry = outcome.setdefault((suite_name, config.id), [True, 0, config.type, config.kwargs.get("column")])
                    entry[0] = entry[0] and bool(item.success)
                    # Row-wise expectations count unexpected rows; others count failed batches.
                    counted = (item.result or {}).get("unexpected_count")
                    entry[1] += int(counted) if counted is not None else int(not item.success)

    results = []
    for (suite_name, _), (passed, unexpected, kind, column) in outcome.items():
        target = f"{column}: " if column else ""
        # Never the unexpected values themselves: only counts reach gates.json and the logs.
        results.append(GateResult(
            gate="expectations", name=f"{suite_name}/{kind}" + (f"[{column}]" if column else ""),
            value=float(unexpected), threshold=0.0, passed=passed,
            detail="" if passed else f"{target}{unexpected} unexpected",
        ))
    failed = sum(not r.passed for r in results)
    log.debug("%s: %d expectations checked, %d failed", table, len(results), failed)
    return results


def _to_pandas(batch):
    import pandas as pd
    import pyarrow as pa

    # Nullable integers stay integers (a default conversion would turn them into floats).
    mapping = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return batch.to_pandas(types_mapper=mapping.get)
