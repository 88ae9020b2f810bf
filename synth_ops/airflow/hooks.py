"""SynthOpsHook: resolves a spec and its stores from an Airflow connection. Built lazily in tasks,
so DAG parsing touches neither the network nor any heavy library."""
from __future__ import annotations

import os
from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook


class SynthOpsHook(BaseHook):
    """Connection types it understands:

    - ``aws`` (the Amazon provider's type): login/password are the access key pair and extra may
      hold ``aws_session_token``, ``region_name`` and ``endpoint_url``. The credentials are exported
      to this task process's environment, which is where the standard AWS chain looks.
    - ``fs`` or ``synth_ops``: extra ``{"path": ..., "artifacts_path": ...}`` override the publish and
      artifacts locations.
    - none: the spec is used as written, with the worker's own AWS chain.
    """

    conn_name_attr = "synth_ops_conn_id"
    default_conn_name = "synth_ops_default"
    conn_type = "synth_ops"
    hook_name = "synth-ops"

    def __init__(self, spec_path: str, synth_ops_conn_id: str | None = None, root: str | None = None,
                 overrides: dict[str, Any] | None = None):
        super().__init__()
        self.spec_path = spec_path
        self.synth_ops_conn_id = synth_ops_conn_id
        self.root = root
        self.overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}

    @cached_property
    def spec(self):
        from synth_ops.spec import load_spec, with_overrides

        spec = load_spec(self.spec_path, root=self.root)
        update: dict[str, dict[str, Any]] = {}
        if self.synth_ops_conn_id:
            conn = self.get_connection(self.synth_ops_conn_id)
            extra = conn.extra_dejson
            if conn.conn_type == "aws":
                for env, value in (("AWS_ACCESS_KEY_ID", conn.login), ("AWS_SECRET_ACCESS_KEY", conn.password),
                                   ("AWS_SESSION_TOKEN", extra.get("aws_session_token"))):
                    if value:
                        os.environ[env] = value
                s3 = {k: extra[src] for k, src in (("region", "region_name"), ("endpoint_url", "endpoint_url"))
                      if extra.get(src)}
                if s3:
                    update["s3"] = s3
            else:
                if extra.get("path"):
                    update["publish"] = {"uri": extra["path"]}
                if extra.get("artifacts_path"):
                    update["artifacts"] = {"uri": extra["artifacts_path"]}
        # Templated overrides go through the spec's own validation (a negative row count is refused).
        if "rows" in self.overrides:
            update["generate"] = {"rows": self.overrides["rows"], "scale": None}
        if "seed" in self.overrides:
            update["synthesizer"] = {"seed": self.overrides["seed"]}
        return with_overrides(spec, update, root=self.root) if update else spec

    def get_workspace(self):
        from synth_ops.workspace import Workspace

        return Workspace.open(self.spec)

