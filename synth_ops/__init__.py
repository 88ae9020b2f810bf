"""synth-ops: privacy-safe synthetic copies of tables, gated and published as pipeline assets.

Importing this package is cheap: heavy libraries (SDV, GX, torch, boto3) load inside the functions
that need them, so DAG files and Dagster code locations parse fast.
"""

from __future__ import annotations

from synth_ops.errors import (
    GateFailed,
    InputError,
    ModelIntegrityError,
    SpecError,
    StoreError,
    SynthOpsError,
)

__all__ = [
    "GateFailed",
    "InputError",
    "ModelIntegrityError",
    "Spec",
    "SpecError",
    "StoreError",
    "SynthOpsError",
    "load_spec",
    "read_latest",
    "Runner",
    "Sampler",
]


def __getattr__(name: str):
    if name == "Sampler":  # the portable sampler: numpy, pandas and pyarrow load with it, not with synth_ops
        from synth_ops.sampler.sampler import Sampler

        return Sampler
    if name == "Runner":  # the service under the CLI, Airflow and Dagster: a run step by step
        from synth_ops.steps.pipeline import Runner

        return Runner
    if name in ("Spec", "load_spec"):  # pydantic (about 0.3 s): not for a process that only samples
        from synth_ops import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'synth_ops' has no attribute {name!r}")


def read_latest(uri: str, name: str, table: str, s3_options=None):
    """The current published synthetic table as a DataFrame, with part checksums verified.

    ``uri`` is a local directory or ``s3://bucket/prefix``; ``s3_options`` (a spec's ``s3``
    section) sets endpoint, region and addressing style, else the AWS environment does.
    """
    from synth_ops.runtime.releases import read_latest as _read_latest

    return _read_latest(uri, name, table, s3_options)
