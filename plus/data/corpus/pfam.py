"""Pfam-A.fasta(.gz) -> train/test corpus stores, a fixed SFP test-pair table and summary.json.

Pfam's Stockholm files (Pfam-A.full, Pfam-A.seed, a family's .sto; gzip or not) are read too, as the
Pfam-A.fasta records they hold (`plus.data.corpus.stockholm`).

One streaming pass over the (compressed) input reads blocks of whole records, parses and tokenizes each block
with numpy (`plus.tokens.encode`), splits each sequence by a seeded hash of its name, and appends it to a
provisional store. The family filter (training sequences per family) needs the whole file, so a second, cheap
pass over the provisional stores copies the kept families into the final stores. Memory is bounded by the block
size, not the corpus size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from plus import tokens as alphabet
from plus.data.corpus.stockholm import MAGIC, StockholmAsFasta, is_stockholm
from plus.data.corpus.store import CorpusStore, CorpusWriter, current_umask, write_subset
from plus.data.fasta import GZIP_MAGIC, looks_like_html
from plus.errors import InputError
from plus.io import atomic_path, require_file, write_json
from plus.settings import PfamSettings

log = logging.getLogger(__name__)

PAPER = {
    "release": "27.0",
    "sequences": 14670860,
    "families": 3150,
    "note": "as reported by the paper; whether the count is train-only or train+test is not stated",
}
BLOCK_BYTES = 1 << 22
BOM = b"\xef\xbb\xbf"


class PfamHeader(NamedTuple):
    """The fields of a Pfam-A.fasta header `>NAME/start-end UNIPROT_ACC PFxxxxx.v;FamilyID;`."""

    name: str
    accession: str
    family_id: str


def parse_header(header: str, where: str) -> PfamHeader:
    """Parse a Pfam-A.fasta header (without '>'); `where` (file:line) names it in the error."""
    fields = header.split()
    if len(fields) < 3:
        raise InputError(f"{where}: malformed Pfam header {header[:80]!r}: want 'NAME ACC PFxxxxx.v;FamilyID;'")
    family = fields[2].split(";")
    if len(family) < 2 or not family[0].startswith("PF") or not family[1]:
        raise InputError(f"{where}: malformed Pfam family field {fields[2][:80]!r}: want 'PFxxxxx.v;FamilyID;'")
    return PfamHeader(fields[0], family[0], family[1])


def is_test(name: str, seed: int, test_fraction: float) -> bool:
    """Deterministic split: a seeded hash of the sequence name (the same name always gets the same side)."""
    return bool(split_positions([name.encode()], seed)[0] < test_fraction)


def split_positions(names: list[bytes], seed: int) -> np.ndarray:
    """A uniform number in [0, 1) per name: CRC-32 of the name, mixed with the seed by the splitmix64 finalizer."""
    x = np.fromiter((zlib.crc32(name) for name in names), dtype=np.uint64, count=len(names))
    x += np.uint64((seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % 2**64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / 2.0**53


class _CountingReader(io.RawIOBase):
    """Raw reader that counts the bytes read and their md5 (for the progress bar and the summary)."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self._handle = handle
        self.bytes_read = 0
        self.md5 = hashlib.md5()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._handle.readinto(buffer)
        if n:
            view = memoryview(buffer)[:n]
            self.md5.update(view)
            self.bytes_read += n
        return n

    def close(self) -> None:
        self._handle.close()
        super().close()


def _open_input(path: Path) -> tuple[io.BufferedIOBase, _CountingReader]:
    require_file(path, "Pfam input file")
    with open(path, "rb") as handle:
        start = handle.read(512)
    if not start:
        raise InputError(f"{path}: empty file")
    if looks_like_html(start):
        raise InputError(f"{path}: an HTML page, not Pfam FASTA (a failed download?)")
    counter = _CountingReader(open(path, "rb"))
    buffered = io.BufferedReader(counter, buffer_size=1 << 20)
    if start[:2] == GZIP_MAGIC:
        binary: Any = gzip.GzipFile(fileobj=buffered, mode="rb")
    else:
        binary = buffered
    try:
        if binary.peek(len(BOM))[: len(BOM)] == BOM:
            binary.read(len(BOM))
        head = binary.peek(len(MAGIC) + 64)
    except (EOFError, OSError, zlib.error) as error:
        binary.close()
        raise InputError(f"{path}: corrupt or truncated compressed file ({error})") from error
    if is_stockholm(head):
        log.info("%s: Stockholm alignments; reading them as Pfam-A.fasta records (ungapped, upper case)", path)
        binary = io.BufferedReader(StockholmAsFasta(binary, str(path)), buffer_size=1 << 20)
    return binary, counter


@dataclass
class _Counts:
    read: int = 0
    no_sequence: int = 0
    first_no_sequence: str | None = None
    too_short: int = 0
    too_long: int = 0
    sequences_with_unknown: int = 0
    unknown_residues: int = 0
    repeated_names: int = 0


def _byte_table(characters: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(characters, dtype=np.uint8)] = True
    return table


_SKIPPED = _byte_table(b" \t\r\n\v\f" + alphabet.GAP_CHARACTERS.encode())  # what encode() removes
_BLANK = _byte_table(b" \t")
_WHITESPACE = _byte_table(b" \t\r\n\v\f")
_LETTERS = _byte_table(bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1)))
_X_SPELLINGS = _byte_table(b"XxBbZz")  # letters that stand for X (the rest that become X are unknown)


class _Block(NamedTuple):
    """The records of one block of the input: header bytes, header line numbers and their tokens."""

    headers: list[bytes]
    lines: np.ndarray
    tokens: np.ndarray
    lengths: np.ndarray
    unknown: np.ndarray


def _read_blocks(binary: io.BufferedIOBase, label: str) -> Iterator[tuple[bytes, int]]:
    """Yield (whole records, line number of the first) from a binary FASTA stream, in blocks of BLOCK_BYTES."""
    pending, line, started = b"", 1, False
    while True:
        try:
            chunk = binary.read(BLOCK_BYTES)
        except EOFError as error:
            raise InputError(f"{label}: truncated compressed file ({error})") from error
        except (gzip.BadGzipFile, zlib.error) as error:
            raise InputError(f"{label}: corrupt compressed file ({error})") from error
        data = pending + chunk
        if not started:
            stripped = data.lstrip()
            if not stripped:
                if not chunk:
                    return
                pending = data
                continue
            line += data[: len(data) - len(stripped)].count(b"\n")
            if not stripped.startswith(b">"):
                if looks_like_html(stripped[:200]):
                    raise InputError(f"{label}: line {line}: an HTML page, not FASTA (a failed download?)")
                raise InputError(f"{label}: line {line}: sequence data before the first '>' header")
            data, started = stripped, True
        if chunk:
            cut = data.rfind(b"\n>")
            if cut < 0:
                pending = data
                continue
            complete, pending = data[: cut + 1], data[cut + 1 :]
        else:
            complete, pending = data, b""
        if complete:
            yield complete, line
            line += complete.count(b"\n")
        if not chunk:
            return


def _check_inner_spaces(
    buffer: np.ndarray, in_sequence: np.ndarray, newlines: np.ndarray, line: int, label: str
) -> None:
    """InputError naming the line of the first space or tab between two characters of a sequence line."""
    blank = _BLANK[buffer]
    candidates = np.flatnonzero(blank & in_sequence)
    if not len(candidates):
        return
    after_text = (candidates > 0) & ~_WHITESPACE[buffer[np.maximum(candidates - 1, 0)]]
    solid = np.flatnonzero(~blank)
    following = np.searchsorted(solid, candidates)
    nxt = solid[np.minimum(following, len(solid) - 1)] if len(solid) else candidates
    before_text = (following < len(solid)) & ~_WHITESPACE[buffer[nxt]]
    inner = candidates[after_text & before_text]
    if len(inner):
        where = line + int(np.searchsorted(newlines, inner[0]))
        raise InputError(f"{label}: line {where}: a space inside a sequence line")


def _parse_block(data: bytes, line: int, label: str) -> _Block:
    """Split a block of whole records (starting with '>') into headers and tokens, vectorised with numpy."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    starts = np.flatnonzero(buffer == ord(">"))
    starts = starts[(starts == 0) | (buffer[starts - 1] == ord("\n"))]
    newlines = np.flatnonzero(buffer == ord("\n"))
    after = np.searchsorted(newlines, starts)
    if len(newlines):
        ends = np.where(after < len(newlines), newlines[np.minimum(after, len(newlines) - 1)], len(buffer))
    else:  # a block that is one header without a newline (the last line of a file cut after a header)
        ends = np.full(len(starts), len(buffer))
    headers = [data[start + 1 : end] for start, end in zip(starts.tolist(), ends.tolist(), strict=True)]
    boundaries = np.zeros(len(buffer) + 1, dtype=np.int8)
    boundaries[starts] = 1
    boundaries[ends] -= 1
    in_sequence = ~np.cumsum(boundaries[:-1], dtype=np.int8).astype(bool)
    _check_inner_spaces(buffer, in_sequence, newlines, line, label)
    residue = in_sequence & ~_SKIPPED[buffer]
    first_byte = np.zeros(len(buffer), dtype=np.int32)
    first_byte[starts] = 1
    record_of = (np.cumsum(first_byte, dtype=np.int32) - 1)[residue]
    residues = buffer[residue]
    bad = np.flatnonzero(~_LETTERS[residues])
    if len(bad):
        position = int(np.flatnonzero(residue)[bad[0]])
        record = headers[record_of[bad[0]]].split(b" ", 1)[0].decode(errors="replace")
        where = line + int(np.searchsorted(newlines, position))
        raise InputError(f"{label}: line {where}: record {record!r}: {chr(buffer[position])!r} is not a residue letter")
    encoded = alphabet.encode(residues.tobytes().decode("latin-1"))
    lengths = np.bincount(record_of, minlength=len(starts)).astype(np.int64)
    unknown = np.zeros(len(starts), dtype=np.int64)
    if encoded.n_unknown:
        is_unknown = (encoded.tokens == alphabet.X) & ~_X_SPELLINGS[residues]
        unknown = np.bincount(record_of[is_unknown], minlength=len(starts)).astype(np.int64)
    return _Block(headers, line + after, encoded.tokens, lengths, unknown)


class _Families:
    """Family index by the header's family field, with each accession's ID checked for consistency."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.by_field: dict[bytes, int] = {}
        self.by_accession: dict[str, int] = {}
        self.ids: list[str] = []

    def classify(self, block: _Block) -> tuple[np.ndarray, list[bytes]]:
        """Family index and name of each record of a block."""
        families = np.empty(len(block.headers), dtype=np.int32)
        names = []
        by_field = self.by_field
        for k, header in enumerate(block.headers):
            fields = header.split(None, 3)
            family = by_field.get(fields[2]) if len(fields) >= 3 else None
            if family is None:
                family = self._add(header, int(block.lines[k]))
            families[k] = family
            names.append(fields[0])
        return families, names

    def _add(self, raw: bytes, line: int) -> int:
        where = f"{self.label}: line {line}"
        try:
            header = parse_header(raw.decode("utf-8"), where)
        except UnicodeDecodeError as error:
            raise InputError(f"{where}: header is not UTF-8 text ({error.reason})") from None
        family = self.by_accession.get(header.accession)
        if family is None:
            family = self.by_accession[header.accession] = len(self.ids)
            self.ids.append(header.family_id)
        elif self.ids[family] != header.family_id:
            raise InputError(
                f"{where}: family {header.accession} is named {header.family_id!r} here "
                f"but {self.ids[family]!r} earlier"
            )
        self.by_field[raw.split(None, 3)[2]] = family
        return family


def prepare_pfam(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: PfamSettings,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Build `out_dir/{train,test}` stores, `test_pairs.parquet` and `summary.json`; returns the summary."""
    input_path = Path(input_path)
    label = str(input_path)
    with atomic_path(out_dir, directory=True) as tmp:
        os.chmod(tmp, 0o777 & ~current_umask())
        try:
            summary = _prepare(input_path, label, tmp, settings, progress)
        except InputError as error:
            damage = gzip_damage(input_path)
            if damage is not None:
                raise InputError(f"{label}: {damage}") from error
            raise
        write_json(tmp / "summary.json", summary)
    return summary


def gzip_damage(path: Path) -> str | None:
    """For a gzip file: what is wrong with its compressed data (read to the end), or None when it is intact."""
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                return None
        with gzip.open(path, "rb") as stream:
            while stream.read(BLOCK_BYTES):
                pass
    except EOFError as error:
        return f"truncated compressed file ({error})"
    except (gzip.BadGzipFile, zlib.error) as error:
        return f"corrupt compressed file ({error})"
    except OSError:
        return None
    return None


def _prepare(input_path: Path, label: str, tmp: Path, settings: PfamSettings, progress: bool) -> dict[str, Any]:
    binary, counter = _open_input(input_path)
    counts = _Counts()
    families_seen = _Families(label)
    train_per_family = np.zeros(0, dtype=np.int64)
    name_hashes: list[np.ndarray] = []  # 8 bytes a record (about 120 MB for Pfam-A): to count repeated names
    min_length, max_length = settings.min_length, settings.max_length
    seed, fraction = settings.seed, settings.test_fraction
    bar = tqdm(total=input_path.stat().st_size, unit="B", unit_scale=True, desc="pfam", disable=not progress)
    with binary, bar, CorpusWriter(tmp / "_all_train") as raw_train, CorpusWriter(tmp / "_all_test") as raw_test:
        for data, line in _read_blocks(binary, label):
            block = _parse_block(data, line, label)
            families, names = families_seen.classify(block)
            name_hashes.append(np.fromiter(map(hash, names), dtype=np.int64, count=len(names)))
            test_side = split_positions(names, seed) < fraction
            lengths = block.lengths
            counts.read += len(lengths)
            empty = lengths == 0
            if empty.any() and counts.first_no_sequence is None:
                counts.first_no_sequence = f"{label}: line {int(block.lines[np.flatnonzero(empty)[0]])}"
                log.warning(
                    "%s: record has no sequence (a truncated file?); records like it are dropped",
                    counts.first_no_sequence,
                )
            counts.no_sequence += int(empty.sum())
            short = (lengths < min_length) & ~empty
            long = (lengths > max_length) & ~short if max_length is not None else np.zeros(len(lengths), bool)
            keep = ~empty & ~short & ~long
            counts.too_short += int(short.sum())
            counts.too_long += int(long.sum())
            counts.sequences_with_unknown += int((block.unknown > 0).sum())
            counts.unknown_residues += int(block.unknown.sum())
            for writer, side in ((raw_train, keep & ~test_side), (raw_test, keep & test_side)):
                writer.add_many(block.tokens[np.repeat(side, lengths)], lengths[side], families[side])
            n_families = len(families_seen.ids)
            train_per_family = np.r_[train_per_family, np.zeros(n_families - len(train_per_family), np.int64)]
            train_per_family += np.bincount(families[keep & ~test_side], minlength=n_families)
            bar.update(counter.bytes_read - bar.n)
        if counts.read == 0:
            raise InputError(f"{label}: no FASTA records")
        hashes = np.concatenate(name_hashes)
        del name_hashes
        counts.repeated_names = len(hashes) - len(np.unique(hashes))
        if counts.repeated_names:
            log.warning("%s: %d records repeat the name of an earlier record (kept)", label, counts.repeated_names)
        provisional = [
            {"accession": accession, "id": families_seen.ids[index]}
            for accession, index in families_seen.by_accession.items()
        ]
        raw_train.close(provisional)
        raw_test.close(provisional)
    return _finish(tmp, label, settings, counts, provisional, train_per_family, counter.md5.hexdigest())


def _finish(
    tmp: Path,
    label: str,
    settings: PfamSettings,
    counts: _Counts,
    provisional: list[dict[str, str]],
    train_per_family: np.ndarray,
    input_md5: str,
) -> dict[str, Any]:
    kept = np.flatnonzero(train_per_family >= settings.min_family_size)
    if len(kept) == 0:
        raise InputError(
            f"{label}: no family has min_family_size={settings.min_family_size} training sequences "
            f"(largest has {int(train_per_family.max(initial=0))}); lower 'min_family_size' in the config"
        )
    kept = kept[np.argsort([provisional[i]["accession"] for i in kept], kind="stable")]
    family_map = np.full(len(provisional), -1, dtype=np.int64)
    family_map[kept] = np.arange(len(kept))
    family_names = [provisional[i] for i in kept]
    meta = {"release": settings.release, "source": label}
    splits: dict[str, dict[str, int]] = {}
    for split in ("train", "test"):
        raw = CorpusStore(tmp / f"_all_{split}")
        write_subset(raw, tmp / split, family_map, family_names, {**meta, "split": split})
        final = CorpusStore(tmp / split)
        splits[split] = {
            "sequences": len(final),
            "tokens": int(final.meta["n_tokens"]),
            "families_with_sequences": int((final.family_sizes > 0).sum()),
            "dropped_small_family": len(raw) - len(final),
            "before_family_filter": len(raw),
        }
        del raw
        shutil.rmtree(tmp / f"_all_{split}")
    test_store = CorpusStore(tmp / "test")
    pairs = sample_test_pairs(test_store, settings.n_test_pairs, settings.seed)
    pairs.to_parquet(tmp / "test_pairs.parquet", index=False)
    kept_total = splits["train"]["sequences"] + splits["test"]["sequences"]
    return {
        "release": settings.release,
        "input": label,
        "input_md5": input_md5,
        "config": settings.model_dump(mode="json"),
        "counts": {
            "read": counts.read,
            "no_sequence": counts.no_sequence,
            "first_no_sequence": counts.first_no_sequence,
            "too_short": counts.too_short,
            "too_long": counts.too_long,
            "sequences_with_unknown_residues": counts.sequences_with_unknown,
            "unknown_residues": counts.unknown_residues,
            "repeated_names": counts.repeated_names,
            "dropped_small_family": sum(s["dropped_small_family"] for s in splits.values()),
            "kept": kept_total,
        },
        "splits": splits,
        "families": {
            "seen": len(provisional),
            "kept": len(family_names),
            "dropped": len(provisional) - len(family_names),
        },
        "test_pairs": {"n": len(pairs), "same_family": int(pairs["same_family"].sum())},
        "paper": PAPER,
        "ours": {
            "sequences": kept_total,
            "train_sequences": splits["train"]["sequences"],
            "families": len(family_names),
        },
    }


def _nonempty_families(store: CorpusStore) -> np.ndarray:
    return np.flatnonzero(store.family_sizes > 0)


def _draw_other_family(anchor_family: np.ndarray, nonempty: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """For each anchor family, a family drawn uniformly from the non-empty families other than it."""
    position = np.searchsorted(nonempty, anchor_family)
    draw = np.minimum((uniform * (len(nonempty) - 1)).astype(np.int64), len(nonempty) - 2)
    return nonempty[draw + (draw >= position)]


def _draw_member(store: CorpusStore, family: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    sizes = store.family_sizes[family]
    position = np.minimum((uniform * sizes).astype(np.int64), sizes - 1)
    return store.members_at(family, position)


def sample_test_pairs(store: CorpusStore, n_pairs: int, seed: int) -> pd.DataFrame:
    """A fixed table of `n_pairs` SFP pairs over `store`: the first half same-family, then shuffled.

    Anchors are uniform over sequences; a same-family partner is a uniform member of the anchor's family other
    than the anchor where the family has another member; a different-family partner comes from a uniformly
    drawn other family.
    """
    nonempty = _nonempty_families(store)
    if n_pairs and (len(store) == 0 or len(nonempty) < 2):
        raise InputError(f"{store.path}: test pairs need at least 2 families with sequences")
    rng = np.random.default_rng(seed)
    n_same = n_pairs // 2
    anchors = rng.integers(0, max(len(store), 1), size=n_pairs)
    anchor_families = np.asarray(store.families[anchors]) if n_pairs else np.zeros(0, dtype=np.int64)
    partners = np.empty(n_pairs, dtype=np.int64)
    same_anchor = anchors[:n_same]
    same_family = anchor_families[:n_same]
    sizes = store.family_sizes[same_family]
    draw = np.minimum((rng.random(n_same) * (sizes - 1)).astype(np.int64), np.maximum(sizes - 2, 0))
    own_position = store.position_in_family(same_anchor)
    draw = np.where(sizes > 1, draw + (draw >= own_position), 0)
    partners[:n_same] = store.members_at(same_family, draw)
    other = _draw_other_family(anchor_families[n_same:], nonempty, rng.random(n_pairs - n_same))
    partners[n_same:] = _draw_member(store, other, rng.random(n_pairs - n_same))
    labels = np.r_[np.ones(n_same, dtype=np.int8), np.zeros(n_pairs - n_same, dtype=np.int8)]
    order = rng.permutation(n_pairs)
    return pd.DataFrame({"index_a": anchors[order], "index_b": partners[order], "same_family": labels[order]})
