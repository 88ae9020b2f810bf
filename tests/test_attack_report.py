"""The report's privacy attacks: each membership attack's ROC chart beside its numbers and what they
mean, the empirical epsilon, attribute inference per sensitive column. Rates and counts only: no
value of the real table appears in the section."""

import csv
import re

import numpy as np

from synth_ops.gates import report
from synth_ops.gates.membership import ROC_POINTS
from synth_ops.profiling.holdout import load_training_rows
from synth_ops.steps.generate import generate
from synth_ops.steps.validate import validate
from tests.conftest import PENGUINS_CSV, fitted_workspace, penguins_doc
from tests.test_attacks import _copies, _replace_output

SENSITIVE = ["sex", "body_mass_g"]


def _validated(directory, copier: bool = False):
    """penguins under the default synthesizer (trees), attacked on its bill length and flipper length;
    ``copier``: the shards replaced by the training rows plus a little noise."""
    doc = penguins_doc(synthesizer={"seed": 7})
    doc["tables"]["penguins"].update(quasi_identifiers=["bill_length_mm", "flipper_length_mm"], sensitive=SENSITIVE)
    ws = fitted_workspace(directory, doc)
    records = generate(ws, "penguins")
    if copier:
        _replace_output(ws, records, _copies(load_training_rows(ws, "penguins")[0]))
    record = validate(ws, "penguins")
    page = ws.artifacts.read_bytes(record.report_key).decode()
    return {r["name"]: r for r in record.results}, page


def _section(page: str) -> str:
    start = page.index('<section id="attacks">')
    return page[start : page.index("</section>", start)]


def _no_real_value(section: str) -> None:
    """Neither a text value of the penguins CSV nor any of its numbers in the section's text (the
    SVG coordinates are pixels, not text)."""
    with open(PENGUINS_CSV, newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = {row[c] for row in rows for c in ("species", "island", "sex")} - {"NA", ""}
    numbers = {
        float(row[c])
        for row in rows
        for c in ("bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year")
        if row[c] not in ("NA", "")
    }
    text = re.sub(r"<[^>]+>", " ", section)
    assert not [v for v in texts if re.search(rf"\b{re.escape(v)}\b", text)]
    assert not [t for t in re.findall(r"-?\d+(?:\.\d+)?", text) if float(t) in numbers]


def test_the_report_shows_each_attack_with_its_roc_chart_and_what_it_means(tmp_path):
    results, page = _validated(tmp_path)
    section = _section(page)
    assert page.index('id="scorecard"') < page.index('id="attacks"') < page.index('id="gates"')
    scorecard = page[page.index('id="scorecard"') : page.index("</table>", page.index('id="scorecard"'))]
    for name in (
        "membership[distance]",
        "membership[density]",
        "empirical_epsilon",
        "attribute_inference[sex]",
        "attribute_inference[body_mass_g]",
    ):
        assert name in scorecard, name
    assert section.count('<svg class="roc"') == 2 and section.count("<polyline") == 2
    for attack in ("distance", "density"):
        result = results[f"membership[{attack}]"]
        block = section[section.index(f'id="attack-{attack}"') :]
        block = block[: block.index("</table>")]
        assert f"{result['value']:g}" in block and f"{result['bound']:g}" in block and "0.65" in block
        assert "not measured (fewer than 100 holdout rows)" in block and "0.65: pass" in block
        assert "69 training, 69 holdout" in block
        # the chart is the gate's downsampled curve: 21 rates from (0, .) to (1, 1), rising, its area the AUC
        curve = np.array(result["measures"]["roc"])
        assert curve.shape == (ROC_POINTS, 2) and list(curve[-1]) == [1, 1] and curve[0][0] == 0
        assert np.all(np.diff(curve[:, 0]) > 0) and np.all(np.diff(curve[:, 1]) >= 0)
        assert abs(np.trapezoid(curve[:, 1], curve[:, 0]) - result["value"]) < 0.03
        points = re.search(r'<polyline points="([^"]+)"', block).group(1).split()
        assert len(points) == ROC_POINTS
    epsilon = section[section.index('id="empirical-epsilon"') :]
    epsilon = epsilon[: epsilon.index("</table>")]
    assert f"{results['empirical_epsilon']['value']:g} (distance" in epsilon
    assert "not a differentially private fit" in epsilon
    # what each number means, once, under the charts
    assert "0.5 is guessing" in section and "a lower bound on the privacy loss the attacks prove" in section
    inference = section[section.index('id="attribute-inference"') :]
    for column in SENSITIVE:
        result, row = results[f"attribute_inference[{column}]"], inference[inference.index(f"<td>{column}</td>") :]
        row = row[: row.index("</tr>")]
        for number in (
            result["measures"]["train_success"],
            result["measures"]["holdout_success"],
            result["value"],
            result["bound"],
            0.1,
        ):
            assert f"<td>{number:g}</td>" in row, (number, row)
    assert "holdout success is what the synthetic data tells about anyone" in inference
    _no_real_value(section)


def test_a_copier_shows_as_a_failed_attack_whose_curve_hugs_the_top_left(tmp_path):
    results, page = _validated(tmp_path, copier=True)
    section = _section(page)
    distance = results["membership[distance]"]
    assert not distance["passed"] and distance["measures"]["roc"][1][1] > 0.9  # TPR at 5% FPR
    block = section[section.index('id="attack-distance"') :]
    assert "0.65: FAIL" in block[: block.index("</table>")]
    assert f"{results['empirical_epsilon']['value']:g} (distance" in section
    _no_real_value(section)


def test_a_dp_fit_shows_the_proven_epsilon_beside_the_charged_one():
    gates = [
        {
            "gate": "membership",
            "name": "empirical_epsilon",
            "value": 0.42,
            "threshold": 1.0,
            "passed": True,
            "detail": "",
            "measures": {"attacks": {"distance": 0.42, "density": 0.1}},
        }
    ]
    section = report._attacks(gates)
    assert "0.42 (distance 0.42, density 0.1)" in section and "<td>1: pass</td>" in section
    assert "an upper bound: the proven lower bound must not exceed it" in section
