"""Streaming FASTA reader with line numbers: plain or gzip, from a path or an open text stream."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, TextIO

from plus.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
HTML_PREFIXES = ("<!doctype", "<html")


class FastaRecord(NamedTuple):
    """One FASTA record: header without '>', the sequence with line breaks removed, and the header's line."""

    header: str
    sequence: str
    line: int


def looks_like_html(text: str | bytes) -> bool:
    """True if the start of a file is an HTML page (an error page saved instead of data)."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return text.lstrip().lower().startswith(HTML_PREFIXES)


def open_maybe_gzip(path: str | os.PathLike[str]) -> TextIO:
    """Open a text file for reading, decompressing it if it starts with the gzip magic bytes."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic == GZIP_MAGIC:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline=None)
    return open(path, encoding="utf-8", newline=None)


def read_fasta(source: str | os.PathLike[str] | TextIO, name: str | None = None) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file (path, gzip by content, or text stream); InputError on bad input.

    `name` is what error messages call the file (defaults to the path or the stream's name).
    """
    if isinstance(source, (str, os.PathLike)):
        label = name or str(source)
        handle = open_maybe_gzip(source)
        owned = True
    else:
        label = name or str(getattr(source, "name", "<stream>"))
        handle = source
        owned = False
    try:
        yield from _parse(handle, label)
    except EOFError as error:
        raise InputError(f"{label}: truncated compressed file ({error})") from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise InputError(f"{label}: corrupt compressed file ({error})") from error
    finally:
        if owned:
            handle.close()


def _parse(handle: TextIO, label: str) -> Iterator[FastaRecord]:
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    number = 0
    try:
        for number, raw in enumerate(handle, start=1):
            if raw.startswith(">"):
                if header is not None:
                    yield FastaRecord(header, "".join(chunks), header_line)
                header = raw[1:].strip()
                header_line = number
                chunks = []
                continue
            text = raw.strip()
            if not text:
                continue
            if header is None:
                if looks_like_html(text):
                    raise InputError(f"{label}: line {number}: an HTML page, not FASTA (a failed download?)")
                raise InputError(f"{label}: line {number}: sequence data before the first '>' header")
            chunks.append(text)
    except UnicodeDecodeError as error:
        raise InputError(f"{label}: after line {number}: not a text file ({error.reason})") from error
    if header is not None:
        yield FastaRecord(header, "".join(chunks), header_line)
