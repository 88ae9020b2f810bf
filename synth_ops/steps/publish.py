"""publish: copy gated shards into a versioned release and switch ``_latest.json`` last.

Order matters and is the whole protocol: parts, then each table's manifest, then the release
record, then the pointer. A run killed at any point leaves ``_latest.json`` naming the previous
complete release; a re-run rewrites the same content-addressed version and completes it.
"""

from __future__ import annotations

import datetime
import json
import logging

from synth_ops.errors import GateFailed, StoreError
from synth_ops.runtime import releases
from synth_ops.runtime.records import GateRecord, ReleaseRecord
from synth_ops.runtime.shards import verified_shards
from synth_ops.runtime.workspace import Workspace
from synth_ops.steps.generate import shard_records
from synth_ops.stores import PreconditionFailed, Store, open_store, write_json

log = logging.getLogger("synth_ops")


def publish(ws: Workspace, store: Store | None = None) -> ReleaseRecord:
    spec = ws.spec
    if store is None:  # a caller that passes its store has checked it already (pipeline.run)
        store = open_store(spec.publish.uri, spec.s3)
        store.check()
    version = ws.run_id
    pointer, pointer_tag = releases.read_pointer(store, spec.name)
    if pointer and pointer["version"] == version:
        return up_to_date(ws, store)

    gate_records = {}
    for table in spec.tables:
        ws.require(table, "gates.json", "validate")
        gate_records[table] = GateRecord.from_dict(ws.read(table, "gates.json"))
    from synth_ops.steps.plan import SCHEMA_MODEL, build_plan

    if build_plan(spec).relations:  # related tables publish together or not at all
        from synth_ops.steps.validate import validate_release

        gate_records[SCHEMA_MODEL] = validate_release(ws)  # judged once per set of shards
    failures = [line for record in gate_records.values() for line in record.failures()]
    if failures:
        raise GateFailed(f"{len(failures)} gate(s) failed; nothing published", failures)

    tables = {}
    for table in spec.tables:
        tables[table] = _publish_table(ws, store, table, version, gate_records[table])
    release = {
        "name": spec.name,
        "version": version,
        "published_at": datetime.datetime.now(datetime.UTC).isoformat(),
        "spec_hash": ws.spec_hash,
        "source_fingerprints": ws.source_fingerprints,
        "libraries": ws.versions,
        "tables": tables,
    }
    controls = {t: spec.controls_of(t) for t in spec.tables if spec.controls_of(t)}
    if controls:  # the rows were steered, not copied: said where the data is (the values are the spec's)
        release["controls"] = json.loads(json.dumps(controls, default=str))
    if SCHEMA_MODEL in gate_records:
        record = gate_records[SCHEMA_MODEL]
        release["relationships"] = [r.model_dump(mode="json") for r in spec.relationships]
        release["gates"] = {
            "passed": record.passed,
            "results": record.results,
            "report": ws.location(record.report_key),
        }
    key = releases.release_key(spec.name, version)
    write_json(store, key, release)
    pointer_doc = {"name": spec.name, "version": version, "release": key, "published_at": release["published_at"]}
    try:
        # Conditional on the pointer we read at the start: a concurrent publisher cannot be overwritten.
        store.write_if(releases.latest_key(spec.name), json.dumps(pointer_doc, indent=2).encode(), pointer_tag)
    except PreconditionFailed:
        now = releases.current_version(store, spec.name)
        if now == version:
            return up_to_date(ws, store)
        raise StoreError(
            f"{store.uri}/{releases.latest_key(spec.name)}: another publisher switched it to version "
            f"{now} during this publish; release {version} is complete but not current, re-run to "
            "publish on top"
        ) from None
    log.info("published %s version %s to %s", spec.name, version, store.uri)
    return ReleaseRecord(
        name=spec.name,
        version=version,
        status="published",
        publish_uri=store.uri,
        release_key=key,
        tables=_summary(tables),
    )


def _publish_table(ws: Workspace, store: Store, table: str, version: str, gates: GateRecord) -> dict:
    name = ws.spec.name
    parts = []
    for record in shard_records(ws, table):
        # one shard at a time: remote artifacts never need the whole table staged on local disk
        with verified_shards(ws, [record]) as (path,):
            key = releases.part_key(name, table, version, record.shard)
            store.put_file(key, path)
        parts.append({"key": key, "rows": record.rows, "bytes": record.bytes, "sha256": record.sha256})
    from synth_ops.steps.plan import build_plan

    model = ws.read(build_plan(ws.spec).model_of(table).name, "model.json")
    manifest = {
        "name": name,
        "table": table,
        "version": version,
        "rows": sum(p["rows"] for p in parts),
        "bytes": sum(p["bytes"] for p in parts),
        "schema": ws.read(table, "profile.json")["arrow_schema"],
        "parts": parts,
    }
    key = releases.manifest_key(name, table, version)
    write_json(store, key, manifest)
    return {
        "manifest": key,
        "rows": manifest["rows"],
        "model_sha256": model["model_sha256"],
        "source_fingerprint": ws.source_fingerprints[table],
        "gates": {"passed": gates.passed, "results": gates.results},
        # The report stays private (it shows real distributions); the release only says where it is.
        "report": ws.location(gates.report_key) if gates.report_key else None,
        # a DP fit: what it was charged and its ledger's totals then (synth_ops/privacy/)
        **({"privacy": model["privacy"]} if model.get("privacy") else {}),
    }


def up_to_date(ws: Workspace, store: Store) -> ReleaseRecord:
    release = releases.latest_release(store, ws.spec.name)
    log.info("%s is up to date (version %s)", ws.spec.name, release["version"])
    return ReleaseRecord(
        name=ws.spec.name,
        version=release["version"],
        status="up_to_date",
        publish_uri=store.uri,
        release_key=releases.release_key(ws.spec.name, release["version"]),
        tables=_summary(release["tables"]),
    )


def _summary(tables: dict) -> dict:
    return {
        t: {
            "rows": v["rows"],
            "manifest": v["manifest"],
            "report": v.get("report"),
            **({"privacy": v["privacy"]} if v.get("privacy") else {}),
        }
        for t, v in tables.items()
    }
