"""The public domain of every learned column of a DP fit, and the columns' codes in it.

A differentially private synthesizer may only take from the real rows what its noisy measurements
release: every column's set of possible values has to be public. Here:

- numbers and datetimes: ``privacy.bounds.<table>.<column>: [low, high]`` (datetimes as ISO text),
  cut into ``bins`` equal-width bins; values outside are clipped to the nearest bound. Bounds taken
  from the real data would leak its extremes, so a column without declared bounds is refused with
  a line saying how to declare them (SDV metadata has no declared ranges to fall back on).
- categories: ``privacy.categories.<table>.<column>: [values]``; booleans are ``[false, true]``
  without declaring. A real value outside the declared list is coded as missing (OpenDP's null
  cell), so the synthetic column never holds an undeclared value. A discrete number (codes,
  ratings, 0/1 stored as numbers) may be declared so too, instead of bounds: then it keeps to
  those values. Its real support (``profile.json``'s ``support``, which other backends snap to) is
  never used here: the set of values a column takes is what a DP fit must not read unmeasured.
- nulls: every column has OpenDP's extra null cell, measured with noise like any other value; a
  synthetic null is written as null.

Codes are small integers (a category's position, a number's bin); ``decode`` maps codes back to
values: categories to their declared values, bins to a uniform draw inside the bin (rounded like
the source's numbers, datetimes back to the source's type through the copula's codec).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from synth_ops.errors import SpecError

DEFAULT_BINS = 16


@dataclasses.dataclass
class ColumnDomain:
    column: str
    kind: str  # "category" or "bins"
    values: list | None = None  # category: the declared values (codes are their positions)
    edges: Any = None  # bins: bins + 1 increasing edges (numbers; datetimes as nanoseconds)
    decimals: int | None = None  # bins: round decoded numbers (0: integers)
    codec: Any = None  # bins of a datetime column: the copula's ColumnCodec (source type)

    @property
    def size(self) -> int:
        return len(self.values) if self.kind == "category" else len(self.edges) - 1

    def encode(self, series):
        """Codes (float, NaN for null or undeclared) of the real values."""
        import numpy as np
        import pandas as pd

        if self.kind == "category":
            from synth_ops.synthesizers.copula.marginals import _is_null

            lookup = {_plain(v): i for i, v in enumerate(self.values)}
            return np.array([np.nan if _is_null(v) else lookup.get(_plain(v), np.nan) for v in series], dtype="float64")
        values = (
            self.codec.encode(series)
            if self.codec is not None
            else pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
        )
        missing = np.isnan(values)
        codes = np.clip(
            np.searchsorted(self.edges, np.clip(values, self.edges[0], self.edges[-1]), side="right") - 1,
            0,
            self.size - 1,
        ).astype("float64")
        codes[missing] = np.nan
        return codes

    def decode(self, codes, rng):
        """Values of ``codes`` (int64, -1 for null)."""
        import numpy as np
        import pandas as pd

        missing = codes < 0
        safe = np.where(missing, 0, codes)
        if self.kind == "category":
            out = np.empty(len(codes), dtype=object)
            out[:] = [self.values[i] for i in safe]
            out[missing] = None
            return pd.Series(out, dtype=object)
        low, high = self.edges[safe], self.edges[safe + 1]
        values = low + rng.random(len(codes)) * (high - low)
        if self.decimals is not None:
            values = np.clip(np.round(values, self.decimals), self.edges[0], self.edges[-1])
        values[missing] = np.nan
        if self.codec is not None:
            return self.codec.decode(np.where(missing, np.nan, np.round(values)))
        return pd.Series(values)


def _plain(value):
    """A category as a plain Python value (the copula's marginals do the same); a float that is
    a whole number is that integer: a declared 1 and a 1.0 read from a column with nulls match."""
    from synth_ops.synthesizers.copula.marginals import _plain as plain

    value = plain(value) if not isinstance(value, (str, bytes)) else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number(value, column_path: str, datetime: bool):
    import pandas as pd

    if datetime:
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise SpecError(f"{column_path}: expected ISO dates or times, got {value!r}") from None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float(stamp.value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{column_path}: expected numbers, got {value!r}")
    return float(value)


def column_domains(table: str, columns: list[str], metadata: dict, privacy: dict, bins: int) -> dict[str, ColumnDomain]:
    """The domain of each learned column from the spec's privacy section; SpecError naming every
    column whose domain is not declared."""
    import numpy as np

    from synth_ops.synthesizers.copula.backend import ColumnCodec

    bounds = (privacy.get("bounds") or {}).get(table, {})
    categories = (privacy.get("categories") or {}).get(table, {})
    domains, problems = {}, []
    for column in columns:
        meta = metadata["columns"].get(column, {})
        sdtype = meta.get("sdtype", "categorical")
        if column in categories and column in bounds:
            problems.append(f"privacy.bounds.{table}.{column}: declared as categories too; keep one")
        elif (
            sdtype in ("numerical", "datetime")
            and column not in bounds
            and not (sdtype == "numerical" and column in categories)
        ):
            problems.append(
                f"privacy.bounds.{table}.{column}: declare public [low, high] bounds for this {sdtype} "
                "column (bounds read from the real rows would release its extremes without accounting)"
            )
        elif (
            sdtype == "numerical"
            and column in categories
            and not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in categories[column])
        ):
            problems.append(f"privacy.categories.{table}.{column}: expected numbers for this numerical column")
        elif column in bounds:  # numbers, datetimes, or ordinal numbers the spec gives a range
            path = f"privacy.bounds.{table}.{column}"
            datetime = sdtype == "datetime"
            low, high = (_number(v, path, datetime) for v in bounds[column])
            if not low < high:
                problems.append(f"{path}: low must be below high")
                continue
            codec = ColumnCodec(column, meta) if datetime else None
            decimals = (
                0
                if datetime or meta.get("computer_representation", "").startswith("Int")
                else meta.get("decimal_places")
            )
            domains[column] = ColumnDomain(
                column, "bins", edges=np.linspace(low, high, bins + 1), decimals=decimals, codec=codec
            )
        elif column in categories:
            values = list(categories[column])
            if not values or len({repr(_plain(v)) for v in values}) != len(values):
                problems.append(f"privacy.categories.{table}.{column}: expected a list of distinct values")
                continue
            domains[column] = ColumnDomain(column, "category", values=[_plain(v) for v in values])
        elif sdtype == "boolean":
            domains[column] = ColumnDomain(column, "category", values=[False, True])
        else:
            problems.append(
                f"privacy.categories.{table}.{column}: declare the public list of this {sdtype} column's "
                "values (categories read from the real rows would release rare values)"
            )
    if problems:
        raise SpecError("; ".join(problems))
    return domains
