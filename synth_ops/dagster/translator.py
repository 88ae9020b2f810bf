"""The single customisation point for how synth-ops specs appear in the Dagster catalog."""

from __future__ import annotations

import dagster as dg

STAGES = ("source", "profile", "model", "synthetic", "published")


class SynthOpsTranslator:
    """Override any method to change keys, groups, tags or descriptions; keep the signatures."""

    def get_asset_key(self, spec, table: str, stage: str) -> dg.AssetKey:
        return dg.AssetKey([spec.name, table, stage])

    def get_group_name(self, spec) -> str:
        return spec.name

    def get_tags(self, spec, table: str, stage: str) -> dict[str, str]:
        return {
            "synth-ops/stage": stage,
            "synth-ops/synthetic": "true" if stage in ("synthetic", "published") else "false",
        }

    def get_kinds(self, spec, table: str, stage: str) -> set[str]:
        """Dagster shows known kinds as icons: the storage format and place, or the library a model is
        made with (its backend's ``library``) (at most three)."""
        if stage == "source":
            source = spec.tables[table].source if table in spec.tables else ""
            return {
                "synth-ops",
                "parquet" if source.lower().endswith(".parquet") else "csv",
                *(["s3"] if source.startswith("s3://") else []),
            }
        if stage == "model":
            from synth_ops import synthesizers

            return {"synth-ops", synthesizers.library(self._model(spec, table).kind)}
        if stage == "synthetic":
            return {"synth-ops", "parquet"}
        if stage == "published":
            return {"synth-ops", "parquet", *(["s3"] if spec.publish.uri.startswith("s3://") else [])}
        return {"synth-ops"}

    @staticmethod
    def _model(spec, name: str):
        """The plan's model of ``name`` (a model unit, as the model stage is given, or a table): its kind
        is the one the run fits (a table's own synthesizer, the spec's for related tables)."""
        from synth_ops.steps.plan import build_plan

        plan = build_plan(spec)
        return next((m for m in plan.models if m.name == name), None) or plan.model_of(name)

    def get_owners(self, spec, table: str, stage: str) -> list[str]:
        return list(spec.owners)

    def get_description(self, spec, table: str, stage: str) -> str:
        if stage == "model":
            model = self._model(spec, table)
            covers = f" of {', '.join(model.tables)}" if len(model.tables) > 1 else ""
            return f"{model.kind} synthesizer fitted on the non-holdout rows{covers}."
        if stage == "synthetic":
            from synth_ops.steps.plan import build_plan

            # a backend that samples a whole schema at once (hma) makes one shard, whatever the spec says
            shards = build_plan(spec).table(table).shards
            return (
                f"Synthetic {table!r} in {shards} seeded shard{'s' if shards != 1 else ''}, gated by blocking checks."
            )
        return {
            "source": f"Real source table {table!r} (private), observed by content fingerprint.",
            "profile": "Column statistics, SDV metadata (detected + spec overrides) and PII flags.",
            "published": "Released synthetic table: read it through _latest.json (synth_ops.read_latest). The "
            "`report` entry of each materialization is the release's gate report (report.html, in "
            "the private artifacts: it holds real values).",
        }[stage]
