"""What each import format accepts, declared in one place: its `files` keys and its options model.

An importer module declares one pydantic model per format for its options (`FormatOptions`: each option's type,
default and description written once) and builds one `Format` per format name. Calling a format checks the files
keys and validates the options through the model (an unknown option or a value of the wrong type is a one-line
InputError naming it), then runs the reader with the validated model. The same checks run without reading anything
through `Format.validate` (importers.check_source), for the workflow to call when it validates its config;
docs/formats.md is generated from these declarations (plus.data.task_data.formats_doc).
"""

from __future__ import annotations

import fnmatch
import json
import os
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.fields import FieldInfo

from plus.errors import InputError

SPLIT = "{split}"  # a FileKey pattern: any split name
Tables = dict[str, pd.DataFrame]
_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", dict: "mapping", list: "list", type(None): "null"}
_TYPE_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
    type(None): "null",
}


class FormatOptions(BaseModel):
    """Base of every format's options model: unknown options are errors, values keep their type (no coercion)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NoOptions(FormatOptions):
    """The options of a format that takes none."""


OptionsT = TypeVar("OptionsT", bound=FormatOptions)


def _members(annotation: Any) -> list[Any]:
    """The members of an option's annotation, unions flattened (a Literal stays whole)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [kind for member in get_args(annotation) for kind in _members(member)]
    return [annotation]


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The values the Literal members of an annotation allow (none: any value of its types)."""
    return tuple(
        choice for member in _members(annotation) if get_origin(member) is Literal for choice in get_args(member)
    )


def _describe(field: FieldInfo, names: Mapping[type, str]) -> str:
    """An option's types (and choices) in `names`' words, joined by `or`."""
    parts = []
    for member in _members(field.annotation):
        if get_origin(member) is Literal:
            parts += [json.dumps(choice) if isinstance(choice, str) else repr(choice) for choice in get_args(member)]
        else:
            parts.append(names[get_origin(member) or member])
    return " or ".join(parts)


def type_name(field: FieldInfo) -> str:
    """An option's accepted types as docs show them, e.g. `str or null`, or its choices, e.g. `"a" or "b"`."""
    return _describe(field, _TYPE_NAMES)


def _option_error(name: str, field: FieldInfo, error: Mapping[str, Any], given: Mapping[str, Any]) -> str:
    """One line for the first problem pydantic found with option `name`."""
    if error["type"] == "missing":
        return f"options.{name} is required: {field.description}"
    if error["type"] == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    tagged = len([member for member in _members(field.annotation) if member is not type(None)]) > 1
    inner = error["loc"][2 if tagged else 1 :]  # past the member's tag, in a union of several types
    if inner:
        return f"options.{'.'.join(map(str, (name, *inner)))}: {error['msg']}"
    choices = _choices(field.annotation)
    if error["type"] == "literal_error" and choices:
        nullable = [None] if type(None) in _members(field.annotation) else []
        return f"option {name} must be one of {[*choices, *nullable]}, not {given[name]!r}"
    return f"option {name} must be {_describe(field, _TYPE_WORDS)}, not {given[name]!r}"


def parse_options(model: type[OptionsT], given: Mapping[str, Any], where: str) -> OptionsT:
    """`given` validated by a format's options model; InputError, one line naming the option, when it fails."""
    try:
        return model.model_validate(dict(given))
    except ValidationError as failure:
        errors = failure.errors()
    unknown = sorted(str(error["loc"][0]) for error in errors if error["type"] == "extra_forbidden")
    if unknown:
        if not model.model_fields:
            raise InputError(f"{where}: takes no options, got {unknown}") from None
        raise InputError(f"{where}: unknown options {unknown}; allowed: {list(model.model_fields)}") from None
    by_option = {str(error["loc"][0]): error for error in reversed(errors) if error["loc"]}
    for name, field in model.model_fields.items():
        if name in by_option:
            raise InputError(f"{where}: {_option_error(name, field, by_option[name], given)}") from None
    raise InputError(f"{where}: {errors[0]['msg']}") from None


@dataclass(frozen=True)
class FileKey:
    """A key of a format's `files`: a literal name, `{split}` (any split name) or a glob like `pool_*`."""

    pattern: str
    meaning: str
    required: bool = False

    def matches(self, key: str) -> bool:
        """Whether a files key is of this kind."""
        if self.pattern == SPLIT:
            return True
        if "*" in self.pattern:
            return fnmatch.fnmatchcase(key, self.pattern)
        return key == self.pattern


@dataclass(frozen=True)
class Format(Generic[OptionsT]):
    """An import format: its name, reader, files keys, options model, and the checks that need files and options."""

    name: str
    read: Callable[[dict[str, Any], OptionsT], Tables]
    summary: str
    files: tuple[FileKey, ...]
    options: type[OptionsT] = NoOptions  # type: ignore[assignment]
    check: Callable[[Mapping[str, Any], OptionsT], None] | None = None
    details: str = ""

    @property
    def base_name(self) -> str:
        """The `format` value of a config source (`plus_fasta` for `plus_fasta:label`)."""
        return self.name.split(":", 1)[0]

    @property
    def kind(self) -> str | None:
        """The `options.kind` that selects this format, if it is one of several kinds."""
        return self.name.split(":", 1)[1] if ":" in self.name else None

    def check_files(self, files: Any) -> None:
        """InputError unless `files` is a non-empty mapping whose keys this format knows, required ones present."""
        if not isinstance(files, Mapping) or not files:
            raise InputError(f"format {self.name!r}: 'files' must be a non-empty mapping of key -> path")
        unknown = sorted(str(key) for key in files if not any(entry.matches(str(key)) for entry in self.files))
        if unknown:
            allowed = [entry.pattern for entry in self.files]
            raise InputError(f"format {self.name!r}: unknown files keys {unknown}; allowed: {allowed}")
        missing = [entry.pattern for entry in self.files if entry.required and entry.pattern not in files]
        if missing:
            raise InputError(f"format {self.name!r}: files keys {missing} are required")

    def resolve_options(self, options: Mapping[str, Any] | None) -> OptionsT:
        """The options validated by this format's model (defaults filled in); `kind` selects a kinded format."""
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise InputError(f"format {self.name!r}: options must be a mapping, not {type(options).__name__}")
        given = {key: value for key, value in options.items() if not (key == "kind" and self.kind is not None)}
        return parse_options(self.options, given, f"format {self.name!r}")

    def validate(self, files: Any, options: Mapping[str, Any] | None) -> OptionsT:
        """Every check that needs no file: files keys, the options, the format's own cross-checks."""
        resolved = self.resolve_options(options)
        self.check_files(files)
        if self.check is not None:
            self.check(files, resolved)
        return resolved

    def __call__(self, files: Mapping[str, Any], options: Mapping[str, Any] | None = None) -> Tables:
        resolved = self.validate(files, options)
        return self.read(dict(files), resolved)


def check_file_spec(value: Any, where: str) -> None:
    """InputError unless a files value is a path or a mapping with `path` or `url` (and an optional `member`)."""
    if isinstance(value, (str, os.PathLike)):
        if not str(value):
            raise InputError(f"{where}: empty path")
        return
    if not isinstance(value, Mapping) or not ({"path", "url"} & set(value)):
        raise InputError(f"{where}: a file must be a path or a mapping with 'path' (or 'url'), not {value!r}")
    member = value.get("member")
    if member is not None and (not isinstance(member, str) or not member.strip("./")):
        raise InputError(f"{where}: 'member' must be a path inside the archive, not {member!r}")
