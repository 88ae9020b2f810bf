"""SynthOpsHook: resolves a spec and its stores from an Airflow connection. Built lazily in tasks,
so DAG parsing touches neither the network nor any heavy library."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.sdk import BaseHook


class SynthOpsHook(BaseHook):
    """Connection types it understands:

    - ``aws`` (the Amazon provider's type): login/password are the access key pair and extra may
      hold ``aws_session_token``, ``region_name`` and ``endpoint_url``. The key pair goes to the S3
      stores' boto3 sessions only (``credentials``), as the Amazon provider's hooks do: never into
      ``os.environ`` (where every library and subprocess of the task would see it), the spec or a
      record. Without login/password the worker's own AWS chain is used.
    - ``fs`` or ``synth_ops``: extra ``{"path": ..., "artifacts_path": ...}`` override the publish and
      artifacts locations.
    - none: the spec is used as written, with the worker's own AWS chain.
    """

    conn_name_attr = "synth_ops_conn_id"
    default_conn_name = "synth_ops_default"
    conn_type = "synth_ops"
    hook_name = "synth-ops"

    def __init__(
        self,
        spec_path: str,
        synth_ops_conn_id: str | None = None,
        root: str | None = None,
        overrides: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.spec_path = spec_path
        self.synth_ops_conn_id = synth_ops_conn_id
        self.root = root
        self.overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}

    @cached_property
    def connection(self):
        return self.get_connection(self.synth_ops_conn_id) if self.synth_ops_conn_id else None

    @cached_property
    def credentials(self):
        """An ``aws`` connection's key pair, for the S3 stores' sessions; None: the AWS chain."""
        from synth_ops.stores import S3Credentials

        conn = self.connection
        if conn is None or conn.conn_type != "aws" or not (conn.login and conn.password):
            return None
        return S3Credentials(conn.login, conn.password, conn.extra_dejson.get("aws_session_token") or None)

    @cached_property
    def spec(self):
        from synth_ops.spec import load_spec, with_overrides

        spec = load_spec(self.spec_path, root=self.root)
        update: dict[str, dict[str, Any]] = {}
        if self.connection is not None:
            conn = self.connection
            extra = conn.extra_dejson
            if conn.conn_type == "aws":  # the endpoint and region only: the keys stay out of the spec
                s3 = {
                    k: extra[src]
                    for k, src in (("region", "region_name"), ("endpoint_url", "endpoint_url"))
                    if extra.get(src)
                }
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
        from synth_ops.runtime.workspace import Workspace

        return Workspace.open(self.spec, self.credentials)
