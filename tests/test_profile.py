import numpy as np
import pytest

from synth_ops.errors import InputError, SpecError
from synth_ops.runtime.workspace import Workspace
from synth_ops.spec import load_spec
from synth_ops.steps.profile import profile
from tests.conftest import penguins_doc, write_spec


def test_penguins_profile_stats_metadata_and_fingerprint(penguins_spec, penguins_frame):
    ws = Workspace.open(load_spec(penguins_spec))
    record = profile(ws, "penguins")
    assert (record.rows, record.columns) == (344, 8)
    doc = ws.read("penguins", "profile.json")
    body_mass = doc["columns"]["body_mass_g"]
    assert body_mass["min"] == penguins_frame.body_mass_g.min()
    assert body_mass["max"] == penguins_frame.body_mass_g.max()
    assert body_mass["null_share"] == pytest.approx(penguins_frame.body_mass_g.isna().mean())
    assert doc["columns"]["species"]["distinct"] == 3
    assert doc["columns"]["species"]["top"][0][0] == penguins_frame.species.value_counts().index[0]
    # The spec override wins over detection (SDV detects "ordinal" for year).
    assert doc["columns"]["year"]["sdtype"] == "categorical"
    metadata = ws.read("penguins", "metadata.json")
    assert metadata["tables"]["penguins"]["columns"]["year"]["sdtype"] == "categorical"
    assert record.source_fingerprint == ws.source_fingerprints["penguins"] and len(record.source_fingerprint) == 64
    assert [name for name, _ in doc["arrow_schema"]] == list(penguins_frame.columns)


@pytest.mark.parametrize("size", [0, 1, (1 << 18) - 1, 1 << 18, (1 << 20) + 1, 3 << 20])
def test_a_source_fingerprint_is_the_sha256_of_its_bytes_at_any_size(tmp_path, size):
    """Run ids and shard records are content addresses: streaming the file must not change them
    (sizes around the read buffers: hashlib.file_digest's 256 KiB, the former loop's 1 MiB)."""
    import hashlib

    from synth_ops.io.fingerprints import sha256_file
    from synth_ops.stores.sources import source_fingerprint

    path = tmp_path / "source.csv"
    path.write_bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8).tobytes())
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert source_fingerprint(str(path)) == sha256_file(path) == expected


def test_identifying_columns_are_replaced_and_look_alikes_are_learned(tmp_path, penguins_frame):
    rng = np.random.default_rng(0)
    frame = penguins_frame.copy()
    n = len(frame)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
    last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee"]
    frame["observer"] = [f"{rng.choice(first)} {rng.choice(last)}{'e' * int(i % 7)}" for i in range(n)]
    frame["contact"] = [f"observer{i}@antarctica.example.org" for i in range(n)]
    frame["radio"] = [f"+1 (555) {rng.integers(100, 999)}-{rng.integers(1000, 9999)}" for _ in range(n)]
    frame["band_code"] = [f"BX-{i:05d}-{rng.integers(0, 10**6)}" for i in range(n)]
    # named like PII, but ordinary categories and numbers: SDV would replace every one of them
    frame["city"] = frame.island.map({"Torgersen": "Palmer", "Biscoe": "Rothera", "Dream": "Vernadsky"})
    frame["state"] = "Antarctica"
    frame["latitude"] = -64.77 + rng.normal(0, 0.01, n).round(4)
    frame["emails_sent"] = rng.integers(0, 20, n)
    frame["leader_name"] = rng.choice(["Ada Lovelace", "Alan Turing", "Grace Hopper"], n)
    source = tmp_path / "penguins_pii.csv"
    frame.to_csv(source, index=False)
    ws = Workspace.open(load_spec(write_spec(tmp_path, penguins_doc(source))))
    record = profile(ws, "penguins")
    doc = ws.read("penguins", "profile.json")
    plan = doc["columns_plan"]
    assert set(record.pii_columns) == {"observer", "contact", "radio"}
    assert "person names" in doc["pii"]["observer"] and "email" in doc["pii"]["contact"]
    assert plan["band_code"]["role"] == "key"  # a unique code: the detected primary key, generated
    for column, sdtype in (
        ("city", "categorical"),
        ("latitude", "numerical"),
        ("emails_sent", "numerical"),
        ("leader_name", "categorical"),
    ):
        assert plan[column] == {"role": "learned", "sdtype": sdtype}, column
    assert plan["state"]["role"] == "constant"
    # what looked like PII but is learned is said in the profile, with what to set to change it
    assert any("'leader_name'" in w and "pii: true" in w for w in doc["warnings"])
    assert record.generated == {
        "observer": "replaced",
        "contact": "replaced",
        "radio": "replaced",
        "band_code": "key",
        "state": "constant",
    }


def test_numeric_primary_key_detection_is_visible_and_fixable(tmp_path, penguins_frame):
    frame = penguins_frame.copy()
    frame.insert(0, "sample_number", np.arange(1000, 1000 + len(frame)))
    source = tmp_path / "numbered.csv"
    frame.to_csv(source, index=False)
    ws = Workspace.open(load_spec(write_spec(tmp_path, penguins_doc(source))))
    profile(ws, "penguins")
    doc = ws.read("penguins", "profile.json")
    assert doc["primary_key_detected"] == "sample_number" and doc["primary_key"] == "sample_number"
    assert any("tables.penguins.metadata.primary_key" in w for w in doc["warnings"])

    fixed = penguins_doc(source)
    fixed["tables"]["penguins"]["metadata"] = {
        "primary_key": None,
        "columns": {"sample_number": {"sdtype": "numerical"}, "year": {"sdtype": "categorical"}},
    }
    ws = Workspace.open(load_spec(write_spec(tmp_path, fixed, "fixed.yaml")))
    profile(ws, "penguins")
    doc = ws.read("penguins", "profile.json")
    assert doc["primary_key"] is None and doc["warnings"] == []
    assert doc["columns"]["sample_number"]["sdtype"] == "numerical"


def test_invalid_override_is_a_spec_error(tmp_path):
    doc = penguins_doc()
    doc["tables"]["penguins"]["metadata"]["columns"]["species"] = {"sdtype": "not_a_type"}
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    with pytest.raises(SpecError, match="tables.penguins.metadata.columns.species"):
        profile(ws, "penguins")


def test_unusable_columns_reported_together(tmp_path, penguins_frame):
    frame = penguins_frame.copy()
    frame["ratio"] = np.where(frame.index < 4, np.inf, 1.5)
    source = tmp_path / "bad.csv"
    frame.to_csv(source, index=False)
    doc = penguins_doc(source)
    doc["tables"]["penguins"]["metadata"]["columns"]["yeer"] = {"sdtype": "categorical"}
    doc["tables"]["penguins"]["metadata"]["primary_key"] = "band"
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    with pytest.raises(InputError) as error:
        profile(ws, "penguins")
    message = str(error.value)
    assert "column 'ratio' holds 4 infinite values" in message
    assert "tables.penguins.metadata.columns.yeer: no such column in the source" in message
    assert "tables.penguins.metadata.primary_key: no such column" in message


def test_constant_and_all_null_columns_are_carried_and_listed(tmp_path, penguins_frame):
    frame = penguins_frame.copy()
    frame["empty"] = np.nan
    frame["colony"] = "Palmer"
    source = tmp_path / "carried.csv"
    frame.to_csv(source, index=False)
    ws = Workspace.open(load_spec(write_spec(tmp_path, penguins_doc(source))))
    profile(ws, "penguins")
    doc = ws.read("penguins", "profile.json")
    assert doc["columns_plan"]["empty"]["role"] == "null" and doc["columns_plan"]["colony"]["role"] == "constant"
    assert any("'empty': every value is null" in w for w in doc["warnings"])
    assert any("'colony': one distinct value" in w for w in doc["warnings"])
    assert "empty" not in ws.read("penguins", "metadata.json")["tables"]["penguins"]["columns"]  # never fitted


def test_flights_profile_carries_the_constant_year(tmp_path, flights_frame):
    # how long this takes is measured by bench/perf.py's profile case, not asserted here
    source = tmp_path / "flights.parquet"
    flights_frame.to_parquet(source)
    doc = {"name": "flights", "tables": {"flights": {"source": str(source)}}}
    ws = Workspace.open(load_spec(write_spec(tmp_path, doc)))
    record = profile(ws, "flights")
    assert (record.rows, record.columns) == (336_776, 19)
    doc = ws.read("flights", "profile.json")
    stats = doc["columns"]
    assert stats["dep_delay"]["null_share"] > 0
    assert stats["dep_delay"]["null_share"] == pytest.approx(flights_frame.dep_delay.isna().mean())
    assert stats["carrier"]["distinct"] == flights_frame.carrier.nunique() == 16
    assert doc["columns_plan"]["year"] == {
        "role": "constant",
        "reason": "one distinct value: reproduced as is",
        "value": 2013,
        "null_share": 0.0,
    }
