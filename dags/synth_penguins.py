"""Scheduled regeneration of the synthetic penguins table, published as an Airflow Asset.

SYNTH_OPS_ROOT (default: the repository) is where the example spec and its relative paths live.
"""

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG

from synth_ops.airflow import synth_task_group

ROOT = Path(os.environ.get("SYNTH_OPS_ROOT", Path(__file__).resolve().parents[1]))
SPEC = str(ROOT / "examples" / "penguins.yaml")

with DAG(
    dag_id="synth_penguins",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["synth-ops", "synthetic-data"],
    doc_md=__doc__,
):
    synth_task_group(SPEC, root=str(ROOT))
