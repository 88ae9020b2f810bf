"""What an exporter hands to ``export.py``: the copula's columns, its factor, each column's inverse and
decoder, and the arrays they name. Shared by the SDV and the copula exporters."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

# The normal-score grid of every inverse table: the same as the fast sampling path's
# (synth_ops/synthesizers/sdv/fastpath.py), so the sampler reproduces exactly what it samples.
GRID_Z = 8.3
GRID_POINTS = 16385


class Unsupported(Exception):
    """This model (or one of its columns) cannot be exported; the message says why, without data values."""


def grid_scores():
    import numpy as np

    return np.linspace(-GRID_Z, GRID_Z, GRID_POINTS)


def json_values(values, column: str) -> list:
    """Category values as JSON scalars; Unsupported for anything else (timestamps, bytes, ...)."""
    out = []
    for value in values:
        value = value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
        if value is None or isinstance(value, (str, bool, int)):
            out.append(value)
        elif isinstance(value, float):
            out.append(None if math.isnan(value) else value)
            if math.isinf(value):
                raise Unsupported(f"column {column!r}: an infinite category value")
        else:
            raise Unsupported(f"column {column!r}: category values of type {type(value).__name__}")
    return out


@dataclasses.dataclass
class Parts:
    columns: list[str] = dataclasses.field(default_factory=list)  # the copula's columns, in order
    factor: Any = None  # A with A @ A.T = correlation
    inverse: list[dict] = dataclasses.field(default_factory=list)  # per copula column
    decoders: list[dict] = dataclasses.field(default_factory=list)  # per output column
    arrays: dict[str, Any] = dataclasses.field(default_factory=dict)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more sections of sampler.json

    def _name(self, stem: str) -> str:
        return f"{stem}-{len(self.arrays):03d}.npy"

    def grid(self, table) -> dict:
        import numpy as np

        table = np.asarray(table, dtype="float64")
        if table.shape != (GRID_POINTS,) or not np.isfinite(table).all() or (np.diff(table) < 0).any():
            raise Unsupported("an inverse CDF that is not finite and monotone on the grid")
        name = self._name("inverse")
        self.arrays[name] = table
        return {"grid": name}

    def steps(self, thresholds, values) -> dict:
        import numpy as np

        thresholds = np.clip(np.asarray(thresholds, dtype="float64"), -1e300, 1e300)
        thresholds_name = self._name("thresholds")
        self.arrays[thresholds_name] = thresholds
        values_name = self._name("values")
        self.arrays[values_name] = np.asarray(values, dtype="float64")
        return {"steps": {"thresholds": thresholds_name, "values": values_name}}

    def doc(self, table: str) -> tuple[dict, dict]:
        """(sampler.json's copula sections, arrays) of ``table``: what ``sampler.Sampler`` reads to
        draw learned columns (the export adds the schema, the generated columns and the source)."""
        import numpy as np

        arrays = dict(self.arrays)
        if self.columns:
            arrays["factor.npy"] = np.asarray(self.factor, dtype="float64")
        doc = {
            "table": table,
            "grid": {"z": GRID_Z, "points": GRID_POINTS},
            "copula": {"columns": self.columns, "factor": "factor.npy", "inverse": self.inverse},
            "columns": self.decoders,
            **self.extra,
        }
        return doc, arrays
