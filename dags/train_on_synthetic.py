"""The downstream consumer: trains a model whenever a new synthetic penguins release is published.

Scheduled on the published table's Asset; reads the release through `_latest.json` only.
"""

import os
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from synth_ops.airflow import published_asset

ROOT = Path(os.environ.get("SYNTH_OPS_ROOT", Path(__file__).resolve().parents[1]))
SPEC = str(ROOT / "examples" / "penguins.yaml")
PENGUINS = published_asset(SPEC, root=str(ROOT), table="penguins")

with DAG(
    dag_id="train_on_synthetic",
    schedule=[PENGUINS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["synth-ops", "training"],
    doc_md=__doc__,
):

    @task
    def train_species_classifier() -> dict:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.model_selection import train_test_split

        from synth_ops import read_latest
        from synth_ops.spec import load_spec

        spec = load_spec(SPEC, root=str(ROOT), check_files=False)
        frame = read_latest(spec.publish.uri, spec.name, "penguins", spec.s3)
        features = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
        train_x, test_x, train_y, test_y = train_test_split(features, frame["species"], test_size=0.25, random_state=0)
        model = HistGradientBoostingClassifier(random_state=0).fit(train_x, train_y)
        score = float(model.score(test_x, test_y))
        print(f"trained on {len(train_x)} synthetic rows; held-out synthetic accuracy {score:.3f}")
        return {"rows": len(frame), "accuracy": score}

    train_species_classifier()
