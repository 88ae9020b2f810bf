"""fit: the one module that touches SDV synthesizers (fit, save, verified load, seeded sampling).

``model.pkl`` is written together with ``model.json`` (its sha256 and the library versions it was
pickled under). ``load_model`` checks both before unpickling, so a tampered pickle or an upgrade
is refused with a clear error instead of failing somewhere inside SDV.
"""
from __future__ import annotations

import logging
import time
import warnings
import zlib
from typing import Iterator

from synth_ops.columns import learned_columns
from synth_ops.errors import InputError, ModelIntegrityError, SpecError, one_line
from synth_ops.fingerprints import sha256_bytes, sha256_json
from synth_ops.quiet import quiet_libraries
from synth_ops.records import ModelRecord
from synth_ops.sources import read_source
from synth_ops.workspace import Workspace

log = logging.getLogger("synth_ops")

_SYNTHESIZERS = {
    "gaussian_copula": "GaussianCopulaSynthesizer",
    "ctgan": "CTGANSynthesizer",
    "tvae": "TVAESynthesizer",
    "copulagan": "CopulaGANSynthesizer",
}


def split_holdout(n_rows: int, share: float, seed: int):
    """Seeded split of row positions into (train, holdout), both sorted."""
    import numpy as np

    order = np.random.default_rng([seed, 0x5EED]).permutation(n_rows)
    n_holdout = int(round(n_rows * share))
    if share > 0 and n_rows - n_holdout < 2:
        raise InputError(f"gates.holdout: {share} leaves fewer than 2 training rows out of {n_rows}")
    if share > 0 and n_holdout == 0:
        raise InputError(f"gates.holdout: {share} of {n_rows} rows is no holdout row; the quality and privacy "
                         "gates measure against the holdout (raise holdout, or set 0 and gates.quality_min)")
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])


def load_training_rows(ws: Workspace, table: str):
    """(train, holdout) frames of the source, exactly as the fit step split them."""
    spec_table = ws.spec.tables[table]
    frame = read_source(spec_table.source, spec_table.exclude, field=f"tables.{table}.source", s3_options=ws.spec.s3)
    train, holdout = split_holdout(len(frame), ws.spec.gates.holdout, ws.spec.synthesizer.seed)
    return frame.iloc[train].reset_index(drop=True), frame.iloc[holdout].reset_index(drop=True)


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is an SDV dependency
        return
    torch.manual_seed(seed)


def fit(ws: Workspace, table: str, progress=None, force: bool = False) -> ModelRecord:
    """Fit the spec's synthesizer on the training rows' learned columns; write the model, model.json
    and split.json.

    A model of this run (same spec content, source and libraries) whose pickle still matches its
    checksum is reused unless ``force``: re-running a pipeline does not refit. The fit runs inside
    ``fastfit.fast_fit``: SDV's model, fitted without per-row Python loops. A table whose columns
    are all generated (keys, ids, replaced text, constants) has no model to fit.
    """
    from synth_ops.steps.fastfit import fast_fit

    if not force and _fitted(ws, table):
        log.info("%s: model up to date", table)
        return ModelRecord.from_dict(ws.read(table, "model.json"))
    if ws.spec.relationships:
        raise SpecError("relationships: multi-table synthesis is not supported yet; fit tables separately")
    ws.require(table, "profile.json", "profile")
    spec = ws.spec.synthesizer
    learned = learned_columns(ws.read(table, "profile.json")["columns_plan"])
    train, holdout = load_training_rows(ws, table)
    split = {
        "seed": spec.seed,
        "holdout_share": ws.spec.gates.holdout,
        "train_rows": len(train),
        "holdout_rows": len(holdout),
        "source_fingerprint": ws.source_fingerprints[table],
    }
    ws.write(table, "split.json", split)

    started = time.perf_counter()
    train = train[learned].copy()
    datetimes = _native_datetimes(ws, table, train) if spec.fast_sampling else {}
    marginals: dict = {}
    synthesizer = None
    if learned:
        synthesizer = _build(ws, table, drop_formats=set(datetimes))
        seed_everything(spec.seed)
        if progress:
            progress("fitting", 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                # Transformers and correlations learn from every training row; a marginal with more
                # distinct values than fit_rows is fitted on a seeded sample of fit_rows values.
                with fast_fit(spec.fit_rows, spec.seed) as marginals, quiet_libraries():
                    synthesizer.fit({table: train})
            except Exception as error:
                if type(error).__module__.startswith(("sdv", "rdt", "copulas", "ctgan")):
                    raise InputError(f"tables.{table}: SDV cannot fit this table: "
                                     f"{sdv_error_summary(error, learned)}") from None
                raise
        synthesizer._synth_ops_datetime_formats = datetimes
        if progress:
            progress("fitted", 1)
    fit_seconds = round(time.perf_counter() - started, 3)

    import cloudpickle

    blob = cloudpickle.dumps(synthesizer)
    digest = sha256_bytes(blob)
    # Named by content: two runs of one spec fitting at once each write a complete (model, model.json)
    # pair, and a reader never pairs one run's model.json with the other's pickle.
    model_key = ws.key(table, f"model-{digest[:16]}.pkl")
    ws.artifacts.write_bytes(model_key, blob)
    record = ModelRecord(
        name=ws.spec.name, table=table, run_id=ws.run_id, kind=spec.kind, seed=spec.seed,
        train_rows=len(train), holdout_rows=len(holdout), model_key=model_key,
        model_sha256=digest, fit_seconds=fit_seconds,
    )
    ws.write(table, "model.json", {
        **record.to_dict(),
        "libraries": ws.versions,
        "spec_hash": ws.spec_hash,
        "source_fingerprint": ws.source_fingerprints[table],
        "split_sha256": sha256_json(split),
        "learned_columns": learned,
        "fit_rows": spec.fit_rows,
        "marginals": marginals,
        "fast_sampling": spec.fast_sampling,
        "native_datetimes": datetimes,
    })
    if learned:
        log.info("%s: fitted %s on %d rows x %d learned columns in %.1fs", table, spec.kind, len(train),
                 len(learned), fit_seconds)
    else:
        log.info("%s: every column is generated (keys, ids, replaced or constant): no model to fit", table)
    return record


def sdv_error_summary(error: Exception, columns: list[str]) -> str:
    """What went wrong inside SDV, without its message: SDV quotes offending data values there."""
    text = str(error)
    named = [c for c in columns if f"'{c}'" in text or f'"{c}"' in text]
    where = f" in column(s) {', '.join(map(repr, named))}" if named else ""
    return f"{type(error).__name__}{where} (run with -v for SDV's own message, which may show data values)"


def _fitted(ws: Workspace, table: str) -> bool:
    if not ws.has(table, "model.json"):
        return False
    info = ws.read(table, "model.json")
    if not ws.artifacts.exists(info["model_key"]):
        return False
    return sha256_bytes(ws.artifacts.read_bytes(info["model_key"])) == info["model_sha256"]


def _native_datetimes(ws: Workspace, table: str, train) -> dict[str, str]:
    """Datetime string columns parsed once, vectorised (in place); column -> format to print back."""
    import pandas as pd

    from synth_ops.steps.fastpath import roundtrip_format, utc_format

    columns = ws.read(table, "metadata.json")["tables"][table]["columns"]
    formats = {}
    for column, meta in columns.items():
        if meta.get("sdtype") == "datetime" and column in train and train[column].dtype == object:
            fmt = roundtrip_format(train[column], meta.get("datetime_format"))
            if fmt:
                train[column] = pd.to_datetime(train[column], format=fmt)
                formats[column] = fmt
                continue
            # Offsets (+02:00, Z): learned as UTC instants, printed back in UTC in the source's notation
            fmt = utc_format(train[column], meta.get("datetime_format"))
            if fmt:
                parsed = pd.to_datetime(train[column], format=meta["datetime_format"], utc=True)
                train[column] = parsed.dt.tz_localize(None)
                formats[column] = fmt
    return formats


def synthesizer_class(kind: str):
    import sdv.single_table

    return getattr(sdv.single_table, _SYNTHESIZERS[kind])


def build_synthesizer(spec, metadata_doc: dict):
    """An unfitted SDV synthesizer of ``spec.kind`` with ``spec.params``; SpecError if SDV refuses them."""
    from sdv.metadata import Metadata

    cls = synthesizer_class(spec.kind)
    with warnings.catch_warnings(), quiet_libraries():
        warnings.simplefilter("ignore")
        try:
            return cls(Metadata.load_from_dict(metadata_doc), **spec.params)
        except (TypeError, ValueError) as error:
            raise SpecError(f"synthesizer.params: {one_line(error)}") from None
        except Exception as error:
            if type(error).__module__.startswith(("sdv", "rdt")):
                raise SpecError(f"synthesizer.params: {one_line(error)}") from None
            raise


def _build(ws: Workspace, table: str, drop_formats: set[str] = frozenset()):
    doc = ws.read(table, "metadata.json")
    for column in drop_formats:  # parsed to datetime64 already: SDV must not re-parse strings
        # ranges are detected from the strings (with their offsets); SDV only checks data against them
        for setting in ("datetime_format", "range_min", "range_max"):
            doc["tables"][table]["columns"][column].pop(setting, None)
    return build_synthesizer(ws.spec.synthesizer, doc)


def load_model(ws: Workspace, table: str):
    """Unpickle model.pkl only after its sha256 and library versions match model.json."""
    ws.require(table, "model.json", "fit")
    info = ws.read(table, "model.json")
    where = ws.location(info["model_key"])
    mismatched = {
        name: (info["libraries"].get(name), version)
        for name, version in ws.versions.items()
        if info["libraries"].get(name) != version
    }
    if mismatched:
        listed = ", ".join(f"{n} {old} (installed {new})" for n, (old, new) in sorted(mismatched.items()))
        raise ModelIntegrityError(f"{where}: pickled under other library versions: {listed}; refit the model")
    blob = ws.artifacts.read_bytes(info["model_key"])
    if sha256_bytes(blob) != info["model_sha256"]:
        raise ModelIntegrityError(f"{where}: sha256 does not match model.json; the file was modified, refit")
    import cloudpickle

    return cloudpickle.loads(blob)


def sample_batches(model, table: str, rows: int, batch_rows: int, seed: int, fast: bool = False) -> Iterator:
    """Yield DataFrames of at most ``batch_rows`` rows, ``rows`` in all, from a seeded stream.

    Seeds the copula/GAN random state and every RDT transformer's reverse-transform state, so
    that shards with different seeds draw independent rows and the same seed repeats exactly.
    """
    from synth_ops.steps.fastpath import accelerate, format_datetimes

    if model is None:  # nothing learned: every column is generated from the column plan
        import pandas as pd

        for start in range(0, rows, batch_rows):
            yield pd.DataFrame(index=range(min(batch_rows, rows - start)))
        return
    seed_everything(seed)
    model._set_random_state(seed % 2**32)
    _seed_transformers(model, seed)
    datetimes = getattr(model, "_synth_ops_datetime_formats", {})
    remaining = rows
    with warnings.catch_warnings():
        # scipy warns when a beta ppf root search gives up in the far tails; SDV's path does the same
        warnings.simplefilter("ignore")
        if fast:
            outcome = accelerate(model)
            log.debug("%s: fast sampling: %s", table, outcome)
        while remaining > 0:
            n = min(batch_rows, remaining)
            with quiet_libraries():
                batch = model.sample(n)
            frame = batch[table] if isinstance(batch, dict) else batch
            for column, fmt in datetimes.items():
                frame[column] = format_datetimes(frame[column], fmt)
            remaining -= len(frame)
            yield frame


def _seed_transformers(model, seed: int) -> None:
    import numpy as np

    from synth_ops.steps.fastpath import hyper_transformer

    transformers = getattr(hyper_transformer(model), "field_transformers", None) or {}
    # Keyed by column name, not position: RDT builds this dict in an order that varies with
    # PYTHONHASHSEED, and a positional seed would make two processes disagree.
    for column, transformer in transformers.items():
        if transformer is not None and hasattr(transformer, "set_random_state"):
            key = zlib.crc32(repr(column).encode())
            state = np.random.RandomState(np.random.SeedSequence([seed, key]).generate_state(1)[0])
            transformer.set_random_state(state, "reverse_transform")
