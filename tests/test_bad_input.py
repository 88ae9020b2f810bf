"""Bad input: exit 2, a one-line message naming the field or file, and nothing published."""
import numpy as np
import pytest

from tests.conftest import PENGUINS_CSV, penguins_doc, run_cli, write_spec


def _csv(tmp_path, frame_or_text, name="source.csv"):
    path = tmp_path / name
    if isinstance(frame_or_text, str):
        path.write_text(frame_or_text)
    else:
        frame_or_text.to_csv(path, index=False)
    return path


def _with(frame, **columns):
    frame = frame.copy()
    for name, value in columns.items():
        frame[name] = value
    return frame


CASES = {
    "malformed_yaml": (lambda tmp, df: "name: penguins\ntables: {penguins: [\n", "malformed YAML at line"),
    "unknown_key": (lambda tmp, df: penguins_doc(synthesiser={"kind": "ctgan"}), "synthesiser: unknown key"),
    "unknown_kind": (lambda tmp, df: penguins_doc(synthesizer={"kind": "diffusion"}), "synthesizer.kind: Input should be"),
    "missing_source": (lambda tmp, df: penguins_doc(source=tmp / "absent.csv"), "tables.penguins.source: file not found"),
    "empty_table": (lambda tmp, df: penguins_doc(source=_csv(tmp, "")), "is empty (no header, no rows)"),
    "header_only": (lambda tmp, df: penguins_doc(source=_csv(tmp, ",".join(df.columns) + "\n")), "has a header but no rows"),
    "all_null_column": (lambda tmp, df: penguins_doc(source=_csv(tmp, _with(df, tag=np.nan))),
                        "column 'tag' is entirely null; list it in tables.penguins.exclude"),
    "constant_column": (lambda tmp, df: penguins_doc(source=_csv(tmp, _with(df, colony="Palmer Station"))),
                        "column 'colony' is constant"),
    "override_unknown_column": (
        lambda tmp, df: {**penguins_doc(), "tables": {"penguins": {"source": str(PENGUINS_CSV), "metadata": {
            "columns": {"yeer": {"sdtype": "categorical"}}}}}},
        "tables.penguins.metadata.columns.yeer: no such column in the source"),
    "negative_rows": (lambda tmp, df: penguins_doc(generate={"rows": -10}), "generate.rows: Input should be greater than 0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exit_2_one_line_nothing_published(tmp_path, penguins_frame, case):
    build, expected = CASES[case]
    doc = build(tmp_path, penguins_frame)
    if isinstance(doc, str):
        spec = tmp_path / "spec.yaml"
        spec.write_text(doc)
    else:
        spec = write_spec(tmp_path, doc)
    result = run_cli("run", str(spec))
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("synth-ops: error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr and "Palmer Station" not in result.stderr
    assert not (tmp_path / "warehouse").exists()
