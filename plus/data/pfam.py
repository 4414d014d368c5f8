"""Pfam-A.fasta(.gz) -> train/test corpus stores, a fixed SFP test-pair table and summary.json, in one stream.

One pass over the (compressed) input parses headers, tokenizes in batches, splits each sequence by a hash of its
name and the seed, and appends it to a provisional store. The family filter (training sequences per family)
needs the whole file, so a second, cheap pass over the provisional stores copies the kept families into the
final stores. Memory stays bounded by the batch size, not the corpus size.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from plus import tokens as alphabet
from plus.data.fasta import GZIP_MAGIC, FastaRecord, looks_like_html, read_fasta
from plus.data.sampling import sample_test_pairs
from plus.data.store import CorpusStore, CorpusWriter, current_umask, write_subset
from plus.errors import InputError
from plus.io import atomic_path, write_json

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "release": None,
    "min_length": 20,
    "min_family_size": 1000,
    "test_fraction": 0.2,
    "seed": 2020,
    "n_test_pairs": 100000,
    "max_length": None,
}
# Keys of a download spec that may sit in the same config section; prepare_pfam does not use them.
IGNORED_KEYS = frozenset({"url", "md5", "md5_list", "path"})
PAPER = {
    "release": "27.0",
    "sequences": 14670860,
    "families": 3150,
    "note": "as reported by the paper; whether the count is train-only or train+test is not stated",
}
BATCH_RECORDS = 8192
_HASH_SCALE = float(1 << 64)


@dataclass(frozen=True)
class PfamHeader:
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
    """Deterministic split: a keyed hash of the sequence name (the same name always gets the same side)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "little") / _HASH_SCALE < test_fraction


def resolve_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """The Pfam settings from `config` (or its "pfam" section) with defaults, validated."""
    if isinstance(config.get("pfam"), dict):
        config = config["pfam"]
        source = f"{source}: pfam"
    unknown = sorted(set(config) - set(DEFAULTS) - IGNORED_KEYS)
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    resolved = {**DEFAULTS, **{key: value for key, value in config.items() if key in DEFAULTS}}
    for key in ("min_length", "min_family_size", "seed", "n_test_pairs"):
        if not isinstance(resolved[key], int) or isinstance(resolved[key], bool) or resolved[key] < 0:
            raise InputError(f"{source}: key {key!r} must be a non-negative integer, not {resolved[key]!r}")
    max_length = resolved["max_length"]
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise InputError(f"{source}: key 'max_length' must be null or a positive integer, not {max_length!r}")
    fraction = resolved["test_fraction"]
    if not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise InputError(f"{source}: key 'test_fraction' must be in (0, 1), not {fraction!r}")
    if resolved["release"] is not None:
        resolved["release"] = str(resolved["release"])
    return resolved


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


def _open_input(path: Path) -> tuple[io.TextIOBase, _CountingReader]:
    if not path.is_file():
        raise InputError(f"{path}: Pfam input file not found")
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
    return io.TextIOWrapper(binary, encoding="utf-8"), counter


@dataclass
class _Counts:
    read: int = 0
    too_short: int = 0
    too_long: int = 0
    sequences_with_unknown: int = 0
    unknown_residues: int = 0


def _encode_batch(records: list[FastaRecord], label: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokenize a batch: (concatenated tokens, length of each, unknown residues of each)."""
    try:
        joined = alphabet.encode("".join(record.sequence for record in records))
        raw_lengths = np.fromiter((len(record.sequence) for record in records), np.int64, len(records))
        if len(joined.tokens) == int(raw_lengths.sum()) and joined.n_unknown == 0:
            return joined.tokens, raw_lengths, np.zeros(len(records), dtype=np.int64)
    except ValueError:
        pass
    pieces, lengths, unknown = [], [], []
    for record in records:
        try:
            encoded = alphabet.encode(record.sequence)
        except ValueError as error:
            raise InputError(f"{label}: line {record.line}: record {record.header.split()[0]!r}: {error}") from None
        pieces.append(encoded.tokens)
        lengths.append(len(encoded.tokens))
        unknown.append(encoded.n_unknown)
    return np.concatenate(pieces), np.asarray(lengths, np.int64), np.asarray(unknown, np.int64)


def _batches(records: Iterator[FastaRecord], size: int) -> Iterator[list[FastaRecord]]:
    batch: list[FastaRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def prepare_pfam(
    input_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: dict[str, Any],
    *,
    progress: bool = True,
    config_source: str = "config",
) -> dict[str, Any]:
    """Build `out_dir/{train,test}` stores, `test_pairs.parquet` and `summary.json`; returns the summary."""
    settings = resolve_config(config, config_source)
    input_path = Path(input_path)
    label = str(input_path)
    with atomic_path(out_dir, directory=True) as tmp:
        os.chmod(tmp, 0o777 & ~current_umask())
        summary = _prepare(input_path, label, tmp, settings, progress)
        write_json(tmp / "summary.json", summary)
    return summary


def _prepare(input_path: Path, label: str, tmp: Path, settings: dict[str, Any], progress: bool) -> dict[str, Any]:
    text, counter = _open_input(input_path)
    counts = _Counts()
    accessions: dict[str, int] = {}
    family_ids: list[str] = []
    train_per_family = np.zeros(0, dtype=np.int64)
    min_length, max_length = settings["min_length"], settings["max_length"]
    seed, fraction = settings["seed"], settings["test_fraction"]
    bar = tqdm(total=input_path.stat().st_size, unit="B", unit_scale=True, desc="pfam", disable=not progress)
    with text, bar, CorpusWriter(tmp / "_all_train") as raw_train, CorpusWriter(tmp / "_all_test") as raw_test:
        for batch in _batches(read_fasta(text, name=label), BATCH_RECORDS):
            families = np.empty(len(batch), dtype=np.int32)
            test_side = np.empty(len(batch), dtype=bool)
            for k, record in enumerate(batch):
                header = parse_header(record.header, f"{label}: line {record.line}")
                family = accessions.get(header.accession)
                if family is None:
                    family = accessions[header.accession] = len(family_ids)
                    family_ids.append(header.family_id)
                elif family_ids[family] != header.family_id:
                    raise InputError(
                        f"{label}: line {record.line}: family {header.accession} is named "
                        f"{header.family_id!r} here but {family_ids[family]!r} earlier"
                    )
                families[k] = family
                test_side[k] = is_test(header.name, seed, fraction)
            tokens, lengths, unknown = _encode_batch(batch, label)
            counts.read += len(batch)
            short = lengths < min_length
            long = (lengths > max_length) if max_length is not None else np.zeros(len(batch), dtype=bool)
            long &= ~short
            keep = ~short & ~long
            counts.too_short += int(short.sum())
            counts.too_long += int(long.sum())
            counts.sequences_with_unknown += int((unknown > 0).sum())
            counts.unknown_residues += int(unknown.sum())
            for writer, side in ((raw_train, keep & ~test_side), (raw_test, keep & test_side)):
                writer.add_many(tokens[np.repeat(side, lengths)], lengths[side], families[side])
            batch_train = np.bincount(families[keep & ~test_side], minlength=len(family_ids))
            train_per_family = np.r_[train_per_family, np.zeros(len(family_ids) - len(train_per_family), np.int64)]
            train_per_family += batch_train
            bar.update(counter.bytes_read - bar.n)
        if counts.read == 0:
            raise InputError(f"{label}: no FASTA records")
        provisional = [{"accession": a, "id": family_ids[i]} for a, i in accessions.items()]
        raw_train.close(provisional)
        raw_test.close(provisional)
    return _finish(tmp, label, settings, counts, provisional, train_per_family, counter.md5.hexdigest())


def _finish(
    tmp: Path,
    label: str,
    settings: dict[str, Any],
    counts: _Counts,
    provisional: list[dict[str, str]],
    train_per_family: np.ndarray,
    input_md5: str,
) -> dict[str, Any]:
    train_counts = train_per_family
    kept = np.flatnonzero(train_counts >= settings["min_family_size"])
    if len(kept) == 0:
        raise InputError(
            f"{label}: no family has min_family_size={settings['min_family_size']} training sequences "
            f"(largest has {int(train_counts.max(initial=0))}); lower 'min_family_size' in the config"
        )
    kept = kept[np.argsort([provisional[i]["accession"] for i in kept], kind="stable")]
    family_map = np.full(len(provisional), -1, dtype=np.int64)
    family_map[kept] = np.arange(len(kept))
    family_names = [provisional[i] for i in kept]
    meta = {"release": settings["release"], "source": label}
    splits: dict[str, dict[str, int]] = {}
    for split in ("train", "test"):
        raw = CorpusStore(tmp / f"_all_{split}")
        keep = family_map[np.asarray(raw.families)] >= 0
        write_subset(raw, tmp / split, keep, family_map, family_names, {**meta, "split": split})
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
    pairs = sample_test_pairs(test_store, settings["n_test_pairs"], settings["seed"])
    pairs.to_parquet(tmp / "test_pairs.parquet", index=False)
    kept_total = splits["train"]["sequences"] + splits["test"]["sequences"]
    return {
        "release": settings["release"],
        "input": label,
        "input_md5": input_md5,
        "config": settings,
        "counts": {
            "read": counts.read,
            "too_short": counts.too_short,
            "too_long": counts.too_long,
            "sequences_with_unknown_residues": counts.sequences_with_unknown,
            "unknown_residues": counts.unknown_residues,
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
