"""Where one run's private artifacts live: ``<artifacts>/<name>/<run_id>/<table>/...``.

The run id is content-addressed (spec content, source bytes, library versions), so every step of
a run, in any process (CLI step, Airflow task, Dagster op), finds the same directory.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from typing import Any

from synth_ops.errors import InputError
from synth_ops.io.fingerprints import library_versions, run_id
from synth_ops.spec import Spec
from synth_ops.stores import S3Credentials, Store, open_store, read_json, s3_credentials, write_json
from synth_ops.stores.sources import source_fingerprint


@dataclasses.dataclass(frozen=True)
class Workspace:
    spec: Spec
    artifacts: Store
    run_id: str
    spec_hash: str
    source_fingerprints: dict[str, str]
    versions: dict[str, str]

    @classmethod
    def open(cls, spec: Spec, credentials: S3Credentials | None = None) -> Workspace:
        """``credentials``: S3 keys held outside the spec (an Airflow connection's), for the sources
        and the artifacts store; None: an ``s3_credentials`` scope's, else the standard AWS chain."""
        with s3_credentials(credentials) if credentials else nullcontext():
            fingerprints = {name: source_fingerprint(t.source, spec.s3) for name, t in spec.tables.items()}
        versions = library_versions()
        spec_hash = spec.content_hash()
        return cls(
            spec=spec,
            artifacts=open_store(spec.artifacts.uri, spec.s3, credentials),
            run_id=run_id(spec_hash, fingerprints, versions),
            spec_hash=spec_hash,
            source_fingerprints=fingerprints,
            versions=versions,
        )

    def key(self, table: str, *parts: str) -> str:
        return "/".join((self.spec.name, self.run_id, table, *parts))

    def location(self, key: str) -> str:
        return f"{self.artifacts.uri}/{key}"

    def read(self, table: str, filename: str) -> Any:
        return read_json(self.artifacts, self.key(table, filename))

    def write(self, table: str, filename: str, doc: Any) -> str:
        key = self.key(table, filename)
        write_json(self.artifacts, key, doc)
        return key

    def has(self, table: str, filename: str) -> bool:
        return self.artifacts.exists(self.key(table, filename))

    def require(self, table: str, filename: str, step: str) -> None:
        """InputError unless the earlier ``step`` of this run has written ``filename``."""
        if not self.has(table, filename):
            raise InputError(f"tables.{table}: no {filename} for this run; run `synth-ops {step}` first")
