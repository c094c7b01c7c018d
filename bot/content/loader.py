"""Reads nudges/*.yaml into validated programs, or into errors that name file:line.

Line numbers come from the YAML nodes: the file is composed (not just loaded),
every mapping key and sequence item remembers its line, and each problem's
path — ('steps', 2, 'text', 'bg') — is looked up there (or at its nearest
existing parent when the problem is something missing).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.content.blocks import step_message
from bot.content.schema import Loc, Program, program_problems, text_link_problems
from bot.slack.blocks import block_kit_problems

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, order=True)
class ContentError:
    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class LoadedProgram:
    program: Program
    source: Path
    content_hash: str


@dataclass
class Library:
    programs: dict[str, LoadedProgram] = field(default_factory=dict)
    errors: list[ContentError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def get(self, program_id: str) -> Program:
        return self.programs[program_id].program

    def error_lines(self) -> list[str]:
        return [str(e) for e in self.errors]


def canonical_json(program: Program) -> str:
    """The program as sorted, compact JSON: equal programs give equal text, whatever the YAML."""
    data = program.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(program: Program) -> str:
    return hashlib.sha256(canonical_json(program).encode("utf-8")).hexdigest()


def load_library(directory: Path) -> Library:
    """Every program file in `directory` (not recursive), validated; errors are collected."""
    library = Library()
    if not directory.is_dir():
        library.errors.append(
            ContentError(
                str(directory), 0, "-", "is not a folder; point NUDGEBOT_CONTENT_DIR at nudges/"
            )
        )
        return library
    files = sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        library.errors.append(
            ContentError(str(directory), 0, "-", "holds no *.yaml program files; add one")
        )
    for path in files:
        loaded, errors = load_program_file(path)
        library.errors += errors
        if loaded is None:
            continue
        other = library.programs.get(loaded.program.id)
        if other is not None:
            library.errors.append(
                ContentError(
                    str(path),
                    1,
                    "id",
                    f"{loaded.program.id} is already defined in {other.source}; "
                    "program ids are unique, rename or delete one file",
                )
            )
            continue
        library.programs[loaded.program.id] = loaded
    return library


def load_program_file(path: Path) -> tuple[LoadedProgram | None, list[ContentError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [ContentError(str(path), 0, "-", f"cannot be read: {exc}")]
    program, errors = parse_program(text, file=str(path), expected_id=path.stem)
    if program is None:
        return None, errors
    return LoadedProgram(program, path, content_hash(program)), errors


def parse_program(
    text: str, *, file: str, expected_id: str | None = None
) -> tuple[Program | None, list[ContentError]]:
    """A program from YAML text, with every error found; the program is None on any error."""
    try:
        data, lines, duplicates = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        return None, [
            ContentError(file, line, "yaml", f"{what}; check indentation, colons and quotes")
        ]
    except yaml.YAMLError as exc:
        return None, [ContentError(file, 1, "yaml", str(exc))]
    where = _Where(file, lines)
    errors = [where.error(loc, msg) for loc, msg in duplicates]
    if not isinstance(data, dict):
        return None, [
            *errors,
            ContentError(
                file, 1, "-", "a program file is a mapping of keys; start with `id: my-program`"
            ),
        ]
    try:
        program = Program.model_validate(data)
    except ValidationError as exc:
        return None, sorted({*errors, *(where.error(*_describe(e)) for e in exc.errors())})
    problems = program_problems(program, expected_id=expected_id)
    problems += text_link_problems(program)
    problems += _rendering_problems(program)
    errors += [where.error(loc, msg) for loc, msg in problems]
    return (None if errors else program), sorted(set(errors))


# YAML with positions -------------------------------------------------------------------------


def _compose(text: str) -> tuple[Any, dict[Loc, int], list[tuple[Loc, str]]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {(): 1}, []
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {(): node.start_mark.line + 1}
    duplicates: list[tuple[Loc, str]] = []
    _index(node, (), lines, duplicates)
    return data, lines, duplicates


def _index(
    node: yaml.Node, path: Loc, lines: dict[Loc, int], duplicates: list[tuple[Loc, str]]
) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            loc = (*path, str(key_node.value))
            if loc in lines:
                duplicates.append(
                    (
                        loc,
                        f"appears twice (first on line {lines[loc]}); YAML keeps only the "
                        "last one, so delete or merge one of them",
                    )
                )
            lines[loc] = key_node.start_mark.line + 1
            _index(value_node, loc, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index(item, (*path, index), lines, duplicates)


@dataclass(frozen=True)
class _Where:
    file: str
    lines: dict[Loc, int]

    def error(self, loc: Loc, message: str) -> ContentError:
        return ContentError(self.file, self.line(loc), field_name(loc), message)

    def line(self, loc: Loc) -> int:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def field_name(loc: Loc) -> str:
    """('steps', 2, 'text', 'bg') → steps[2].text.bg"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "-"


# Pydantic errors in words --------------------------------------------------------------------


def _describe(err: ErrorDetails) -> tuple[Loc, str]:
    loc: Loc = tuple(p for p in err["loc"] if p != "[key]")
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        return loc, "is required; add it (see docs/program-format.md)"
    if kind == "extra_forbidden":
        return loc, _unknown_key(loc)
    if kind == "string_too_long":
        size = len(value) if isinstance(value, str) else "?"
        return loc, f"is {size} characters long; shorten it to at most {ctx.get('max_length')}"
    if kind == "string_too_short":
        return loc, "is empty; write it or remove the key"
    if kind == "string_pattern_mismatch":
        return loc, _pattern_message(loc, value)
    if kind in ("literal_error", "enum"):
        return loc, f"{value!r} is not allowed; use one of {ctx.get('expected')}"
    if kind in ("too_short", "too_long"):
        size = len(value) if isinstance(value, list | dict) else "?"
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        limit = "at least" if kind == "too_short" else "at most"
        return loc, f"has {size} item(s); give {limit} {bound}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bounds = {k: v for k, v in ctx.items() if k in ("ge", "le", "gt", "lt")}
        return loc, f"{value!r} is out of range ({_bounds(bounds)}); use a value inside it"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return loc, f"{value!r} is not a whole number; write one like 3"
    if kind in ("float_parsing", "float_type"):
        return loc, f"{value!r} is not a number; write one like 12 or 0.5"
    if kind == "list_type":
        return loc, "expected a list, like [a, b] or lines starting with `- `"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return loc, "expected a mapping of keys (key: value on its own lines)"
    if kind == "string_type":
        return loc, f"expected a text, got {value!r}; put it in quotes"
    return loc, str(err["msg"]).removeprefix("Value error, ")


def _bounds(bounds: dict[str, Any]) -> str:
    signs = {"ge": "≥", "le": "≤", "gt": ">", "lt": "<"}
    return ", ".join(f"{signs[k]} {v}" for k, v in bounds.items())


def _pattern_message(loc: Loc, value: Any) -> str:
    name = loc[-1] if loc else ""
    # A locale key of a text ("EN", "bg-BG") is reported at its own name; a listed one by index.
    if (len(loc) >= 2 and loc[-2] == "locales") or name == value:
        return f"{value!r} is not a language code; use a lower-case code like en or bg"
    hints = {
        "id": "use lower-case letters, digits and single dashes, e.g. first-call",
        "trigger": "use the id of a trigger: lower-case letters, digits and single dashes",
        "owner": "use a Slack user id (U…) or an email address",
        "channel": "use a Slack channel id (C…), copied from the channel details",
        "reaction": "use an emoji name without colons, e.g. white_check_mark",
    }
    return f"{value!r} is not valid; {hints.get(str(name), 'see docs/program-format.md')}"


def _unknown_key(loc: Loc) -> str:
    known = _known_keys(loc[:-1])
    name = str(loc[-1])
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"unknown key; {hint}known keys here: {', '.join(known)}"


def _known_keys(loc: Loc) -> list[str]:
    """The keys the model at `loc` accepts (walking Program's annotations)."""
    current: Any = Program
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else Any
        elif isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(part)
            current = info.annotation if info else Any
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = options[0] if len(options) == 1 else tp
            if len(options) != 1:
                return tp
        else:
            return tp


# Rendering: what Slack would refuse --------------------------------------------------------


def _rendering_problems(program: Program) -> list[tuple[Loc, str]]:
    """Render every step in every locale and arm; report what Slack would refuse."""
    problems: list[tuple[Loc, str]] = []
    for index, step in enumerate(program.steps):
        for arm, loc in _arms(step, index):
            for locale in program.locales:
                message = step_message(program, step.id, locale=locale, delivery_id=10**15, arm=arm)
                for problem in block_kit_problems(message):
                    problems.append((loc, f"the {locale} message {problem}; shorten it"))
    return problems


def _arms(step: Any, index: int) -> Iterator[tuple[str, Loc]]:
    yield "", ("steps", index)
    for j, variant in enumerate(step.variants):
        yield variant.id, ("steps", index, "variants", j)


def error_lines(errors: Sequence[ContentError]) -> str:
    return "\n".join(str(e) for e in errors)
