"""Fitting synthpop's CART method with scikit-learn, kept as plain arrays (the sampler's format).

Column ``j`` of the visit order gets a tree over columns ``0..j-1``:

- a category: ``DecisionTreeClassifier`` on its codes. A wide one (more than ``MAX_CLASSES``
  codes: flights' 4,000 tail numbers) gets a ``DecisionTreeRegressor`` on its categories' profiles
  instead (``_profiles``): only the leaves are used (which rows fall together), never
  ``predict_proba``, so any split criterion that groups rows of alike categories serves, and
  this one keeps fitting time and the tree's size bounded. Donors keep their own categories.
- a number or datetime: ``DecisionTreeRegressor`` on its standardised values; with nulls, a second
  output (the null indicator) lets splits separate rows that are null from those that are not.
- the first column, or a column without variation or rows enough for two leaves: one leaf.

Everything is fitted on the training rows, or on a seeded sample of ``fit_rows`` of them on a big
table (the backend samples before encoding), so fitting time and memory are bounded whatever the
table's size. scikit-learn splits float32 features; each fitted row's leaf (``apply``, the same
float32 comparisons the sampler's walker makes) puts it in that leaf's donor pool. A leaf holds
at least ``min_leaf`` rows, so its pool has at least that many donors (fewer only where rare
categories left it; a leaf they emptied draws from its nearest ancestor's). Smoothing bandwidths
are R's bw.nrd0 of each leaf's donors.
"""

from __future__ import annotations

import zlib

MAX_CLASSES = 64
# a linear term (``linear_term``) only for a number whose commonest value is rarer than SPIKE_SHARE
# of its rows (a spike, such as randhie's zero visits, is a point mass that a prediction plus a
# residual would smear: train-on-synthetic fell from 0.8 to 0.15-0.5 when it had one), whose
# rows hold common values (``Encoded.common``) less often than LATTICE_SHARE (values most rows
# share form a lattice that a prediction plus a residual leaves: weather's temperatures, tenths of
# a degree Celsius printed in Fahrenheit; a classifier told them apart, discriminator excess
# +0.17 to +0.48), and where the earlier numbers explain at least LINEAR_MIN_R2 of its variance;
# on the log scale where it is more skewed than LOG_SKEW and its logarithm less so: log(value) where
# it is positive, else log(value - lowest + its 5% quantile above the lowest) (star98's shares of
# pupils, from 0 and skewed: on the plain scale their rows piled on the bounds)
SPIKE_SHARE, LATTICE_SHARE, LINEAR_MIN_R2, LOG_SKEW = 0.1, 0.5, 0.1, 1.0
RIDGE = 1.0  # ridge penalty on the standardised predictors: steadies a fit on a few hundred rows
MAX_LEVELS = 32  # a category of at most this many codes enters a linear term as an indicator per code
PROFILE_COLUMNS = 4  # a wide category's profile: the earlier columns it determines best, at most
FIT_THREADS = 2  # trees fitted side by side, at most (and at most the cores this process may use)


def _tree_seed(seed: int, table: str, column: str) -> int:
    import numpy as np

    return int(
        np.random.SeedSequence([seed, zlib.crc32(table.encode()), zlib.crc32(column.encode()), 2]).generate_state(1)[0]
    )


def fit_rows_sample(rows: int, fit_rows: int | None, seed: int, table: str):
    """Sorted positions of the rows the model is fitted on (None: all of them)."""
    import numpy as np

    if not fit_rows or rows <= fit_rows:
        return None
    rng = np.random.default_rng([seed, zlib.crc32(table.encode()), 3])
    return np.sort(rng.choice(rows, fit_rows, replace=False))


def fit_threads() -> int:
    import os

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(FIT_THREADS, cores))


def single_leaf():
    import numpy as np

    return np.array([[-1, -1, -1, 0, 0]], dtype=np.int32), np.zeros(1)


def _target(encoded, predictors):
    """(y for scikit-learn, classifier?) or None when there is nothing to split on."""
    import numpy as np

    values = encoded.values
    if encoded.kind == "category":
        codes = values.astype(np.int64)
        if len(np.unique(codes)) < 2:
            return None
        if codes.max() < MAX_CLASSES:
            return codes.astype(np.int32), True
        return _profiles(codes, predictors), False
    missing = np.isnan(values)
    present = values[~missing]
    spread = float(present.std()) if len(present) else 0.0
    z = np.zeros(len(values))
    if spread > 0:
        z[~missing] = (present - present.mean()) / spread
    if missing.any() and not missing.all():
        return np.column_stack([z, missing.astype("float64")]), False
    return (z, False) if spread > 0 else None


def _profiles(codes, predictors):
    """A wide category's target for split finding: each row gets its category's profile, the mean
    over the category's rows of the ``PROFILE_COLUMNS`` earlier columns the category determines
    best (the largest between-category share of variance, adjusted for the number of categories
    as R-squared is for predictors), each in its own standard deviations so that a column the
    category determines fully (a tail number's carrier) weighs most. A regression tree on it
    puts categories that the earlier columns tell apart in different leaves; a classifier over
    thousands of classes would cost that many times more per split, and its value array
    (nodes x classes) would not stay bounded."""
    import numpy as np

    size, rows = int(codes.max()) + 1, len(codes)
    profiles, shares = [], []
    for k in range(predictors.shape[1]):
        x = predictors[:, k].astype(np.float64)
        present = ~np.isnan(x)
        spread = x[present].std() if present.any() else 0.0
        counts = np.bincount(codes[present], minlength=size)
        groups = int((counts > 0).sum())
        if spread <= 0 or present.sum() <= groups:
            continue
        sums = np.bincount(codes[present], weights=x[present], minlength=size)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), x[present].mean())
        profile = (means[codes] - x[present].mean()) / spread  # a category's rows, in x's own units
        share = float((profile[present] ** 2).mean())  # between-category share of x's variance
        n = int(present.sum())
        shares.append(1 - (1 - share) * (n - 1) / (n - groups))
        profiles.append(profile)
    if not profiles:
        return np.zeros((rows, 1))
    best = np.argsort(shares)[::-1][:PROFILE_COLUMNS]
    return np.column_stack([profiles[i] for i in best])


def fit_tree(encoded, predictors, knobs, seed: int):
    """(nodes int32 (n, 5), thresholds float64, each row's leaf) of one column's tree on
    ``predictors`` (float32, rows x earlier columns)."""
    import numpy as np

    target = _target(encoded, predictors) if predictors.shape[1] else None
    min_leaf = knobs.leaf(knobs.smoothing == "density" and encoded.smoothable)
    if target is None or len(predictors) < 2 * min_leaf:
        return (*single_leaf(), np.zeros(len(predictors), dtype=np.intp))
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    y, classify = target
    model = (DecisionTreeClassifier if classify else DecisionTreeRegressor)(
        min_samples_leaf=min_leaf, max_depth=knobs.max_depth, random_state=seed
    )
    model.fit(predictors, y)
    tree = model.tree_
    inner = tree.children_left >= 0
    leaf = np.full(tree.node_count, -1, dtype=np.int64)
    leaf[~inner] = np.arange(int((~inner).sum()))
    nodes = np.column_stack(
        [
            np.where(inner, tree.feature, -1),
            tree.children_left,
            tree.children_right,
            leaf,
            tree.missing_go_to_left.astype(np.int64),
        ]
    ).astype(np.int32)
    # the rows' leaves: scikit-learn's apply compares the same float32 features with the same
    # thresholds and sends a missing one the same way as the sampler's walker (a test holds them equal)
    return nodes, np.where(inner, tree.threshold, 0.0).astype(np.float64), leaf[model.apply(predictors)]


def donor_pools(encoded, leaf, nodes):
    """(pool, spans, common): the donors, leaf after leaf, each leaf's [start, size] in them, and
    (a smoothed number) whether each donor's value is common (drawn as it is). A
    category's rare rows are left out; a leaf they emptied draws from its nearest ancestor's
    donors (the leaves of a subtree are neighbours in the pool: scikit-learn numbers nodes depth
    first), so a tail number left without donors still comes from its carrier's planes; when
    every category is rare, the only donor is a code that decodes as null."""
    import numpy as np

    values = encoded.values
    leaves = int(nodes[:, 3].max()) + 1
    if encoded.kept is not None:
        leaf, values = leaf[encoded.kept], values[encoded.kept]
    # by leaf; a smoothed number also by value within its leaf (NaN last): quantiles by position
    order = np.lexsort((values, leaf)) if encoded.smoothable else np.argsort(leaf, kind="stable")
    pool = values[order]
    common = encoded.common[order] if encoded.smoothable and encoded.common is not None else None
    counts = np.bincount(leaf, minlength=leaves)
    spans = np.column_stack([np.cumsum(counts) - counts, counts]).astype(np.int64)
    if not len(pool):  # a code at ``categories`` (or a number's NaN) decodes as null
        null = float(encoded.categories) if encoded.kind == "category" else np.nan
        return np.array([null]), np.tile(np.array([[0, 1]], dtype=np.int64), (leaves, 1)), None
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        spans[empty] = _ancestor_spans(nodes, spans, empty)
    return pool, spans, common


def _ancestor_spans(nodes, spans, empty):
    """[start, size] of the donors under the nearest ancestor of each leaf in ``empty`` that has any."""
    import numpy as np

    inner = nodes[:, 0] >= 0
    parent = np.full(len(nodes), -1)
    parent[nodes[inner, 1]] = np.flatnonzero(inner)
    parent[nodes[inner, 2]] = np.flatnonzero(inner)
    first, last = nodes[:, 3].astype(np.int64), nodes[:, 3].astype(np.int64)  # leaf ids under each node
    for node in np.flatnonzero(inner)[::-1]:  # children come after their parent
        left, right = nodes[node, 1], nodes[node, 2]
        first[node], last[node] = min(first[left], first[right]), max(last[left], last[right])
    where = {int(leaf): node for node, leaf in enumerate(nodes[:, 3]) if leaf >= 0}
    out = np.empty((len(empty), 2), dtype=np.int64)
    for i, leaf in enumerate(empty):
        node = parent[where[int(leaf)]]
        while True:  # the root holds every donor, and there are some
            start = spans[first[node], 0]
            size = spans[last[node], 0] + spans[last[node], 1] - start
            if size > 0 or parent[node] < 0:
                break
            node = parent[node]
        out[i] = start, size
    return out


def bandwidths(pool, spans):
    """(leaves, 3) [bandwidth, lowest, highest] of each leaf's non-null donors, ``pool`` sorted
    within each leaf: R's bw.nrd0, 0.9 * min(sd, IQR / 1.34) * n^-1/5 (the sd alone when the IQR is 0;
    no smoothing for a leaf of one value, where R would still smooth by the value's own size)."""
    import numpy as np

    leaves = len(spans)
    start = spans[:, 0]
    leaf = np.repeat(np.arange(leaves), spans[:, 1])  # a number's leaves have their own donors, in order
    present = ~np.isnan(pool)
    n = np.bincount(leaf[present], minlength=leaves)
    out = np.zeros((leaves, 3))
    out[:, 1:] = np.nan
    has = n > 0
    values = np.where(present, pool, 0.0)
    mean = np.bincount(leaf, weights=values, minlength=leaves) / np.maximum(n, 1)
    squares = np.bincount(leaf, weights=np.where(present, (pool - mean[leaf]) ** 2, 0.0), minlength=leaves)
    sd = np.sqrt(squares / np.maximum(n - 1, 1))

    def quantile(p):  # R's type 7 within each leaf's sorted non-null donors
        h = p * np.maximum(n - 1, 0)
        low = np.floor(h).astype(np.int64)
        high = np.minimum(low + 1, np.maximum(n - 1, 0))
        a, b = pool[np.minimum(start + low, len(pool) - 1)], pool[np.minimum(start + high, len(pool) - 1)]
        return a + (h - low) * (b - a)

    iqr = np.where(has, quantile(0.75) - quantile(0.25), 0.0)
    spread = np.minimum(sd, iqr / 1.34)
    spread = np.where(spread > 0, spread, sd)
    out[:, 0] = np.where(n > 1, 0.9 * spread * np.maximum(n, 1) ** -0.2, 0.0)
    out[has, 1] = pool[start[has]]
    out[has, 2] = pool[start[has] + n[has] - 1]
    return out


def linear_term(column, predictors, numeric, levels=()):
    """(the ``linear`` section of ``sampler.json``, the fitted rows' residuals) of a continuous
    number on the earlier numbers (``numeric``: their visit positions, all before the column's)
    and categories (``levels``: their positions; an indicator per code), or None where it gets
    none (see ``SPIKE_SHARE``). A ridge fit on the standardised predictors, a missing number
    standing at its mean; the residuals are taken from the same float32 features, by the
    sampler's own ``Linear.predict``, so a donor plus its own row's prediction is its value."""
    import numpy as np

    from synth_ops.sampler.trees import Linear

    values = column.values
    present = ~np.isnan(values)
    y = values[present]
    if column.kind != "number" or not column.smoothable or not (len(numeric) or len(levels)) or len(y) < 20:
        return None
    if np.unique(y, return_counts=True)[1].max() >= SPIKE_SHARE * len(y):
        return None
    if column.common is not None and column.common[present].mean() >= LATTICE_SHARE:
        return None
    shift = _log_shift(y)
    t = np.log(y - shift) if shift is not None else y
    rows = predictors[present]
    x = rows[:, list(numeric)].astype(np.float64)
    fill = np.array([np.nanmean(c) if (~np.isnan(c)).any() else 0.0 for c in x.T])
    x = np.where(np.isnan(x), fill, x)
    codes = [rows[:, p].astype(np.int64) for p in levels]  # category codes are never NaN
    sizes = [int(c.max()) + 1 if len(c) else 0 for c in codes]
    design = np.column_stack([x, *[np.eye(n)[c] for c, n in zip(codes, sizes)]]) if levels else x
    spread = design.std(axis=0)
    used = spread > 0
    if not used.any():
        return None
    xs = (design[:, used] - design[:, used].mean(axis=0)) / spread[used]
    b = np.linalg.solve(xs.T @ xs + RIDGE * np.eye(used.sum()), xs.T @ (t - t.mean()))
    explained = 1 - ((t - t.mean() - xs @ b) ** 2).sum() / max(((t - t.mean()) ** 2).sum(), 1e-300)
    if not explained >= LINEAR_MIN_R2:
        return None
    coef = np.zeros(design.shape[1])
    coef[used] = b / spread[used]
    width = len(numeric)
    kept = used[:width]
    starts = np.cumsum([width, *sizes])
    doc = {
        "positions": [int(p) for p in np.asarray(numeric, dtype=np.int64)[kept]],
        "coef": [float(c) for c in coef[:width][kept]],
        "fill": [float(f) for f in fill[kept]],
        "levels": [
            {"position": int(p), "coef": [float(c) for c in coef[start : start + n]]}
            for p, start, n in zip(levels, starts, sizes)
            if used[start : start + n].any()
        ],
        "intercept": float(t.mean() - coef @ design.mean(axis=0)),
        "log_shift": shift,
        "low": float(y.min()),
        "high": float(y.max()),
    }
    term = Linear(doc, max([*numeric, *levels]) + 1)
    residuals = np.full(len(values), np.nan)
    predicted = term.predict(np.ascontiguousarray(predictors[present].T))
    residuals[present] = t - predicted
    return doc, residuals


def _log_shift(y):
    """None (the linear term on the values themselves), or the shift ``s`` of a skewed column
    whose term is on ``log(value - s)`` (see LOG_SKEW)."""
    import numpy as np
    from scipy.stats import skew

    lowest = float(y.min())
    skewness = float(skew(y))
    if not skewness > LOG_SKEW:
        return None
    if lowest > 0:
        shift = 0.0
    else:
        above = y - lowest
        gap = float(np.quantile(above, 0.05))
        if not gap > 0:
            gap = float(above[above > 0].min()) if (above > 0).any() else 1.0
        shift = lowest - gap
    return shift if abs(float(skew(np.log(y - shift)))) < skewness else None


def _fit_column(j: int, column, predictors, knobs, seed: int, table: str, numeric=(), levels=()):
    """(spec, arrays, leaves) of visit position ``j``: its tree, donor pools and smoothing table;
    ``numeric``, ``levels``: the earlier numbers' and categories' visit positions a linear term
    may read (both empty: none)."""
    import dataclasses

    linear = linear_term(column, predictors[:, :j], numeric, levels) if len(numeric) or len(levels) else None
    if linear is not None:
        # the tree splits the residuals and its leaves' donors are residuals: fitted on the values
        # instead, diabetes' train-on-synthetic ratio was 0.83 against 0.96 (8 splits); no donor
        # value is common (smoothing moves every residual)
        column = dataclasses.replace(column, values=linear[1], common=None)
    nodes, thresholds, leaf = fit_tree(column, predictors[:, :j], knobs, _tree_seed(seed, table, column.name))
    leaves = int(nodes[:, 3].max()) + 1
    pool, spans, common = donor_pools(column, leaf, nodes)
    stem = f"tree-{j:03d}"
    spec = {
        "name": column.name,
        "nodes": f"{stem}-nodes.npy",
        "thresholds": f"{stem}-thresholds.npy",
        "pool": f"{stem}-pool.npy",
        "spans": f"{stem}-spans.npy",
        "smooth": None,
        "common": None,
        "decimals": column.decimals,
        "step": column.step,
        "feature": [column.offset, column.scale],
        "categories": column.categories,
        "linear": linear[0] if linear is not None else None,
    }
    arrays = {spec["nodes"]: nodes, spec["thresholds"]: thresholds, spec["pool"]: pool, spec["spans"]: spans}
    if knobs.smoothing == "density" and column.smoothable:
        spec["smooth"] = f"{stem}-smooth.npy"
        arrays[spec["smooth"]] = bandwidths(pool, spans)
        if common is not None and common.any():
            spec["common"] = f"{stem}-common.npy"
            arrays[spec["common"]] = common
    return spec, arrays, leaves


def fit_table(
    table: str, encoded: list, knobs, seed: int, threads: int = 1, given: list | None = None, plain=()
) -> tuple[dict, dict, dict]:
    """(the sampler's ``trees`` section, its arrays, what model.json says) of ``encoded`` (the
    columns' encodings in visit order, of the rows the model is fitted on). Each column's tree
    is fitted on real rows alone (synthpop's CART), so the trees are independent: ``threads``
    fit them side by side (scikit-learn builds a tree without the GIL), the same trees whatever
    their number. ``given``: (name, float32 features) of columns visited first and never drawn
    (a child table's parent columns): predictors of every tree, trees of none. With
    ``knobs.linear`` and smoothing, a continuous number may get a linear term over the numbers
    and the categories of at most ``MAX_LEVELS`` codes visited before it (``linear_term``), except the columns named in ``plain`` (the controlled
    ones: a control redraws a column's donors as values)."""
    import numpy as np

    given = given or []
    first = len(given)
    rows = len(encoded[0].values) if encoded else len(given[0][1]) if given else 0
    # rows x columns, column-major: each tree's predictors are a contiguous leading block
    predictors = np.empty((rows, first + len(encoded)), dtype=np.float32, order="F")
    for j, (_, features) in enumerate(given):
        predictors[:, j] = features
    for j, column in enumerate(encoded):
        predictors[:, first + j] = column.features()
    numbers = [first + j for j, column in enumerate(encoded) if column.kind == "number"]
    classes = [
        first + j
        for j, column in enumerate(encoded)
        if column.kind == "category" and int(np.nanmax(column.values, initial=0)) < MAX_LEVELS
    ]
    corrected = knobs.linear and knobs.smoothing == "density"
    jobs = [
        (
            first + j,
            column,
            predictors,
            knobs,
            seed,
            table,
            [p for p in numbers if p < first + j] if corrected and column.name not in plain else [],
            [p for p in classes if p < first + j] if corrected and column.name not in plain else [],
        )
        for j, column in enumerate(encoded)
    ]
    if threads > 1 and len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=threads) as pool:
            # the last columns have the most predictors: started first, they finish together
            futures = {job[0]: pool.submit(_fit_column, *job) for job in reversed(jobs)}
            results = [futures[job[0]].result() for job in jobs]
    else:
        results = [_fit_column(*job) for job in jobs]
    columns, arrays, leaves = [], {}, {}
    for spec, column_arrays, count in results:
        columns.append(spec)
        arrays.update(column_arrays)
        leaves[spec["name"]] = count
    info = {"order": [c.name for c in encoded], "fit_rows": rows, "leaves": leaves, "params": knobs.to_doc()}
    linear = [spec["name"] for spec in columns if spec["linear"] is not None]
    if linear:
        info["linear"] = linear
    trees = {"columns": columns}
    if given:
        trees["given"] = [name for name, _ in given]
        info["given"] = trees["given"]
    lowered = {c.name: c.rare_min for c in encoded if c.rare_min is not None and c.rare_min < knobs.rare_min}
    if lowered:  # columns none of whose categories reach rare_min
        info["rare_min_lowered"] = lowered
    return trees, arrays, info


def decoders(encoded_by_name: dict, order: list[str], learned: list[str]) -> list[dict]:
    """The output decoders, in the learned columns' order, each reading its visit position."""
    position = {name: j for j, name in enumerate(order)}
    return [{**encoded_by_name[name].decoder, "from": position[name]} for name in learned]
