"""Task importers: reading input files (plain, gzip, tar members) and the registry of formats.

Every module in this package defines `FORMATS: dict[str, Importer]`. An importer takes the files of one
config source (`{key: FileSpec}`, keys defined by the format) and its options, and returns canonical tables by
split name (columns `id`, `sequence`, `label`, + `sequence_b`/`id_b` for pairs; an optional `origin` column,
"file: line N", is used by validation to name the record in error messages and is not written out).
Counts of what an importer mapped or dropped go in `table.attrs["mapped"]` / `table.attrs["dropped"]`.

A format whose behaviour depends on `options.kind` may register one importer per kind under
`"format:kind"` (e.g. `plus_fasta:label`); `get_importer` looks that key up before the bare format name.
"""

from __future__ import annotations

import gzip
import importlib
import io
import os
import pkgutil
import tarfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from plus.errors import InputError

# a path, or {path: archive.tar(.gz), member: inner/path}
FileSpec = str | os.PathLike | Mapping[str, str]
Importer = Callable[[dict[str, FileSpec], dict[str, Any]], dict[str, pd.DataFrame]]

ORIGIN = "origin"  # optional column: where a record came from, for error messages only


def spec_path(spec: FileSpec) -> Path:
    """The file on disk a spec refers to (the archive itself for a tar member)."""
    if isinstance(spec, Mapping):
        if "path" not in spec:
            raise InputError(f"file entry {dict(spec)!r}: needs a 'path' (and optionally a 'member')")
        return Path(spec["path"])
    return Path(spec)


def spec_member(spec: FileSpec) -> str | None:
    """The member inside a tar archive a spec refers to, or None for a plain file."""
    if isinstance(spec, Mapping):
        return spec.get("member")
    return None


def describe(spec: FileSpec) -> str:
    """How error messages and summaries name a file: `path` or `archive.tar.gz:member`."""
    member = spec_member(spec)
    return f"{spec_path(spec)}:{member}" if member else str(spec_path(spec))


class _ArchiveMemberText(io.TextIOWrapper):
    """A text stream over a tar member that also closes the archive when closed."""

    def __init__(self, raw: io.BufferedIOBase, archive: tarfile.TarFile, name: str) -> None:
        super().__init__(raw, encoding="utf-8", newline=None)
        self._archive = archive
        self.member_name = name

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._archive.close()


def open_text(spec: FileSpec) -> TextIO:
    """Open a file spec as UTF-8 text: plain, gzip (by content), or a member of a tar archive (gz or not)."""
    path = spec_path(spec)
    member = spec_member(spec)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if member is None:
        if _is_gzip(path):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline=None)
        return open(path, encoding="utf-8", newline=None)
    try:
        archive = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as error:
        raise InputError(f"{path}: not a readable tar archive ({error})") from error
    try:
        info = _find_member(archive, member, path)
        handle = archive.extractfile(info)
        if handle is None:
            raise InputError(f"{path}:{member}: not a regular file in the archive")
        raw: io.BufferedIOBase = handle
        if member.endswith(".gz"):
            raw = gzip.GzipFile(fileobj=handle, mode="rb")
        return _ArchiveMemberText(raw, archive, member)
    except BaseException:
        archive.close()
        raise


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _find_member(archive: tarfile.TarFile, member: str, path: Path) -> tarfile.TarInfo:
    wanted = member[2:] if member.startswith("./") else member
    for candidate in (member, f"./{wanted}", wanted):
        try:
            return archive.getmember(candidate)
        except KeyError:
            continue
    names = [name for name in archive.getnames() if name.rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]]
    hint = f"; members with that name: {names[:5]}" if names else ""
    raise InputError(f"{path}: archive has no member {member!r}{hint}")


def read_delimited(spec: FileSpec, **options: Any) -> pd.DataFrame:
    """A CSV/TSV file as a frame of strings (empty cells stay ""); rows of the wrong width are an InputError."""
    with open_text(spec) as handle, warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(handle, dtype=str, keep_default_na=False, index_col=False, **options)
        except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as error:
            raise InputError(f"{describe(spec)}: not a readable table ({error})") from error
        except UnicodeDecodeError as error:
            raise InputError(f"{describe(spec)}: not a text file ({error.reason})") from error


def require_files(files: Mapping[str, FileSpec], fmt: str, allowed: Iterable[str] | None = None) -> None:
    """InputError unless `files` is a non-empty mapping whose keys are all in `allowed` (when given)."""
    if not isinstance(files, Mapping) or not files:
        raise InputError(f"format {fmt!r}: 'files' must be a non-empty mapping of key -> path")
    if allowed is not None:
        allowed = tuple(allowed)
        unknown = sorted(set(files) - set(allowed))
        if unknown:
            raise InputError(f"format {fmt!r}: unknown files keys {unknown}; allowed: {list(allowed)}")


def new_table(
    columns: Mapping[str, Any],
    *,
    mapped: Mapping[str, int] | None = None,
    dropped: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """A canonical table from its columns, with mapped/dropped counts (non-zero only) in attrs."""
    table = pd.DataFrame(dict(columns))
    table.attrs["mapped"] = {key: int(n) for key, n in (mapped or {}).items() if n}
    table.attrs["dropped"] = {key: int(n) for key, n in (dropped or {}).items() if n}
    return table


@cache
def registry() -> dict[str, Importer]:
    """Every importer of every module in this package, by format name (or `format:kind`)."""
    found: dict[str, Importer] = {}
    owner: dict[str, str] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        for name, importer in getattr(module, "FORMATS", {}).items():
            if name in found:
                raise RuntimeError(f"format {name!r} defined by both {owner[name]} and {module_info.name}")
            found[name] = importer
            owner[name] = module_info.name
    return found


def get_importer(fmt: str, options: Mapping[str, Any] | None = None) -> Importer:
    """The importer for a format (`format:kind` first when options has a kind); InputError if unknown."""
    formats = registry()
    kind = (options or {}).get("kind")
    if kind is not None and f"{fmt}:{kind}" in formats:
        return formats[f"{fmt}:{kind}"]
    if fmt in formats:
        return formats[fmt]
    kinds = sorted(name.split(":", 1)[1] for name in formats if name.startswith(f"{fmt}:"))
    if kinds:
        raise InputError(f"format {fmt!r} needs options.kind, one of {kinds} (got {kind!r})")
    known = sorted({name.split(":", 1)[0] for name in formats})
    raise InputError(f"unknown import format {fmt!r}; known formats: {known}")


def import_source(source: Mapping[str, Any], where: str) -> dict[str, pd.DataFrame]:
    """Run one config source `{format, files, options}`; `where` names it in error messages."""
    if not isinstance(source, Mapping) or "format" not in source:
        raise InputError(f"{where}: a source needs a 'format' key")
    options = dict(source.get("options") or {})
    files = source.get("files")
    if not isinstance(files, Mapping) or not files:
        raise InputError(f"{where}: 'files' must be a non-empty mapping of key -> path")
    importer = get_importer(source["format"], options)
    try:
        return importer(dict(files), options)
    except InputError as error:
        raise InputError(f"{where} ({source['format']}): {error}") from error
