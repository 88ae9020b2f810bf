"""Step records: the small JSON-serialisable results that travel through XCom or Dagster metadata.

Data never travels in a record, only URIs, counts, fingerprints, scores and pass/fail.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Required, TypedDict, TypeVar

T = TypeVar("T", bound="Record")


@dataclasses.dataclass(frozen=True)
class Record:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], doc: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in names})


@dataclasses.dataclass(frozen=True)
class ProfileRecord(Record):
    name: str
    table: str
    run_id: str
    source_fingerprint: str
    rows: int
    columns: int
    pii_columns: list[str]
    primary_key: str | None
    profile_key: str
    metadata_key: str
    generated: dict[str, str] = dataclasses.field(default_factory=dict)  # column -> role, if not learned


@dataclasses.dataclass(frozen=True)
class ModelRecord(Record):
    name: str
    table: str
    run_id: str
    kind: str
    seed: int
    train_rows: int
    holdout_rows: int
    model_key: str
    model_sha256: str
    fit_seconds: float
    privacy: dict[str, Any] | None = None  # a DP fit: its charge, its ledger, spent and remaining


@dataclasses.dataclass(frozen=True)
class ShardRecord(Record):
    name: str
    table: str
    run_id: str
    shard: int
    seed: int
    rows: int
    bytes: int
    sha256: str
    key: str
    seconds: float


@dataclasses.dataclass(frozen=True)
class GateResult(Record):
    """One measured check. ``value`` None: the gate could not measure (``detail`` says why), never a
    sentinel number; ``threshold`` None: reported on every run, not gated (it always passes)."""

    gate: str  # family: expectations, quality, utility, discriminator, privacy, ...
    name: str  # one check within the family
    value: float | None
    threshold: float | None
    passed: bool
    detail: str = ""
    baseline: float | None = None  # what real data achieves on the same measure (holdout vs training)
    bound: float | None = None  # the confidence bound the threshold was compared with, if any
    measures: dict[str, Any] = dataclasses.field(default_factory=dict)  # the numbers behind the value


class GateResultDoc(TypedDict, total=False):
    """A ``GateResult`` as it travels in ``gates.json``, a GateRecord, XCom and Dagster metadata."""

    gate: Required[str]
    name: Required[str]
    value: Required[float | None]
    threshold: Required[float | None]
    passed: Required[bool]
    detail: str
    baseline: float | None
    bound: float | None
    measures: dict[str, Any]


def headline(results: list[GateResultDoc]) -> dict[str, float | None]:
    """The gate values the asset catalogs show beside a published table: every measured gate but the
    expectations (counted elsewhere), with its baseline where it has one. None: not measured."""
    out: dict[str, float | None] = {}
    for result in results:
        if result["gate"] == "expectations":
            continue
        out[result["name"]] = result["value"]
        if result.get("baseline") is not None and result["gate"] in ("quality", "discriminator"):
            out[f"{result['name']}_baseline"] = result["baseline"]
    return out


def shown(number: float | None, missing: str = "not measured") -> str:
    """A gate's number as text: ``missing`` for None (not measured, or not gated)."""
    return missing if number is None else f"{number:g}"


@dataclasses.dataclass(frozen=True)
class GateRecord(Record):
    name: str
    table: str
    run_id: str
    passed: bool
    results: list[GateResultDoc]
    gates_key: str
    report_key: str = ""

    def failures(self) -> list[str]:
        return [
            f"{self.table}: gate {r['gate']}/{r['name']} failed: value {shown(r['value'])}, "
            f"threshold {shown(r['threshold'], 'none')}" + (f" ({r['detail']})" if r.get("detail") else "")
            for r in self.results
            if not r["passed"]
        ]


@dataclasses.dataclass(frozen=True)
class ReleaseRecord(Record):
    name: str
    version: str
    status: str  # "published" | "up_to_date"
    publish_uri: str
    release_key: str
    tables: dict[str, dict[str, Any]]
