"""A released mbi graphical model as conditional probability tables, and numpy sampling from them.

``from_release`` runs mbi's junction tree once to get, for each column in an elimination order,
P(column | the earlier columns it shares a clique with); ``sample`` draws columns in that order
(ancestral sampling, what mbi's ``method="sample"`` does) with a seeded numpy generator. Codes are
positions in the column's public domain, with -1 for OpenDP's null cell (always the last one).
Post-processing of the DP release: it costs no privacy.
"""

from __future__ import annotations

from typing import Any


def from_release(released, columns: list[str]) -> dict[str, Any]:
    import numpy as np
    from mbi import junction_tree, marginal_oracles

    model = released.model
    cliques = [set(c) for c in model.cliques]
    tree, elimination = junction_tree.make_junction_tree(model.domain, cliques)
    marginals = marginal_oracles.message_passing_stable(model.potentials.expand(list(tree.nodes)))
    steps, done = [], set()
    for column in elimination[::-1]:
        parents = tuple(sorted(done.intersection(set().union(*[c for c in cliques if column in c]))))
        joint = np.clip(
            np.asarray(marginals.project(parents + (column,)).datavector(flatten=False), dtype="float64"), 0, None
        )
        total = joint.sum(axis=-1, keepdims=True)
        table = np.divide(joint, total, out=np.full_like(joint, 1.0 / joint.shape[-1]), where=total > 0)
        steps.append({"column": column, "parents": list(parents), "table": table})
        done.add(column)
    missing = [c for c in columns if c not in done]
    if missing:  # every column is in some clique (the one-way measurements): a broken release otherwise
        raise RuntimeError(f"the released model lacks {len(missing)} column(s)")
    # the null cell is the last key of each column (OpenDP appends it)
    nulls = {c: len(released.keys[c]) - 1 for c in columns}
    return {"steps": steps, "null_code": nulls, "total": float(model.total)}


def sample(model: dict[str, Any], rows: int, rng) -> dict[str, Any]:
    """{column: int64 codes, -1 where the model drew its null cell}."""
    import numpy as np

    drawn = {}
    for step in model["steps"]:
        table = step["table"]
        if step["parents"]:
            probabilities = table[tuple(drawn[p] for p in step["parents"])]
        else:
            probabilities = np.broadcast_to(table, (rows, table.shape[-1]))
        cumulative = np.cumsum(probabilities, axis=-1)
        u = rng.random((rows, 1)) * cumulative[:, -1:]
        drawn[step["column"]] = np.minimum((u > cumulative).sum(axis=-1), table.shape[-1] - 1)
    return {c: np.where(codes == model["null_code"][c], -1, codes).astype("int64") for c, codes in drawn.items()}
