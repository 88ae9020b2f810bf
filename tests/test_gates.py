"""Fidelity, privacy and utility gates: each fails on data built to fail it and passes a real fit."""

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from synth_ops.profiling.holdout import load_training_rows
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.fit import fit
from synth_ops.steps.generate import generate
from synth_ops.steps.profile import profile
from synth_ops.steps.validate import validate
from tests.conftest import fitted_workspace, penguins_doc, rewrite_shard, run_cli, write_spec


def _generated(directory, source=None, **sections):
    doc = penguins_doc(**({"source": source} if source else {}))
    doc.update(sections)
    ws = fitted_workspace(directory, doc)
    return ws, generate(ws, "penguins")


def _gates(record):
    return {r["name"]: r for r in record.results if r["gate"] != "expectations"}


def _replace_output(ws, records, make_rows):
    """Overwrite every shard with rows from ``make_rows(n)``: a stand-in for a bad synthesizer."""
    for record in records:
        rewrite_shard(ws, "penguins", record, make_rows(record.rows).reset_index(drop=True))


def test_a_real_fit_passes_every_gate(tmp_path):
    ws, _ = _generated(tmp_path)
    record = validate(ws, "penguins")
    gates = _gates(record)
    assert record.passed, record.failures()
    assert set(gates) == {
        "quality_score",
        "discriminator_auc",
        "exact_match",
        "dcr_share",
        "pii_leak",
        "membership[distance]",
        "membership[density]",
        "empirical_epsilon",
    }
    quality = gates["quality_score"]
    assert 0.6 < quality["baseline"] < 1 and quality["threshold"] == pytest.approx(0.7 * quality["baseline"], abs=1e-4)
    assert quality["value"] >= quality["threshold"]
    assert 0.3 < gates["dcr_share"]["value"] < 0.75 and gates["dcr_share"]["bound"] <= 0.6
    assert gates["exact_match"]["bound"] == 0.0 and gates["exact_match"]["baseline"] is not None


def test_returning_training_rows_fails_exact_match_and_dcr(tmp_path):
    ws, records = _generated(tmp_path)
    train, _ = load_training_rows(ws, "penguins")
    _replace_output(ws, records, lambda n: train.sample(n, replace=True, random_state=n))
    record = validate(ws, "penguins")
    gates = _gates(record)
    assert not record.passed
    assert not gates["exact_match"]["passed"] and gates["exact_match"]["value"] > 0.9
    assert not gates["dcr_share"]["passed"] and gates["dcr_share"]["value"] > 0.95
    assert any("privacy/exact_match" in line for line in record.failures())


def test_shuffled_columns_fail_fidelity(tmp_path):
    ws, records = _generated(tmp_path)
    first = pd.read_parquet(ws.artifacts.local_path(records[0].key))

    def shuffled(n):
        rows = first.sample(n, replace=True, random_state=n).reset_index(drop=True)
        # every value lands in another column of the same type: each marginal is wrong
        numbers = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
        labels = ["species", "island", "sex"]
        for group in (numbers, labels):
            rows[group] = rows[group[1:] + group[:1]].to_numpy()
        return rows

    _replace_output(ws, records, shuffled)
    gates = _gates(validate(ws, "penguins"))
    assert not gates["quality_score"]["passed"] and gates["quality_score"]["value"] < 0.6


def test_all_categorical_data_passes_exact_match_with_a_good_fit(tmp_path):
    doc = penguins_doc(generate={"rows": 3000, "shards": 2})
    doc["tables"]["penguins"]["exclude"] = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    profile(ws, "penguins"), fit(ws, "penguins"), generate(ws, "penguins")
    gates = _gates(validate(ws, "penguins"))
    # most synthetic rows repeat a training row, because so do most real rows: the baseline says so
    synthetic_share = float(gates["exact_match"]["detail"].split()[1])
    assert synthetic_share > 0.5  # far above the 0.0 threshold without the holdout baseline
    assert gates["exact_match"]["passed"], gates["exact_match"]


def _with_observers(tmp_path, frame):
    rng = np.random.default_rng(1)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
    last = ["Lovelacek", "Hopperk", "Turingk", "Dijkstrak", "Liskovk", "Knuthk", "Allenk", "Thompsonk"]
    frame = frame.copy()
    frame["observer"] = [f"{rng.choice(first)} {rng.choice(last)}{'x' * int(rng.integers(0, 9))}" for _ in frame.index]
    # a short handle (two letters, two digits, a few repeats): random fill hits real ones by chance
    frame["handle"] = [f"{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{i % 100:02d}" for i in frame.index % 330]
    path = tmp_path / "observed.csv"
    frame.to_csv(path, index=False)
    return path


def test_identifying_names_are_replaced_and_a_leak_of_them_fails(tmp_path, penguins_frame):
    source = _with_observers(tmp_path, penguins_frame)
    ws, records = _generated(tmp_path, source=source)
    assert {"observer", "handle"} <= set(ws.read("penguins", "profile.json")["pii"])  # replaced
    gates = _gates(validate(ws, "penguins"))
    assert gates["pii_leak"]["passed"] and gates["pii_leak"]["baseline"] > 0.5, gates["pii_leak"]
    real = set(penguins_frame.assign(observer=pd.read_csv(source).observer).observer)
    published = pd.concat(pd.read_parquet(ws.artifacts.local_path(r.key)) for r in records)
    assert not set(published.observer) & real

    # a generator that reproduced real names would be caught
    names = pd.read_csv(source).observer
    _replace_output(
        ws,
        records,
        lambda n: published.head(n).assign(observer=names.sample(n, replace=True, random_state=n).to_numpy()),
    )
    gates = _gates(validate(ws, "penguins"))
    assert not gates["pii_leak"]["passed"] and gates["pii_leak"]["value"] > 0
    assert "observer" in gates["pii_leak"]["detail"] and "Ada" not in gates["pii_leak"]["detail"]


@pytest.mark.parametrize("min_ratio, passes", [(0.5, True), (0.999, False)])
def test_utility_gate(tmp_path, min_ratio, passes):
    ws, _ = _generated(tmp_path, gates={"utility": {"target": "species", "min_ratio": min_ratio}})
    gate = _gates(validate(ws, "penguins"))["utility_ratio[species]"]
    assert gate["passed"] is passes and gate["threshold"] == min_ratio
    assert gate["detail"].startswith("balanced_accuracy on 69 holdout rows")


def test_failed_gates_print_one_summary_line_each_and_publish_nothing(tmp_path):
    spec = write_spec(tmp_path, penguins_doc(gates={"quality_min": 0.99, "dcr_share_max": 0.01}))
    result = run_cli("run", str(spec))
    assert result.returncode == 1
    failed = [line for line in result.stderr.splitlines() if "gate failed" in line]
    assert len(failed) == 2
    assert any("quality/quality_score failed: value 0." in line and "threshold 0.99" in line for line in failed)
    assert any("privacy/dcr_share failed" in line and "threshold 0.01" in line for line in failed)
    assert not (tmp_path / "warehouse").exists()


def _chromium(*args):
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is required (make test installs it)"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium_and_stays_private(tmp_path):
    from PIL import Image

    spec = write_spec(tmp_path, penguins_doc(gates={"utility": {"targets": ["sex"], "min_ratio": 0.5}}))
    result = run_cli("run", str(spec))
    assert result.returncode == 0, result.stderr
    release = json.loads(next((tmp_path / "warehouse").rglob("_releases/*.json")).read_text())
    report = release["tables"]["penguins"]["report"]
    assert report.startswith(str(tmp_path / "artifacts")) and f"report at {report}" in result.stderr
    profile_dir = tmp_path / "chrome-profile"
    dom = _chromium(f"--user-data-dir={profile_dir}", "--dump-dom", f"file://{report}")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count('<tr class="pass">') >= 20 and "quality_score" in dom.stdout
    # the scorecard opens the report: fidelity, utility (with its bars), discriminator, privacy;
    # the expectations collapse to a count, the passing ones folded
    scorecard = dom.stdout.index('id="scorecard"')
    assert scorecard < dom.stdout.index('id="gates"') < dom.stdout.index('id="expectations-count"')
    card = dom.stdout[scorecard : dom.stdout.index("</table>", scorecard)]
    for measure in (
        "fidelity",
        "utility_ratio[sex] (roc_auc)",
        "augmentation[sex]",
        "discriminator_auc",
        "exact_match",
        "dcr_share",
        "GX suites",
    ):
        assert measure in card, measure
    assert card.count('<svg class="bars"') == 1 and "not gated" in card
    assert '<details id="expectations-passed">' in dom.stdout
    assert dom.stdout.count('<svg class="plot"') == 8 and 'class="plot heatmap"' in dom.stdout
    # the privacy attacks follow the scorecard: one ROC chart per membership attack
    assert scorecard < dom.stdout.index('id="attacks"') < dom.stdout.index('id="gates"')
    assert dom.stdout.count('<svg class="roc"') == 2 and "membership[distance]" in card
    shot = tmp_path / "report.png"
    taken = _chromium(
        f"--user-data-dir={profile_dir}", "--window-size=1300,3200", f"--screenshot={shot}", f"file://{report}"
    )
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)

    def share(rgb):
        return float((np.abs(pixels - np.array(rgb)).sum(axis=1) < 30).mean())

    # the real (blue) and synthetic (orange) bars are drawn, not just present in the markup
    assert share((0x4C, 0x72, 0xB0)) > 0.005 and share((0xDD, 0x84, 0x52)) > 0.005
    # profile, suite, metadata and report hold real values: none of them is published
    published = [p for p in (tmp_path / "warehouse").rglob("*") if p.is_file()]
    assert not [
        p
        for p in published
        if p.suffix == ".html"
        or p.name in {"profile.json", "suite.json", "metadata.json", "gates.json"}
        or p.suffix == ".pkl"
    ]
    for path in published:
        if path.suffix == ".json":
            text = path.read_text()
            assert "Torgersen" not in text and "Biscoe" not in text


def test_quality_compares_equal_sample_sizes_when_few_rows_are_generated(tmp_path):
    ws, _ = _generated(tmp_path, generate={"rows": 30, "shards": 1})
    quality = _gates(validate(ws, "penguins"))["quality_score"]
    assert "synthetic mean of 1 sample(s) of 30 rows" in quality["detail"] and "(30 rows)" in quality["detail"]
    assert quality["passed"], quality


def test_every_gate_that_compares_with_the_holdout_fails_unmeasured_without_holdout_rows(tmp_path, penguins_frame):
    """No holdout row (the split refuses one, so only a caller building its own input gets here):
    exact_match, dcr_share, the attacks and utility each say "not measured" and fail where gated,
    without reading a synthetic row."""
    import types

    from synth_ops.gates.inference import attribute_inference_gate
    from synth_ops.gates.membership import membership_gate
    from synth_ops.gates.privacy import privacy_gates
    from synth_ops.gates.utility import utility_gate

    doc = penguins_doc(gates={"utility": {"targets": ["sex"]}})
    doc["tables"]["penguins"].update(quasi_identifiers=["island", "year"], sensitive=["species"])
    spec = load_spec(write_spec(tmp_path, doc))

    def no_synthetic_rows(*_, **__):
        raise AssertionError("a gate measured synthetic rows without holdout rows to compare them with")

    gate_input = types.SimpleNamespace(
        ws=types.SimpleNamespace(spec=spec),
        table="penguins",
        profile={"pii": {}, "columns_plan": {}},
        learned=list(penguins_frame.columns),
        real=(penguins_frame, penguins_frame.iloc[:0]),
        synthetic_sample=no_synthetic_rows,
        iter_synthetic=no_synthetic_rows,
        real_sample=no_synthetic_rows,
    )
    results = {
        r.name: r
        for gate in (privacy_gates, membership_gate, attribute_inference_gate, utility_gate)
        for r in gate(gate_input)
    }
    gated = [
        "exact_match",
        "dcr_share",
        "membership[distance]",
        "membership[density]",
        "attribute_inference[species]",
        "utility_ratio[sex]",
    ]
    for name in gated:
        assert results[name].value is None and not results[name].passed, results[name]
        assert results[name].detail == "not measured: no holdout rows: nothing to compare the synthetic rows with"
    # reported, not gated (not a DP fit; augmentation_min unset): not measured, and nothing to block
    for name in ("empirical_epsilon", "augmentation[sex]"):
        assert results[name].value is None and results[name].threshold is None and results[name].passed
    assert results["pii_leak"].passed  # judged on every real row, not the holdout


def test_a_utility_ratio_the_synthetic_model_cannot_score_is_not_measured_and_fails(tmp_path):
    ws, records = _generated(tmp_path, gates={"utility": {"targets": ["body_mass_g"], "min_ratio": 0.5}})
    first = pd.read_parquet(ws.artifacts.local_path(records[0].key))
    # no synthetic row holds a body mass: a model trained on them predicts nothing to score
    _replace_output(ws, records, lambda n: first.sample(n, replace=True, random_state=n).assign(body_mass_g=np.nan))
    record = validate(ws, "penguins")
    ratio = _gates(record)["utility_ratio[body_mass_g]"]
    assert ratio["value"] is None and not ratio["passed"] and ratio["threshold"] == 0.5, ratio
    assert ratio["detail"].startswith("not measured: the model trained on synthetic gives no r2 on")
    assert ratio["measures"]["synthetic"] is None and ratio["measures"]["real"] > 0
    assert _gates(record)["augmentation[body_mass_g]"]["value"] is not None  # real rows in it: scored
    assert any(
        "utility/utility_ratio[body_mass_g] failed: value not measured, threshold 0.5" in line
        for line in record.failures()
    )
    stored = ws.artifacts.read_bytes(record.gates_key).decode()
    assert "NaN" not in stored  # gates.json stays strict JSON: no sentinel number
    report = ws.artifacts.read_bytes(record.report_key).decode()
    assert "FAIL (not measured)" in report


@pytest.mark.parametrize(
    "successes, n, low, high",
    [
        (0, 69, 0.0, 0.052739),
        (3, 69, 0.014896, 0.120214),
        (150, 344, 0.384634, 0.488871),
        (600, 600, 0.993638, 1.0),
    ],
)
def test_wilson_intervals_are_scipys_and_keep_the_hand_written_values(successes, n, low, high):
    from scipy.stats import binomtest

    from synth_ops.gates.privacy import wilson

    interval = binomtest(successes, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson(successes, n) == (interval.low, interval.high)
    # the closed form at z = 1.96 these gates used before: equal to its fourth decimal (z 1.959964 now)
    assert wilson(successes, n) == pytest.approx((low, high), abs=1e-5)
    assert wilson(0, 0) == (0.0, 1.0)  # no rows: nothing known


@pytest.mark.parametrize(
    "raw, rows, before", [(0.6213, 152.83, 0.542311), (0.55, 4000.0, 0.534542), (0.48, 13.33, 0.248149)]
)
def test_the_dcr_bound_at_a_fractional_effective_size_moves_by_at_most_half_a_row(raw, rows, before):
    from synth_ops.gates.privacy import dcr_lower

    # ``before``: the closed form on the unrounded size and share; whole rows move the share by <= 0.5 / rows
    assert dcr_lower(raw, rows) == pytest.approx(before, abs=0.5 / rows)
