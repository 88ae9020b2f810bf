"""``synthesizer.kind: tabular_argn``: MOSTLY AI's TabularARGN (``mostlyai-engine``, Apache-2.0)
behind the synthesizer contract, on CPU, one table at a time.

Fitting runs the engine's steps (split, analyze, encode, train) in a private temporary workspace
directory and keeps the files sampling reads (the column statistics, the model's configuration
and weights) as bytes in this object, so the runtime pickles the model like any other and no
workspace outlives a call. Sampling writes them back into a fresh temporary directory per call and
runs the engine's ``generate`` once per batch, each seeded from (seed, table, batch number).

Reproducibility: sampling is, for the same seed and batch size (the engine draws from Python's,
numpy's and torch's global generators, which ``seeded`` sets and then restores). Fitting is only
when training stops at ``max_epochs``: a stop at ``max_training_time`` is measured on the wall
clock, so the same seed can train a different number of steps.

The engine and torch are imported inside the calls: importing this module costs nothing.
"""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synth_ops.errors import SpecError
from synth_ops.synthesizers.base import Capabilities, Synthesizer

MAX_TRAINING_TIME = 0.5  # minutes: the engine's default is 10 days
PARAMS = ("max_epochs", "max_training_time")
# what the engine's generate reads; the optimizer's and scheduler's states only resume training
MODEL_FILES = (
    "ModelStore/tgt-stats/stats.json",
    "ModelStore/model-data/model-configs.json",
    "ModelStore/model-data/model-weights.pt",
)
PROGRESS_FILE = "ModelStore/model-data/progress-messages.csv"
SEED_ENV = "MOSTLYAI_ENGINE_SEED"  # set_random_state leaves it for the engine's worker processes
# the engine's generators are the process's global ones: two threads seeding them at once would
# interleave their draws, so one engine call runs at a time (shards run in processes anyway)
_ENGINE = threading.Lock()


def read_params(params: dict[str, Any]) -> tuple[float, int | None]:
    """(max_training_time in minutes, max_epochs or None), or one SpecError listing every problem."""
    problems = [
        f"synthesizer.params.{name}: unknown parameter of tabular_argn (known: {', '.join(PARAMS)})"
        for name in params
        if name not in PARAMS
    ]
    minutes = params.get("max_training_time", MAX_TRAINING_TIME)
    if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0:
        problems.append(f"synthesizer.params.max_training_time: expected minutes above 0, got {minutes!r}")
    epochs = params.get("max_epochs")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        problems.append(f"synthesizer.params.max_epochs: expected an integer of at least 1, got {epochs!r}")
    if problems:
        raise SpecError("; ".join(problems))
    return float(minutes), epochs


@contextlib.contextmanager
def seeded(seed: int):
    """The engine's global seeding (Python, numpy, torch and an environment variable) for one call,
    then the process's own state back: a fit or a shard leaves no seed behind for other backends."""
    import logging
    import os
    import random

    import numpy as np
    import torch
    from mostlyai.engine import set_random_state

    with _ENGINE:
        saved = random.getstate(), np.random.get_state(), torch.random.get_rng_state(), os.environ.get(SEED_ENV)
        engine_log = logging.getLogger("mostlyai.engine")
        level = engine_log.level
        engine_log.setLevel(logging.WARNING)  # it logs every step at INFO
        set_random_state(seed)
        try:
            yield
        finally:
            random.setstate(saved[0])
            np.random.set_state(saved[1])
            torch.random.set_rng_state(saved[2])
            if saved[3] is None:
                os.environ.pop(SEED_ENV, None)
            else:
                os.environ[SEED_ENV] = saved[3]
            engine_log.setLevel(level)


def batch_seed(seed: int, table: str, batch: int) -> int:
    """A 32-bit seed per batch (numpy's global seed takes no more), from the shard's seed alone."""
    import numpy as np

    return int(np.random.SeedSequence([seed, zlib.crc32(table.encode()), batch]).generate_state(1)[0])


class ColumnCodec:
    """One learned column into the engine (its encoding type, the values it reads) and back to the
    source's type: integers stay integers, categories objects, datetimes the source's dtype or text."""

    def __init__(self, name: str, series, meta: dict):
        import pandas as pd

        self.name, self.dtype = name, series.dtype
        sdtype = meta.get("sdtype", "categorical")
        self.format: str | None = None  # datetimes held as text: parsed and printed with it
        self.tz = None  # tz-aware datetimes go in as naive UTC and come back localised
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if sdtype == "numerical" and numeric:
            self.encoding = "TABULAR_NUMERIC_AUTO"
        elif sdtype == "datetime":
            self.encoding = "TABULAR_DATETIME"
            if pd.api.types.is_datetime64_any_dtype(series):
                self.tz = getattr(series.dt, "tz", None)
            else:
                self.format = meta.get("datetime_format") or "%Y-%m-%d %H:%M:%S"
        else:  # categories, booleans, numbers declared categorical, numbers held as text
            self.encoding = "TABULAR_CATEGORICAL"

    def encode(self, series):
        import pandas as pd

        if self.encoding != "TABULAR_DATETIME":
            return series
        if self.format is not None:
            return pd.to_datetime(series, format=self.format, errors="coerce")
        return series.dt.tz_convert("UTC").dt.tz_localize(None) if self.tz is not None else series

    def decode(self, series):
        import numpy as np
        import pandas as pd

        if self.encoding == "TABULAR_DATETIME":
            stamps = pd.to_datetime(series, errors="coerce").astype("datetime64[ns]")
            if self.format is not None:
                return pd.Series(np.where(stamps.notna(), stamps.dt.strftime(self.format), None), dtype=object)
            return stamps.dt.tz_localize("UTC").dt.tz_convert(self.tz) if self.tz is not None else stamps
        if pd.api.types.is_bool_dtype(self.dtype):
            text = series.astype(object).where(series.notna(), None)
            values = text.map({"True": True, "False": False, True: True, False: False})
            return values.astype(bool) if self.dtype == bool and values.notna().all() else values.astype(object)
        if pd.api.types.is_numeric_dtype(self.dtype):  # categorical numbers come back as their text
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            if pd.api.types.is_integer_dtype(self.dtype) and not np.isnan(values).any():
                return pd.Series(np.round(values).astype(self.dtype))
            return pd.Series(values)
        return pd.Series(series.astype(object).where(series.notna(), None), dtype=object)


class TabularARGNSynthesizer(Synthesizer):
    """TabularARGN on one table: params ``max_training_time`` (minutes, default 0.5) and
    ``max_epochs`` (default: the engine's 100); training stops at whichever comes first."""

    kinds = ("tabular_argn",)
    library = "torch"
    capabilities = Capabilities(shards=True)

    def _check(self, metadata: dict[str, dict]) -> None:
        read_params(self.params)

    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        import tempfile
        import time

        import pandas as pd
        from mostlyai import engine

        minutes, epochs = read_params(self.params)
        ((table, frame),) = data.items()
        meta = metadata[table].get("columns", {})
        self.codecs = [ColumnCodec(c, frame[c], meta.get(c, {})) for c in frame.columns]
        training = pd.DataFrame({c.name: c.encode(frame[c.name]) for c in self.codecs}).reset_index(drop=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="synth-ops-argn-") as directory, seeded(self.seed):
            engine.split(
                tgt_data=training,
                tgt_encoding_types={c.name: c.encoding for c in self.codecs},
                workspace_dir=directory,
            )
            engine.analyze(workspace_dir=directory)
            engine.encode(workspace_dir=directory)
            engine.train(workspace_dir=directory, max_training_time=minutes, max_epochs=epochs or None, device="cpu")
            root = Path(directory)
            self.files = {name: (root / name).read_bytes() for name in MODEL_FILES}
            progress = pd.read_csv(root / PROGRESS_FILE)
        last = progress.iloc[-1].to_dict() if len(progress) else {}
        loss = last.get("val_loss")
        return {
            "tabular_argn": {
                "engine": _engine_version(),
                "max_training_time": minutes,
                "max_epochs": epochs,
                "epochs": float(last["epoch"]) if "epoch" in last else None,
                "val_loss": None if loss is None or pd.isna(loss) else float(loss),
                "train_seconds": round(time.perf_counter() - started, 3),
                "model_bytes": sum(len(b) for b in self.files.values()),
                "encodings": {c.name: c.encoding for c in self.codecs},
            }
        }

    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        import tempfile

        if rows <= 0:
            return
        with tempfile.TemporaryDirectory(prefix="synth-ops-argn-") as directory:
            root = Path(directory)
            for name, blob in self.files.items():  # a fresh copy per call: shards may sample at once
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(blob)
            for batch, start in enumerate(range(0, rows, batch_rows)):
                yield self._generate(root, min(batch_rows, rows - start), batch_seed(seed, table, batch))

    def _generate(self, root: Path, rows: int, seed: int):
        import pandas as pd
        from mostlyai import engine

        with seeded(seed):
            # batch_size: the engine's own default depends on the free memory, and so would the rows;
            # SAMPLE: a rare category comes out as a frequent one, never as the engine's _RARE_ token
            engine.generate(
                workspace_dir=root,
                sample_size=rows,
                batch_size=rows,
                device="cpu",
                rare_category_replacement_method="SAMPLE",
            )
        generated = pd.read_parquet(root / "SyntheticData").reset_index(drop=True)
        return pd.DataFrame({c.name: c.decode(generated[c.name]).reset_index(drop=True) for c in self.codecs})


def _engine_version() -> str:
    from importlib import metadata

    return metadata.version("mostlyai-engine")
