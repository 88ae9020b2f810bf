"""The run report: one self-contained HTML file (inline SVG and CSS, no scripts, no network).

It shows the gate table, the privacy attacks (ROC curves, bounds and what each means),
real-vs-synthetic distributions for every column, the numeric correlation matrices side by side,
and the run's fingerprints. It holds real values (histograms of the training rows), so it is
written to the private artifacts only, never published; the attacks section holds rates only.
"""

from __future__ import annotations

import datetime
import html
import math

REAL, SYNTHETIC = "#4c72b0", "#dd8452"
BINS = 20
TOP = 12
HEATMAP_COLUMNS = 40


def _svg_bars(labels: list[str], real: list[float], synthetic: list[float], title: str) -> str:
    width, height, pad = 420, 180, 28
    n = max(len(labels), 1)
    peak = max([*real, *synthetic, 1e-9])
    slot = (width - 2 * pad) / n
    bar = max(slot / 2 - 1, 0.5)
    rects = []
    for i, (r, s) in enumerate(zip(real, synthetic)):
        x = pad + i * slot
        for offset, value, color in ((0, r, REAL), (bar, s, SYNTHETIC)):
            h = (height - 2 * pad) * value / peak
            rects.append(
                f'<rect x="{x + offset:.1f}" y="{height - pad - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{html.escape(labels[i])}</title></rect>'
            )
    ticks = ""
    if labels:
        ticks = (
            f'<text x="{pad}" y="{height - 8}" font-size="10">{html.escape(labels[0])}</text>'
            f'<text x="{width - pad}" y="{height - 8}" font-size="10" text-anchor="end">'
            f"{html.escape(labels[-1])}</text>"
        )
    return (
        f'<svg class="plot" role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{pad}" y="16" font-size="12" font-weight="bold">{html.escape(title)}</text>'
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#333"/>'
        + "".join(rects)
        + ticks
        + "</svg>"
    )


def _distribution(column: str, real, synthetic, kind: str) -> str:
    """kind: "numeric", "datetime" (histogram over time) or "categorical" (top categories)."""
    import numpy as np
    import pandas as pd

    if kind in ("numeric", "datetime"):
        from synth_ops.gates.privacy import as_number

        sdtype = "datetime" if kind == "datetime" else "numerical"
        r, s = as_number(real, sdtype), as_number(synthetic, sdtype)
        r, s = r[~np.isnan(r)], s[~np.isnan(s)]
        both = np.concatenate([r, s])
        if both.size == 0:
            return _svg_bars([], [], [], f"{column} (no values)")
        edges = np.histogram_bin_edges(both, bins=BINS)
        rh = np.histogram(r, bins=edges)[0] / max(len(r), 1)
        sh = np.histogram(s, bins=edges)[0] / max(len(s), 1)
        if kind == "datetime":
            labels = [pd.Timestamp(edge, unit="s").strftime("%Y-%m-%d") for edge in edges[:BINS]]
            labels[-1] = pd.Timestamp(edges[-1], unit="s").strftime("%Y-%m-%d")
        else:
            labels = [f"{edges[i]:.4g}" for i in range(BINS)]
            labels[-1] = f"{edges[-1]:.4g}"
        return _svg_bars(labels, list(rh), list(sh), column)
    r = real.astype("string").fillna("(null)").value_counts(normalize=True)
    s = synthetic.astype("string").fillna("(null)").value_counts(normalize=True)
    categories = list(r.index[:TOP])
    return _svg_bars(
        [str(c) for c in categories],
        [float(r.get(c, 0)) for c in categories],
        [float(s.get(c, 0)) for c in categories],
        f"{column} (top {len(categories)} categories)",
    )


def _heatmap(matrix, columns: list[str], title: str) -> str:
    cell, pad, top = 22, 110, 28
    width, height = pad + cell * len(columns) + 10, top + cell * len(columns) + 10
    parts = []
    for i in range(len(columns)):
        parts.append(
            f'<text x="{pad - 4}" y="{top + i * cell + 15}" font-size="10" text-anchor="end">'
            f"{html.escape(columns[i][:16])}</text>"
        )
        for j in range(len(columns)):
            value = matrix[i][j]
            value = 0.0 if value is None or (isinstance(value, float) and math.isnan(value)) else value
            # blue for positive, red for negative correlation
            color = (
                f"rgb({int(255 - 200 * max(value, 0))},{int(255 - 200 * abs(value))},{int(255 + 200 * min(value, 0))})"
            )
            parts.append(
                f'<rect x="{pad + j * cell}" y="{top + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{color}"><title>{html.escape(columns[i])} x {html.escape(columns[j])}: {value:.2f}</title></rect>'
            )
    return (
        f'<svg class="plot heatmap" role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="4" y="16" font-size="12" font-weight="bold">'
        f"{html.escape(title)}</text>" + "".join(parts) + "</svg>"
    )


def _number(value) -> str:
    return "" if value is None else f"{value:g}"


# The scorecard's rows, in reading order: family -> what it answers
SCORECARD = (
    ("quality", "fidelity", "SDMetrics quality of synthetic vs training rows; baseline: the holdout's own"),
    (
        "utility",
        "utility",
        "a model trained on synthetic rows, scored on the holdout, over one trained on real "
        "rows; augmentation: trained on real + synthetic",
    ),
    (
        "discriminator",
        "discriminator",
        "ROC AUC of a classifier telling synthetic from training rows; baseline: "
        "holdout from training rows (0.5: indistinguishable)",
    ),
    ("privacy", "privacy", "copies and closeness to training rows, against the holdout's own"),
    (
        "membership",
        "membership",
        "ROC AUC of attacks telling training from holdout rows by the synthetic rows "
        "(0.5: guessing), and the privacy loss they prove (empirical epsilon)",
    ),
    (
        "attribute_inference",
        "attribute inference",
        "how much better the synthetic rows give away a sensitive "
        "value of a training row than of a holdout row (0: no better)",
    ),
)


def _verdict(gate: dict) -> str:
    if gate["value"] is None:  # a gate that needed what it lacked (holdout rows) fails unmeasured
        return "not measured" if gate["passed"] else "FAIL (not measured)"
    if gate["threshold"] is None:
        return "reported"
    return "pass" if gate["passed"] else "FAIL"


def _utility_bars(gate: dict) -> str:
    """Real, synthetic and real + synthetic scores of one target as three horizontal bars."""
    measures = gate.get("measures") or {}
    bars = [(label, measures.get(key)) for label, key, _ in _UTILITY_BARS]
    if any(value is None for _, value in bars):
        return ""
    width, row, left = 240, 14, 96
    peak = max(1e-9, *(abs(v) for _, v in bars))
    parts = []
    for i, ((label, value), (_, _, color)) in enumerate(zip(bars, _UTILITY_BARS)):
        length = (width - left - 40) * max(value, 0) / peak
        y = i * row
        parts.append(
            f'<text x="{left - 4}" y="{y + 11}" font-size="10" text-anchor="end">{label}</text>'
            f'<rect x="{left}" y="{y + 2}" width="{length:.1f}" height="{row - 4}" fill="{color}"/>'
            f'<text x="{left + length + 3:.1f}" y="{y + 11}" font-size="10">{value:.3f}</text>'
        )
    return (
        f'<svg class="bars" role="img" aria-label="{html.escape(gate["name"])} scores" width="{width}" '
        f'height="{row * len(bars)}" xmlns="http://www.w3.org/2000/svg">' + "".join(parts) + "</svg>"
    )


_UTILITY_BARS = (("real", "real", REAL), ("synthetic", "synthetic", SYNTHETIC), ("real+synth", "augmented", "#55a868"))


def _scorecard(gates: list[dict]) -> str:
    """What a reviewer reads in ten seconds: each measure beside its baseline and threshold."""
    rows = []
    expectations = [g for g in gates if g["gate"] == "expectations"]
    if expectations:
        failed = sum(not g["passed"] for g in expectations)
        rows.append(
            f'<tr class="{"fail" if failed else "pass"}"><td>expectations</td><td>GX suites</td>'
            f"<td>{failed} of {len(expectations)} failed</td><td></td><td>0 failed</td><td></td>"
            f"<td>{'FAIL' if failed else 'pass'}</td></tr>"
        )
    for family, label, _ in SCORECARD:
        for g in (g for g in gates if g["gate"] == family):
            metric = (g.get("measures") or {}).get("metric")
            chart = _utility_bars(g) if g["name"].startswith("utility_ratio") else ""
            rows.append(
                f'<tr class="{"pass" if g["passed"] else "fail"}"><td>{label}</td>'
                f"<td>{html.escape(g['name'])}{f' ({html.escape(metric)})' if metric else ''}</td>"
                f"<td>{_number(g['value']) or 'not measured'}</td><td>{_number(g.get('baseline'))}</td>"
                f"<td>{_number(g['threshold']) or 'not gated'}</td><td>{chart}</td><td>{_verdict(g)}</td></tr>"
            )
    legend = "".join(f"<li><b>{label}</b>: {html.escape(what)}</li>" for _, label, what in SCORECARD)
    return (
        f'<h2>Scorecard</h2><table id="scorecard"><thead><tr><th>measure</th><th>check</th><th>value</th>'
        f"<th>baseline</th><th>threshold</th><th>scores</th><th>result</th></tr></thead><tbody>{''.join(rows)}"
        f'</tbody></table><ul class="legend-list">{legend}</ul>'
    )


def _gate_row(g: dict) -> str:
    return (
        f'<tr class="{"pass" if g["passed"] else "fail"}"><td>{html.escape(g["gate"])}</td>'
        f"<td>{html.escape(g['name'])}</td><td>{_number(g['value']) or 'not measured'}</td>"
        f"<td>{_number(g.get('baseline'))}</td><td>{_number(g.get('bound'))}</td>"
        f"<td>{_number(g['threshold']) or 'not gated'}</td><td>{_verdict(g)}</td>"
        f"<td>{html.escape(g.get('detail', ''))}</td></tr>"
    )


_GATE_HEAD = (
    "<thead><tr><th>gate</th><th>check</th><th>value</th><th>baseline</th><th>bound</th><th>threshold</th>"
    "<th>result</th><th>detail</th></tr></thead>"
)


def _expectations(gates: list[dict]) -> str:
    """Expectations as a count, failing ones first and open; the passing ones folded."""
    expectations = [g for g in gates if g["gate"] == "expectations"]
    failed = [g for g in expectations if not g["passed"]]
    passed = [g for g in expectations if g["passed"]]
    out = f'<h2>Expectations</h2><p id="expectations-count">{len(expectations)} checked, {len(failed)} failed</p>'
    if failed:
        out += f'<table id="expectations-failed">{_GATE_HEAD}<tbody>{"".join(map(_gate_row, failed))}</tbody></table>'
    if passed:
        out += (
            f'<details id="expectations-passed"><summary>{len(passed)} passed</summary><table>{_GATE_HEAD}'
            f"<tbody>{''.join(map(_gate_row, passed))}</tbody></table></details>"
        )
    return out


def render(
    *,
    name: str,
    table: str,
    run_id: str,
    gates: list[dict],
    real,
    synthetic,
    metadata: dict,
    fingerprints: dict[str, str],
    generated: dict[str, dict] | None = None,
    privacy: dict | None = None,
    auto: dict | None = None,
    controls: dict | None = None,
) -> str:
    """The report as an HTML string. ``real`` and ``synthetic`` are bounded samples of the learned
    columns; ``generated`` is the column plan of the others (role and reason); ``privacy`` is a DP
    fit's charge and ledger totals (model.json's ``privacy``); ``auto``: kind auto's league of
    candidates (model.json's ``auto``); ``controls``: the table's generation controls."""
    import pandas as pd

    sdtypes = {c: m.get("sdtype") for c, m in metadata.get("columns", {}).items()}
    numeric = [c for c in real.columns if sdtypes.get(c) == "numerical" and pd.api.types.is_numeric_dtype(real[c])]
    passed = all(g["passed"] for g in gates)
    measured = sorted((g for g in gates if g["gate"] != "expectations"), key=lambda g: g["passed"])
    rows = "".join(map(_gate_row, measured))
    generated_rows = "".join(
        f"<tr><td>{html.escape(str(column))}</td><td>{html.escape(entry['role'])}</td>"
        f"<td>{html.escape(entry.get('reason', ''))}</td></tr>"
        for column, entry in (generated or {}).items()
    )
    kinds = {
        c: "numeric" if c in numeric else "datetime" if sdtypes.get(c) == "datetime" else "categorical"
        for c in real.columns
    }
    plots = "".join(_distribution(c, real[c], synthetic[c], kinds[c]) for c in real.columns)
    corr = ""
    shown_numeric = numeric[:HEATMAP_COLUMNS]  # two k x k heatmaps: 8.8 MB of SVG at 200 columns
    if len(shown_numeric) >= 2:
        real_corr = real[shown_numeric].corr().to_numpy().tolist()
        synthetic_corr = synthetic[shown_numeric].apply(pd.to_numeric, errors="coerce").corr().to_numpy().tolist()
        corr = _heatmap(real_corr, shown_numeric, "real") + _heatmap(synthetic_corr, shown_numeric, "synthetic")
        if len(numeric) > len(shown_numeric):
            corr += f"<p>the first {len(shown_numeric)} of {len(numeric)} numeric columns</p>"
    prints = "".join(
        f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in fingerprints.items()
    )
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>synth-ops report: {html.escape(name)}.{html.escape(table)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 13px; text-align: left; }}
tr.fail td {{ background: #fde2e1; }} tr.pass td:nth-child(7) {{ color: #1a7f37; }}
#scorecard td {{ vertical-align: middle; }}
.plots {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.legend span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }}
.attacks {{ display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }}
.attack table {{ margin: 0; }} .meaning {{ color: #555; font-size: 13px; max-width: 60em; }}
.verdict {{ font-size: 18px; font-weight: bold; color: {"#1a7f37" if passed else "#b42318"}; }}
</style></head><body>
<h1>{html.escape(name)} / {html.escape(table)}</h1>
<p class="verdict" id="verdict">{"All gates passed" if passed else "Gates FAILED: nothing was published"}</p>
<p>run {html.escape(run_id)}, {created}. Private: this report shows real distributions; do not publish it.</p>
{_scorecard(gates)}
{_controls_section(controls)}
{_auto_section(auto)}
{_privacy_section(privacy)}
{_attacks(gates)}
<h2>Gates</h2>
<table id="gates">{_GATE_HEAD}<tbody>{rows}</tbody></table>
<p>baseline: what real rows the model never saw (the holdout) score on the same measure; bound: the
95% confidence bound at the sample size that the threshold is compared with; not gated: measured and
reported on every run, never blocking; not measured: the gate could not measure (the detail says why),
which fails a gated check when what it lacked was the holdout rows themselves.</p>
{_expectations(gates)}
<h2>Generated columns</h2>
<table id="generated"><thead><tr><th>column</th><th>role</th><th>why</th></tr></thead>
<tbody>{generated_rows or '<tr><td colspan="3">none: every column is learned</td></tr>'}</tbody></table>
<h2>Distributions (learned columns)</h2>
<p class="legend"><span style="background:{REAL}"></span>real (training rows)
<span style="background:{SYNTHETIC}"></span>synthetic</p>
<div class="plots" id="distributions">{plots}</div>
<h2>Correlations (numeric columns)</h2>
<div class="plots" id="correlations">{corr or "<p>fewer than two numeric columns</p>"}</div>
<h2>Fingerprints</h2>
<table id="fingerprints">{prints}</table>
</body></html>
"""


def _controls_section(controls: dict | None) -> str:
    if not controls:
        return ""
    from synth_ops.spec.controls import describe

    return (
        f'<h2>Generation controls</h2><p id="controls">The rows were steered, not copied: '
        f"{html.escape(describe(controls))}. The control gate checks they hold; quality and the "
        "discriminator compare them with the real rows weighted to what was asked.</p>"
    )


def _auto_section(auto: dict | None) -> str:
    """kind auto's league table: each candidate's verdict, its key measures on the validation slice."""
    if not auto:
        return ""
    rows = []
    for candidate in auto["candidates"]:
        kind = html.escape(candidate["kind"])
        if "gates" not in candidate:
            rows.append(f"<tr><td>{kind}</td><td colspan='4'>not tried: {html.escape(candidate['skipped'])}</td></tr>")
            continue
        gates = candidate["gates"]
        quality = gates.get("quality_score", {})
        utility = [
            g["value"] for name, g in gates.items() if name.startswith("utility_ratio") and g["value"] is not None
        ]
        verdict = "passed" if candidate["passed"] else "failed: " + ", ".join(candidate["failed"])
        row_class = "" if candidate["passed"] else ' class="fail"'
        chosen = " (chosen)" if candidate["kind"] == auto["winner"] else ""
        rows.append(
            f"<tr{row_class}><td>{kind}{chosen}</td><td>{html.escape(verdict)}</td>"
            f"<td>{_number(quality.get('value'))} / {_number(quality.get('baseline'))}</td>"
            f"<td>{', '.join(_number(u) for u in utility) or '-'}</td><td>{candidate['fit_seconds']}</td></tr>"
        )
    return (
        f'<h2>Model choice (kind auto)</h2><p id="auto-why">{html.escape(auto["winner"])}: '
        f"{html.escape(auto['why'])} ({auto['fitted_rows']} rows fitted, {auto['validation_rows']} judged)</p>"
        '<table id="auto"><thead><tr><th>candidate</th><th>gates on the validation slice</th>'
        "<th>quality / baseline</th><th>utility ratio</th><th>fit s</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _privacy_section(privacy: dict | None) -> str:
    if not privacy:
        return ""
    charge = privacy["charge"]
    budget = privacy.get("budget") or {}
    return f"""<h2>Differential privacy</h2>
<table id="privacy">
<tr><td>this fit</td><td>epsilon {charge["epsilon"]:g}, delta {charge["delta"]:g} (rho {charge["rho"]:.6g}, zCDP)</td></tr>
<tr><td>ledger</td><td><code>{html.escape(privacy["ledger"])}</code>: {privacy["fits"]} fit(s), spent epsilon
{privacy.get("epsilon_spent", 0):.4g} of {budget.get("epsilon", 0):g} at delta {budget.get("delta", 0):g}, remaining
{privacy.get("epsilon_remaining", 0):.4g}</td></tr></table>
<p id="privacy-scope">Covered by the guarantee: the released synthetic rows of the learned columns, which
depend on the real rows only through the fit's noisy measurements (and on the declared bounds and
categories, which are public). Not covered: the gates, which read real rows to decide whether to
publish (a refusal is a signal about the real rows); the columns synth-ops generates instead of
learning (keys, ids, replaced text, constants and null shares follow the profile of the real rows);
this report, which shows real distributions and stays private.</p>"""


ATTACK = "#c44e52"
# One sentence per number of the privacy attacks, shown once under them: what it says, which way is safe
MEANING = (
    (
        "ROC AUC",
        "how often the attacker ranks a training row above a holdout row; 0.5 is guessing, 1 tells them all apart.",
    ),
    (
        "lower 95% bound",
        "the AUC the attack reaches at least, with 95% confidence at this many rows; the threshold "
        "is compared with it, so chance alone does not fail the gate.",
    ),
    (
        "TPR at 1% FPR",
        "the share of training rows the attacker flags while wrongly flagging at most 1 in 100 "
        "holdout rows: a confident attack on a few rows, which an AUC near 0.5 can hide; 0.01 is "
        "guessing.",
    ),
    (
        "empirical epsilon",
        "a lower bound on the privacy loss the attacks prove (95% confidence): no mechanism with "
        "a smaller epsilon lets them succeed this often; 0 proves nothing, and it guarantees "
        "nothing either.",
    ),
    (
        "charged epsilon",
        "for a differentially private fit, the most privacy loss its guarantee allows, an upper "
        "bound: the proven lower bound must not exceed it.",
    ),
)
INFERENCE_MEANING = (
    "success: the share of rows whose sensitive value the synthetic row nearest on the "
    "quasi-identifiers gives; holdout success is what the synthetic data tells about anyone, risk "
    "the excess for training rows (0 is ideal) and bound its lower 95% bound, compared with the "
    "threshold."
)


def _roc_chart(g: dict) -> str:
    """An attack's ROC curve (FPR x TPR, the rates in its measures) over the diagonal of guessing."""
    curve = (g.get("measures") or {}).get("roc")
    if not curve:
        return ""
    size, pad = 200, 30
    span = size - 2 * pad

    def at(fpr: float, tpr: float) -> tuple[float, float]:
        return pad + span * fpr, size - pad - span * tpr

    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(*point) for point in curve))
    tpr = g["measures"].get("tpr_at_1pct_fpr")
    marker = (
        ""
        if tpr is None
        else (
            '<circle cx="{:.1f}" cy="{:.1f}" r="3" '.format(*at(0.01, tpr))
            + f'fill="{ATTACK}"><title>TPR {tpr:g} at 1% FPR</title></circle>'
        )
    )
    title = f"{g['name']}: ROC AUC {_number(g['value'])}"
    return (
        f'<svg class="roc" role="img" aria-label="{html.escape(title)}" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="{pad}" y="16" font-size="12" font-weight="bold">{html.escape(g["name"])}</text>'
        f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#333"/>'
        f'<line x1="{pad}" y1="{size - pad}" x2="{size - pad}" y2="{pad}" stroke="#999" stroke-dasharray="4 3">'
        f"<title>chance</title></line>"
        f'<polyline points="{points}" fill="none" stroke="{ATTACK}" '
        f'stroke-width="2"><title>{html.escape(title)}</title></polyline>{marker}'
        f'<text x="{pad}" y="{size - pad + 12}" font-size="10">0</text>'
        f'<text x="{size - pad}" y="{size - pad + 12}" font-size="10" text-anchor="end">1</text>'
        f'<text x="{size / 2}" y="{size - 6}" font-size="10" text-anchor="middle">false positive rate</text>'
        f'<text x="{pad - 4}" y="{pad + 8}" font-size="10" text-anchor="end">1</text>'
        f'<text x="12" y="{size / 2}" font-size="10" text-anchor="middle" '
        f'transform="rotate(-90 12 {size / 2})">true positive rate</text></svg>'
    )


def _numbers(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in rows) + "</table>"


def _membership(g: dict) -> str:
    """One attack: its ROC chart above its numbers."""
    from synth_ops.gates.membership import ATTACKS

    attack = g["name"].removeprefix("membership[").removesuffix("]")
    how = f'<p class="meaning">scored by {html.escape(ATTACKS.get(attack, attack))}</p>'
    if g["value"] is None:
        return (
            f'<div class="attack" id="attack-{html.escape(attack)}"><b>{html.escape(g["name"])}</b>{how}'
            f"<p>{html.escape(g['detail'])}</p></div>"
        )
    m = g.get("measures") or {}
    tpr = m.get("tpr_at_1pct_fpr")
    tpr_text = (
        "not measured (fewer than 100 holdout rows)"
        if tpr is None
        else f"{tpr:g} (95% CI {_number(m.get('tpr_low'))}&ndash;{_number(m.get('tpr_high'))})"
    )
    rows = [
        ("ROC AUC", _number(g["value"])),
        ("lower 95% bound", _number(g.get("bound"))),
        ("threshold", f"{_number(g['threshold']) or 'not gated'}: {_verdict(g)}"),
        ("TPR at 1% FPR", tpr_text),
        ("rows", f"{m.get('members')} training, {m.get('non_members')} holdout"),
    ]
    return f'<div class="attack" id="attack-{html.escape(attack)}">{_roc_chart(g)}{how}{_numbers(rows)}</div>'


def _epsilon(g: dict) -> str:
    if g["value"] is None:
        return f'<div class="attack" id="empirical-epsilon"><p>empirical epsilon: {html.escape(g["detail"])}</p></div>'
    each = ", ".join(f"{html.escape(a)} {e:g}" for a, e in ((g.get("measures") or {}).get("attacks") or {}).items())
    charged = (
        f"{g['threshold']:g}: {_verdict(g)}"
        if g["threshold"] is not None
        else "none: not a differentially private fit (reported, not gated)"
    )
    rows = [("empirical epsilon", f"{g['value']:g} ({each})"), ("charged epsilon", charged)]
    return f'<div class="attack" id="empirical-epsilon"><b>empirical epsilon</b>{_numbers(rows)}</div>'


def _inference(gates: list[dict]) -> str:
    head = (
        "<thead><tr><th>sensitive column</th><th>training success</th><th>holdout success</th><th>risk</th>"
        "<th>bound</th><th>threshold</th><th>result</th></tr></thead>"
    )
    rows = []
    for g in gates:
        m = g.get("measures") or {}
        column = g["name"].removeprefix("attribute_inference[").removesuffix("]")
        cells = (
            [
                _number(m.get("train_success")),
                _number(m.get("holdout_success")),
                _number(g["value"]),
                _number(g.get("bound")),
            ]
            if g["value"] is not None
            else ["not measured", "", "", ""]
        )
        rows.append(
            f'<tr class="{"pass" if g["passed"] else "fail"}"><td>{html.escape(column)}</td>'
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td>{_number(g['threshold']) or 'not gated'}</td><td>{_verdict(g)}</td></tr>"
        )
    return (
        f'<h3>Attribute inference</h3><table id="attribute-inference">{head}<tbody>{"".join(rows)}</tbody></table>'
        f'<p class="meaning">{html.escape(INFERENCE_MEANING)}</p>'
    )


def _attacks(gates: list[dict]) -> str:
    """The privacy attacks: per membership attack its ROC curve and numbers, the empirical epsilon,
    and attribute inference per sensitive column. Rates and counts only, never a row's value."""
    attacks = [g for g in gates if g["gate"] == "membership" and g["name"].startswith("membership[")]
    epsilon = [g for g in gates if g["gate"] == "membership" and g["name"] == "empirical_epsilon"]
    inference = [g for g in gates if g["gate"] == "attribute_inference"]
    if not (attacks or epsilon or inference):
        return ""
    out = (
        '<section id="attacks"><h2>Privacy attacks</h2><p>What an attacker holding the synthetic rows learns '
        "about the rows the model was trained on, judged against holdout rows it never saw.</p>"
    )
    if attacks or epsilon:
        meaning = "".join(f"<li><b>{label}</b>: {html.escape(what)}</li>" for label, what in MEANING)
        out += (
            '<h3>Membership inference</h3><div class="attacks">'
            + "".join(map(_membership, attacks))
            + "".join(map(_epsilon, epsilon))
            + f'</div><ul class="meaning">{meaning}</ul>'
        )
    if inference:
        out += _inference(inference)
    return out + "</section>"


def render_release(*, name: str, run_id: str, relationships: list[list], gates: list[dict], tables: list[list]) -> str:
    """The release report of related tables: relationships with their real null and orphan key
    counts, the release gates, and each table's gate summary (counts and scores, no values)."""

    def table(headers, rows) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table border='1'><tr>{head}</tr>{body}</table>"

    gate_rows = [
        [
            g["name"],
            _number(g["value"]) or "not measured",
            _number(g["threshold"]) or "not gated",
            "pass" if g["passed"] else "FAIL",
            g.get("detail", ""),
        ]
        for g in gates
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>synth-ops release report</title></head><body>"
        f"<h1>{html.escape(name)}: release {html.escape(run_id)}</h1>"
        "<h2>Relationships</h2>"
        + table(
            (
                "parent",
                "primary key",
                "child",
                "foreign key",
                "role",
                "orphans",
                "null keys",
                "orphan keys",
                "child rows",
            ),
            relationships,
        )
        + "<h2>Release gates</h2>"
        + table(("gate", "value", "threshold", "result", "detail"), gate_rows)
        + "<h2>Tables</h2>"
        + table(("table", "gates", "checks", "failed", "report"), tables)
        + "</body></html>"
    )
