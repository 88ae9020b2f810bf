"""mkdocs hook: the spec and CLI references, generated from the code at every build.

The spec reference walks the pydantic models under ``synth_ops.spec.Spec`` (field names, types,
constraints, defaults and ``Field(description=...)``); the CLI reference prints the help of every
command of ``synth_ops.cli.build_parser()``. A page asks for one by holding its marker line
(``<!-- generated: spec-reference -->``, ``<!-- generated: cli-reference -->``), so the prose around
it stays hand-written and the tables cannot drift from the code. Run as a script, it prints both.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import types
import typing
from contextlib import contextmanager

MARKERS = {
    "<!-- generated: spec-reference -->": lambda: spec_reference(),
    "<!-- generated: cli-reference -->": lambda: cli_reference(),
}
# Placeholders for the keys of a mapping in a field path, as errors and the docs write them.
KEY_NAMES = {"tables": "<table>", "columns": "<column>"}


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    for marker, render in MARKERS.items():
        # a marker alone on its line; one quoted in prose (the contributing page) stays as written
        pattern = re.compile(rf"^{re.escape(marker)}$", re.M)
        if pattern.search(markdown):
            markdown = pattern.sub(lambda _, render=render: render(), markdown)
    return markdown


# ---- the spec ----------------------------------------------------------------------------------


def spec_reference() -> str:
    """Markdown: one section per model reachable from ``Spec``, at the field path users write."""
    from pydantic import BaseModel

    from synth_ops.spec import Spec

    def children(model: type, path: str):
        for name, field in model.model_fields.items():
            for child, suffix in _nested_models(field.annotation, BaseModel):
                yield child, _join(path, name) + suffix.replace("<key>", KEY_NAMES.get(name, "<key>"))

    # A model used in two places (the spec's synthesizer and a table's own) is documented once, at
    # its shortest path (breadth first), and the other place links there; sections then follow the
    # spec's own order (depth first).
    sections: dict[type, str] = {Spec: ""}  # model -> the path it is documented at
    queue = [(Spec, "")]
    for model, path in queue:
        for child, child_path in children(model, path):
            if child not in sections:
                sections[child] = child_path
                queue.append((child, child_path))
    order: list[tuple[type, str]] = []

    def walk(model: type, path: str) -> None:
        order.append((model, path))
        for child, child_path in children(model, path):
            if sections[child] == child_path:
                walk(child, child_path)

    walk(Spec, "")
    out = []
    for model, path in order:
        out.append(f"### {_title(path)} {{#{_anchor(path)}}}\n")
        doc = inspect.cleandoc(model.__doc__) if model.__doc__ else ""
        if doc:
            out.append(_text(doc) + "\n")
        out.append("| key | type | default | description |\n| --- | --- | --- | --- |")
        for name, field in model.model_fields.items():
            described = _text(field.description or "")
            nested = [sections[m] for m, _ in _nested_models(field.annotation, BaseModel)]
            if nested:
                links = ", ".join(f"[{_title(p)}](#{_anchor(p)})" for p in nested)
                described = f"{described}; fields: {links}" if described else f"fields: {links}"
            row = [
                f"`{name}`",
                _type_name(field.annotation, BaseModel) + _constraints(field.metadata),
                _default(field, BaseModel),
                described or "—",
            ]
            out.append("| " + " | ".join(_cell(c) for c in row) + " |")
        out.append("")
    return "\n".join(out)


def _nested_models(annotation, base) -> list[tuple[type, str]]:
    """The models inside a field's type, each with the path suffix its fields sit under."""
    if inspect.isclass(annotation) and issubclass(annotation, base):
        return [(annotation, "")]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict:
        return [(m, ".<key>" + s) for m, s in _nested_models(args[1], base)]
    if origin in (tuple, list) and args:
        return [(m, ".<i>" + s) for m, s in _nested_models(args[0], base)]
    found = []
    for arg in args:  # Optional[...] and other unions
        found += _nested_models(arg, base)
    return found


def _type_name(annotation, base) -> str:
    if annotation is type(None):
        return "null"
    if annotation is typing.Any:
        return "any"
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in simple:
        return simple[annotation]
    if inspect.isclass(annotation) and issubclass(annotation, base):
        return "mapping"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " or ".join(f"`{json.dumps(a)}`" if not isinstance(a, str) else f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a, base) for a in args if a is not type(None)]
        return " or ".join(names + (["null"] if type(None) in args else []))
    if origin is dict:
        return f"mapping of {_type_name(args[0], base)} to {_type_name(args[1], base)}"
    if origin in (tuple, list):
        if origin is list or (len(args) == 2 and args[1] is Ellipsis):
            return f"list of {_type_name(args[0], base)}"
        return "[" + ", ".join(_type_name(a, base) for a in args) + "]"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(metadata) -> str:
    bounds = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤"}
    said = []
    for item in metadata:
        for attr, sign in bounds.items():
            if getattr(item, attr, None) is not None:
                said.append(f"{sign} {getattr(item, attr)}")
        if getattr(item, "min_length", None):
            said.append(f"at least {item.min_length}")
        if getattr(item, "pattern", None):
            said.append(f"matching `{item.pattern}`")
    return f" ({', '.join(said)})" if said else ""


def _default(field, base) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, base):
        if type(None) not in typing.get_args(field.annotation):
            return "its fields' defaults"
        value = value.model_dump(mode="json")
    return f"`{_yaml(value)}`"


def _yaml(value) -> str:
    """A default as a spec writes it: null, true, flow mappings and lists."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def _text(text: str) -> str:
    # one line, and placeholders such as <name> shown as text, not read as HTML tags
    return " ".join(text.split()).replace("<", "&lt;").replace(">", "&gt;")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _title(path: str) -> str:
    return f"`{path}`" if path else "Top level"


def _anchor(path: str) -> str:
    return "spec-" + (re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "top")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ---- the CLI -----------------------------------------------------------------------------------


def cli_reference() -> str:
    """Markdown: ``synth-ops --help`` and every command's ``--help``, as a terminal 100 wide shows them."""
    from synth_ops.cli import build_parser

    with _columns(100):
        parser = build_parser()
        out = ["### `synth-ops`\n", "```text", parser.format_help().rstrip(), "```\n"]
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        helps = {a.dest: a.help for a in commands._choices_actions}
        for name, command in commands.choices.items():
            out.append(f"### `synth-ops {name}`\n")
            if helps.get(name):
                out.append(helps[name][0].upper() + helps[name][1:] + ".\n")
            out += ["```text", command.format_help().rstrip(), "```\n"]
    return "\n".join(out)


@contextmanager
def _columns(width: int):
    # argparse wraps help to the terminal's width (COLUMNS): fixed, so every build prints the same page
    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    try:
        yield
    finally:
        if before is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = before


if __name__ == "__main__":
    sys.stdout.write(spec_reference() + "\n" + cli_reference())
