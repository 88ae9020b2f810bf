"""The Dagster resource: where specs resolve and which stores they use, per deployment."""

from __future__ import annotations

import dagster as dg
from pydantic import Field


class SynthOpsResource(dg.ConfigurableResource):
    """Loads synth-ops specs for assets, with per-deployment store overrides (staging vs prod)."""

    root: str = Field("", description="directory relative paths in specs resolve against (default: cwd)")
    publish_uri: str = Field("", description="overrides every spec's publish.uri when set")
    artifacts_uri: str = Field("", description="overrides every spec's artifacts.uri when set")
    s3_endpoint_url: str = Field("", description="overrides every spec's s3.endpoint_url when set")

    def load(self, spec_path: str):
        from synth_ops.spec import load_spec, with_overrides

        spec = load_spec(spec_path, root=self.root or None)
        update = {
            section: {key: value}
            for section, key, value in (
                ("publish", "uri", self.publish_uri),
                ("artifacts", "uri", self.artifacts_uri),
                ("s3", "endpoint_url", self.s3_endpoint_url),
            )
            if value
        }
        return with_overrides(spec, update, root=self.root or None) if update else spec

    def workspace(self, spec_path: str):
        return self.runner(spec_path).ws

    def runner(self, spec_path: str):
        """The service each asset and check calls (``synth_ops.steps.pipeline.Runner``)."""
        from synth_ops.steps.pipeline import Runner

        return Runner.open(self.load(spec_path))
