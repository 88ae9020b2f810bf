"""Privacy gates, always measured against the holdout rows kept out of fitting.

exact_match     share of synthetic rows identical to a training row, minus the holdout's own
                share (its 95% Wilson upper bound, so a small holdout's noise does not fail a
                good fit); all-categorical tables repeat rows naturally and the baseline says so.
dcr_share       share of synthetic rows closer to a training row than to any holdout row, with
                the two reference sets weighted by their sizes so that 0.5 is ideal: with n_t
                training and n_h holdout references and raw share s, the value is
                (s/n_t) / (s/n_t + (1-s)/n_h). References are every training and holdout row up to
                ``REFERENCE_ROWS`` each (seeded samples beyond), so a synthesizer that copies any
                training row is caught; ``gates.privacy_rows`` synthetic rows are measured.
pii_leak        values of columns the profile flagged as PII that appear verbatim in the output.

DCR encoding (documented so the number means something): numeric and datetime columns are scaled
to [0, 1] by the training range, a missing value sits at -1; categorical columns with at most
``ONE_HOT_MAX`` categories are one-hot scaled by 1/sqrt(2), so a mismatch adds exactly 1 to the
squared distance; higher-cardinality categoricals are encoded by training frequency rank in [0, 1];
id and PII columns are left out. Distance is Euclidean over that encoding.
"""
from __future__ import annotations

import math

from synth_ops.records import GateResult

ONE_HOT_MAX = 50
REFERENCE_ROWS = 100_000
_NUMERIC_SDTYPES = {"numerical", "datetime"}


def privacy_gates(gate_input) -> list[GateResult]:
    return [_exact_match(gate_input), _dcr(gate_input), _pii_leak(gate_input)]


def _row_hashes(frame, columns):
    """One uint64 per row; numbers compare as float64 and everything else as text."""
    import pandas as pd

    canonical = pd.DataFrame(index=frame.index)
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            canonical[column] = series.astype("float64")
        else:
            canonical[column] = series.astype("string").fillna("\0<null>")
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy()


def _wilson_upper(share: float, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 0.0
    centre = share + z * z / (2 * n)
    margin = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return min(1.0, (centre + margin) / (1 + z * z / n))


def _exact_match(gate_input) -> GateResult:
    import numpy as np

    train, holdout = gate_input.real
    columns = list(train.columns)
    train_hashes = np.unique(_row_hashes(train, columns))
    holdout_share = float(np.isin(_row_hashes(holdout, columns), train_hashes).mean()) if len(holdout) else 0.0
    matched = total = 0
    for batch in gate_input.iter_synthetic():
        matched += int(np.isin(_row_hashes(batch, columns), train_hashes).sum())
        total += len(batch)
    synthetic_share = matched / total if total else 0.0
    baseline = _wilson_upper(holdout_share, len(holdout))
    value = max(0.0, synthetic_share - baseline)
    threshold = gate_input.ws.spec.gates.exact_match_max
    return GateResult(
        gate="privacy", name="exact_match", value=round(value, 6), threshold=threshold, passed=value <= threshold,
        detail=f"synthetic {synthetic_share:.4f} of {total} rows match a training row; holdout baseline "
               f"{holdout_share:.4f} (upper bound {baseline:.4f}, {len(holdout)} rows)",
    )


def _encoder(train, metadata: dict, pii: set[str]):
    """Column encoders fitted on the training rows (see the module docstring)."""
    import numpy as np
    import pandas as pd

    encoders = []
    for column in train.columns:
        sdtype = metadata["columns"].get(column, {}).get("sdtype", "categorical")
        if column in pii or sdtype == "id" or column == metadata.get("primary_key"):
            continue
        series = train[column]
        if sdtype in _NUMERIC_SDTYPES:
            values = as_number(series, sdtype)
            finite = values[np.isfinite(values)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            span = (high - low) or 1.0
            encoders.append(("number", column, sdtype, low, span))
        else:
            counts = series.astype("string").fillna("\0<null>").value_counts()
            if len(counts) <= ONE_HOT_MAX:
                encoders.append(("onehot", column, list(counts.index)))
            else:
                ranks = pd.Series(np.linspace(0, 1, len(counts)), index=counts.index)
                encoders.append(("rank", column, ranks))
    return encoders


def as_number(series, sdtype):
    """Numbers as float64, datetimes (strings or datetime64) as epoch seconds; unparseable -> NaN."""
    import numpy as np
    import pandas as pd

    if sdtype == "datetime":
        parsed = pd.to_datetime(series, errors="coerce", utc=True)
        seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
        return seconds.to_numpy(dtype="float64", na_value=np.nan)
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def _encode(frame, encoders):
    import numpy as np

    blocks = []
    for encoder in encoders:
        kind, column = encoder[0], encoder[1]
        if kind == "number":
            _, _, sdtype, low, span = encoder
            values = (as_number(frame[column], sdtype) - low) / span
            blocks.append(np.where(np.isnan(values), -1.0, values)[:, None])
        elif kind == "onehot":
            text = frame[column].astype("string").fillna("\0<null>").to_numpy()
            blocks.append((text[:, None] == np.array(encoder[2], dtype=object)[None, :]) / math.sqrt(2))
        else:
            text = frame[column].astype("string").fillna("\0<null>")
            blocks.append(text.map(encoder[2]).fillna(-1.0).to_numpy(dtype="float64")[:, None])
    return np.hstack(blocks).astype("float64") if blocks else np.zeros((len(frame), 0))


def _dcr(gate_input) -> GateResult:
    import numpy as np
    from sklearn.neighbors import NearestNeighbors

    gates, seed = gate_input.ws.spec.gates, gate_input.ws.spec.synthesizer.seed
    train, holdout = gate_input.real
    if len(holdout) == 0:
        return GateResult(gate="privacy", name="dcr_share", value=1.0, threshold=gates.dcr_share_max, passed=False,
                          detail="gates.holdout is 0: no holdout rows to measure distance against")
    train_ref = train.sample(min(len(train), REFERENCE_ROWS), random_state=seed)
    holdout_ref = holdout.sample(min(len(holdout), REFERENCE_ROWS), random_state=seed)
    synthetic = gate_input.synthetic_sample(gates.privacy_rows)
    encoders = _encoder(train, gate_input.metadata, set(gate_input.profile.get("pii", {})))
    to_train = NearestNeighbors(n_neighbors=1).fit(_encode(train_ref, encoders))
    to_holdout = NearestNeighbors(n_neighbors=1).fit(_encode(holdout_ref, encoders))
    encoded = _encode(synthetic, encoders)
    d_train = to_train.kneighbors(encoded)[0][:, 0]
    d_holdout = to_holdout.kneighbors(encoded)[0][:, 0]
    closer = np.isclose(d_train, d_holdout, rtol=0, atol=1e-12)
    raw = float(((d_train < d_holdout) & ~closer).mean() + 0.5 * closer.mean())
    n_t, n_h = len(train_ref), len(holdout_ref)
    share = (raw / n_t) / (raw / n_t + (1 - raw) / n_h) if 0 < raw < 1 else raw
    return GateResult(
        gate="privacy", name="dcr_share", value=round(share, 4), threshold=gates.dcr_share_max,
        passed=share <= gates.dcr_share_max,
        detail=f"{len(synthetic)} synthetic rows vs {n_t} training and {n_h} holdout rows "
               f"(unweighted share {raw:.4f}); 0.5 is ideal",
    )


def _pii_leak(gate_input) -> GateResult:
    flagged = sorted(gate_input.profile.get("pii", {}))
    leaked = {}
    if flagged:
        # every real row: the training rows and the holdout, already loaded for the other gates
        real_values = {c: set().union(*(set(part[c].dropna().astype(str)) for part in gate_input.real))
                       for c in flagged}
        for batch in gate_input.iter_synthetic():
            for column in flagged:
                values = batch[column].dropna().astype(str)
                hits = int(values.isin(real_values[column]).sum())
                if hits:
                    leaked[column] = leaked.get(column, 0) + hits
    total = sum(leaked.values())
    detail = "no PII columns flagged" if not flagged else (
        f"checked {', '.join(flagged)}" if not total
        else "real values reproduced in " + ", ".join(f"{c} ({n} rows)" for c, n in leaked.items()))
    return GateResult(gate="privacy", name="pii_leak", value=float(total), threshold=0.0, passed=total == 0,
                      detail=detail)
