from pathlib import Path

import pydantic
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
    with pytest.raises(pydantic.ValidationError):
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
        (
            lambda d: d["tables"]["penguins"].update(source="data.xlsx"),
            "tables.penguins.source: expected a file ending in .csv",
        ),
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


def _related(relationships, tables=("parent", "child")):
    return {"name": "r", "tables": {t: {"source": f"{t}.csv"} for t in tables}, "relationships": relationships}


def _rel(parent_key="id", child_key="parent_id", parent="parent", child="child", **extra):
    return {
        "parent_table_name": parent,
        "parent_primary_key": parent_key,
        "child_table_name": child,
        "child_foreign_key": child_key,
        **extra,
    }


@pytest.mark.parametrize(
    "relationships, expected",
    [
        ([_rel(child="kid")], r"relationships\.0\.child_table_name: no table named 'kid'"),
        (
            [_rel(parent_key=["a", "b"], child_key="a")],
            r"relationships\.0\.child_foreign_key: 1 columns for a "
            r"parent_primary_key of 2",
        ),
        ([_rel(parent="child")], r"relationships\.0: a table referencing itself is not supported"),
        (
            [_rel(), _rel(parent_key="code", child_key="code")],
            r"relationships\.1\.parent_primary_key: table 'parent' "
            r"has one primary key; another relationship gives \['id'\]",
        ),
        ([_rel(), _rel()], r"relationships\.1: the same foreign key as relationships\.0"),
        (
            [_rel(parent_key=["a", "a"], child_key=["x", "y"])],
            r"relationships\.0\.parent_primary_key: expected one "
            r"column or a list of distinct columns",
        ),
        ([_rel(orphans="ignore")], r"relationships\.0\.orphans: Input should be 'keep' or 'drop'"),
    ],
)
def test_relationship_errors_name_the_relationship_and_field(relationships, expected):
    with pytest.raises(SpecError, match=expected):
        parse_spec(_related(relationships), check_files=False)


def test_relationship_errors_are_collected_at_once():
    with pytest.raises(SpecError) as error:
        parse_spec(_related([_rel(child="kid"), _rel(parent="child")]), check_files=False)
    assert "relationships.0.child_table_name" in str(error.value) and "relationships.1:" in str(error.value)


def test_relationships_default_to_the_multi_table_copula_and_keep_orphans():
    spec = parse_spec(_related([_rel(parent_key=["a", "b"], child_key=["x", "y"])]), check_files=False)
    assert spec.synthesizer.kind == "copula"
    assert spec.relationships[0].orphans == "keep" and spec.relationships[0].child_columns == ("x", "y")
    explicit = parse_spec({**_related([_rel()]), "synthesizer": {"kind": "gaussian_copula"}}, check_files=False)
    from synth_ops.steps.plan import build_plan

    with pytest.raises(SpecError, match="gaussian_copula models one table at a time"):
        build_plan(explicit)


def test_nycflights13_example_declares_every_table_and_relationship():
    from synth_ops.steps.plan import build_plan

    spec = load_spec(REPO / "examples" / "nycflights13.yaml", root=REPO, check_files=False)
    plan = build_plan(spec)
    assert set(spec.tables) == {"airlines", "airports", "planes", "weather", "flights"}
    assert [t.name for t in plan.tables][-1] == "flights" and plan.table(
        "flights"
    ).primary == "flights.origin+time_hour"
    assert {r.name for r in plan.relations} == {
        "flights.carrier",
        "weather.origin",
        "flights.origin+time_hour",
        "flights.origin",
        "flights.dest",
        "flights.tailnum",
    }


def test_a_table_may_have_its_own_synthesizer_unless_it_is_related():
    from synth_ops.steps.plan import build_plan

    doc = {
        "name": "r",
        "tables": {"a": {"source": "a.csv", "synthesizer": {"kind": "copula", "seed": 4}}, "b": {"source": "b.csv"}},
        "synthesizer": {"kind": "gaussian_copula"},
    }
    plan = build_plan(parse_spec(doc, check_files=False))
    assert {m.name: m.kind for m in plan.models} == {"a": "copula", "b": "gaussian_copula"}
    related = {
        **_related([_rel()]),
        "tables": {"parent": {"source": "p.csv", "synthesizer": {"kind": "copula"}}, "child": {"source": "c.csv"}},
    }
    with pytest.raises(SpecError, match=r"tables\.parent\.synthesizer: parent is in a relationship"):
        parse_spec(related, check_files=False)


def test_tables_are_ordered_parents_first_and_in_spec_order_among_equals():
    from synth_ops.steps.plan import build_plan

    # p2 comes before p1 in the spec, but x (p1's child) before y (p2's): each wave keeps the spec's order
    rels = [
        _rel(parent="p1", child="x"),
        _rel(parent="p2", child="y"),
        _rel(parent="x", child="z", child_key="x_id"),
        _rel(parent="p2", child="z", child_key="p2_id"),
    ]
    spec = parse_spec(_related(rels, tables=("z", "x", "p2", "y", "p1", "alone")), check_files=False)
    assert [t.name for t in build_plan(spec).tables] == ["p2", "p1", "alone", "x", "y", "z"]
    # a cycle names every table it keeps from being ordered: its own and those below it
    rels = [
        _rel(parent="a", child="b"),
        _rel(parent="b", child="a", child_key="b_id"),
        _rel(parent="b", child="c"),
        _rel(parent="d", child="e"),
    ]
    spec = parse_spec(_related(rels, tables=("c", "a", "b", "d", "e")), check_files=False)
    with pytest.raises(SpecError, match=r"^relationships: tables a, b, c reference each other in a cycle; "):
        build_plan(spec)
