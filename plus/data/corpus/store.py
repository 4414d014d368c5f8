"""Store of pre-tokenized sequences with a memory-mapped index (offsets, families, family members).

Layout of a store directory:
`tokens.bin` (uint8, all sequences concatenated), `offsets.npy` (int64, n+1), `families.npy` (int32 per
sequence), `family_members.npy` (int64 sequence indices grouped by family, ascending within a family) +
`family_offsets.npy` (int64, n_families+1),
`families.json` (list of `{"accession", "id"}` in family-index order), `meta.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from plus.errors import InputError

FORMAT = "plus-corpus"
VERSION = 1
STORE_FILES = (
    "tokens.bin",
    "offsets.npy",
    "families.npy",
    "family_members.npy",
    "family_offsets.npy",
    "families.json",
    "meta.json",
)
_FLUSH_EVERY = 65536
_CHUNK = 1 << 20


class CorpusWriter:
    """Append tokenized sequences to a new store; `close` moves the finished store into place atomically."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent))
        os.chmod(self._tmp, 0o777 & ~current_umask())
        self._tokens: BinaryIO = open(self._tmp / "tokens.bin", "wb")
        self._lengths_file: BinaryIO = open(self._tmp / "lengths.raw", "wb")
        self._families_file: BinaryIO = open(self._tmp / "families.raw", "wb")
        self._lengths = array("q")
        self._families = array("i")
        self._count = 0
        self._n_tokens = 0
        self._max_family = -1
        self._closed = False

    def __len__(self) -> int:
        return self._count

    def __enter__(self) -> CorpusWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._closed:
            self.abort()

    def add(self, tokens: np.ndarray, family: int) -> int:
        """Append one sequence (uint8 tokens) of family index `family`; returns its index in the store."""
        tokens = np.asarray(tokens)
        if tokens.dtype != np.uint8 or tokens.ndim != 1:
            raise ValueError(f"tokens must be a 1-d uint8 array, not {tokens.dtype} of shape {tokens.shape}")
        if family < 0:
            raise ValueError(f"family index must be >= 0, not {family}")
        self._tokens.write(tokens.tobytes())
        self._lengths.append(len(tokens))
        self._families.append(family)
        self._max_family = max(self._max_family, family)
        self._n_tokens += len(tokens)
        self._count += 1
        if len(self._lengths) >= _FLUSH_EVERY:
            self._flush()
        return self._count - 1

    def add_many(self, tokens: np.ndarray, lengths: np.ndarray, families: np.ndarray) -> None:
        """Append several sequences at once: their tokens concatenated, with one length and family each."""
        tokens = np.ascontiguousarray(tokens)
        lengths = np.asarray(lengths, dtype=np.int64)
        families = np.asarray(families, dtype=np.int32)
        if tokens.dtype != np.uint8 or tokens.ndim != 1:
            raise ValueError(f"tokens must be a 1-d uint8 array, not {tokens.dtype} of shape {tokens.shape}")
        if len(lengths) != len(families) or int(lengths.sum()) != len(tokens):
            raise ValueError("need one length and family per sequence, lengths summing to len(tokens)")
        if len(families) == 0:
            return
        if families.min() < 0:
            raise ValueError(f"family index must be >= 0, not {families.min()}")
        self._flush()
        self._tokens.write(tokens.tobytes())
        lengths.tofile(self._lengths_file)
        families.tofile(self._families_file)
        self._max_family = max(self._max_family, int(families.max()))
        self._n_tokens += len(tokens)
        self._count += len(lengths)

    def _flush(self) -> None:
        self._lengths.tofile(self._lengths_file)
        self._families.tofile(self._families_file)
        self._lengths = array("q")
        self._families = array("i")

    def close(self, family_names: list[dict[str, str]], meta: dict[str, Any] | None = None) -> Path:
        """Write the index files and meta.json, then move the store into place; returns its path."""
        if self._closed:
            raise RuntimeError(f"{self.path}: writer already closed")
        try:
            if self._max_family >= len(family_names):
                raise ValueError(
                    f"{self.path}: family index {self._max_family} but only {len(family_names)} family names"
                )
            self._flush()
            for handle in (self._tokens, self._lengths_file, self._families_file):
                handle.close()
            self._write_index(len(family_names))
            (self._tmp / "families.json").write_text(json.dumps(family_names) + "\n")
            full_meta = {
                "format": FORMAT,
                "version": VERSION,
                "n_sequences": self._count,
                "n_tokens": self._n_tokens,
                "n_families": len(family_names),
                **(meta or {}),
            }
            (self._tmp / "meta.json").write_text(json.dumps(full_meta, indent=2) + "\n")
            if self.path.exists():
                shutil.rmtree(self.path)
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Discard everything written so far."""
        for handle in (self._tokens, self._lengths_file, self._families_file):
            handle.close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._closed = True

    def _write_index(self, n_families: int) -> None:
        """Build offsets and the family index by streaming the raw files (memory bounded by _CHUNK)."""
        n = self._count
        lengths_raw, families_raw = self._tmp / "lengths.raw", self._tmp / "families.raw"
        counts = np.zeros(n_families, dtype=np.int64)
        with _npy_writer(self._tmp / "offsets.npy", np.int64, n + 1) as out:
            total = np.zeros(1, dtype=np.int64)
            total.tofile(out)
            for _, lengths in _raw_chunks(lengths_raw, np.int64, n):
                offsets = np.cumsum(lengths) + total[0]
                offsets.tofile(out)
                total[0] = offsets[-1] if len(offsets) else total[0]
        with _npy_writer(self._tmp / "families.npy", np.int32, n) as out:
            for _, families in _raw_chunks(families_raw, np.int32, n):
                families.tofile(out)
                counts += np.bincount(families, minlength=n_families)
        family_offsets = np.zeros(n_families + 1, dtype=np.int64)
        np.cumsum(counts, out=family_offsets[1:])
        np.save(self._tmp / "family_offsets.npy", family_offsets)
        with _npy_writer(self._tmp / "family_members.npy", np.int64, n) as out:
            _write_members(out, families_raw, n, family_offsets)
        lengths_raw.unlink()
        families_raw.unlink()


def _npy_writer(path: Path, dtype: type, n: int) -> BinaryIO:
    """Open a .npy file for a 1-d array of `n` values and write its header; the caller appends the data."""
    handle = open(path, "wb")
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (n,)}
    np.lib.format.write_array_header_1_0(handle, header)
    return handle


def _raw_chunks(path: Path, dtype: type, n: int):
    """(start, values) for consecutive chunks of a raw binary array file."""
    with open(path, "rb") as handle:
        for start in range(0, n, _CHUNK):
            yield start, np.fromfile(handle, dtype=dtype, count=min(_CHUNK, n - start))


def _npy_data(path: Path) -> tuple[BinaryIO, np.dtype]:
    """Open a .npy file positioned at its data, for chunked reads without a memory map."""
    handle = open(path, "rb")
    version = np.lib.format.read_magic(handle)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    _, _, dtype = read_header(handle)
    return handle, dtype


def _write_members(out: BinaryIO, families_raw: Path, n: int, family_offsets: np.ndarray) -> None:
    """Write the members of each family (ascending) into `out` from one pass over the families, chunk by chunk.

    Within a chunk the sequences are grouped by family, and each family's run is written at that family's next
    free slot of the file, so memory is a few chunk-sized arrays however large the corpus or a family is.
    """
    data_start = out.tell()
    cursor = family_offsets[:-1].copy()
    for start, families in _raw_chunks(families_raw, np.int32, n):
        order = np.argsort(families, kind="stable")
        members = order.astype(np.int64, copy=False) + start
        grouped = families[order]
        run_starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        run_ends = np.r_[run_starts[1:], len(grouped)]
        for family, first, last in zip(
            grouped[run_starts].tolist(), run_starts.tolist(), run_ends.tolist(), strict=True
        ):
            out.seek(data_start + 8 * int(cursor[family]))
            out.write(members[first:last].data)
            cursor[family] += last - first


def _mapped(path: Path) -> np.ndarray:
    """A read-only memory map of a .npy file as a plain ndarray (fast scalar indexing, no copy)."""
    return np.load(path, mmap_mode="r").view(np.ndarray)


class _ArrayFile:
    """Values of a 1-d .npy file read with `os.pread` at any index (no memory map, nothing kept resident)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle, self.dtype = _npy_data(path)
        with handle:
            self._data_start = handle.tell()
        self._fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def read(self, index: int, count: int) -> np.ndarray:
        """Values index .. index + count - 1."""
        size = self.dtype.itemsize
        data = os.pread(self._fd, size * count, self._data_start + size * index)
        if len(data) != size * count:
            raise InputError(f"{self.path}: truncated at value {index} (changed since it was opened?)")
        return np.frombuffer(data, dtype=self.dtype)


def current_umask() -> int:
    """The process umask (mkdtemp creates 0700 directories; finished stores get the usual permissions)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


class CorpusStore:
    """Read-only view of a store written by `CorpusWriter`; O(1) random access.

    What a training loader reads item by item (a sequence, its span and length, its family, a family member) is read
    with `os.pread`, not through a memory map: a map's touched pages count in the resident memory of every process
    reading it, which over an epoch grows to the size of the files. The index arrays are also memory-mapped
    (`families`, `members_at`, `position_in_family`) for vectorised reads over many sequences at once, as the
    preparation's test-pair sampling does.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._open()

    def _open(self) -> None:
        path = self.path
        if not path.is_dir():
            raise InputError(f"{path}: corpus store not found (run `plus prepare-pfam` first)")
        missing = [name for name in STORE_FILES if not (path / name).is_file()]
        if missing:
            raise InputError(f"{path}: incomplete corpus store, missing {', '.join(missing)}")
        try:
            self.meta: dict[str, Any] = json.loads((path / "meta.json").read_text())
            self.family_names: list[dict[str, str]] = json.loads((path / "families.json").read_text())
            self._offsets = _mapped(path / "offsets.npy")
            self.families: np.ndarray = _mapped(path / "families.npy")
            self._members = _mapped(path / "family_members.npy")
            self._family_offsets = np.load(path / "family_offsets.npy")
        except (ValueError, OSError) as error:
            raise InputError(f"{path}: corrupt corpus store ({error})") from error
        if self.meta.get("format") != FORMAT:
            raise InputError(f"{path}/meta.json: not a {FORMAT} store (format {self.meta.get('format')!r})")
        n = int(self.meta.get("n_sequences", -1))
        n_tokens = (path / "tokens.bin").stat().st_size
        problems = []
        if len(self._offsets) != n + 1 or len(self.families) != n or len(self._members) != n:
            problems.append(f"index sizes do not match n_sequences={n}")
        elif n_tokens != int(self._offsets[-1]):
            problems.append(f"tokens.bin has {n_tokens} bytes, offsets say {int(self._offsets[-1])}")
        if len(self._family_offsets) != len(self.family_names) + 1:
            problems.append("family_offsets.npy does not match families.json")
        if problems:
            raise InputError(f"{path}: incomplete corpus store: {'; '.join(problems)}")
        self._token_fd = os.open(path / "tokens.bin", os.O_RDONLY)
        weakref.finalize(self, os.close, self._token_fd)
        self._offsets_file = _ArrayFile(path / "offsets.npy")
        self._families_file = _ArrayFile(path / "families.npy")
        self._members_file = _ArrayFile(path / "family_members.npy")
        self.family_sizes: np.ndarray = np.diff(self._family_offsets)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self._open()

    def __len__(self) -> int:
        return len(self.families)

    def __getitem__(self, index: int) -> np.ndarray:
        start, stop = self.span(index)
        data = os.pread(self._token_fd, stop - start, start)
        if len(data) != stop - start:
            raise InputError(f"{self.path}/tokens.bin: truncated at sequence {index} (changed since it was opened?)")
        return np.frombuffer(data, dtype=np.uint8).copy()

    def _checked(self, index: int) -> int:
        """`index` in [0, n), a negative one counted from the end."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"sequence index {index} out of range for a store of {n}")
        return index

    def span(self, index: int) -> tuple[int, int]:
        """Where sequence `index` starts and stops in tokens.bin."""
        start, stop = self._offsets_file.read(self._checked(index), 2).tolist()
        return start, stop

    def length(self, index: int) -> int:
        start, stop = self.span(index)
        return stop - start

    def lengths_of(self, indices: np.ndarray | Sequence[int]) -> np.ndarray:
        """Lengths (int64) of the sequences `indices`, read one by one: memory is that of the answer."""
        return np.fromiter((self.length(int(index)) for index in indices), dtype=np.int64, count=len(indices))

    def family_of(self, index: int) -> int:
        """Family index of sequence `index`."""
        return int(self._families_file.read(self._checked(index), 1)[0])

    def member(self, family: int, position: int) -> int:
        """`members(family)[position]`, read without touching the rest of the family index."""
        if not 0 <= family < self.n_families:
            raise IndexError(f"family index {family} out of range for {self.n_families} families")
        if not 0 <= position < self.family_sizes[family]:
            raise IndexError(f"position {position} out of range for family {family} of {self.family_sizes[family]}")
        return int(self._members_file.read(int(self._family_offsets[family]) + position, 1)[0])

    @property
    def n_families(self) -> int:
        return len(self.family_names)

    def members(self, family: int) -> np.ndarray:
        """Indices of the sequences of family `family` in this store (ascending)."""
        if not 0 <= family < self.n_families:
            raise IndexError(f"family index {family} out of range for {self.n_families} families")
        return self._members[self._family_offsets[family] : self._family_offsets[family + 1]]

    def position_in_family(self, index: np.ndarray) -> np.ndarray:
        """For each sequence index, its position in `members(its family)` (vectorised binary search)."""
        index = np.asarray(index, dtype=np.int64)
        family = np.asarray(self.families[index], dtype=np.int64)
        low, high = self._family_offsets[family], self._family_offsets[family + 1]
        first = low.copy()
        while (active := low < high).any():
            middle = (low + high) // 2
            go_right = active & (self._members[np.where(active, middle, 0)] < index)
            low = np.where(go_right, middle + 1, low)
            high = np.where(active & ~go_right, middle, high)
        return low - first

    def members_at(self, family: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Vectorised `members(family[k])[position[k]]`."""
        return np.asarray(self._members[self._family_offsets[family] + position])


def write_subset(
    source: CorpusStore,
    path: str | os.PathLike[str],
    family_map: np.ndarray,
    family_names: list[dict[str, str]],
    meta: dict[str, Any] | None = None,
    chunk: int = 65536,
) -> Path:
    """Copy the sequences of `source` whose family maps to an index >= 0 under `family_map` into a new store.

    Tokens are read with ordinary file reads, not the memory map, so memory stays flat however large the store.
    """
    family_map = np.asarray(family_map, dtype=np.int64)
    n = len(source)
    offsets_file, offsets_dtype = _npy_data(source.path / "offsets.npy")
    families_file, families_dtype = _npy_data(source.path / "families.npy")
    with (
        CorpusWriter(path) as writer,
        open(source.path / "tokens.bin", "rb") as tokens_file,
        offsets_file,
        families_file,
    ):
        previous = np.fromfile(offsets_file, dtype=offsets_dtype, count=1)
        for start in range(0, n, chunk):
            count = min(chunk, n - start)
            ends = np.fromfile(offsets_file, dtype=offsets_dtype, count=count)
            offsets = np.concatenate([previous, ends])
            previous = ends[-1:]
            lengths = np.diff(offsets)
            families = family_map[np.fromfile(families_file, dtype=families_dtype, count=count)]
            selected = families >= 0
            tokens = np.fromfile(tokens_file, dtype=np.uint8, count=int(offsets[-1] - offsets[0]))
            writer.add_many(tokens[np.repeat(selected, lengths)], lengths[selected], families[selected])
        return writer.close(family_names, meta)
