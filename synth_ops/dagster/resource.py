"""The Dagster resource: where specs resolve and which stores they use, per deployment."""
from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field


class SynthOpsResource(dg.ConfigurableResource):
    """Loads synth-ops specs for assets, with per-deployment store overrides (staging vs prod)."""

    root: str = Field("", description="directory relative paths in specs resolve against (default: cwd)")
    publish_uri: str = Field("", description="overrides every spec's publish.uri when set")
    artifacts_uri: str = Field("", description="overrides every spec's artifacts.uri when set")
    s3_endpoint_url: str = Field("", description="overrides every spec's s3.endpoint_url when set")

    def load(self, spec_path: str):
        from synth_ops.spec import ArtifactsSpec, PublishSpec, load_spec

        spec = load_spec(spec_path, root=self.root or None)
        update = {}
        if self.publish_uri:
            update["publish"] = PublishSpec(uri=self.publish_uri)
        if self.artifacts_uri:
            update["artifacts"] = ArtifactsSpec(uri=self.artifacts_uri)
        if self.s3_endpoint_url:
            update["s3"] = spec.s3.model_copy(update={"endpoint_url": self.s3_endpoint_url})
        return spec.model_copy(update=update) if update else spec

    def workspace(self, spec_path: str):
        from synth_ops.workspace import Workspace

        return Workspace.open(self.load(spec_path))

    @property
    def base(self) -> Path:
        return Path(self.root) if self.root else Path.cwd()
