"""Runs inside a subprocess whose AIRFLOW_HOME is a temporary directory with a migrated SQLite DB.

    python tests/airflow_driver.py dagbag
    python tests/airflow_driver.py test <dag_id>        (a DAG of AIRFLOW__CORE__DAGS_FOLDER)

Prints one JSON document: what the metadata database recorded.
"""

import json
import sys
import time


def _dagbag(folder=None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=folder)


def _report(dag, run) -> dict:
    from airflow.models import TaskInstance
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run.run_id)
        ).all()
        events = session.execute(
            select(AssetModel.uri, AssetModel.name, AssetEvent.extra).join(
                AssetModel, AssetEvent.asset_id == AssetModel.id
            )
        ).all()
        states = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "label": ti.rendered_map_index,
                "start": ti.start_date.timestamp() if ti.start_date else None,
                "end": ti.end_date.timestamp() if ti.end_date else None,
            }
            for ti in tis
        ]
        xcoms = {}
        for ti in tis:
            if ti.state == "success":
                from airflow.models.xcom import XComModel

                value = session.scalars(
                    select(XComModel.value).where(
                        XComModel.dag_id == dag.dag_id,
                        XComModel.run_id == run.run_id,
                        XComModel.task_id == ti.task_id,
                        XComModel.map_index == ti.map_index,
                        XComModel.key == "return_value",
                    )
                ).first()
                xcoms[f"{ti.task_id}[{ti.map_index}]"] = value
    return {
        "run_state": str(run.state),
        "tasks": states,
        "upstream": {task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks},
        "asset_events": [{"uri": u, "name": n, "extra": e} for u, n, e in events],
        "xcoms": xcoms,
    }


def main() -> None:
    mode = sys.argv[1]
    if mode == "dagbag":
        bag = _dagbag()
        out = {
            "dag_ids": sorted(bag.dag_ids),
            "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
            "heavy_modules": sorted(
                m for m in ("sdv", "great_expectations", "torch", "pandas", "boto3", "sklearn") if m in sys.modules
            ),
            "parse_seconds": {},
        }
        for path in sys.argv[2:]:
            started = time.perf_counter()
            _dagbag(path)
            out["parse_seconds"][path] = round(time.perf_counter() - started, 3)
        print(json.dumps(out))
        return
    dag = _dagbag().get_dag(sys.argv[2])
    run = dag.test()
    print("\nDRIVER-JSON " + json.dumps(_report(dag, run), default=str))


if __name__ == "__main__":
    main()
