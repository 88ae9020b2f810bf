"""OpenLineage datasets and facets for the synth-ops operators.

What a lineage backend receives is deliberately narrow: dataset names, column names and types,
row/byte/file counts, gate names with their measured value, threshold and outcome, and the release
version. Never a data value, a profile statistic (min/max/mean/categories) or a gate's free-text
detail (the detail of a failed expectation can describe values).

Imported only from inside ``get_openlineage_facets_on_*`` so the ``[openlineage]`` extra stays
optional and DAG parsing never loads the OpenLineage client.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from attrs import define, field
from openlineage.client.facet_v2 import RunFacet

# The facet's JSON Schema ships in the package (facets/) and is served from the repository; the
# fragment points at the facet's definition, as OpenLineage's own facet schema URLs do.
SCHEMA_URL = (
    "https://raw.githubusercontent.com/synth-ops/synth-ops/main/synth_ops/airflow/facets/"
    "SynthOpsReleaseRunFacet.json#/$defs/SynthOpsReleaseRunFacet"
)
# Gates whose measure must stay at or under the threshold; every other gate is a floor. Named
# without their ``[...]`` part: membership[distance] (the AUC's lower bound), attribute_inference[c]
# (the risk's lower bound), empirical_epsilon (a DP fit's charged epsilon; otherwise reported).
CEILING_GATES = {
    "exact_match",
    "dcr_share",
    "pii_leak",
    "discriminator_auc",
    "membership",
    "attribute_inference",
    "empirical_epsilon",
}
# Gates whose threshold bounds the value minus its baseline, not the value itself
EXCESS_GATES = {"discriminator_auc"}
COLUMN_IN_NAME = re.compile(r"\[([^\]]+)\]$")
# Families whose ``[...]`` names an attack, not a column (a table may well have a column "distance")
NOT_A_COLUMN = {"membership"}


@define
class SynthOpsReleaseRunFacet(RunFacet):
    """The synth-ops release a run produced or judged.

    version: content-addressed release version (the run id); pipeline: the spec's name; status:
    publish says ``published``, ``up_to_date``, ``superseded`` or ``not_published``; validate says
    ``validated``, ``gates_failed`` or ``not_validated``.
    """

    version: str
    status: str
    pipeline: str
    specHash: str  # noqa: N815 - OpenLineage facet fields are camelCase
    tables: list[str]
    # table -> its generation controls in words (column names and counts, never a value)
    controls: dict[str, str] = field(factory=dict)
    # table -> the kind whose model made its rows ("auto: trees (why)" under kind auto)
    synthesizers: dict[str, str] = field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def dataset_id(uri: str) -> tuple[str, str]:
    """(namespace, name) of a location, after the OpenLineage naming conventions: ``s3://bucket``
    and the key; ``file://<host>`` and the absolute path for a path on this worker's disk."""
    parsed = urlparse(uri)
    if parsed.scheme and parsed.scheme != "file" and len(parsed.scheme) > 1:  # not a Windows drive letter
        return f"{parsed.scheme}://{parsed.netloc}", parsed.path.lstrip("/")
    if parsed.scheme == "file" and parsed.netloc:  # another host's disk: nothing here to resolve
        return f"file://{parsed.netloc}", parsed.path
    path = parsed.path if parsed.scheme == "file" else uri
    return f"file://{socket.gethostname()}", str(Path(path).resolve())


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *parts])


def schema_facet(columns: list[list[str]] | None):
    """Column names and Arrow types, as ``profile.json`` and the release manifest record them."""
    from openlineage.client.facet_v2 import schema_dataset

    if not columns:
        return {}
    return {
        "schema": schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=name, type=kind, ordinal_position=i)
                for i, (name, kind) in enumerate(columns, start=1)
            ]
        )
    }


def assertions_facet(results: list[dict[str, Any]], columns: set[str]):
    """One assertion per gate result: ``<gate> <op> <threshold>`` (``<gate> - baseline <op> ...``
    where the threshold bounds the excess over real data's own), its outcome, the measured value,
    and its baseline and confidence bound. A gate measured but not gated asserts nothing
    (``<gate> reported``); one that could not measure shows ``not measured``. The gate's
    ``detail`` text is left out on purpose."""
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dq

    from synth_ops.runtime.records import shown

    assertions = []
    for result in results:
        name, op = result["name"], "<=" if _is_ceiling(result) else ">="
        subject = f"{name} - baseline" if name in EXCESS_GATES else name
        expected = "reported, not gated" if result["threshold"] is None else f"{op} {result['threshold']:g}"
        context = [f"{key} {result[key]:g}" for key in ("baseline", "bound") if result.get(key) is not None]
        column = None if result["gate"] in NOT_A_COLUMN else COLUMN_IN_NAME.search(name)
        assertions.append(
            dq.Assertion(
                assertion=f"{name} reported" if result["threshold"] is None else f"{subject} {expected}",
                success=bool(result["passed"]),
                column=column.group(1) if column and column.group(1) in columns else None,
                severity="error",  # any failed gate stops the release
                name=f"{result['gate']}/{name}",
                expected=expected,
                actual=shown(result["value"]),
                description="unexpected rows" if result["gate"] == "expectations" else "; ".join(context) or None,
            )
        )
    return {"dataQualityAssertions": dq.DataQualityAssertionsDatasetFacet(assertions=assertions)}


def _is_ceiling(result: dict[str, Any]) -> bool:
    return result["gate"] == "expectations" or result["name"].split("[")[0] in CEILING_GATES


def input_dataset(uri: str, columns: list[list[str]] | None, results: list[dict] | None = None):
    from openlineage.client.event_v2 import InputDataset

    namespace, name = dataset_id(uri)
    input_facets = assertions_facet(results, {c for c, _ in columns or []}) if results else {}
    return InputDataset(namespace=namespace, name=name, facets=schema_facet(columns), inputFacets=input_facets)


def output_dataset(
    uri: str,
    columns: list[list[str]] | None,
    *,
    results: list[dict] | None = None,
    rows: int | None = None,
    size: int | None = None,
    files: int | None = None,
    version: str | None = None,
):
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset, output_statistics_output_dataset

    namespace, name = dataset_id(uri)
    facets = schema_facet(columns)
    if results:
        facets |= assertions_facet(results, {c for c, _ in columns or []})
    if version:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version)
    output_facets = {}
    if rows is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=size, fileCount=files
        )
    return OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=output_facets)


def release_run_facet(ws, status: str, tables: list[str]) -> dict[str, SynthOpsReleaseRunFacet]:
    from synth_ops.spec.controls import describe

    controls = {t: describe(ws.spec.controls_of(t)) for t in tables if ws.spec.controls_of(t)}
    return {
        "synthOpsRelease": SynthOpsReleaseRunFacet(
            version=ws.run_id,
            status=status,
            pipeline=ws.spec.name,
            specHash=ws.spec_hash,
            tables=list(tables),
            controls=controls,
            synthesizers=fitted_kinds(ws, tables),
        )
    }


def fitted_kinds(ws, tables: list[str]) -> dict[str, str]:
    """{table: the kind of its fitted model}, from its model.json (a table not fitted yet: left out)."""
    kinds = {}
    for table in tables:
        if not ws.has(table, "model.json"):
            continue
        model = ws.read(table, "model.json")
        auto = model.get("auto")
        kinds[table] = f"auto: {auto['winner']} ({auto['why']})" if auto else model.get("kind", "")
    return kinds
