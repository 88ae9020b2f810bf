from pathlib import Path

import pytest

from synth_ops.errors import SpecError
from synth_ops.spec import load_spec, parse_spec
from tests.conftest import PENGUINS_CSV, REPO, penguins_doc, write_spec


def test_example_specs_load_with_documented_defaults():
    spec = load_spec(REPO / "examples" / "penguins.yaml", root=REPO)
    assert spec.name == "penguins"
    assert spec.tables["penguins"].source == str(PENGUINS_CSV)
    assert spec.tables["penguins"].metadata.columns["year"].sdtype == "categorical"
    assert spec.gates.quality_min is None and spec.gates.quality_share == 0.7 and spec.gates.dcr_share_max == 0.60
    assert Path(spec.publish.uri).is_absolute() and spec.publish.uri == str(REPO / "warehouse")
    assert not spec.tables["penguins"].metadata.overrides_primary_key


def test_spec_is_frozen(penguins_spec):
    spec = load_spec(penguins_spec)
    with pytest.raises(Exception):
        spec.name = "other"


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["tables"]["penguins"].update(sourse="x.csv"), "tables.penguins.sourse: unknown key"),
        (lambda d: d.update(name="Penguins!"), "name: String should match pattern"),
        (lambda d: d["synthesizer"].update(kind="magic"), "synthesizer.kind: Input should be"),
        (lambda d: d["generate"].update(rows=-5), "generate.rows: Input should be greater than 0, got -5"),
        (lambda d: d["generate"].update(shards="four"), "generate.shards: Input should be a valid integer"),
        (lambda d: d["generate"].update(scale=2.0), "generate: give rows or scale, not both"),
        (lambda d: d["gates"].update(holdout=1.5), "gates.holdout: Input should be less than 1"),
        (lambda d: d.pop("tables"), "tables: required key is missing"),
        (lambda d: d["tables"]["penguins"].update(source="data.xlsx"), "tables.penguins.source: expected a file ending in .csv"),
    ],
)
def test_bad_fields_name_their_path(tmp_path, mutate, expected):
    doc = penguins_doc()
    doc["gates"] = {}
    mutate(doc)
    with pytest.raises(SpecError) as error:
        load_spec(write_spec(tmp_path, doc))
    message = str(error.value)
    assert expected in message
    assert "\n" not in message


def test_all_problems_reported_at_once(tmp_path):
    doc = penguins_doc(unknown_section=1)
    doc["synthesizer"]["kind"] = "magic"
    with pytest.raises(SpecError) as error:
        load_spec(write_spec(tmp_path, doc))
    assert "unknown_section: unknown key" in str(error.value)
    assert "synthesizer.kind" in str(error.value)


def test_missing_source_and_suite_are_named(tmp_path):
    doc = penguins_doc(source=tmp_path / "nope.csv", gates={"suites": ["missing.json"]})
    with pytest.raises(SpecError) as error:
        load_spec(write_spec(tmp_path, doc), root=tmp_path)
    assert "tables.penguins.source: file not found" in str(error.value)
    assert "gates.suites.0: file not found" in str(error.value)


def test_malformed_yaml_gives_line(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("name: penguins\ntables: [unclosed\n")
    with pytest.raises(SpecError, match=r"malformed YAML at line \d+"):
        load_spec(path)


def test_relative_paths_resolve_against_root(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "p.csv").write_bytes(PENGUINS_CSV.read_bytes())
    spec = parse_spec({"name": "p", "tables": {"p": {"source": "data/p.csv"}}}, root=tmp_path)
    assert spec.tables["p"].source == str(tmp_path / "data" / "p.csv")
    assert spec.artifacts.uri == str(tmp_path / ".synth-ops" / "artifacts")


def test_content_hash_ignores_locations_but_not_content(tmp_path):
    a = parse_spec(penguins_doc(publish={"uri": "/a"}, artifacts={"uri": "/b"}))
    b = parse_spec(penguins_doc(publish={"uri": "/c"}, artifacts={"uri": "/d"}))
    assert a.content_hash() == b.content_hash()
    c = parse_spec(penguins_doc(synthesizer={"kind": "gaussian_copula", "seed": 8}))
    assert c.content_hash() != a.content_hash()


def test_explicit_null_primary_key_is_an_override():
    doc = penguins_doc()
    doc["tables"]["penguins"]["metadata"]["primary_key"] = None
    assert parse_spec(doc).tables["penguins"].metadata.overrides_primary_key
