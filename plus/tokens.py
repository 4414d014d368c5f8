"""The PLUS protein alphabet: 20 amino acids and X, plus padding, mask, CLS and SEP tokens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AMINO_ACIDS = "ARNDCQEGHILKMFPSTWYV"
PAD = 0
X = 21
MASK = 22
CLS = 23
SEP = 24
VOCAB_SIZE = 25
RESIDUE_TOKENS = range(1, X + 1)  # the 21 tokens a residue can be (A..V and X)

GAP_CHARACTERS = "-."
_ALIASES = {"O": "K", "U": "C", "B": "X", "Z": "X"}

_LOOKUP = np.full(256, -1, dtype=np.int16)  # -1: not a letter, -2: a letter outside the alphabet
for _code in range(256):
    if chr(_code).isascii() and chr(_code).isalpha():
        _LOOKUP[_code] = -2
for _index, _aa in enumerate(AMINO_ACIDS, start=1):
    _LOOKUP[ord(_aa)] = _LOOKUP[ord(_aa.lower())] = _index
_LOOKUP[ord("X")] = _LOOKUP[ord("x")] = X
for _letter, _target in _ALIASES.items():
    _value = X if _target == "X" else AMINO_ACIDS.index(_target) + 1
    _LOOKUP[ord(_letter)] = _LOOKUP[ord(_letter.lower())] = _value
_DECODE = np.frombuffer(("?" + AMINO_ACIDS + "X#<>").encode(), dtype=np.uint8)


@dataclass(frozen=True)
class EncodedSequence:
    """Token indices of one sequence and how many letters outside the alphabet were mapped to X."""

    tokens: np.ndarray
    n_unknown: int


def encode(sequence: str) -> EncodedSequence:
    """Tokenize a protein sequence: case-insensitive, gaps removed, O->K, U->C, B/Z->X, other letters -> X."""
    raw = np.frombuffer(sequence.encode("latin-1", errors="replace"), dtype=np.uint8)
    raw = raw[~np.isin(raw, np.frombuffer((GAP_CHARACTERS + " \t\r\n").encode(), dtype=np.uint8))]
    codes = _LOOKUP[raw]
    if (codes == -1).any():
        bad = sorted({chr(c) for c in raw[codes == -1]})
        raise ValueError(f"sequence contains characters that are not residues: {''.join(bad)!r}")
    unknown = codes == -2
    codes[unknown] = X
    return EncodedSequence(codes.astype(np.uint8), int(unknown.sum()))


def decode(tokens: np.ndarray) -> str:
    """Turn token indices back into letters (special tokens become ?, #, < and >)."""
    return _DECODE[np.asarray(tokens, dtype=np.int64)].tobytes().decode()


def first_non_letter(sequence: str, context: int = 20) -> str:
    """The first character of `sequence` that is not an ASCII letter, its 1-based position and an excerpt around
    it, for an error message (empty string when there is none)."""
    index = next((i for i, char in enumerate(sequence) if not (char.isascii() and char.isalpha())), None)
    if index is None:
        return ""
    start = max(index - context, 0)
    excerpt = ("..." if start else "") + sequence[start : index + context + 1]
    excerpt += "..." if index + context + 1 < len(sequence) else ""
    return f"{sequence[index]!r} at position {index + 1} (excerpt {excerpt!r})"
