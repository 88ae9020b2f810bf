"""The docs say what the code does: every YAML spec in README.md and docs/ loads, the generated
references cover the code they are generated from, and the README stays a first screen.

`mkdocs build --strict` (dead links, missing anchors, API entries that no longer resolve) is not run
here: `make test` runs it as its `docs` target before pytest, so it is not paid twice.

The convention for YAML blocks (docs/contributing.md): a ```yaml block is a whole spec unless the
last non-blank line before it is ``<!-- spec: fragment -->`` (merged into a minimal spec, below) or
``<!-- spec: none (why) -->`` (not a spec at all: a Dagster defs.yaml, a dagster.yaml, ...).
"""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from synth_ops.spec import SpecError, load_spec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARK = re.compile(r"^<!--\s*spec:\s*(fragment|none\s*\(.+\))\s*-->$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted(DOCS.rglob("*.md"))


def yaml_blocks(path: Path) -> list[tuple[int, str, str]]:
    """(line of the opening fence, kind: spec | fragment | none, the block's text) of each YAML block."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, language = opening.groups()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        if language.lower() in ("yaml", "yml"):
            before = next((line.strip() for line in reversed(lines[:i]) if line.strip()), "")
            mark = MARK.match(before)
            kind = "spec" if not mark else ("fragment" if mark.group(1) == "fragment" else "none")
            body = "\n".join(line[len(indent) :] for line in lines[i + 1 : end])
            blocks.append((i + 1, kind, body))
        i = end + 1
    return blocks


BLOCKS = [(path, line, kind, body) for path in markdown_files() for line, kind, body in yaml_blocks(path)]


def as_spec(kind: str, doc) -> dict:
    """A fragment merged into the smallest valid spec: a name, and a table for every table the
    fragment's relationships or privacy domains name (one table ``t`` when it names none)."""
    assert isinstance(doc, dict), "a fragment is a mapping of spec keys"
    spec = {"name": "docs", **copy.deepcopy(doc)}
    tables = spec.setdefault("tables", {})
    named = [
        name
        for rel in spec.get("relationships") or []
        for name in (rel.get("parent_table_name"), rel.get("child_table_name"))
    ]
    privacy = spec.get("privacy") or {}
    named += list(privacy.get("bounds") or {}) + list(privacy.get("categories") or {})
    for name in named or ([] if tables else ["t"]):
        tables.setdefault(name, {"source": f"{name}.csv"})
    return spec


@pytest.mark.parametrize(
    "path, line, kind, body", BLOCKS, ids=[f"{p.relative_to(ROOT)}:{line}" for p, line, _, _ in BLOCKS]
)
def test_yaml_block_is_a_spec_that_loads(path, line, kind, body, tmp_path):
    if kind == "none":
        yaml.safe_load(body)  # still valid YAML, whatever it configures
        return
    spec_file = tmp_path / "spec.yaml"
    # a whole spec goes to load_spec as written (its YAML parsed there too); a fragment merged first
    spec_file.write_text(body if kind == "spec" else yaml.safe_dump(as_spec(kind, yaml.safe_load(body))))
    try:
        load_spec(spec_file, root=tmp_path, check_files=False)  # the data files need not exist
    except SpecError as error:
        pytest.fail(f"{path.relative_to(ROOT)}:{line} ({kind}): {error}")


def test_the_block_scan_finds_specs_and_marks():
    kinds = {kind for _, _, kind, _ in BLOCKS}
    assert kinds == {"spec", "fragment", "none"}
    assert any(path.name == "README.md" and kind == "spec" for path, _, kind, _ in BLOCKS)


def test_a_broken_spec_block_fails(tmp_path):
    # the check above must be able to fail: a block with a mistyped key is refused
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- spec: fragment -->\n\n```yaml\ngates: {holdot: 0.2}\n```\n")
    [(line, kind, body)] = yaml_blocks(page)
    assert (line, kind) == (5, "fragment")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(as_spec(kind, yaml.safe_load(body))))
    with pytest.raises(SpecError, match=r"gates\.holdot: unknown key"):
        load_spec(spec_file, root=tmp_path, check_files=False)


def _hooks():
    spec = importlib.util.spec_from_file_location("docs_reference_hooks", DOCS / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spec_reference_has_every_field_and_description():
    from pydantic import BaseModel

    from synth_ops.spec import Spec

    page = _hooks().spec_reference()
    seen, todo = set(), [Spec]
    while todo:  # every model reachable from Spec, independently of the generator's own walk
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in page, f"{model.__name__}.{name} missing from the spec reference"
            if field.description:
                text = " ".join(field.description.split()).replace("<", "&lt;").replace(">", "&gt;")
                assert text.replace("|", "\\|") in page, f"{model.__name__}.{name}: description missing"
            todo += [m for m in _models_in(field.annotation, BaseModel)]
    assert len(re.findall(r"^### ", page, flags=re.MULTILINE)) == len(seen)  # one section per model


def _models_in(annotation, base):
    import inspect
    import typing

    if inspect.isclass(annotation) and issubclass(annotation, base):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg, base)]


def test_cli_reference_has_every_command():
    import argparse

    from synth_ops.cli import build_parser

    page = _hooks().cli_reference()
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "budget" in commands.choices
    for name, parser in commands.choices.items():
        assert f"### `synth-ops {name}`" in page
        assert f"usage: synth-ops {name}" in page
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, f"synth-ops {name} {option} missing from the CLI reference"


@pytest.mark.parametrize("package", ["synth_ops", "synth_ops.dagster", "synth_ops.airflow"])
def test_python_api_page_has_every_public_name(package):
    module = __import__(package, fromlist=["__all__"])
    page = (DOCS / "reference" / "python-api.md").read_text()
    documented = {line.split()[1].rsplit(".", 1)[-1] for line in page.splitlines() if line.startswith("::: ")}
    missing = sorted(set(module.__all__) - documented)
    assert not missing, f"{package} exports {missing}, not in docs/reference/python-api.md"


def test_readme_is_a_first_screen_whose_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    assert "make test" in readme and "make demo" in readme  # .ci/run runs the README's test command
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert links
    for link in links:
        if "://" not in link:
            assert (ROOT / link).is_file(), f"README.md links to {link}, which does not exist"
