"""The "synth-ops report" button on the validate and publish tasks: the run's private HTML report.

Airflow 3 resolves an operator link once, on the worker when the task finishes (failed or not),
and keeps the URL in XCom under ``xcom_key``; the UI reads it from there. A report on local disk
is linked as ``file://`` (opens in a browser on a host that mounts that path); a report in S3 as
its ``s3://`` URI, which the report never leaves: it shows real distributions and is never
published.
"""

from __future__ import annotations

from pathlib import Path

from airflow.sdk import BaseOperatorLink


class SynthOpsReportLink(BaseOperatorLink):
    name = "synth-ops report"

    def get_link(self, operator, *, ti_key) -> str:
        finder = getattr(operator, "report_location", None)
        location = finder() if callable(finder) else None
        return report_url(location) if location else ""


def report_url(location: str) -> str:
    return location if "://" in location else Path(location).resolve().as_uri()
