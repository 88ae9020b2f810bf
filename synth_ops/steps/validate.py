"""validate: run every gate on the staged shards and write ``gates.json`` (pass or fail)."""

from __future__ import annotations

import logging

from synth_ops.gates import GATES, GateInput
from synth_ops.runtime.quiet import quiet_libraries
from synth_ops.runtime.records import GateRecord
from synth_ops.runtime.shards import verified_shards
from synth_ops.runtime.workspace import Workspace
from synth_ops.steps.generate import shard_records

log = logging.getLogger("synth_ops")


def validate(ws: Workspace, table: str, force: bool = False) -> GateRecord:
    """All gates for one table. Returns the record; callers decide what a failure means.

    Gates of this run are reused (unless ``force``) when they judged exactly the current shards.
    """
    ws.require(table, "profile.json", "profile")
    shards = shard_records(ws, table)
    judged = [s.sha256 for s in shards]
    if not force and ws.has(table, "gates.json"):
        previous = ws.read(table, "gates.json")
        if previous.get("shards_sha256") == judged:
            log.info("%s: gates up to date (%s)", table, "passed" if previous["passed"] else "FAILED")
            return GateRecord.from_dict(previous)
    with verified_shards(ws, shards) as paths:
        gate_input = GateInput(
            ws=ws, table=table, profile=ws.read(table, "profile.json"), shard_paths=paths, shards=shards
        )
        with quiet_libraries():
            results = [result.to_dict() for gate in GATES for result in gate(gate_input)]
        passed = all(r["passed"] for r in results)
        record = GateRecord(
            name=ws.spec.name,
            table=table,
            run_id=ws.run_id,
            passed=passed,
            results=results,
            gates_key=ws.key(table, "gates.json"),
            report_key=_write_report(ws, table, gate_input, results),
        )
    ws.write(table, "gates.json", {**record.to_dict(), "shards_sha256": judged})
    log.info(
        "%s: gates %s (%d checks, %d failed); report at %s",
        table,
        "passed" if passed else "FAILED",
        len(results),
        sum(not r["passed"] for r in results),
        ws.location(record.report_key),
    )
    return record


def _write_report(ws: Workspace, table: str, gate_input: GateInput, results: list[dict]) -> str:
    from synth_ops.gates import report

    rows, learned = ws.spec.gates.quality_rows, gate_input.learned
    page = report.render(
        name=ws.spec.name,
        table=table,
        run_id=ws.run_id,
        gates=results,
        real=gate_input.real_sample(rows)[learned],
        synthetic=gate_input.synthetic_sample(rows)[learned],
        metadata=gate_input.metadata,
        generated={c: e for c, e in gate_input.profile["columns_plan"].items() if e["role"] != "learned"},
        fingerprints={
            "run id": ws.run_id,
            "spec hash": ws.spec_hash,
            "source sha256": ws.source_fingerprints[table],
            "model sha256": ws.read(_model_unit(ws, table), "model.json")["model_sha256"],
            **{f"{name} version": v for name, v in ws.versions.items()},
        },
        privacy=ws.read(_model_unit(ws, table), "model.json").get("privacy"),
        auto=ws.read(_model_unit(ws, table), "model.json").get("auto"),
        controls=gate_input.controls,
    )
    key = ws.key(table, "report.html")
    ws.artifacts.write_bytes(key, page.encode())
    return key


def _model_unit(ws: Workspace, table: str) -> str:
    from synth_ops.steps.plan import build_plan

    return build_plan(ws.spec).model_of(table).name


def validate_release(ws: Workspace, force: bool = False) -> GateRecord | None:
    """The gates over related tables as one release (``gates/release.py``), written to the
    plan's SCHEMA_MODEL unit with a report of the relationships and every table's results.
    None when the spec has no relationships."""
    from synth_ops.gates.release import release_gates
    from synth_ops.steps.plan import SCHEMA_MODEL, build_plan

    plan = build_plan(ws.spec)
    if not plan.relations:
        return None
    judged = {t.name: [s.sha256 for s in shard_records(ws, t.name)] for t in plan.tables}
    if not force and ws.has(SCHEMA_MODEL, "gates.json"):
        previous = ws.read(SCHEMA_MODEL, "gates.json")
        if previous.get("shards_sha256") == judged:
            return GateRecord.from_dict(previous)
    with quiet_libraries():
        results = [result.to_dict() for result in release_gates(ws, plan)]
    passed = all(r["passed"] for r in results)
    report_key = ws.key(SCHEMA_MODEL, "report.html")
    ws.artifacts.write_bytes(report_key, _release_report(ws, plan, results).encode())
    record = GateRecord(
        name=ws.spec.name,
        table=SCHEMA_MODEL,
        run_id=ws.run_id,
        passed=passed,
        results=results,
        gates_key=ws.key(SCHEMA_MODEL, "gates.json"),
        report_key=report_key,
    )
    ws.write(SCHEMA_MODEL, "gates.json", {**record.to_dict(), "shards_sha256": judged})
    log.info(
        "release gates %s (%d checks, %d failed); report at %s",
        "passed" if passed else "FAILED",
        len(results),
        sum(not r["passed"] for r in results),
        ws.location(report_key),
    )
    return record


def _release_report(ws: Workspace, plan, results: list[dict]) -> str:
    """Relationships, their real orphan counts, the release gates and every table's gate summary:
    counts and scores only, no values."""
    from synth_ops.gates import report

    relationships = []
    for relation in plan.relations:
        stats = ws.read(relation.child, "profile.json")["relationships"][relation.name]
        role = "primary" if relation.primary else "implied" if relation.implied else "drawn"
        relationships.append(
            [
                relation.parent,
                ", ".join(relation.parent_key),
                relation.child,
                ", ".join(relation.child_key),
                role,
                relation.orphans,
                stats["null"],
                stats["orphans"],
                stats["rows"],
            ]
        )
    tables = []
    for table in plan.tables:
        if ws.has(table.name, "gates.json"):
            record = ws.read(table.name, "gates.json")
            tables.append(
                [
                    table.name,
                    "pass" if record["passed"] else "FAIL",
                    len(record["results"]),
                    ", ".join(r["name"] for r in record["results"] if not r["passed"]),
                    ws.location(record["report_key"]),
                ]
            )
    return report.render_release(
        name=ws.spec.name, run_id=ws.run_id, relationships=relationships, gates=results, tables=tables
    )
