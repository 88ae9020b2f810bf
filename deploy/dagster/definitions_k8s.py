"""Dagster code location for a cluster: synth-ops' assets with every step in its own Kubernetes pod.

The Dagster chart's user-code deployment serves this file (`dagster api grpc --python-file
/opt/airflow/assets/definitions_k8s.py`, where deploy/Dockerfile copies it). `build_definitions` leaves
the executor to the Definitions; here it is dagster-k8s' `k8s_job_executor`, so each op of a run,
and so each `generate_shard` op (one per shard), is a Kubernetes Job of its own. Shards get more
than the default step resources through `per_step_k8s_config`, keyed by op name.

Specs used on a cluster must publish to and keep artifacts in s3:// URIs: step pods share no disk.
"""

import os
from pathlib import Path

import dagster as dg
from dagster_k8s import k8s_job_executor

from synth_ops.dagster import SynthOpsResource, build_definitions


def _project_root() -> Path:
    """The directory holding examples/: SYNTH_OPS_ROOT (set in the image), else the nearest parent."""
    if os.environ.get("SYNTH_OPS_ROOT"):
        return Path(os.environ["SYNTH_OPS_ROOT"])
    here = Path(__file__).resolve()
    return next(p for p in here.parents if (p / "examples").is_dir())


ROOT = _project_root()
SPECS = sorted((ROOT / "examples").glob("*.yaml"))

STEP_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
SHARD_RESOURCES = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}


def shard_op_names(spec_paths) -> list[str]:
    """Op names of the per-shard generate ops (`<spec>__<table>__generate_shard`) of these specs."""
    from synth_ops.spec import load_spec

    names = []
    for path in spec_paths:
        spec = load_spec(str(path), root=str(ROOT), check_files=False)
        names += [f"{spec.name}__{table}__generate_shard" for table in spec.tables]
    return names


executor = k8s_job_executor.configured(
    {
        # step pods get the S3 Secret (or IRSA through the service account) like the run pod
        "env_secrets": ["synth-ops-s3"],
        "service_account_name": "synth-ops",
        "step_k8s_config": {"container_config": {"resources": STEP_RESOURCES}},
        "per_step_k8s_config": {
            name: {
                "container_config": {"resources": SHARD_RESOURCES, "env": [{"name": "OMP_NUM_THREADS", "value": "1"}]}
            }
            for name in shard_op_names(SPECS)
        },
        "max_concurrent": 8,
    },
    name="synth_ops_k8s",
)

defs = dg.Definitions.merge(
    build_definitions(SPECS, resource=SynthOpsResource(root=str(ROOT))),
    dg.Definitions(executor=executor),
)
