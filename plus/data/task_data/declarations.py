"""What each import format accepts, declared in one place: its `files` keys and its options.

An importer module builds one `Format` per format name. Calling it checks the files keys and options (unknown
keys and wrong types are InputErrors naming them), fills in the declared defaults and runs the reader. The
same checks run without reading anything through `Format.validate` (importers.check_source), for the workflow
to call when it validates its config; docs/formats.md is generated from these declarations.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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


@dataclass(frozen=True)
class Option:
    """One option of a format: name, accepted types (`type(None)` allows null), default, one-line meaning, and
    optionally the only values it accepts (`choices`)."""

    name: str
    types: tuple[type, ...]
    default: Any
    meaning: str
    required: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def type_name(self) -> str:
        """The accepted types as docs show them, e.g. `str or null`, or the choices, e.g. `"a" or "b"`."""
        if self.choices:
            return " or ".join(f'"{choice}"' if isinstance(choice, str) else repr(choice) for choice in self.choices)
        return " or ".join(_TYPE_NAMES[kind] for kind in self.types)

    def check(self, value: Any, where: str) -> None:
        """InputError unless `value` has one of the accepted types (a bool is not taken for a number)."""
        if isinstance(value, bool):
            ok = bool in self.types
        elif isinstance(value, int):
            ok = int in self.types or float in self.types
        elif isinstance(value, Mapping):
            ok = dict in self.types
        else:
            ok = any(isinstance(value, kind) for kind in self.types if kind not in (bool, dict))
        if not ok:
            words = " or ".join(_TYPE_WORDS[kind] for kind in self.types)
            raise InputError(f"{where}: option {self.name} must be {words}, not {value!r}")
        if self.choices and value not in self.choices:
            raise InputError(f"{where}: option {self.name} must be one of {list(self.choices)}, not {value!r}")


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
class Format:
    """An import format: its name, reader, files keys, options, and checks that need no file."""

    name: str
    read: Callable[[dict[str, Any], dict[str, Any]], Tables]
    summary: str
    files: tuple[FileKey, ...]
    options: tuple[Option, ...] = ()
    check: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None
    details: str = ""
    option_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "option_names", tuple(option.name for option in self.options))

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

    def resolve_options(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """The options with defaults filled in; InputError on an unknown name or a value of the wrong type."""
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise InputError(f"format {self.name!r}: options must be a mapping, not {type(options).__name__}")
        given = {key: value for key, value in options.items() if not (key == "kind" and self.kind is not None)}
        unknown = sorted(str(key) for key in given if key not in self.option_names)
        if unknown:
            if not self.options:
                raise InputError(f"format {self.name!r}: takes no options, got {unknown}")
            raise InputError(f"format {self.name!r}: unknown options {unknown}; allowed: {list(self.option_names)}")
        resolved = {}
        for option in self.options:
            if option.required and option.name not in given:
                raise InputError(f"format {self.name!r}: options.{option.name} is required: {option.meaning}")
            if option.name in given:
                option.check(given[option.name], f"format {self.name!r}")
                resolved[option.name] = given[option.name]
            else:
                resolved[option.name] = option.default
        return resolved

    def validate(self, files: Any, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """Every check that needs no file: files keys, option names and types, the format's own checks."""
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
