"""Library loggers held at WARNING while synth-ops calls those libraries.

SDV logs the metadata it detects at INFO, and SDV 2.0's metadata lists category values and
column ranges: real data. Orchestrators (Airflow, Dagster) run with the root logger at INFO, so
without this those values would land in task logs. The levels are restored on exit.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

LIBRARY_LOGGERS = (
    "sdv",
    "SingleTableSynthesizer",
    "MultiTableSynthesizer",
    "rdt",
    "copulas",
    "ctgan",
    "sdmetrics",
    "great_expectations",
)


@contextmanager
def quiet_libraries():
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
