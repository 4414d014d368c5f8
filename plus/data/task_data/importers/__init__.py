"""Task importers: looking up a format, running one config source, and checking one without reading it.

The modules of this package declare formats (plus.data.task_data.declarations), listed by name in
`catalog.FORMATS`: a format declares its `files` keys and its options model (pydantic, one per format) and reads
the files, with the validated options, into canonical tables by split name (columns `id`,
`sequence`, `label`, + `sequence_b`/`id_b` for pairs; an optional `origin` column, "file: line N", is used by
validation to name the record in error messages and is not written out). Counts of what an importer mapped or
dropped go in `table.attrs["mapped"]` / `table.attrs["dropped"]`, warnings (e.g. a file that may be truncated)
in `table.attrs["warnings"]`.

A format whose behaviour depends on `options.kind` registers one format per kind under `"format:kind"` (e.g.
`plus_fasta:label`); `get_importer` looks that key up before the bare format name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from pydantic import BaseModel

from plus.data.task_data.declarations import Format, check_file_spec
from plus.data.task_data.reading import (
    FileSpec,
    describe,
    open_text,
    read_delimited,
    read_lines,
    spec_member,
    spec_path,
    truncation_warnings,
)
from plus.errors import InputError
from plus.settings import LocalSource, Source

__all__ = [
    "ORIGIN",
    "FileSpec",
    "Format",
    "check_source",
    "describe",
    "get_importer",
    "import_source",
    "new_table",
    "open_text",
    "read_delimited",
    "read_lines",
    "registry",
    "source_files",
    "spec_member",
    "spec_path",
    "truncation_warnings",
]

ORIGIN = "origin"  # optional column: where a record came from, for error messages only
SOURCE_KEYS = ("format", "files", "options")
TypedSource = Source | LocalSource  # a config source as plus.settings validates it, or as an import job holds it


def new_table(
    columns: Mapping[str, Any],
    *,
    mapped: Mapping[str, int] | None = None,
    dropped: Mapping[str, int] | None = None,
    warnings: Iterable[str] = (),
) -> pd.DataFrame:
    """A canonical table from its columns, with mapped/dropped counts (non-zero only) and warnings in attrs."""
    table = pd.DataFrame(dict(columns))
    table.attrs["mapped"] = {key: int(n) for key, n in (mapped or {}).items() if n}
    table.attrs["dropped"] = {key: int(n) for key, n in (dropped or {}).items() if n}
    table.attrs["warnings"] = list(warnings)
    return table


def registry() -> dict[str, Format]:
    """Every format by name (`format` or `format:kind`): `catalog.FORMATS`."""
    from plus.data.task_data.importers.catalog import FORMATS  # its modules import this package's helpers

    return FORMATS


def get_importer(fmt: str, options: Mapping[str, Any] | None = None) -> Format:
    """The format (a callable importer) for a name, `format:kind` first when options has a kind."""
    formats = registry()
    if not isinstance(fmt, str):
        raise InputError(f"format must be a string, not {fmt!r}")
    kind = options.get("kind") if isinstance(options, Mapping) else None
    if kind is not None and f"{fmt}:{kind}" in formats:
        return formats[f"{fmt}:{kind}"]
    if fmt in formats:
        return formats[fmt]
    kinds = sorted(name.split(":", 1)[1] for name in formats if name.startswith(f"{fmt}:"))
    if kinds:
        raise InputError(f"format {fmt!r} needs options.kind, one of {kinds} (got {kind!r})")
    known = sorted({name.split(":", 1)[0] for name in formats})
    raise InputError(f"unknown import format {fmt!r}; known formats: {known}")


def source_files(source: TypedSource) -> dict[str, FileSpec]:
    """A typed source's `files` as the readers take them: archive members (and downloads) as mappings."""
    return {
        key: value.model_dump(mode="json", exclude_none=True) if isinstance(value, BaseModel) else value
        for key, value in source.files.items()
    }


def _as_mapping(source: Any) -> Any:
    """A typed source as the mapping a config holds; anything else unchanged."""
    if isinstance(source, (Source, LocalSource)):
        return {"format": source.format, "files": source_files(source), "options": source.options}
    return source


def _source_parts(source: Any, where: str) -> tuple[Format, Mapping[str, Any], dict[str, Any]]:
    """The format, files and raw options of a config source."""
    if not isinstance(source, Mapping) or "format" not in source:
        raise InputError(f"{where}: a source needs a 'format' key")
    unknown = sorted(str(key) for key in source if key not in SOURCE_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown source keys {unknown}; a source has {list(SOURCE_KEYS)}")
    options = source.get("options") or {}
    if not isinstance(options, Mapping):
        raise InputError(f"{where}: options must be a mapping, not {type(options).__name__}")
    files = source.get("files")
    if not isinstance(files, Mapping) or not files:
        raise InputError(f"{where}: 'files' must be a non-empty mapping of key -> path")
    try:
        return get_importer(source["format"], options), files, dict(options)
    except InputError as error:
        raise InputError(f"{where}: {error}") from error


def check_source(source: Mapping[str, Any] | TypedSource, where: str) -> None:
    """Check one source `{format, files, options}` (a config mapping or a typed source) without reading any file.

    Checks the format name (and kind), the files keys and each file entry's shape (a path, or a mapping with
    `path` or `url` and an optional `member`), the options (through the format's options model), and the
    format's own cross-checks.
    """
    source = _as_mapping(source)
    importer, files, options = _source_parts(source, where)
    try:
        importer.validate(files, options)
        for key, value in files.items():
            check_file_spec(value, f"files.{key}")
    except InputError as error:
        raise InputError(f"{where} ({source['format']}): {error}") from error


def import_source(source: Mapping[str, Any] | TypedSource, where: str) -> dict[str, pd.DataFrame]:
    """Run one source `{format, files, options}` (a config mapping or a typed source); `where` names it in errors."""
    source = _as_mapping(source)
    importer, files, options = _source_parts(source, where)
    try:
        return importer(dict(files), options)
    except InputError as error:
        raise InputError(f"{where} ({source['format']}): {error}") from error
