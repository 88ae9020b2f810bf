"""Bad input: exit 2 (3 for a store), one line naming the field or file, no traceback, no data value,
nothing published, and found before any model is fitted.

The battery runs the CLI's ``main`` in-process (the same code path as the console script, without
paying the interpreter start and SDV import per case); ``test_cli.py`` covers the real subprocess.
"""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_ops.cli import main
from tests.conftest import PENGUINS_CSV, penguins_doc, write_spec

SECRET = "Torgersen"  # a real value of the source: must never appear in a message
NO_HOLDOUT = (
    "gates.holdout: must be above 0, got 0: every privacy and utility gate compares the synthetic rows "
    "with held-out real rows; without them nothing can be judged"
)


def _csv(tmp, frame_or_text, name="source.csv"):
    path = tmp / name
    if isinstance(frame_or_text, bytes):
        path.write_bytes(frame_or_text)
    elif isinstance(frame_or_text, str):
        path.write_text(frame_or_text)
    else:
        frame_or_text.to_csv(path, index=False)
    return path


def _parquet(tmp, table: pa.Table, name="source.parquet"):
    path = tmp / name
    pq.write_table(table, path)
    return path


def _with(frame, **columns):
    frame = frame.copy()
    for name, value in columns.items():
        frame[name] = value
    return frame


def _columns(**overrides):
    doc = penguins_doc()
    doc["tables"]["penguins"]["metadata"]["columns"].update(overrides)
    return doc


def _table(**table):
    doc = penguins_doc()
    doc["tables"]["penguins"].update(table)
    return doc


def _suite(tmp, expectations, name="suite.json"):
    path = tmp / name
    path.write_text(json.dumps({"name": "hand", "expectations": expectations}))
    return penguins_doc(gates={"suites": [str(path)]})


def _utility(**utility):
    return penguins_doc(gates={"utility": utility})


def _keyed(tmp, df):
    return penguins_doc(source=_csv(tmp, _with(df, id=np.arange(1, len(df) + 1))))


# name -> (build(tmp_path, penguins frame) -> spec doc | YAML text | None (no spec file), expected text, exit code)
CASES = {
    # the spec's shape
    "malformed_yaml": (lambda tmp, df: "name: penguins\ntables: {penguins: [\n", "malformed YAML at line", 2),
    "top_level_list": (lambda tmp, df: "- name\n- tables\n", "expected a mapping at the top level, got list", 2),
    "spec_file_missing": (lambda tmp, df: None, "cannot read spec file", 2),
    "unknown_key": (lambda tmp, df: penguins_doc(synthesiser={"kind": "ctgan"}), "synthesiser: unknown key", 2),
    "unknown_kind": (
        lambda tmp, df: penguins_doc(synthesizer={"kind": "diffusion"}),
        "synthesizer.kind: Input should be",
        2,
    ),
    "bad_name": (lambda tmp, df: {**penguins_doc(), "name": "Penguins!"}, "name: String should match pattern", 2),
    "no_tables": (lambda tmp, df: {**penguins_doc(), "tables": {}}, "tables: Dictionary should have at least 1", 2),
    "bad_table_name": (
        lambda tmp, df: {**penguins_doc(), "tables": {"Pen guins": {"source": str(PENGUINS_CSV)}}},
        "table names must match",
        2,
    ),
    "negative_rows": (
        lambda tmp, df: penguins_doc(generate={"rows": -10}),
        "generate.rows: Input should be greater than 0",
        2,
    ),
    "rows_and_scale": (
        lambda tmp, df: penguins_doc(generate={"rows": 10, "scale": 2.0}),
        "give rows or scale, not both",
        2,
    ),
    "zero_shards": (
        lambda tmp, df: penguins_doc(generate={"shards": 0}),
        "generate.shards: Input should be greater than or equal to 1",
        2,
    ),
    "holdout_all_rows": (
        lambda tmp, df: penguins_doc(gates={"holdout": 1.0}),
        "gates.holdout: Input should be less",
        2,
    ),
    # no holdout rows: no privacy or utility gate could judge anything, whatever else the spec sets
    "holdout_zero": (lambda tmp, df: penguins_doc(gates={"holdout": 0}), NO_HOLDOUT, 2),
    "holdout_zero_with_quality_floor": (
        lambda tmp, df: penguins_doc(gates={"holdout": 0, "quality_min": 0.5}),
        NO_HOLDOUT,
        2,
    ),
    "holdout_negative": (
        lambda tmp, df: penguins_doc(gates={"holdout": -0.1}),
        "gates.holdout: must be above 0, got -0.1",
        2,
    ),
    "bad_cron": (lambda tmp, df: penguins_doc(schedule="daily"), "schedule: expected a 5-field cron expression", 2),
    "relationship_to_nowhere": (
        lambda tmp, df: penguins_doc(
            relationships=[
                {
                    "parent_table_name": "islands",
                    "parent_primary_key": "island",
                    "child_table_name": "penguins",
                    "child_foreign_key": "island",
                }
            ]
        ),
        "relationships.0.parent_table_name: no table named 'islands'",
        2,
    ),
    "source_suffix": (lambda tmp, df: penguins_doc(source=tmp / "penguins.txt"), "expected a file ending in", 2),
    "s3_addressing_style": (
        lambda tmp, df: penguins_doc(s3={"addressing_style": "sideways"}),
        "s3.addressing_style: Input should be",
        2,
    ),
    "s3_max_attempts": (
        lambda tmp, df: penguins_doc(s3={"max_attempts": 0}),
        "s3.max_attempts: Input should be greater than or equal to 1",
        2,
    ),
    "key_format_step": (
        lambda tmp, df: _columns(sex={"sdtype": "id", "key_format": {"step": 0}}),
        "key_format.step: Input should be greater than or equal to 1",
        2,
    ),
    # synthesizer params, suites and the utility target: checked before fitting
    "unknown_param": (
        lambda tmp, df: penguins_doc(synthesizer={"kind": "gaussian_copula", "params": {"epochs": 5}}),
        "synthesizer.params.epochs: unknown parameter of gaussian_copula",
        2,
    ),
    "unknown_param_default_kind": (
        lambda tmp, df: penguins_doc(synthesizer={"params": {"epochs": 5}}),
        "synthesizer.params.epochs: unknown parameter of trees",
        2,
    ),
    "mistyped_param": (
        lambda tmp, df: penguins_doc(synthesizer={"kind": "ctgan", "params": {"epochs": "ten"}}),
        "synthesizer.params.epochs: expected an integer, got str",
        2,
    ),
    "param_out_of_range": (
        lambda tmp, df: penguins_doc(synthesizer={"kind": "tvae", "params": {"epochs": -1}}),
        "synthesizer.params.epochs: expected at least 1",
        2,
    ),
    "param_value_sdv_refuses": (
        lambda tmp, df: penguins_doc(
            synthesizer={"kind": "gaussian_copula", "params": {"default_distribution": "nope"}}
        ),
        "synthesizer.params: Invalid distribution specification 'nope'",
        2,
    ),
    "ctgan_batch_size": (
        lambda tmp, df: penguins_doc(synthesizer={"kind": "ctgan", "params": {"batch_size": 7}}),
        "synthesizer.params.batch_size: must be even and a multiple of pac",
        2,
    ),
    "dp_share_out_of_range": (
        lambda tmp, df: penguins_doc(
            synthesizer={"kind": "dp_mst", "params": {"oneway_split": 1.0}},
            privacy={"epsilon": 1.0, "budget": {"epsilon": 2.0}},
        ),
        "synthesizer.params.oneway_split: expected a share in (0, 1)",
        2,
    ),
    "suite_missing": (
        lambda tmp, df: penguins_doc(gates={"suites": [str(tmp / "absent.json")]}),
        "gates.suites.0: file not found",
        2,
    ),
    "suite_not_json": (
        lambda tmp, df: penguins_doc(gates={"suites": [str(_csv(tmp, "{not json", "s.json"))]}),
        "gates.suites.0: ",
        2,
    ),
    "suite_unknown_expectation": (
        lambda tmp, df: _suite(tmp, [{"type": "expect_penguins_to_fly", "kwargs": {}}]),
        "unknown expectation type 'expect_penguins_to_fly'",
        2,
    ),
    "suite_unknown_column": (
        lambda tmp, df: _suite(tmp, [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "flipper"}}]),
        "no column 'flipper' in table 'penguins'",
        2,
    ),
    "suite_bad_kwargs": (
        lambda tmp, df: _suite(
            tmp, [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "body_mass_g"}}]
        ),
        "invalid expect_column_values_to_be_between",
        2,
    ),
    "utility_target_missing": (
        lambda tmp, df: penguins_doc(gates={"utility": {"target": "specis"}}),
        "gates.utility.target: no column 'specis' in table 'penguins'",
        2,
    ),
    "utility_target_is_the_key": (
        lambda tmp, df: {**_keyed(tmp, df), "gates": {"utility": {"target": "id"}}},
        "gates.utility.target: column 'id' of table 'penguins' is not learned",
        2,
    ),
    "utility_targets_unknown": (
        lambda tmp, df: _utility(targets=["species", "specis"]),
        "gates.utility.targets.1: no column 'specis' in table 'penguins'",
        2,
    ),
    "utility_targets_generated": (
        lambda tmp, df: {**_keyed(tmp, df), "gates": {"utility": {"targets": ["sex", "id"]}}},
        "gates.utility.targets.1: column 'id' of table 'penguins' is not learned",
        2,
    ),
    "utility_targets_constant": (
        lambda tmp, df: {
            **penguins_doc(source=_csv(tmp, _with(df, pen=1))),
            "gates": {"utility": {"targets": ["pen"]}},
        },
        "gates.utility.targets.0: column 'pen' of table 'penguins' is not learned (constant",
        2,
    ),
    "utility_targets_empty": (lambda tmp, df: _utility(targets=[]), "gates.utility: targets: name at least one", 2),
    "utility_target_and_targets": (
        lambda tmp, df: _utility(target="sex", targets=["species"]),
        "gates.utility: give target or targets, not both",
        2,
    ),
    "utility_targets_twice": (
        lambda tmp, df: _utility(targets=["sex", "sex"]),
        "gates.utility: targets: a column is named twice",
        2,
    ),
    "utility_min_ratio": (
        lambda tmp, df: _utility(targets=["sex"], min_ratio=0),
        "gates.utility.min_ratio: Input should be greater than 0",
        2,
    ),
    "utility_augmentation_min": (
        lambda tmp, df: _utility(targets=["sex"], augmentation_min=-1),
        "gates.utility.augmentation_min: Input should be greater than 0",
        2,
    ),
    "utility_augmentation_share": (
        lambda tmp, df: _utility(targets=["sex"], augmentation_share=0),
        "gates.utility.augmentation_share: Input should be greater than 0",
        2,
    ),
    "utility_unknown_key": (
        lambda tmp, df: _utility(targets=["sex"], metric="f1"),
        "gates.utility.metric: unknown key",
        2,
    ),
    "discriminator_max_above_half": (
        lambda tmp, df: penguins_doc(gates={"discriminator_auc_max": 0.7}),
        "gates.discriminator_auc_max: expected auto, null or a number above 0 and at most 0.5, got 0.7",
        2,
    ),
    "model_rows_too_few": (
        lambda tmp, df: penguins_doc(gates={"model_rows": 10}),
        "gates.model_rows: Input should be greater than or equal to 50",
        2,
    ),
    # the privacy attacks: membership's limit, attribute inference's columns (checked before fitting)
    "membership_auc_max_at_chance": (
        lambda tmp, df: penguins_doc(gates={"membership_inference": {"auc_max": 0.5}}),
        "gates.membership_inference.auc_max: Input should be greater than 0.5",
        2,
    ),
    "quasi_identifiers_without_sensitive": (
        lambda tmp, df: _table(quasi_identifiers=["island"]),
        "tables.penguins: quasi_identifiers needs sensitive",
        2,
    ),
    "sensitive_without_quasi_identifiers": (
        lambda tmp, df: _table(sensitive=["sex"]),
        "tables.penguins: sensitive needs quasi_identifiers",
        2,
    ),
    "sensitive_also_quasi_identifier": (
        lambda tmp, df: _table(quasi_identifiers=["island", "sex"], sensitive=["sex"]),
        "tables.penguins: sensitive: column 'sex' is also in quasi_identifiers",
        2,
    ),
    "sensitive_named_twice": (
        lambda tmp, df: _table(quasi_identifiers=["island"], sensitive=["sex", "sex"]),
        "tables.penguins.sensitive: column 'sex' named twice",
        2,
    ),
    "quasi_identifier_unknown": (
        lambda tmp, df: _table(quasi_identifiers=["island", "flipper"], sensitive=["sex"]),
        "tables.penguins.quasi_identifiers.1: no column 'flipper' in table 'penguins'",
        2,
    ),
    "quasi_identifier_excluded": (
        lambda tmp, df: _table(exclude=["bill_depth_mm"], quasi_identifiers=["bill_depth_mm"], sensitive=["sex"]),
        "tables.penguins.quasi_identifiers.0: no column 'bill_depth_mm' in table",
        2,
    ),
    "sensitive_is_the_key": (
        lambda tmp, df: {
            **_keyed(tmp, df),
            "tables": {
                "penguins": {
                    "source": str(tmp / "source.csv"),
                    "quasi_identifiers": ["island"],
                    "sensitive": ["sex", "id"],
                }
            },
        },
        "tables.penguins.sensitive.1: column 'id' of table 'penguins' is not learned (key",
        2,
    ),
    "attack_columns_all_named": (
        lambda tmp, df: {
            **_keyed(tmp, df),
            "tables": {
                "penguins": {
                    "source": str(tmp / "source.csv"),
                    "quasi_identifiers": ["id", "isle"],
                    "sensitive": ["sex"],
                }
            },
        },
        "is not learned (key: primary key (detected)): its generated values say nothing about a real person; "
        "tables.penguins.quasi_identifiers.1: no column 'isle' in table 'penguins'",
        2,
    ),
    # files
    "missing_source": (
        lambda tmp, df: penguins_doc(source=tmp / "absent.csv"),
        "tables.penguins.source: file not found",
        2,
    ),
    "source_is_a_directory": (lambda tmp, df: penguins_doc(source=_dir(tmp / "folder.csv")), "is a directory", 2),
    "empty_table": (lambda tmp, df: penguins_doc(source=_csv(tmp, "")), "is empty (no header, no rows)", 2),
    "header_only": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, ",".join(df.columns) + "\n")),
        "has a header but no rows",
        2,
    ),
    "not_parquet": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, b"PAR1 this is not parquet", "x.parquet")),
        "cannot parse",
        2,
    ),
    "ragged_csv": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, "a,b\n1,2\n3,4,5\n6,7\n")),
        "Error tokenizing data",
        2,
    ),
    "not_utf8": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, "island,mass\nTorgersen,1\n".encode("utf-16"))),
        "is not UTF-8 text",
        2,
    ),
    "repeated_column_names": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, "a,b,a\n1,2,3\n4,5,6\n")),
        "repeated column names 'a' (2 times)",
        2,
    ),
    "unnamed_column": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, df.to_csv(index=True))),
        "column 1 of the header has no name",
        2,
    ),
    "nested_parquet": (
        lambda tmp, df: penguins_doc(
            source=_parquet(tmp, pa.table({"x": pa.array([[1, 2], [3]] * 10), "y": pa.array(range(20))}))
        ),
        "hold nested values",
        2,
    ),
    "unsupported_parquet_type": (
        lambda tmp, df: penguins_doc(
            source=_parquet(tmp, pa.table({"blob": pa.array([b"\x00\x01"] * 20), "y": pa.array(range(20))}))
        ),
        "have a type synth-ops cannot synthesize",
        2,
    ),
    "exclude_unknown": (
        lambda tmp, df: _table(exclude=["wingspan"]),
        "exclude: no such column in the source: wingspan",
        2,
    ),
    # columns
    "infinite_values": (
        lambda tmp, df: penguins_doc(
            source=_csv(tmp, _with(df, body_mass_g=df.body_mass_g.where(df.index > 2, np.inf)))
        ),
        "column 'body_mass_g' holds 3 infinite values",
        2,
    ),
    "numerical_override_on_text": (
        lambda tmp, df: _columns(island={"sdtype": "numerical"}),
        "columns.island: sdtype numerical, but 344 of 344 values are not numbers",
        2,
    ),
    "datetime_override_on_text": (
        lambda tmp, df: _columns(island={"sdtype": "datetime", "datetime_format": "%Y"}),
        "columns.island: sdtype datetime, but 344 of 344 values do not parse",
        2,
    ),
    "bad_datetime_format": (
        lambda tmp, df: _columns(island={"sdtype": "datetime", "datetime_format": "%Q"}),
        "columns.island.datetime_format: '%Q' is not a strftime format",
        2,
    ),
    "pii_on_a_boolean": (
        lambda tmp, df: (
            penguins_doc(source=_csv(tmp, _with(df, tagged=df.index % 3 == 0)))
            | {
                "tables": {
                    "penguins": {
                        "source": str(tmp / "source.csv"),
                        "metadata": {"columns": {"tagged": {"sdtype": "boolean", "pii": True}}},
                    }
                }
            }
        ),
        "columns.tagged: pii: true on a bool column",
        2,
    ),
    "key_numbering_past_64_bits": (
        lambda tmp, df: penguins_doc(
            source=_csv(tmp, _with(df, user_id=np.linspace(10**18, 9 * 10**18, len(df)).astype("int64"))),
            generate={"rows": 1000},
        ),
        "columns.user_id: the key's numbering (start + step * n, 64-bit) holds",
        2,
    ),
    "no_holdout_row": (
        lambda tmp, df: penguins_doc(source=_csv(tmp, df.head(2))),
        "gates.holdout: 0.2 of 2 rows is no holdout row",
        2,
    ),
    "boolean_override_on_text": (
        lambda tmp, df: _columns(sex={"sdtype": "boolean"}),
        "columns.sex: sdtype boolean, but 333 of 333 values are not true/false",
        2,
    ),
    "invalid_sdtype": (
        lambda tmp, df: _columns(species={"sdtype": "not_a_type"}),
        "tables.penguins.metadata.columns",
        2,
    ),
    "override_unknown_column": (
        lambda tmp, df: _columns(yeer={"sdtype": "categorical"}),
        "tables.penguins.metadata.columns.yeer: no such column in the source",
        2,
    ),
    "primary_key_repeats": (
        lambda tmp, df: _table(metadata={"primary_key": "island"}),
        "primary_key: column 'island' has 0 nulls and 341 repeated values",
        2,
    ),
    "primary_key_missing": (
        lambda tmp, df: _table(metadata={"primary_key": "band"}),
        "tables.penguins.metadata.primary_key: no such column in the source",
        2,
    ),
    # stores
    "publish_location_is_a_file": (
        lambda tmp, df: penguins_doc(publish={"uri": str(_csv(tmp, "x", "taken"))}),
        "not a directory",
        3,
    ),
    "artifacts_location_is_a_file": (
        lambda tmp, df: penguins_doc(artifacts={"uri": str(_csv(tmp, "x", "art"))}),
        "not a directory",
        3,
    ),
}


def _dir(path):
    path.mkdir()
    return path


def test_the_battery_is_at_least_forty_cases():
    assert len(CASES) >= 40


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exit_code_one_line_nothing_published(tmp_path, penguins_frame, capsys, case):
    build, expected, code = CASES[case]
    doc = build(tmp_path, penguins_frame)
    spec = tmp_path / "spec.yaml"
    if isinstance(doc, str):
        spec.write_text(doc)
    elif doc is not None:
        spec = write_spec(tmp_path, doc)
    assert main(["run", str(spec)]) == code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("synth-ops: error: ") and expected in lines[0], lines[0]
    assert "Traceback" not in captured.err and SECRET not in captured.err and "Biscoe" not in captured.err
    assert not (tmp_path / "warehouse").exists()
    assert not list(tmp_path.rglob("model*.pkl"))  # found before any fitting


def test_a_short_key_pattern_that_cannot_number_every_row_is_refused(tmp_path, penguins_frame, capsys):
    frame = penguins_frame.head(60).copy()
    # 60 codes A0..F9: a letter A-F (read as a hex digit, 16 values) and a digit hold 160 keys
    frame.insert(0, "pen", [f"{a}{b}" for a in "ABCDEF" for b in "0123456789"])
    source = tmp_path / "pens.csv"
    frame.to_csv(source, index=False)
    spec = write_spec(tmp_path, penguins_doc(source=source, generate={"rows": 1000}))
    assert main(["run", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "metadata.columns.pen: the key's pattern holds 160 distinct values, fewer than the 1000 to generate" in err
    assert not (tmp_path / "warehouse").exists()
