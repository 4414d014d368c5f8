"""Opening task input files as text: plain, gzip, or a member of a tar/zip archive, with one-line errors.

A file spec is a path, or `{path: archive, member: inner/path}` for a member of a tar (gz or not) or zip
archive. Gzip is recognised by content, for files and members. Every read goes through `CheckedText`, which
turns a truncated or corrupt compressed stream or archive and undecodable bytes into an InputError naming the
file and the line the error came after, and which remembers whether the last line ended with a newline (a file
cut off mid-record usually does not): `truncation_warnings` phrases that for summary.json.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import tarfile
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from plus.data.fasta import GZIP_MAGIC
from plus.data.task_data import archives
from plus.data.task_data.archives import one_line
from plus.errors import InputError
from plus.io import require_file

# a path, or {path: archive.tar(.gz)|archive.zip, member: inner/path}
FileSpec = str | os.PathLike | Mapping[str, str]


def spec_path(spec: FileSpec) -> Path:
    """The file on disk a spec refers to (the archive itself for a member)."""
    if isinstance(spec, Mapping):
        if "path" not in spec:
            raise InputError(f"file entry {dict(spec)!r}: needs a 'path' (and optionally a 'member')")
        return Path(spec["path"])
    return Path(spec)


def spec_member(spec: FileSpec) -> str | None:
    """The member inside an archive a spec refers to, or None for a plain file."""
    if isinstance(spec, Mapping):
        return spec.get("member")
    return None


def describe(spec: FileSpec) -> str:
    """How error messages and summaries name a file: `path` or `archive.tar.gz:member`."""
    member = spec_member(spec)
    return f"{spec_path(spec)}:{member}" if member else str(spec_path(spec))


READ_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error, tarfile.TarError, zipfile.BadZipFile)


def read_error(name: str, lines_read: int, error: BaseException) -> InputError:
    """A one-line InputError for an error met while reading: truncated or corrupt compressed data or archive."""
    where = f"{name}: after line {lines_read}" if lines_read else name
    if isinstance(error, EOFError):
        return InputError(f"{where}: truncated compressed file ({one_line(error)})")
    if isinstance(error, (tarfile.TarError, zipfile.BadZipFile)):
        return InputError(f"{where}: corrupt or truncated archive member ({one_line(error)})")
    return InputError(f"{where}: corrupt compressed file ({one_line(error)})")


def decode_error(name: str, lines_before: int, error: UnicodeDecodeError) -> InputError:
    """A one-line InputError naming the line (1-based) and the byte that is not UTF-8."""
    data = bytes(error.object)
    line = lines_before + data.count(b"\n", 0, error.start) + 1
    byte = data[error.start]
    return InputError(f"{name}: line {line}: not a UTF-8 text file (byte 0x{byte:02x}: {error.reason})")


class CheckedText(io.TextIOBase):
    """UTF-8 text over a binary stream (a leading byte-order mark skipped, universal newlines).

    Read errors become InputErrors naming the file and line. When the binary stream is gzip and the reader
    stops on an InputError of its own (a parse error), the rest of the stream is checked first: corrupt
    compressed data is reported instead of what it garbled."""

    def __init__(self, binary: BinaryIO, name: str, compressed: bool = False) -> None:
        self._binary = binary
        self._decoder = io.IncrementalNewlineDecoder(codecs.getincrementaldecoder("utf-8-sig")(), translate=True)
        self._buffer = ""
        self._pos = 0
        self._eof = False
        self._compressed = compressed
        self._checked = False  # the compressed stream failed already, or was read to its end for a check
        self.name = name
        self.lines_decoded = 0
        self._last = ""

    def readable(self) -> bool:
        return True

    def _next_text(self) -> str:
        """Decode the next chunk of the binary stream ("" at its end, which marks end of file)."""
        try:
            data = self._binary.read(archives.CHUNK_BYTES)
        except READ_ERRORS as error:
            self._checked = True
            raise read_error(self.name, self.lines_decoded, error) from error
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            self._raise_corruption_instead(error)
            raise decode_error(self.name, self.lines_decoded, error) from error
        self.lines_decoded += text.count("\n")
        self._eof = not data
        return text

    def _returned(self, pieces: list[str]) -> str:
        text = "".join(pieces)
        if text:
            self._last = text[-1]
        return text

    def read(self, size: int | None = -1) -> str:
        limit = size if size is not None and size >= 0 else None
        pieces: list[str] = []
        taken = 0
        while True:
            end = len(self._buffer) if limit is None else min(len(self._buffer), self._pos + limit - taken)
            pieces.append(self._buffer[self._pos : end])
            taken += end - self._pos
            self._pos = end
            if self._eof or (limit is not None and taken >= limit):
                return self._returned(pieces)
            self._buffer, self._pos = self._next_text(), 0

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        limit = size if size is not None and size >= 0 else None
        pieces: list[str] = []
        taken = 0
        while True:
            newline = self._buffer.find("\n", self._pos)
            end = len(self._buffer) if newline < 0 else newline + 1
            if limit is not None:
                end = min(end, self._pos + limit - taken)
            pieces.append(self._buffer[self._pos : end])
            taken += end - self._pos
            self._pos = end
            if (newline >= 0 and end == newline + 1) or self._eof or (limit is not None and taken >= limit):
                return self._returned(pieces)
            self._buffer, self._pos = self._next_text(), 0

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _raise_corruption_instead(self, error: BaseException) -> None:
        """For a gzip stream: read it to its end, and raise the corruption found there (from `error`) if any."""
        if not self._compressed or self._checked:
            return
        self._checked = True
        try:
            while self._binary.read(archives.CHUNK_BYTES):
                pass
        except READ_ERRORS as corrupt:
            raise read_error(self.name, self.lines_decoded, corrupt) from error
        except (InputError, OSError):
            return

    def __exit__(self, kind: object, error: BaseException | None, traceback: object) -> None:
        try:
            if isinstance(error, InputError) and not self._eof:
                self._raise_corruption_instead(error)
        finally:
            self.close()

    @property
    def missing_final_newline(self) -> bool:
        """True once the text read so far is non-empty and does not end with a newline."""
        return self._last not in ("", "\n")

    def close(self) -> None:
        if not self.closed:
            self._binary.close()
        super().close()


def _maybe_gunzip(binary: io.BufferedReader, name: str) -> tuple[BinaryIO, bool]:
    """The stream itself, or its decompression (capped at MAX_UNPACKED_BYTES) when it starts with gzip magic;
    and whether it was gzip."""
    if binary.peek(2)[:2] != GZIP_MAGIC:
        return binary, False  # type: ignore[return-value]
    limited = archives.LimitedReader(gzip.GzipFile(fileobj=binary, mode="rb"), archives.MAX_UNPACKED_BYTES, name)
    return io.BufferedReader(limited, buffer_size=archives.CHUNK_BYTES), True  # type: ignore[return-value]


def open_text(spec: FileSpec) -> CheckedText:
    """Open a file spec as UTF-8 text: plain, gzip (by content), or a member of a tar or zip archive."""
    path = spec_path(spec)
    member = spec_member(spec)
    name = describe(spec)
    require_file(path)
    if member is None:
        binary = open(path, "rb", buffering=archives.CHUNK_BYTES)  # noqa: SIM115
    else:
        binary = archives.open_member(path, member)  # type: ignore[assignment]
    try:
        stream, compressed = _maybe_gunzip(binary, name)
        return CheckedText(stream, name, compressed)
    except READ_ERRORS as error:
        binary.close()
        raise read_error(name, 0, error) from error


def truncation_warnings(handle: CheckedText) -> list[str]:
    """A warning for summary.json when a file's last line has no newline (it may have been cut off)."""
    if handle.missing_final_newline:
        return [f"{handle.name}: the last line has no newline; the file may be truncated (its last record was kept)"]
    return []


def read_lines(spec: FileSpec) -> tuple[list[str], list[str]]:
    """All lines of a file without line endings (a trailing newline adds no line), and truncation warnings."""
    with open_text(spec) as handle:
        lines = handle.read().splitlines()
        return lines, truncation_warnings(handle)


def read_delimited(spec: FileSpec, **options: Any) -> pd.DataFrame:
    """A CSV/TSV file as a frame of strings (empty cells stay ""); a row of the wrong width is an InputError.

    `frame.attrs["warnings"]` holds a truncation warning when the last line has no newline.
    """
    name = describe(spec)
    with open_text(spec) as handle:
        text = handle.read()
        notes = truncation_warnings(handle)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, index_col=False, **options)
        except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError) as error:
            raise InputError(f"{name}: not a readable table ({one_line(error)})") from error
    _check_widths(text, name, options)  # after pandas, which reports rows that are too wide in its own words
    frame.attrs["warnings"] = notes
    return frame


def _check_widths(text: str, name: str, options: Mapping[str, Any]) -> None:
    """InputError naming the first line with fewer fields than the first line (pandas pads such rows with "")."""
    sep = options.get("sep", ",")
    if not isinstance(sep, str) or len(sep) != 1:
        return  # a regular-expression separator: pandas checks what it can
    reader = csv.reader(io.StringIO(text), delimiter=sep, skipinitialspace=bool(options.get("skipinitialspace")))
    width = None
    try:
        for fields in reader:
            if not fields:
                continue
            if width is None:
                width = len(fields)
            elif len(fields) != width:
                raise InputError(
                    f"{name}: line {reader.line_num}: {len(fields)} fields where the first line has {width} "
                    "(a truncated or malformed line)"
                )
    except csv.Error as error:
        raise InputError(f"{name}: line {reader.line_num}: not a readable table ({error})") from error
