"""Records, in processes started with this directory on PYTHONPATH and SYNTH_OPS_IMPORT_LOG set,
every first import of a modelling library, and the moment a process loads the portable sampler
(with the modelling libraries it already holds then: a forked process inherits its parent's).

One JSON line per event in ``$SYNTH_OPS_IMPORT_LOG/<pid>.jsonl``: {pid, module, held, dag, task}.
The Airflow task runner sets AIRFLOW_CTX_* before it executes a task; Dagster's step events carry
the pid. Used by the scale-out tests to show that generate tasks and shard ops stay light.
"""

import json
import os
import sys

HEAVY = ("sdv", "rdt", "copulas", "sdmetrics", "torch", "scipy", "ctgan")
SAMPLER = "synth_ops.sampler.sampler"


class _Recorder:
    def __init__(self, directory):
        self.directory = directory

    def find_spec(self, fullname, path=None, target=None):
        if fullname in HEAVY or fullname == SAMPLER:
            held = sorted(m for m in HEAVY if m in sys.modules)
            record = {
                "pid": os.getpid(),
                "module": fullname,
                "held": held,
                "dag": os.environ.get("AIRFLOW_CTX_DAG_ID"),
                "task": os.environ.get("AIRFLOW_CTX_TASK_ID"),
            }
            with open(os.path.join(self.directory, f"{os.getpid()}.jsonl"), "a") as log:
                log.write(json.dumps(record) + "\n")
        return None  # never loads anything itself

    def find_module(self, fullname, path=None):
        return None


if os.environ.get("SYNTH_OPS_IMPORT_LOG"):
    sys.meta_path.insert(0, _Recorder(os.environ["SYNTH_OPS_IMPORT_LOG"]))
