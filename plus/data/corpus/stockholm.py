"""Pfam Stockholm alignments (Pfam-A.full, Pfam-A.seed, one family's .sto) as a stream of Pfam-A.fasta records.

`prepare-pfam` reads Pfam-A.fasta; Pfam also publishes its families as Stockholm alignments. This reader turns
them, one alignment at a time, into the bytes of the FASTA records Pfam-A.fasta would hold:
`>NAME/start-end ACC PFxxxxx.v;ID;` with the sequence ungapped (`.` and `-` removed) and upper-cased. The
family comes from `#=GF AC` / `#=GF ID`, the sequence accession from `#=GS NAME AC` (the name before '/' when
absent). Interleaved alignments (a name on several lines) are joined. Memory holds one alignment at a time.

Biopython's Stockholm parser (`Bio.AlignIO.parse(handle, "stockholm")`) also streams alignment by alignment,
but it keeps every `#=GR`/`#=GC` annotation and builds SeqRecord objects; this reader keeps only what the corpus
needs, works on bytes (Pfam's free-text lines are not always UTF-8), and reports errors with the Stockholm
line number.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from plus.errors import InputError

MAGIC = b"# STOCKHOLM"
_GAPS = b".-"
_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))


def is_stockholm(start: bytes) -> bool:
    """Whether the (decompressed) start of a file is a Stockholm header."""
    return start.lstrip().startswith(MAGIC)


class _Alignment:
    """The parts of one alignment being read: family fields, sequence accessions, and sequence segments."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.family: dict[bytes, bytes] = {}
        self.accessions: dict[bytes, bytes] = {}
        self.segments: dict[bytes, list[bytes]] = {}
        self.widths: dict[bytes, tuple[int, int]] = {}  # aligned columns (gaps included) and the row's last line

    def add(self, name: bytes, aligned: bytes, residues: bytes, line: int) -> None:
        """One row (or, interleaved, one block's part of a row) of the alignment."""
        self.segments.setdefault(name, []).append(residues)
        self.widths[name] = (self.widths.get(name, (0, 0))[0] + len(aligned), line)

    def check_widths(self, label: str) -> None:
        """InputError naming the first row whose aligned length differs from the first row's (a ragged row)."""
        rows = iter(self.widths.items())
        first, (width, _) = next(rows, (b"", (0, 0)))
        for name, (columns, line) in rows:
            if columns != width:
                raise InputError(
                    f"{label}: line {line}: row {name.decode(errors='replace')!r} has {columns} aligned columns "
                    f"where row {first.decode(errors='replace')!r} has {width} (a ragged alignment)"
                )

    def fasta(self, label: str, end_line: int) -> bytes:
        """The alignment's sequences as Pfam-A.fasta records."""
        for key in (b"AC", b"ID"):
            if not self.family.get(key):
                raise InputError(
                    f"{label}: line {self.line}: the alignment ending on line {end_line} has no '#=GF {key.decode()}'"
                )
        self.check_widths(label)
        accession, family_id = self.family[b"AC"], self.family[b"ID"]
        if not accession.startswith(b"PF"):
            shown = accession.decode(errors="replace")
            raise InputError(f"{label}: line {self.line}: '#=GF AC {shown}' is not a Pfam accession (PFxxxxx)")
        out = bytearray()
        for name, parts in self.segments.items():
            sequence_accession = self.accessions.get(name) or name.split(b"/", 1)[0]
            out += b">%s %s %s;%s;\n%s\n" % (name, sequence_accession, accession, family_id, b"".join(parts))
        return bytes(out)


def fasta_records(binary: BinaryIO, label: str) -> Iterator[bytes]:
    """Pfam-A.fasta bytes for each alignment of a Stockholm stream; InputError naming the line on bad input."""
    alignment: _Alignment | None = None
    number = 0
    for number, raw in enumerate(binary, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(MAGIC):
            if alignment is not None:
                raise InputError(f"{label}: line {number}: new '# STOCKHOLM' header before '//' ended the alignment")
            alignment = _Alignment(number)
            continue
        if alignment is None:
            raise InputError(f"{label}: line {number}: expected a '# STOCKHOLM 1.0' header, got {line[:40]!r}")
        if line == b"//":
            yield alignment.fasta(label, number)
            alignment = None
        elif line.startswith(b"#=GF "):
            fields = line.split(None, 2)
            if len(fields) == 3 and fields[1] in (b"AC", b"ID"):
                alignment.family[fields[1]] = fields[2].strip()
        elif line.startswith(b"#=GS "):
            fields = line.split(None, 3)
            if len(fields) == 4 and fields[2] == b"AC":
                alignment.accessions[fields[1]] = fields[3].strip()
        elif not line.startswith(b"#"):
            fields = line.split()
            if len(fields) != 2:
                raise InputError(f"{label}: line {number}: expected 'NAME ALIGNED-SEQUENCE', got {line[:60]!r}")
            residues = fields[1].translate(None, _GAPS)
            bad = residues.translate(None, _LETTERS)
            if bad:
                raise InputError(f"{label}: line {number}: {chr(bad[0])!r} is not a residue letter or gap")
            alignment.add(fields[0], fields[1], residues.upper(), number)
    if alignment is not None:
        raise InputError(f"{label}: line {alignment.line}: alignment has no closing '//' (a truncated file?)")
    if number == 0:
        raise InputError(f"{label}: empty file")


class StockholmAsFasta(io.RawIOBase):
    """A readable byte stream of Pfam-A.fasta records made from a Stockholm stream, one alignment at a time."""

    def __init__(self, binary: BinaryIO, label: str) -> None:
        self._records = fasta_records(binary, label)
        self._binary = binary
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:
        while not self._pending:
            chunk = next(self._records, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            self._binary.close()
        super().close()
