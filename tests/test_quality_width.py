"""The quality gate's score at any width: SDMetrics' QualityReport score when every pair is scored,
a bounded seeded sample of pairs (the same for the baseline and every synthetic sample) beyond."""

import itertools
import types
import warnings

import numpy as np
import pandas as pd
import pytest

from synth_ops.gates import quality
from synth_ops.spec import GatesSpec
from tests.conftest import PENGUINS_CSV

NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


def _penguins():
    frame = pd.read_csv(PENGUINS_CSV)
    metadata = {"columns": {c: {"sdtype": "numerical" if c in NUMERIC else "categorical"} for c in frame.columns}}
    return frame, metadata


def _report(real, synthetic, metadata):
    from sdmetrics.reports import QualityReport

    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"t": real}, {"t": synthetic[real.columns]}, {"tables": {"t": metadata}}, verbose=False)
    return float(report.get_score()), {
        row["Property"]: float(row["Score"]) for _, row in report.get_properties().iterrows()
    }


def test_the_constants_restated_are_sdmetrics_own():
    from sdmetrics.reports.utils import DEFAULT_REAL_ASSOCIATION_THRESHOLD, DEFAULT_REAL_CORRELATION_THRESHOLD
    from sdmetrics.single_column.statistical.kscomplement import MAX_DECIMALS

    assert quality.REAL_CORRELATION_THRESHOLD == DEFAULT_REAL_CORRELATION_THRESHOLD
    assert quality.REAL_ASSOCIATION_THRESHOLD == DEFAULT_REAL_ASSOCIATION_THRESHOLD
    assert quality.MAX_DECIMALS == MAX_DECIMALS


def test_with_every_pair_scored_the_score_is_the_quality_reports():
    frame, metadata = _penguins()
    real = frame.sample(200, random_state=1).reset_index(drop=True)
    rest = frame.drop(frame.sample(200, random_state=1).index).reset_index(drop=True)
    rng = np.random.default_rng(3)
    noisy = frame.sample(150, replace=True, random_state=3).reset_index(drop=True)
    noisy["body_mass_g"] += rng.normal(0, 200, len(noisy))  # shapes and trends off, nulls kept
    noisy.loc[:4, "sex"] = "unknown"  # a value the real column lacks (TVComplement's regularisation)
    shuffled = real.apply(lambda column: rng.permutation(column.to_numpy()))  # shapes right, trends gone
    for synthetic in (rest, noisy, shuffled):
        expected, properties = _report(real, synthetic, metadata)
        score, ours = quality.quality_score(real, synthetic, metadata)
        assert score == pytest.approx(expected, abs=1e-9)
        assert ours == pytest.approx(properties, abs=1e-9)


def test_datetimes_and_booleans_score_as_the_report_scores_them():
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame(
        {
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 10**15, n), unit="ns"),
            "flag": rng.random(n) < 0.3,
            "x": rng.normal(size=n),
        }
    )
    frame["y"] = 2 * frame["x"] + (frame["when"] - frame["when"].min()).dt.total_seconds() / 1e5
    frame.loc[rng.random(n) < 0.1, "when"] = pd.NaT
    metadata = {
        "columns": {
            "when": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d %H:%M:%S.%f"},
            "flag": {"sdtype": "boolean"},
            "x": {"sdtype": "numerical"},
            "y": {"sdtype": "numerical"},
        }
    }
    real, synthetic = frame.iloc[:150].reset_index(drop=True), frame.iloc[150:].reset_index(drop=True)
    as_text = synthetic.assign(when=synthetic["when"].dt.strftime("%Y-%m-%d %H:%M:%S.%f"))  # parsed by its format
    for other in (synthetic, as_text):
        assert quality.quality_score(real, other, metadata)[0] == pytest.approx(
            _report(real, other, metadata)[0], abs=1e-9
        )


def test_pairs_are_unranked_in_combinations_order_and_sampled_without_repeats():
    columns = [f"c{i}" for i in range(9)]
    every = quality.choose_pairs(columns, seed=1, max_pairs=100)
    assert every.names == list(itertools.combinations(columns, 2)) and every.total == 36
    sampled = quality.choose_pairs(columns, seed=1, max_pairs=10)
    assert sampled.scored == 10 and len(set(sampled.names)) == 10 and set(sampled.names) <= set(every.names)
    assert sampled.names == quality.choose_pairs(columns, seed=1, max_pairs=10).names
    assert sampled.names != quality.choose_pairs(columns, seed=2, max_pairs=10).names


def _wide(columns: int, rows: int = 240):
    """Penguins' columns repeated under seeded row permutations until ``columns`` wide."""
    frame, metadata = _penguins()
    frame = frame.sample(rows, random_state=0).reset_index(drop=True)
    rng, blocks = np.random.default_rng(0), []
    while sum(b.shape[1] for b in blocks) < columns:
        blocks.append(frame.iloc[rng.permutation(rows)].reset_index(drop=True).add_suffix(f"_{len(blocks)}"))
    wide = pd.concat(blocks, axis=1).iloc[:, :columns]
    sdtypes = {f"{c}_{i}": m for i in range(len(blocks)) for c, m in metadata["columns"].items()}
    return wide, {"columns": {c: sdtypes[c] for c in wide.columns}}


def _gate_input(frame, metadata, seed: int):
    """What quality_gate reads of a GateInput, on real rows only: training rows, holdout rows, and
    per-column shuffled holdout rows standing in for the synthetic ones."""
    train, holdout = frame.iloc[:160].reset_index(drop=True), frame.iloc[160:].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    stand_in = pd.concat([holdout] * 4, ignore_index=True).apply(lambda c: rng.permutation(c.to_numpy()))
    spec = types.SimpleNamespace(gates=GatesSpec(), synthesizer=types.SimpleNamespace(seed=seed))
    return types.SimpleNamespace(
        ws=types.SimpleNamespace(spec=spec),
        table="wide",
        learned=list(frame.columns),
        metadata=metadata,
        real=(train, holdout),
        reference=(train, holdout),  # no generation controls: the real rows as they are
        real_sample=lambda rows, reference=False: train.sample(min(rows, len(train)), random_state=seed),
        synthetic_sample=lambda rows, conditioned=True: stand_in.iloc[:rows],
        shards=[types.SimpleNamespace(rows=len(stand_in))],
    )


def _pairs_per_comparison(monkeypatch, gate_input):
    seen, compare = [], quality.compare

    def recording(reference, synthetic):
        seen.append(reference.pairs.names)
        return compare(reference, synthetic)

    monkeypatch.setattr(quality, "compare", recording)
    result = quality.quality_gate(gate_input)[0]
    monkeypatch.setattr(quality, "compare", compare)
    return seen, result


def test_a_table_wider_than_the_bound_scores_the_same_bounded_pairs_in_every_comparison(monkeypatch):
    frame, metadata = _wide(60)  # 1,770 pairs
    total = 60 * 59 // 2
    assert total > quality.MAX_PAIRS
    seen, result = _pairs_per_comparison(monkeypatch, _gate_input(frame, metadata, seed=7))
    assert len(seen) == 1 + 3  # the holdout baseline and three synthetic samples
    assert all(len(pairs) == quality.MAX_PAIRS for pairs in seen)
    assert all(pairs == seen[0] for pairs in seen)
    measures = result.measures
    assert measures["pairs_scored"] == quality.MAX_PAIRS and measures["pairs_total"] == total
    assert 0 < measures["standard_error"] < 0.05 and 0 < measures["baseline_standard_error"] < 0.05
    assert f"{quality.MAX_PAIRS} of {total} pairs" in result.detail and "standard error" in result.detail

    again, _ = _pairs_per_comparison(monkeypatch, _gate_input(frame, metadata, seed=7))
    other, _ = _pairs_per_comparison(monkeypatch, _gate_input(frame, metadata, seed=8))
    assert again[0] == seen[0] and other[0] != seen[0]


def test_a_narrow_table_scores_every_pair_with_no_sampling_error(monkeypatch):
    frame, metadata = _penguins()
    seen, result = _pairs_per_comparison(monkeypatch, _gate_input(frame.sample(240, random_state=0), metadata, 7))
    assert all(len(pairs) == 28 for pairs in seen)
    assert result.measures["pairs_scored"] == result.measures["pairs_total"] == 28
    assert result.measures["standard_error"] == 0.0 and "all 28 pairs" in result.detail
