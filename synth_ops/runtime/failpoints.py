"""Named points where a run can be made to die, for the tests of interrupted runs.

``SYNTH_OPS_FAILPOINT=<name>`` makes the process SIGKILL itself the moment it reaches ``<name>``: a
run killed mid-fit or mid-write at exactly that point, whatever the machine's speed (a test that
polls for a file and kills from outside races the run). SIGKILL, like a killed pod: no ``finally``
runs. Unset (every real run), a point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal

VARIABLE = "SYNTH_OPS_FAILPOINT"
POINTS = (
    "fit.before_model",  # every split.json written, a DP fit's charge reserved, the model not yet fitted
    "generate.batch_written",  # a shard's first batch in its staging file, the shard not finished
)


def reached(name: str) -> None:
    if os.environ.get(VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
