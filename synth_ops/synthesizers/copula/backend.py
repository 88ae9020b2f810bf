"""``synthesizer.kind: copula``: synth-ops' own Gaussian copula behind the synthesizer contract.

Each table's learned columns get an empirical marginal (``marginals.py``) and the table a
correlation of normal scores (``model.py``). No SDV on this path: fitting is a sort per column and
one correlation matrix, sampling a matrix product and interpolation, so it scales to large tables.
"""
from __future__ import annotations

import zlib
from typing import Any, Iterator

from synth_ops.errors import SpecError
from synth_ops.synthesizers.base import Capabilities, Synthesizer

_NUMERIC = {"numerical"}
_DATETIME = {"datetime"}


def table_rng(seed: int, table: str):
    import numpy as np

    return np.random.default_rng([seed, zlib.crc32(table.encode())])


class ColumnCodec:
    """How one learned column goes into the copula (numbers) and comes back (the source's type)."""

    def __init__(self, column: str, meta: dict):
        self.column, self.sdtype = column, meta.get("sdtype", "categorical")
        self.datetime_format = meta.get("datetime_format")
        self.decimals = meta.get("decimal_places")
        self.print_format: str | None = None   # datetimes held as text: printed back with this
        self.tz: str | None = None             # datetimes with a time zone: restored in UTC

    @property
    def numeric(self) -> bool:
        return self.sdtype in _NUMERIC | _DATETIME

    def encode(self, series):
        """The column as the marginal sees it: numbers (datetimes as nanoseconds) or raw categories."""
        import numpy as np
        import pandas as pd

        if self.sdtype in _DATETIME:
            return self._datetimes(series)
        if self.sdtype in _NUMERIC:
            values = pd.to_numeric(series, errors="coerce").astype("float64")
            if self.decimals is None:
                present = values.dropna()
                self.decimals = 0 if len(present) and bool((present % 1 == 0).all()) else None
            return values.to_numpy()
        return np.asarray(series, dtype=object)

    def _datetimes(self, series):
        import numpy as np
        import pandas as pd

        from synth_ops.synthesizers.sdv.fastpath import roundtrip_format, utc_format

        if pd.api.types.is_datetime64_any_dtype(series):
            if getattr(series.dt, "tz", None) is not None:
                self.tz = "UTC"
                series = series.dt.tz_convert("UTC").dt.tz_localize(None)
            parsed = series
        else:
            fmt = roundtrip_format(series, self.datetime_format)
            if fmt:
                parsed, self.print_format = pd.to_datetime(series, format=fmt), fmt
            else:
                fmt = utc_format(series, self.datetime_format)
                if fmt:
                    parsed = pd.to_datetime(series, format=self.datetime_format, utc=True).dt.tz_localize(None)
                    self.print_format = fmt
                else:
                    parsed = pd.to_datetime(series, format=self.datetime_format or "mixed", errors="coerce")
                    self.print_format = self.datetime_format or "%Y-%m-%d %H:%M:%S"
        values = parsed.astype("datetime64[ns]").to_numpy().astype("int64").astype("float64")
        values[pd.isna(parsed).to_numpy()] = np.nan
        return values

    def marginal(self, values):
        from synth_ops.synthesizers.copula.marginals import CategoricalMarginal, NumericMarginal

        if self.sdtype in _DATETIME:
            return NumericMarginal.fit(values, decimals=0, datetime="ns")
        if self.sdtype in _NUMERIC:
            return NumericMarginal.fit(values, decimals=self.decimals)
        return CategoricalMarginal.fit(values)

    def decode(self, values):
        """Sampled values back to the column's type: numbers as floats (the writer casts to the
        source's Arrow type), datetimes as datetime64 or the source's text, categories as objects."""
        import numpy as np
        import pandas as pd

        if self.sdtype in _DATETIME:
            stamps = pd.Series(pd.to_datetime(np.where(np.isnan(values), np.nan, values), unit="ns"))
            if self.print_format:
                from synth_ops.synthesizers.sdv.fastpath import format_datetimes

                text = format_datetimes(stamps, self.print_format)
                return text.where(stamps.notna(), None)
            return stamps.dt.tz_localize(self.tz) if self.tz else stamps
        if self.sdtype in _NUMERIC:
            return pd.Series(values)
        return pd.Series(values, dtype=object)


class CopulaSynthesizer(Synthesizer):
    kinds = ("copula",)
    capabilities = Capabilities(multi_table=True, max_tables=None, composite_keys=True, shards=True)

    def _check(self, metadata: dict[str, dict]) -> None:
        if self.params:
            raise SpecError(f"synthesizer.params.{next(iter(self.params))}: unknown parameter of copula "
                            "(it takes none)")

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        from synth_ops.synthesizers.copula.model import GaussianCopula

        self.codecs: dict[str, dict[str, ColumnCodec]] = {}
        self.models: dict[str, GaussianCopula] = {}
        for table, frame in data.items():
            codecs = {c: ColumnCodec(c, metadata[table]["columns"].get(c, {})) for c in frame.columns}
            encoded = {c: codec.encode(frame[c]) for c, codec in codecs.items()}
            marginals = {c: codecs[c].marginal(values) for c, values in encoded.items()}
            import pandas as pd

            self.models[table] = GaussianCopula.fit(pd.DataFrame(encoded), marginals, table_rng(self.seed, table))
            self.codecs[table] = codecs
        return {"columns": {t: {c: m.kind for c, m in model.marginals.items()} for t, model in self.models.items()}}

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        import pandas as pd

        rng = table_rng(seed, table)
        model, codecs = self.models[table], self.codecs[table]
        for start in range(0, rows, batch_rows):
            n = min(batch_rows, rows - start)
            values = model.sample(n, rng)
            yield pd.DataFrame({c: codecs[c].decode(values[c]).to_numpy() for c in model.columns}, index=range(n))
