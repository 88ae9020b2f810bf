"""Datetimes printed back as text: pandas' strftime is the reference, Arrow's cast the fallback."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synth_ops.io.datetime_text import _arrow, _iso, format_datetimes, format_seconds

ISO = ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


@pytest.mark.parametrize("fmt", ISO + ["%d/%m/%Y %H:%M", "%b %d %Y", "%Y-%m-%d %H:%M:%S.%f"])
def test_datetimes_print_back_exactly_as_pandas_would(fmt):
    rng = np.random.default_rng(0)
    series = pd.Series(pd.to_datetime("1969-12-30") + pd.to_timedelta(rng.uniform(0, 3e9, 5000), unit="s"))
    series[3] = pd.NaT
    expected = series.dt.strftime(fmt)
    pd.testing.assert_series_equal(
        format_datetimes(series, fmt).fillna("NaT"), expected.fillna("NaT"), check_names=False
    )


def _seconds(text: str) -> int:
    return int(np.datetime64(text, "s").astype("int64"))


# windows of ~100 years (the table path's widest span is 2^17 days) around the calendar's edges:
# year 1, the Gregorian reform, a century that is not a leap year, the epoch, 2000, year 9999
WINDOWS = [
    ("0001-01-01T00:00:00", "0100-12-31T23:59:59"),
    ("1550-01-01", "1650-01-01"),
    ("1850-01-01", "1950-12-31"),
    ("1920-01-01", "2020-01-01"),
    ("1999-12-31", "2000-03-01"),
    ("9900-01-01", "9999-12-31T23:59:59"),
]


@pytest.mark.parametrize("fmt", ISO)
@pytest.mark.parametrize("window", WINDOWS)
def test_fixed_width_iso_text_equals_arrows_cast(fmt, window):
    """The table path, taken (not the fallback), gives Arrow's own text for random seconds, both
    ends of the window and the seconds around midnight, with nulls."""
    low, high = (_seconds(t) for t in window)
    rng = np.random.default_rng(1)
    seconds = np.concatenate(
        [
            rng.integers(low, high + 1, 20_000),
            [low, high],
            (rng.integers(low, high, 50) // 86_400 * 86_400)[:, None] + [-1, 0, 1],
        ],
        axis=None,
    )
    mask = rng.random(len(seconds)) < 0.05
    for nulls in (None, mask):
        text = _iso(seconds, nulls, *_parts(fmt))
        assert text is not None, "the table path did not apply"
        assert text.equals(_arrow(pa.array(seconds, type=pa.timestamp("s"), mask=nulls), fmt))
        assert text.null_count == (0 if nulls is None else int(mask.sum()))


def _parts(fmt: str):
    from synth_ops.io.datetime_text import _ISO_FORMAT

    iso = _ISO_FORMAT.fullmatch(fmt)
    return iso["sep"], iso["suffix"] or ""


@pytest.mark.parametrize(
    "seconds",
    [
        [_seconds("1900-01-01"), _seconds("2300-01-01")],  # wider than one table
        [_seconds("0001-01-01T00:00:00") - 1, 0],  # before year 1
        [_seconds("9999-12-31T23:59:59") + 1, 0],  # after year 9999
    ],
)
def test_iso_text_beyond_the_tables_goes_through_arrow(seconds):
    seconds = np.asarray(seconds, dtype="int64")
    assert _iso(seconds, None, "T", "Z") is None
    expected = _arrow(pa.array(seconds, type=pa.timestamp("s")), "%Y-%m-%dT%H:%M:%SZ")
    assert format_seconds(seconds, "%Y-%m-%dT%H:%M:%SZ").equals(expected)


def test_no_rows_and_all_null_rows():
    empty = np.zeros(0, dtype="int64")
    assert format_seconds(empty, "%Y-%m-%d").to_pylist() == []
    nulls = np.array([True, True])
    assert format_seconds(np.array([5, 7]), "%Y-%m-%d %H:%M:%S", nulls).to_pylist() == [None, None]
