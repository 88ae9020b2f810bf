"""``synthesizer.kind: tabular_argn``: MOSTLY AI's TabularARGN (``mostlyai-engine``, Apache-2.0), an
autoregressive network over the learned columns, trained on the CPU, behind the synthesizer contract.

The optional extra ``[argn]``; the only module that imports ``mostlyai.engine``. The engine works in
a workspace directory: its ``split``, ``analyze``, ``encode`` and ``train`` steps write the training
rows there (``OriginalData``) and the model beside them (``ModelStore``). The fitted state keeps the
model's three files only (its configuration, its weights, its column statistics), as bytes: the
training rows never leave the temporary workspace. Persistence stays the runtime's (checksum and
library versions, ``runtime/models.py``); the engine reads the weights back with
``torch.load(weights_only=True)``, which loads tensors, not objects.

Sampling writes the three files into a fresh workspace and calls the engine's ``generate`` in
chunks of ``CHUNK_ROWS`` rows, each seeded by (shard seed, chunk): the same seed gives the same
rows whatever the batch size asked. Controls are the engine's own (``RebalancingConfig``,
``FairnessConfig``, ``ImputationConfig``, condition rows as ``seed_data``, ``sampling_temperature``);
a range condition is not something it can draw, so the capability is not declared.

Differential privacy: the engine's DP-SGD reports epsilon under Opacus' accountants, which the privacy
ledger (zCDP, ``privacy/``) cannot charge without a conversion nobody has checked here; a spec asking
for it is refused before any fit (exit 2).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from synth_ops.errors import InputError, SpecError
from synth_ops.synthesizers.base import Capabilities, Synthesizer, keep_supports, learn_supports

log = logging.getLogger("synth_ops")

# The model files generation reads, relative to the workspace (the optimizer's state is left out)
MODEL_FILES = (
    "ModelStore/model-data/model-configs.json",
    "ModelStore/model-data/model-weights.pt",
    "ModelStore/tgt-stats/stats.json",
)
CHUNK_ROWS = 50_000  # rows per generate call: a shard's rows do not depend on the caller's batch size
MODELS = ("MOSTLY_AI/Small", "MOSTLY_AI/Medium", "MOSTLY_AI/Large")
# name -> (default, check): the params a spec may set
DEFAULTS: dict[str, Any] = {
    "max_training_time": 1.0,  # minutes; the engine's own default is ten days
    "max_epochs": 100,
    "model": "MOSTLY_AI/Medium",
    "value_protection": True,  # rare categories and extreme values protected, as trees' knobs do
    "batch_size": None,  # the engine's choice
}
ENCODING = {"numerical": "TABULAR_NUMERIC_AUTO", "datetime": "TABULAR_DATETIME"}  # other sdtypes: categorical


def _param_problems(params: dict[str, Any]) -> list[str]:
    problems = []
    for name, value in params.items():
        field = f"synthesizer.params.{name}"
        if name == "differential_privacy":
            problems.append(f"{field}: DP-SGD training is not charged to the privacy ledger; use kind dp_mst or dp_aim")
        elif name not in DEFAULTS:
            problems.append(f"{field}: unknown parameter of tabular_argn (known: {', '.join(sorted(DEFAULTS))})")
        elif name in ("max_training_time", "max_epochs"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                problems.append(f"{field}: expected a number above 0")
        elif name == "model" and value not in MODELS:
            problems.append(f"{field}: expected one of {', '.join(MODELS)}")
        elif name == "value_protection" and not isinstance(value, bool):
            problems.append(f"{field}: expected true or false")
        elif (
            name == "batch_size"
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int) or value < 1)
        ):
            problems.append(f"{field}: expected an integer of at least 1")
    return problems


INSTALL = "pip install 'synth-ops[argn]' && pip install --no-deps mostlyai-engine==2.7.3"


def engine_installed() -> bool:
    """Whether the ``[argn]`` extra's engine is importable (looked up, not imported: that takes ~8 s)."""
    import importlib.util

    try:
        return importlib.util.find_spec("mostlyai.engine") is not None
    except ModuleNotFoundError:  # no ``mostlyai`` namespace at all
        return False


@contextlib.contextmanager
def _engine_quiet():
    """The engine logs its progress, and its analysis's messages can name values: WARNING and up
    only. And torch on one thread: the network is small, its steps are bound by Python, and with two
    threads an epoch of penguins took 2 to 20 s whenever another process shared the two cores (an
    OpenMP thread waiting on a descheduled sibling), against 0.6 s on one."""
    import torch

    logger = logging.getLogger("mostlyai")
    level, threads = logger.level, torch.get_num_threads()
    logger.setLevel(max(level, logging.WARNING))
    torch.set_num_threads(1)
    try:
        yield
    finally:
        logger.setLevel(level)
        torch.set_num_threads(threads)


class TabularARGNSynthesizer(Synthesizer):
    kinds = ("tabular_argn",)
    library = "pytorch"
    capabilities = Capabilities(shards=True, controls=("rebalance", "fairness", "conditions", "impute", "temperature"))

    def _check(self, metadata: dict[str, dict]) -> None:
        problems = _param_problems(self.params)
        if not engine_installed():
            problems.append(f"synthesizer.kind: tabular_argn needs the [argn] extra ({INSTALL})")
        if problems:
            raise SpecError("; ".join(problems))

    # -- fitting --------------------------------------------------------------------------------
    def _fit(self, data: dict[str, Any], metadata: dict[str, dict]) -> dict[str, Any]:
        import time

        import numpy as np
        from mostlyai import engine

        self._check(metadata)
        ((table, train),) = data.items()
        settings = {**DEFAULTS, **self.params}
        columns_metadata = metadata[table].get("columns", {})
        self.columns = list(train.columns)
        self.sdtypes = {c: columns_metadata.get(c, {}).get("sdtype", "categorical") for c in self.columns}
        fit_rows = self.options.get("fit_rows")
        if fit_rows and len(train) > fit_rows:  # a big table: a seeded sample bounds time and memory
            rng = np.random.default_rng([self.seed, zlib.crc32(table.encode()), 3])
            train = train.iloc[np.sort(rng.choice(len(train), fit_rows, replace=False))]
        self.supports = learn_supports(train, metadata[table])
        frame = self._to_engine(train, columns_metadata)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="synth-ops-argn-") as workspace, _engine_quiet():
            engine.set_random_state(self.seed % 2**32)
            try:
                engine.split(
                    tgt_data=frame,
                    tgt_encoding_types={c: ENCODING.get(self.sdtypes[c], "TABULAR_CATEGORICAL") for c in self.columns},
                    model_type="TABULAR",
                    workspace_dir=workspace,
                )
                engine.analyze(value_protection=settings["value_protection"], workspace_dir=workspace)
                engine.encode(workspace_dir=workspace)
                engine.train(
                    model=settings["model"],
                    max_training_time=float(settings["max_training_time"]),
                    max_epochs=float(settings["max_epochs"]),
                    batch_size=settings["batch_size"],
                    device="cpu",
                    workspace_dir=workspace,
                )
            except (ValueError, RuntimeError) as error:  # the engine's messages may quote values
                raise InputError(
                    f"tables.{table}: TabularARGN cannot fit this table ({type(error).__name__}; run with -v)"
                ) from None
            self.files = {name: (Path(workspace) / name).read_bytes() for name in MODEL_FILES}
        seconds = time.perf_counter() - started
        return {"tabular_argn": {**settings, "fit_rows": len(train), "train_seconds": round(seconds, 3)}}

    def _to_engine(self, frame, columns_metadata: dict):
        """The learned columns as the engine reads them: numbers as floats, datetimes as datetime64,
        everything else as text (each category's text remembered, to give back the source's value)."""
        import pandas as pd

        from synth_ops.synthesizers.copula.backend import ColumnCodec

        out, self.codecs, self.categories = {}, {}, {}
        for column in self.columns:
            sdtype, series = self.sdtypes[column], frame[column].reset_index(drop=True)
            if sdtype == "datetime":
                codec = self.codecs[column] = ColumnCodec(column, columns_metadata.get(column, {}))
                out[column] = pd.to_datetime(codec.encode(series), unit="ns")
            elif sdtype == "numerical":
                out[column] = pd.to_numeric(series, errors="coerce").astype("float64")
            else:
                present = series.dropna()
                self.categories[column] = dict(zip(present.astype(str), present))
                out[column] = (
                    series.astype(object).where(series.notna(), None).map(lambda v: None if v is None else str(v))
                )
        return pd.DataFrame(out)

    def _from_engine(self, frame):
        """The engine's rows back in the source's types (categories it never saw, none: null)."""
        import numpy as np
        import pandas as pd

        out = {}
        for column in self.columns:
            series, sdtype = frame[column], self.sdtypes[column]
            if sdtype == "datetime":
                stamps = pd.to_datetime(series, errors="coerce").astype("datetime64[ns]")
                values = stamps.to_numpy().astype("int64").astype("float64")
                values[pd.isna(stamps).to_numpy()] = np.nan
                out[column] = self.codecs[column].decode(values).to_numpy()
            elif sdtype == "numerical":
                out[column] = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
            else:
                known = self.categories[column]
                out[column] = np.array([known.get(v) if isinstance(v, str) else None for v in series], dtype=object)
        return keep_supports(pd.DataFrame(out), self.supports)

    # -- sampling -------------------------------------------------------------------------------
    def _sample(self, table: str, rows: int, seed: int, batch_rows: int) -> Iterator[Any]:
        yield from self._sample_controlled(table, rows, seed, batch_rows, {}, 0)

    def _sample_controlled(
        self, table: str, rows: int, seed: int, batch_rows: int, controls: dict, first_row: int
    ) -> Iterator[Any]:
        """``rows`` rows in chunks of CHUNK_ROWS: the condition rows (the release's first rows,
        condition after condition) as the engine's seed rows, the others drawn under the table's
        rebalance, fairness and impute controls."""
        with tempfile.TemporaryDirectory(prefix="synth-ops-argn-") as workspace:
            for name, content in self.files.items():
                path = Path(workspace) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
            for chunk, start in enumerate(range(0, rows, CHUNK_ROWS)):
                n = min(CHUNK_ROWS, rows - start)
                frame = self._generate(workspace, table, n, [seed, chunk], controls, first_row + start)
                for offset in range(0, n, batch_rows):
                    yield frame.iloc[offset : offset + batch_rows].reset_index(drop=True)

    def _generate(self, workspace: str, table: str, rows: int, seed: list[int], controls: dict, first_row: int):
        import numpy as np
        import pandas as pd

        from synth_ops.sampler.controls import condition_runs

        groups = condition_runs(controls.get("conditions", ()), first_row, rows)
        parts = []
        for index, (group, count) in enumerate(groups):
            chunk_seed = int(np.random.SeedSequence([*seed, zlib.crc32(table.encode()), index]).generate_state(1)[0])
            values = controls["conditions"][group]["values"] if group >= 0 else None
            parts.append(self._engine_rows(workspace, count, chunk_seed, controls, values))
        return pd.concat(parts, ignore_index=True) if parts else self._from_engine(pd.DataFrame(columns=self.columns))

    def _engine_rows(self, workspace: str, rows: int, seed: int, controls: dict, values: dict | None):
        import pandas as pd
        from mostlyai import engine

        from synth_ops.sampler.controls import value_text

        rebalance, fairness = controls.get("rebalance"), controls.get("fairness")
        seed_data = None
        if values:  # a condition's rows: its values given, the rest drawn by the network
            seed_data = pd.DataFrame({c: [self._engine_value(c, v)] * rows for c, v in values.items()})
        with _engine_quiet():
            engine.set_random_state(seed)
            engine.generate(
                seed_data=seed_data,
                sample_size=None if seed_data is not None else rows,
                sampling_temperature=float(controls.get("temperature", 1.0)),
                rare_category_replacement_method="SAMPLE",  # never the engine's "_RARE_" token
                rebalancing=(
                    {
                        "column": rebalance["column"],
                        "probabilities": {value_text(v): s for v, s in rebalance["shares"].items()},
                    }
                    if rebalance and seed_data is None
                    else None
                ),
                fairness=(
                    {"targetColumn": fairness["target"], "sensitiveColumns": list(fairness["sensitive"])}
                    if fairness and seed_data is None
                    else None
                ),
                imputation={"columns": list(controls["impute"])} if controls.get("impute") else None,
                device="cpu",
                workspace_dir=workspace,
            )
            # what the engine's load_generated_data reads (a private module): SyntheticData's parts
            parts = sorted((Path(workspace) / "SyntheticData").glob("*.parquet"))
            frame = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
        return self._from_engine(frame)

    def _engine_value(self, column: str, value):
        """A condition's value as the engine's training rows held it."""
        import pandas as pd

        from synth_ops.sampler.controls import value_text

        if self.sdtypes[column] == "datetime":
            codec = self.codecs[column]
            return pd.to_datetime(codec.encode(pd.Series([value])), unit="ns")[0]
        if self.sdtypes[column] == "numerical":
            return float(value)
        known = {value_text(v): text for text, v in self.categories[column].items()}
        return known.get(value_text(value), value_text(value))
