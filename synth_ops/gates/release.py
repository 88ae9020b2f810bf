"""Gates over a whole release of related tables, on top of each table's own gates.

- ``referential_integrity`` per relationship: the share of non-null synthetic foreign keys that
  resolve to a synthetic parent row of the release. Anything below 1.0 fails.
- ``primary_key_unique`` per table with a primary key (composite too): the share of its rows whose
  key no other row of the release has. Anything below 1.0 fails.
- ``cardinality`` per drawn or primary relationship: 1 - the KS distance between the real and the
  synthetic number of children per parent row (``gates.cardinality_min``).
- ``quality``: SDMetrics' multi-table QualityReport (column shapes, column pair trends, cardinality,
  intertable trends) on the learned and key columns; leaf tables are subsampled to
  ``gates.quality_rows`` rows on both sides. Composite relationships are left out of it (SDV
  metadata has no composite keys); the three gates above cover them.
Values are shares and distances only: no real value reaches the results.
"""

from __future__ import annotations

from synth_ops.profiling.relations import NULL, kept_source, key_index, read_links
from synth_ops.runtime.records import GateResult
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import as_columns
from synth_ops.spec.columns import learned_columns

KS_CRITICAL = 1.358  # c(0.05) of the two-sample Kolmogorov-Smirnov test


class _Synthetic:
    """Columns of the release's synthetic tables, each table's shards verified (sha256) once."""

    def __init__(self, ws: Workspace, plan, stack):
        from synth_ops.runtime.shards import shard_records, verified_shards

        self._open = lambda table: stack.enter_context(verified_shards(ws, shard_records(ws, table, plan)))
        self._paths: dict[str, list[str]] = {}

    def read(self, table: str, columns: list[str]):
        import pandas as pd
        import pyarrow.parquet as pq

        if table not in self._paths:
            self._paths[table] = self._open(table)
        return pd.concat([pq.read_table(p, columns=columns).to_pandas() for p in self._paths[table]], ignore_index=True)


def _key(profile: dict) -> list[str]:
    return list(as_columns(profile.get("primary_key")))


def release_gates(ws: Workspace, plan) -> list[GateResult]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        return _release_gates(ws, plan, _Synthetic(ws, plan, stack))


def _release_gates(ws: Workspace, plan, synthetic: _Synthetic) -> list[GateResult]:
    import numpy as np
    from scipy.stats import ks_2samp

    gates = ws.spec.gates
    profiles = {t.name: ws.read(t.name, "profile.json") for t in plan.tables}
    results = []
    for table in plan.tables:
        key = _key(profiles[table.name])
        if not key:
            continue
        keys = synthetic.read(table.name, key)
        repeated = int(keys.duplicated(keep=False).sum())
        share = 1.0 - repeated / len(keys) if len(keys) else 1.0
        results.append(
            GateResult(
                gate="release",
                name=f"primary_key_unique:{table.name}",
                value=share,
                threshold=1.0,
                passed=repeated == 0 and not keys.isna().any(axis=None),
                detail=f"{repeated} of {len(keys)} rows share their key" if repeated else "",
            )
        )
    for relation in plan.relations:
        parent_keys = synthetic.read(relation.parent, list(relation.parent_key))
        child_keys = synthetic.read(relation.child, list(relation.child_key))
        index = key_index(parent_keys, child_keys)
        present = int((index != NULL).sum())
        resolved = int((index >= 0).sum())
        share = resolved / present if present else 1.0
        results.append(
            GateResult(
                gate="release",
                name=f"referential_integrity:{relation.name}",
                value=share,
                threshold=1.0,
                passed=resolved == present,
                detail=f"{present - resolved} of {present} foreign keys point at no {relation.parent} row"
                if resolved != present
                else "",
            )
        )
        if relation.implied:
            continue
        synthetic_counts = np.bincount(index[index >= 0], minlength=len(parent_keys))
        links = read_links(ws, relation.child)[relation.name].to_numpy()
        real_counts = np.bincount(links[links >= 0], minlength=profiles[relation.parent]["rows"])
        distance = (
            float(ks_2samp(real_counts, synthetic_counts, method="asymp").statistic)
            if len(real_counts) and len(synthetic_counts)
            else 1.0
        )
        # With few parents (16 airlines) two samples of one law differ by more than 0.3: a distance
        # within the two-sample KS critical value (5%) is no evidence of a difference, and passes.
        noise = KS_CRITICAL * np.sqrt(
            (len(real_counts) + len(synthetic_counts)) / max(len(real_counts) * len(synthetic_counts), 1)
        )
        results.append(
            GateResult(
                gate="release",
                name=f"cardinality:{relation.name}",
                value=1.0 - distance,
                threshold=gates.cardinality_min,
                bound=float(1.0 - noise),
                passed=1.0 - distance >= gates.cardinality_min or distance <= noise,
                detail=f"1 - KS distance of children per parent row, real ({len(real_counts)} parents) vs synthetic "
                f"({len(synthetic_counts)}); a distance within the 5% sampling noise {noise:.3f} also passes",
            )
        )
    results.append(_quality(ws, plan, profiles, synthetic))
    return results


def _quality(ws: Workspace, plan, profiles: dict, release: _Synthetic) -> GateResult:
    """SDMetrics' multi-table QualityReport over the single-column relationships."""
    import numpy as np
    from sdmetrics.reports.multi_table import QualityReport

    gates = ws.spec.gates
    threshold = gates.quality_min if gates.quality_min is not None else gates.release_quality_min
    single = [r for r in plan.relations if len(r.child_key) == 1]
    parents = {r.parent for r in single}
    metadata = {
        "tables": {},
        "relationships": [
            {
                "parent_table_name": r.parent,
                "parent_primary_key": r.parent_key[0],
                "child_table_name": r.child,
                "child_foreign_key": r.child_key[0],
            }
            for r in single
        ],
    }
    real, synthetic = {}, {}
    for table in plan.tables:
        profile = profiles[table.name]
        learned = learned_columns(profile["columns_plan"])
        key = _key(profile)
        ids = list(
            dict.fromkeys(
                [
                    *(key if len(key) == 1 and table.name in parents else []),
                    *(r.child_key[0] for r in single if r.child == table.name),
                ]
            )
        )
        columns = list(dict.fromkeys([*ids, *learned]))
        meta = ws.read(table.name, "metadata.json")["tables"][table.name]["columns"]
        metadata["tables"][table.name] = {
            "columns": {c: ({"sdtype": "id"} if c in ids else meta[c]) for c in columns},
            **({"primary_key": key[0]} if len(key) == 1 and table.name in parents else {}),
        }
        real_frame = kept_source(ws, table.name)[columns]
        synthetic_frame = release.read(table.name, columns)
        if table.name not in parents:  # a leaf: subsampled alike on both sides
            rng = np.random.default_rng([ws.spec.synthesizer.seed, 0x9A7E])
            real_frame = _subsample(real_frame, gates.quality_rows, rng)
            synthetic_frame = _subsample(synthetic_frame, gates.quality_rows, rng)
        real[table.name], synthetic[table.name] = real_frame, synthetic_frame
    report = QualityReport()
    report.generate(real, synthetic, metadata, verbose=False)
    properties = report.get_properties()
    parts = {row["Property"]: float(row["Score"]) for _, row in properties.iterrows()}
    score = float(report.get_score())
    detail = ", ".join(f"{name} {value:.3f}" for name, value in parts.items() if value == value)
    return GateResult(
        gate="release", name="quality", value=score, threshold=threshold, passed=score >= threshold, detail=detail
    )


def _subsample(frame, rows: int, rng):
    import numpy as np

    if len(frame) <= rows:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=rows, replace=False))].reset_index(drop=True)
