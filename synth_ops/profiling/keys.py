"""Keys, ids and stand-ins for identifying text: their shape learned from the source, values generated
vectorised (numpy and Arrow, never one Faker call per row).

A *format* is plain JSON, stored in the profile, so a user can read (and the spec can override) how
a column will be generated:

``{"kind": "integer", "start": 1, "step": 1}``
    ``start + step * n``: an integer key keeps its magnitude (a 1..N key stays 1..N-like).
``{"kind": "numbered", "prefix": "C-", "width": 6, "suffix": "", "start": 1, "step": 1}``
    ``C-000001``, ``C-000002``, ...: text keys that are a fixed prefix and suffix around a number.
``{"kind": "template", "positions": ["N", "digit", "digit", "alnum_upper", ...], "multiplier": m, "offset": b}``
    One entry per character: a literal or a character class. The counter is spread over the
    trailing class positions through the bijection ``(m * n + b) mod capacity`` (so keys look
    random yet never repeat); any further class positions are filled at random.
``{"kind": "shapes", "shapes": ["Aaaa Aaaaaa", "Aaa Aaaa"], "weights": [0.7, 0.3], "suffix": ""}``
    For identifying text that is replaced, not learned: each value takes a shape (``A`` upper-case
    letter, ``a`` lower-case, ``9`` digit, anything else literal) drawn with the source's
    frequencies, filled with random characters, so no real value is reproduced but by chance
    (``chance_matches`` says how often). Emails keep the shape of the local part and get ``suffix``
    ``@example.com`` (a domain reserved for examples, RFC 2606).

A counter ``n`` is a row's position in the whole release (shard offset + row in shard): keys drawn
from it are unique across shards by construction. Ids that repeat in the source are drawn with
replacement from ``0..distinct-1`` instead.
"""

from __future__ import annotations

import re
from typing import Any

CLASSES = {
    "digit": "0123456789",
    "hex_lower": "0123456789abcdef",
    "hex_upper": "0123456789ABCDEF",
    "lower": "abcdefghijklmnopqrstuvwxyz",
    "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "alnum_lower": "0123456789abcdefghijklmnopqrstuvwxyz",
    "alnum_upper": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "letter": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "alnum": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
}
_SHAPE_CLASSES = {"A": "upper", "a": "lower", "9": "digit"}
_REGEX_CLASSES = {
    "digit": r"\d",
    "hex_lower": "[0-9a-f]",
    "hex_upper": "[0-9A-F]",
    "lower": "[a-z]",
    "upper": "[A-Z]",
    "alnum_lower": "[0-9a-z]",
    "alnum_upper": "[0-9A-Z]",
    "letter": "[A-Za-z]",
    "alnum": "[0-9A-Za-z]",
}
# The counter of a template key lives in trailing positions whose capacity stays below 2**31, so
# (multiplier * n + offset) fits in int64 arithmetic; that still numbers two billion rows.
_COUNTER_CAPACITY = 2**31
_NUMBERED = re.compile(r"^(\D*)(\d{1,18})(\D*)$")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
EMAIL_SUFFIX = "@example.com"


class KeyCapacityError(ValueError):
    """More unique keys were asked of a format than it can represent."""


# ---------------------------------------------------------------------------------------------- infer


def infer_format(series, unique: bool) -> dict[str, Any]:
    """The generation format of a key or id column, from its non-null values."""
    import pandas as pd

    values = series.dropna()
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(str)
    if (
        pd.api.types.is_numeric_dtype(values)
        and len(values)
        and (values % 1 == 0).all()
        and INT64_MIN <= int(values.min())
        and int(values.max()) <= INT64_MAX
    ):
        return _integer_format(values.astype("int64"))
    text = values.astype(str)
    numbered = _numbered_format(text)
    if numbered is not None:
        return numbered
    return _template_format(text, unique)


def _step(low: int, high: int, distinct: int) -> int:
    """Average gap between sorted distinct keys: 1 for a dense 1..N key."""
    return max(1, round((high - low) / max(distinct - 1, 1)))


def _integer_format(values) -> dict[str, Any]:
    low, high = int(values.min()), int(values.max())
    return {"kind": "integer", "start": low, "step": _step(low, high, int(values.nunique()))}


def _numbered_format(text) -> dict[str, Any] | None:
    distinct = text.drop_duplicates()
    if distinct.empty:
        return None
    parts = distinct.str.extract(_NUMBERED)
    if parts[1].isna().any() or parts[0].nunique() != 1 or parts[2].nunique() != 1:
        return None
    digits = parts[1]
    lengths = digits.str.len()
    padded = bool((digits.str.startswith("0") & (lengths > 1)).any())
    numbers = digits.astype("int64")
    width = int(lengths.max()) if padded or lengths.nunique() == 1 else 0
    low, high = int(numbers.min()), int(numbers.max())
    return {
        "kind": "numbered",
        "prefix": parts[0].iloc[0],
        "width": width,
        "suffix": parts[2].iloc[0],
        "start": low,
        "step": _step(low, high, int(numbers.nunique())),
    }


def _smallest_class(chars: set[str]) -> str:
    for name, alphabet in sorted(CLASSES.items(), key=lambda item: len(item[1])):
        if chars <= set(alphabet):
            return name
    return "alnum"


def _template_format(text, unique: bool) -> dict[str, Any]:
    lengths = text.str.len()
    modal = int(lengths.mode().iloc[0]) if len(lengths) else 8
    same = text[lengths == modal].drop_duplicates()
    positions = []
    for i in range(modal):
        chars = set(same.str[i])
        positions.append(next(iter(chars)) if len(chars) == 1 and len(same) > 1 else _smallest_class(chars))
    if not any(p in CLASSES for p in positions):
        positions.append("digit")  # every value identical: a key still needs room to count
    return _with_counter({"kind": "template", "positions": positions}, seed=modal)


def _with_counter(fmt: dict[str, Any], seed: int) -> dict[str, Any]:
    import math

    import numpy as np

    capacity = _template_capacity(fmt["positions"])
    rng = np.random.default_rng([seed, len(fmt["positions"])])
    multiplier = 1
    if capacity > 2:
        while True:  # a unit modulo the capacity makes n -> (m n + b) mod C a bijection
            multiplier = int(rng.integers(1, capacity))
            if math.gcd(multiplier, capacity) == 1:
                break
    return {**fmt, "multiplier": multiplier, "offset": int(rng.integers(0, capacity))}


def _counter_positions(positions: list[str]) -> list[int]:
    """Trailing class positions that carry the counter, right to left."""
    chosen, capacity = [], 1
    for i in reversed(range(len(positions))):
        size = len(CLASSES.get(positions[i], ""))
        if size and capacity * size <= _COUNTER_CAPACITY:
            chosen.append(i)
            capacity *= size
    return chosen


def _template_capacity(positions: list[str]) -> int:
    capacity = 1
    for i in _counter_positions(positions):
        capacity *= len(CLASSES[positions[i]])
    return capacity


def shapes_format(series, seed: int, limit: int = 200) -> dict[str, Any]:
    """A stand-in format for identifying text: up to ``limit`` value shapes, letters and digits erased."""
    from synth_ops.profiling.pii import EMAIL_PATTERN

    values = series.dropna().astype(str)
    sample = values.sample(min(len(values), 5 * limit), random_state=seed) if len(values) else values
    suffix = ""
    if len(sample) and sample.str.match(EMAIL_PATTERN).mean() >= 0.5:
        sample = sample.str.split("@").str[0]
        suffix = EMAIL_SUFFIX
    counts = sample.map(_shape).value_counts().head(limit)
    if counts.empty:
        return {"kind": "shapes", "shapes": ["aaaaaaaa"], "weights": [1.0], "suffix": suffix}
    weights = (counts / counts.sum()).round(6)
    return {"kind": "shapes", "shapes": counts.index.tolist(), "weights": weights.tolist(), "suffix": suffix}


def shape_capacity(shape: str) -> int:
    """How many distinct values random filling of ``shape`` can give."""
    return 26 ** sum(c in "Aa" for c in shape) * 10 ** shape.count("9")


def chance_matches(fmt: dict[str, Any], real_values, rows: int) -> float:
    """Expected number of ``rows`` generated values equal to one of ``real_values`` by chance alone:
    a short shape (``aa99``) filled at random hits real values without copying anything."""
    from collections import Counter

    suffix = fmt.get("suffix", "")
    real = Counter(_shape(v[: len(v) - len(suffix)]) for v in real_values if v.endswith(suffix))
    weights = fmt.get("weights") or [1 / len(fmt["shapes"])] * len(fmt["shapes"])
    return rows * sum(w * real[s] / shape_capacity(s) for s, w in zip(fmt["shapes"], weights))


def _shape(value: str) -> str:
    out = []
    for char in value:
        if char.isdigit():
            out.append("9")
        elif char.isalpha():
            out.append("A" if char.isupper() else "a")
        else:
            out.append(char)
    return "".join(out) or "a"


# ------------------------------------------------------------------------------------------- generate


def capacity(fmt: dict[str, Any]) -> int | None:
    """How many distinct values the format can produce (counters 0..capacity-1), or None for unbounded."""
    if fmt["kind"] == "template":
        return _template_capacity(fmt["positions"])
    if fmt["kind"] in ("integer", "numbered"):  # start + step * n must stay a 64-bit integer
        start, step = fmt["start"], fmt["step"]
        return (INT64_MAX - start) // step + 1 if start <= INT64_MAX else 0
    return None


def generate(fmt: dict[str, Any], counter, rng):
    """Values for ``counter`` (int64 array), as a numpy array of int64 or str (object)."""
    import numpy as np

    counter = np.asarray(counter, dtype="int64")
    kind = fmt["kind"]
    if kind == "integer":
        return fmt["start"] + fmt["step"] * counter
    if kind == "numbered":
        return _numbered(fmt, counter)
    if kind == "template":
        return _template(fmt, counter, rng)
    if kind == "shapes":
        return _shapes(fmt, len(counter), rng)
    raise ValueError(f"unknown key format kind {kind!r}")


def _numbered(fmt, counter):
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(fmt["start"] + fmt["step"] * counter).cast(pa.string())
    if fmt["width"]:
        text = pc.utf8_lpad(text, width=fmt["width"], padding="0")
    joined = pc.binary_join_element_wise(fmt["prefix"], text, fmt["suffix"], "")
    return joined.to_numpy(zero_copy_only=False)


def _codes(alphabet: str):
    import numpy as np

    return np.frombuffer(alphabet.encode("utf-32-le"), dtype="<u4")


def _to_strings(matrix):
    """(n, width) UCS-4 code points -> n strings, without a Python loop over rows."""
    import numpy as np

    n, width = matrix.shape
    if width == 0:
        return np.full(n, "", dtype=object)
    flat = np.ascontiguousarray(matrix, dtype="<u4").view(f"<U{width}").reshape(n)
    return flat.astype(object)


def _template(fmt, counter, rng):
    import numpy as np

    positions = fmt["positions"]
    cap = _template_capacity(positions)
    if len(counter) and int(counter.max()) >= cap:
        raise KeyCapacityError(f"the key format holds {cap} distinct values")
    scrambled = (fmt["multiplier"] * counter + fmt["offset"]) % cap
    matrix = np.empty((len(counter), len(positions)), dtype="<u4")
    carriers = _counter_positions(positions)
    for i, position in enumerate(positions):
        alphabet = CLASSES.get(position)
        if alphabet is None:
            matrix[:, i] = ord(position)
        elif i not in carriers:
            matrix[:, i] = _codes(alphabet)[rng.integers(0, len(alphabet), len(counter))]
    for i in carriers:  # right to left: least significant digit first
        alphabet = _codes(CLASSES[positions[i]])
        matrix[:, i] = alphabet[scrambled % len(alphabet)]
        scrambled = scrambled // len(alphabet)
    return _to_strings(matrix)


def _normalised(weights):
    import numpy as np

    weights = np.asarray(weights, dtype="float64")
    return weights / weights.sum()


def _shapes(fmt, n: int, rng):
    """``n`` values of the format's shapes (``A`` a capital, ``a`` a small letter, ``9`` a digit, any
    other character itself), the shape of each drawn by weight. One matrix of characters for all
    rows, no loop over shapes or positions: generated columns are drawn a block of rows at a time
    (``sampler/generated.py``'s ``BLOCK_ROWS``), and a loop over 200 shapes cost ~13 ms a block."""
    import numpy as np

    shapes = fmt["shapes"]
    weights = fmt.get("weights")
    chosen = rng.choice(len(shapes), size=n, p=None if weights is None else _normalised(weights))
    width = max(1, max(len(shape) for shape in shapes))
    # shape x position: code points, trailing NULs where a shape is shorter (numpy's str drops them)
    template = np.asarray(shapes, dtype=f"<U{width}").view("<u4").reshape(len(shapes), width)
    first, size = np.zeros(template.shape, dtype="<u4"), np.zeros(template.shape)
    for letter, alphabet in _SHAPE_CLASSES.items():
        at = template == ord(letter)
        first[at], size[at] = ord(CLASSES[alphabet][0]), len(CLASSES[alphabet])  # contiguous code points
    rows_size = size[chosen]
    drawn = first[chosen] + (rng.random((n, width)) * rows_size).astype("<u4")
    matrix = np.where(rows_size > 0, drawn, template[chosen])
    out = np.ascontiguousarray(matrix, dtype="<u4").view(f"<U{width}").reshape(n).astype(object)
    if fmt.get("suffix"):
        out = np.char.add(out.astype(str), fmt["suffix"]).astype(object)
    return out


# ---------------------------------------------------------------------------------------------- check


def regex(fmt: dict[str, Any]) -> str | None:
    """A regular expression every generated value matches (for the automatic suite), or None."""
    kind = fmt["kind"]
    if kind == "numbered":
        digits = rf"\d{{{fmt['width']},}}" if fmt["width"] else r"\d+"
        return f"^{re.escape(fmt['prefix'])}{digits}{re.escape(fmt['suffix'])}$"
    if kind == "template":
        return "^" + "".join(_REGEX_CLASSES.get(p) or re.escape(p) for p in fmt["positions"]) + "$"
    return None
