"""Streaming FASTA reader with line numbers: plain or gzip, from a path or an open text stream."""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from typing import NamedTuple, TextIO

from plus.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
HTML_PREFIXES = ("<!doctype", "<html")
BLOCK_CHARS = 1 << 22
BOM = "\ufeff"
INNER_SPACE = re.compile(r"[^\s][ \t\f\v]+[^\s]")


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


def read_fasta(source: str | os.PathLike[str] | TextIO, name: str | None = None) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file (path, gzip by content, or text stream); InputError on bad input.

    `name` is what error messages call the file (defaults to the path or the stream's name). A path is read
    through `plus.data.task_data.reading.open_text`: a byte-order mark is skipped, a byte that is not UTF-8 is
    reported with its line, and corrupt gzip data is reported as such rather than as the record it garbled.
    """
    if isinstance(source, (str, os.PathLike)):
        from plus.data.task_data.reading import open_text

        with open_text(source) as handle:
            yield from _parse(handle, name or str(source))
        return
    label = name or str(getattr(source, "name", "<stream>"))
    try:
        yield from _parse(source, label)
    except EOFError as error:
        raise InputError(f"{label}: truncated compressed file ({error})") from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise InputError(f"{label}: corrupt compressed file ({error})") from error


def _parse(handle: TextIO, label: str) -> Iterator[FastaRecord]:
    """Parse in large blocks: split on newline + '>' so that the per-line work happens in C."""
    line = 1  # line number of the start of `pending`
    pending = ""
    started = False
    first = True
    while True:
        try:
            block = handle.read(BLOCK_CHARS)
        except UnicodeDecodeError as error:
            raise InputError(f"{label}: after line {line}: not a text file ({error.reason})") from error
        if first and block.startswith(BOM):
            block = block[1:]
        first = False
        data = pending + block
        if not started:
            data, line, started = _skip_to_first_header(data, line, label, at_end=not block)
            if not started:
                if not block:
                    return
                pending = data
                continue
        if block:
            cut = data.rfind("\n>")
            if cut < 0:
                pending = data
                continue
            complete, pending = data[:cut], data[cut + 1 :]
        else:
            complete, pending = data, ""
        for record in complete[1:].split("\n>"):
            newline = record.find("\n")
            if newline < 0:
                yield FastaRecord(record.strip(), "", line)
            else:
                body = record[newline + 1 :]
                inner = INNER_SPACE.search(body)
                if inner is not None:
                    number = line + 1 + body.count("\n", 0, inner.start())
                    raise InputError(f"{label}: line {number}: a space inside a sequence line")
                yield FastaRecord(record[:newline].strip(), "".join(body.split()), line)
            line += record.count("\n") + 1
        if not block:
            return


def _skip_to_first_header(data: str, line: int, label: str, at_end: bool) -> tuple[str, int, bool]:
    """Drop blank lines before the first header, raising on anything else: (rest, its line, header found)."""
    while data:
        if data.startswith(">"):
            return data, line, True
        newline = data.find("\n")
        if newline < 0 and not at_end:
            return data, line, False  # the first line is not complete yet
        text = data if newline < 0 else data[:newline]
        if text.strip():
            if looks_like_html(text):
                raise InputError(f"{label}: line {line}: an HTML page, not FASTA (a failed download?)")
            raise InputError(f"{label}: line {line}: sequence data before the first '>' header")
        if newline < 0:
            break
        data = data[newline + 1 :]
        line += 1
    return "", line, False
