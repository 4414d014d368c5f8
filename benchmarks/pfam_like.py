"""Generate a Pfam-A.fasta.gz-like file of any size, fast: every block of records is built with numpy.

Records look like `>S000000007_SPEC/1-0143 A000000007.1 PF00042.7;Fam00042;` followed by the sequence in lines
of 60 residues. Headers are fixed-width (zero-padded numbers), unlike real Pfam; the parser does not care.
Assumptions, not measured Pfam statistics: domain lengths are log-normal with median 140 aa and sigma 0.5
(clipped to [10, 3000]); family sizes are Zipf-like (weight of the family of rank r is r^-0.7), which with
the default 6000 families leaves about 3,150 families with >= 1000 training sequences at 15M sequences, as in
the paper (most of the rest fall below the filter); residues are i.i.d. with background amino-acid frequencies.
The output is gzip level 1 (zlib in a writer thread, overlapping the generation of the next block).

    python benchmarks/pfam_like.py /tmp/scale/Pfam-A.fasta.gz --sequences 15000000
"""

from __future__ import annotations

import argparse
import gzip
import json
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np

AMINO_ACIDS = np.frombuffer(b"ARNDCQEGHILKMFPSTWYV", dtype=np.uint8)
BACKGROUND = np.array(
    [8.3, 5.5, 4.1, 5.5, 1.4, 3.9, 6.7, 7.1, 2.3, 5.9, 9.7, 5.8, 2.4, 3.9, 4.7, 6.6, 5.4, 1.1, 2.9, 6.9]
)
LINE = 60
BLOCK_RECORDS = 50_000
MEDIAN_LENGTH, SIGMA, MIN_LENGTH, MAX_LENGTH = 140.0, 0.5, 10, 3000
ZIPF_EXPONENT = 0.7
# Fixed-width header: (field, the text just before its digits, number of digits).
TEMPLATE = b">S000000000_SPEC/1-0000 A000000000.1 PF00000.7;Fam00000;\n"
FIELDS = (
    ("index", b">S", 9),
    ("length", b"/1-", 4),
    ("index", b" A", 9),
    ("family", b" PF", 5),
    ("family", b";Fam", 5),
)


def residue_table() -> np.ndarray:
    """256 entries so that a uniform random byte maps to an amino acid with the background frequencies."""
    cumulative = np.cumsum(BACKGROUND / BACKGROUND.sum())
    return AMINO_ACIDS[np.minimum(np.searchsorted(cumulative, (np.arange(256) + 0.5) / 256), 19)]


def family_weights(n_families: int, exponent: float = ZIPF_EXPONENT) -> np.ndarray:
    """Zipf-like family probabilities: family r (0-based) has weight (r + 1)^-exponent."""
    weights = 1.0 / np.arange(1, n_families + 1) ** exponent
    return weights / weights.sum()


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers, zero-padded to `width` columns: shape (len(values), width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values[:, None] // powers % 10 + ord("0")).astype(np.uint8)


def headers(indices: np.ndarray, lengths: np.ndarray, families: np.ndarray) -> np.ndarray:
    """The header lines of a block of records as an (n, len(TEMPLATE)) uint8 matrix."""
    matrix = np.tile(np.frombuffer(TEMPLATE, dtype=np.uint8), (len(indices), 1))
    values = {"index": indices, "length": lengths, "family": families}
    for field, before, width in FIELDS:
        column = TEMPLATE.index(before) + len(before)
        matrix[:, column : column + width] = _digits(values[field], width)
    return matrix


def block(
    rng: np.random.Generator, first: int, n: int, weights: np.ndarray, table: np.ndarray
) -> tuple[bytes, np.ndarray]:
    """FASTA bytes of records first..first+n-1, and their families."""
    lengths = np.clip(rng.lognormal(np.log(MEDIAN_LENGTH), SIGMA, n), MIN_LENGTH, MAX_LENGTH).astype(np.int64)
    families = np.minimum(np.searchsorted(np.cumsum(weights), rng.random(n)), len(weights) - 1)
    header = headers(np.arange(first, first + n), lengths, families)
    body = lengths + (lengths + LINE - 1) // LINE  # residues plus one newline per line
    record_bytes = header.shape[1] + body
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(record_bytes[:-1], out=starts[1:])
    out = np.full(int(record_bytes.sum()), ord("\n"), dtype=np.uint8)
    out[(starts[:, None] + np.arange(header.shape[1])).ravel()] = header.ravel()
    first_residue = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=first_residue[1:])
    in_sequence = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(first_residue, lengths)
    destination = np.repeat(starts + header.shape[1], lengths) + in_sequence + in_sequence // LINE
    out[destination] = table[np.frombuffer(rng.bytes(len(destination)), dtype=np.uint8)]
    return out.tobytes(), families


def _write_all(handle: gzip.GzipFile, chunks: queue.Queue, errors: list[BaseException]) -> None:
    try:
        while (data := chunks.get()) is not None:
            handle.write(data)
    except BaseException as error:  # re-raised by the generating thread
        errors.append(error)
        while chunks.get() is not None:
            pass


def generate(path: Path, n_sequences: int, n_families: int = 6000, seed: int = 0) -> dict[str, int]:
    """Write `n_sequences` Pfam-like records to `path` (gzip level 1); returns sequences per family rank."""
    rng = np.random.default_rng(seed)
    weights, table = family_weights(n_families), residue_table()
    sizes = np.zeros(n_families, dtype=np.int64)
    chunks: queue.Queue = queue.Queue(maxsize=2)
    errors: list[BaseException] = []
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0) as out:
        writer = threading.Thread(target=_write_all, args=(out, chunks, errors))
        writer.start()
        try:
            for first in range(0, n_sequences, BLOCK_RECORDS):
                if errors:
                    break
                data, families = block(rng, first, min(BLOCK_RECORDS, n_sequences - first), weights, table)
                sizes += np.bincount(families, minlength=n_families)
                chunks.put(data)
        finally:
            chunks.put(None)
            writer.join()
    if errors:
        tmp.unlink()
        raise errors[0]
    tmp.replace(path)
    return {"sequences": n_sequences, "families": int((sizes > 0).sum()), "largest_family": int(sizes.max())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path)
    parser.add_argument("--sequences", type=int, default=1_000_000)
    parser.add_argument("--families", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    summary = generate(args.output, args.sequences, args.families, args.seed)
    seconds = time.perf_counter() - start
    size_mb = args.output.stat().st_size / 2**20
    print(json.dumps({"benchmark": "pfam_like", **summary, "seconds": round(seconds, 1), "gz_mb": round(size_mb, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
