"""The synth-ops Dagster Component: the same definitions as ``build_definitions``, declared in a
``defs.yaml`` of a ``dg`` project.

    type: synth_ops.dagster.SynthOpsComponent
    attributes:
      specs: [penguins.yaml]                  # relative to this defs.yaml's folder
      root: "{{ context.project_root }}"      # where the specs' relative paths resolve (the default)

Every path attribute resolves against the folder holding the ``defs.yaml`` (templates such as
``{{ context.project_root }}`` give absolute paths). ``root`` defaults to the dg project root.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from synth_ops.dagster.factory import RESOURCE_KEY, build_definitions
from synth_ops.dagster.resource import SynthOpsResource

# Dagster merges the components of a project only if each resource key holds one object: components
# with equal settings share theirs, different settings under one key fail the load with Dagster's error
_RESOURCES: dict[tuple, SynthOpsResource] = {}


def _shared_resource(key: str, **settings: str) -> SynthOpsResource:
    return _RESOURCES.setdefault((key, *sorted(settings.items())), SynthOpsResource(**settings))


class SynthOpsComponent(dg.Component, dg.Model, dg.Resolvable):
    """Privacy-safe synthetic copies of tables, gated and published, from synth-ops specs.

    Per table: the observed source, profile, model, synthetic asset (blocking gate checks) and the
    published release; per spec a job, a source-change sensor and the spec's schedule, if any.
    """

    specs: list[str] = Field(description="synth-ops spec files, relative to the folder of this defs.yaml")
    root: str | None = Field(
        None,
        description="directory the specs' relative paths (sources, publish and "
        "artifacts URIs) resolve against, relative to the folder of this "
        "defs.yaml; default: the dg project root",
    )
    publish_uri: str = Field("", description="overrides every spec's publish.uri when set")
    artifacts_uri: str = Field("", description="overrides every spec's artifacts.uri when set")
    s3_endpoint_url: str = Field("", description="overrides every spec's s3.endpoint_url when set")
    resource_key: str = Field(
        RESOURCE_KEY,
        description="key of the SynthOpsResource these definitions use; "
        "components with different settings in one project "
        "need different keys",
    )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        here = self._folder(context)
        root = (here / self.root) if self.root is not None else Path(context.project_root)
        resource = _shared_resource(
            self.resource_key,
            root=str(root.resolve()),
            publish_uri=self.publish_uri,
            artifacts_uri=self.artifacts_uri,
            s3_endpoint_url=self.s3_endpoint_url,
        )
        return build_definitions(
            [(here / spec).resolve() for spec in self.specs], resource=resource, resource_key=self.resource_key
        )

    @staticmethod
    def _folder(context: dg.ComponentLoadContext) -> Path:
        # a defs.yaml component's path is its folder; a Python-declared one's is its file
        path = Path(context.path)
        return path if path.is_dir() else path.parent
