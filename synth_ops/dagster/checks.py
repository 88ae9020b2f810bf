"""Gate results -> Dagster check metadata: numbers, names and pass/fail only, never a data value.

Each gate family is one check, each privacy measure its own (``check_of``). A check is led by its
first failing result (else its first); the privacy attacks add every attack's or column's numbers
as flat metadata entries, so the Dagster UI plots them run over run.
"""

from __future__ import annotations


def shown(number, missing: str = "not measured"):
    """Dagster metadata takes no None (nor numpy scalars): a number, or what its absence means."""
    if number is None:
        return missing
    return number.item() if hasattr(number, "item") else number


def check_metadata(check: str, results: list[dict]) -> dict:
    """Value, threshold and the numbers behind them of one check's results (no ``report`` entry)."""
    failed = [r for r in results if not r["passed"]]
    if check == "expectations":
        return {"value": float(len(failed)), "threshold": 0.0}
    # one result, or one per target (utility), attack or column: the first failing one leads
    lead = (failed or results)[0] if results else {"value": None, "threshold": None}
    metadata = {"value": shown(lead["value"]), "threshold": shown(lead["threshold"], "not gated")}
    # what real data achieves and the confidence bound the threshold was compared with
    metadata |= {k: lead[k] for k in ("baseline", "bound") if lead.get(k) is not None}
    attacks = {"membership_inference": _membership, "attribute_inference": _attribute_inference}.get(check)
    if attacks is not None:
        return metadata | attacks(results)
    # every other result of the family (each utility target and its augmentation)
    return metadata | {r["name"]: shown(r["value"]) for r in results if r is not lead}


def _membership(results: list[dict]) -> dict:
    """Per attack its AUC, the lower bound gated on and TPR at 1% FPR; the AUC limit; the empirical
    epsilon with its limit (the charged epsilon of a differentially private fit, else none)."""
    out = {}
    for r in results:
        if r["name"] == "empirical_epsilon":
            out["empirical_epsilon"] = shown(r["value"])
            out["empirical_epsilon_threshold"] = shown(r["threshold"], "not gated (not a differentially private fit)")
            continue
        attack = _bracketed(r["name"])
        measures = r.get("measures") or {}
        out[f"auc[{attack}]"] = shown(r["value"])
        out[f"auc_bound[{attack}]"] = shown(r.get("bound"))
        out[f"tpr_at_1pct_fpr[{attack}]"] = shown(measures.get("tpr_at_1pct_fpr"))
        out["auc_threshold"] = shown(r["threshold"], "not gated")
    return out


def _attribute_inference(results: list[dict]) -> dict:
    """Per sensitive column: the success rates on training and holdout rows, the risk and its bound."""
    out = {}
    for r in results:
        column, measures = _bracketed(r["name"]), r.get("measures") or {}
        out[f"risk[{column}]"] = shown(r["value"])
        out[f"risk_bound[{column}]"] = shown(r.get("bound"))
        out[f"train_success[{column}]"] = shown(measures.get("train_success"))
        out[f"holdout_success[{column}]"] = shown(measures.get("holdout_success"))
    if results:
        out["risk_threshold"] = shown(results[0]["threshold"], "not gated")
    return out


def _bracketed(name: str) -> str:
    """``membership[distance]`` -> ``distance``."""
    return name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else name
