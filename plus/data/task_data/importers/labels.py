"""Per-residue label conversions shared by the importers: secondary structure and membrane topology.

Secondary structure is stored as letters in the TAPE / NetSurfP-2.0 order G H I B E S T C
(`plus.tasks.SECSTR8`).

* TAPE `ss8` integers 0..7 index that order. TAPE's `valid_mask` (and NetSurfP's `cb513_mask` /
  `disorder`) mark the residues whose structure is known (1 = keep). TAPE's own PyTorch
  `SecondaryStructureDataset` ignores the mask; PEER/TorchDrug respect it. We respect it: a masked residue
  becomes `.` (UNLABELLED), which counts in neither the loss nor any metric.
* DSSP letters: G H I B E S T C are kept as they are. The coil/loop spellings `-`, ` ` (blank), `L` and `C`
  all become `C`, and DSSP 4's polyproline helix `P` (absent from the 8-class scheme) also becomes `C`. Any
  other character is an error.
* The PLUS authors' secstr files store the same order as digits 0..7.

Membrane topology (TOPCONS2 3-line files) keeps I (inside), O (outside) and M (membrane); every other letter
(S signal peptide, L, X, lower case, ...) is mapped by a table whose default sends it to `.`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from plus.errors import InputError
from plus.tasks import SECSTR8, TOPOLOGY, UNLABELLED

DSSP_TO_SECSTR8: dict[str, str] = {
    **{letter: letter for letter in SECSTR8},
    "-": "C",
    " ": "C",
    "L": "C",
    "P": "C",
}
_SECSTR8_BYTES = np.frombuffer((SECSTR8 + UNLABELLED).encode(), dtype=np.uint8)
_UNLABELLED_INDEX = len(SECSTR8)

DEFAULT_TOPOLOGY_MAP: dict[str, str] = {"S": UNLABELLED}  # and every other non-I/O/M letter -> "."


def ss8_ints_to_letters(
    ints: Sequence[int] | np.ndarray, valid_mask: Sequence[object] | np.ndarray | None, *, where: str = "ss8"
) -> str:
    """TAPE `ss8` integers (0..7, GHIBESTC order) as letters; where valid_mask is false the letter is "."."""
    values = np.asarray(ints)
    if values.ndim != 1:
        raise InputError(f"{where}: ss8 must be a flat list of integers, got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        if not np.issubdtype(values.dtype, np.floating) or not np.all(values == np.round(values)):
            raise InputError(f"{where}: ss8 must hold integers 0..7, got {values.dtype} values")
    indices = values.astype(np.int64)
    bad = (indices < 0) | (indices >= len(SECSTR8))
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where}: ss8 value {values[position].item()!r} at position {position} is not in 0..7")
    if valid_mask is not None:
        mask = np.asarray(valid_mask)
        if mask.shape != indices.shape:
            raise InputError(
                f"{where}: valid_mask has {mask.size} entries but ss8 has {indices.size} (lengths must match)"
            )
        indices = np.where(mask.astype(bool), indices, _UNLABELLED_INDEX)
    return _SECSTR8_BYTES[indices].tobytes().decode()


def dssp8_to_secstr8(letters: str | Sequence[str], *, where: str = "dssp8") -> str:
    """DSSP 8-state letters as GHIBESTC letters (coil `-`, ` `, `L` and polyproline `P` become C)."""
    unknown = set(letters) - DSSP_TO_SECSTR8.keys()
    if unknown:
        position = next(i for i, letter in enumerate(letters) if letter in unknown)
        raise InputError(
            f"{where}: DSSP letter {letters[position]!r} at position {position} is not one of "
            f"{SECSTR8}, '-', ' ', 'L' or 'P'"
        )
    return "".join(map(DSSP_TO_SECSTR8.__getitem__, letters))


def secstr_digits_to_letters(digits: str, *, where: str = "secstr") -> str:
    """The PLUS authors' per-residue digits 0..7 (GHIBESTC order) as letters."""
    for position, digit in enumerate(digits):
        if not ("0" <= digit <= "7"):
            raise InputError(f"{where}: secstr character {digit!r} at position {position} is not a digit 0..7")
    return digits.translate(str.maketrans("01234567", SECSTR8))


def apply_mask(labels: str, keep: Sequence[bool] | np.ndarray) -> str:
    """Replace the labels at positions where keep is false by "." (UNLABELLED)."""
    keep = np.asarray(keep, dtype=bool)
    if keep.size != len(labels):
        raise ValueError(f"mask has {keep.size} entries for {len(labels)} labels")
    raw = np.frombuffer(labels.encode(), dtype=np.uint8).copy()
    raw[~keep] = ord(UNLABELLED)
    return raw.tobytes().decode()


def topology_map(overrides: Mapping[str, str] | None, *, where: str = "options.map") -> dict[str, str]:
    """The letter map for non-I/O/M topology letters: the default (S -> ".") updated with `overrides`."""
    mapping = dict(DEFAULT_TOPOLOGY_MAP)
    for letter, target in (overrides or {}).items():
        if not isinstance(letter, str) or len(letter) != 1:
            raise InputError(f"{where}: keys must be single letters, got {letter!r}")
        if letter in TOPOLOGY:
            raise InputError(f"{where}: {letter!r} is a topology class and is always kept; it cannot be mapped")
        if target not in (*TOPOLOGY, UNLABELLED):
            raise InputError(f"{where}: {letter!r} maps to {target!r}; targets must be one of I, O, M or '.'")
        mapping[letter] = target
    return mapping


def map_topology(topology: str, mapping: Mapping[str, str]) -> tuple[str, Counter[str]]:
    """Keep I/O/M, map every other letter by `mapping` (unlisted letters -> "."); count each mapping used."""
    counts: Counter[str] = Counter()
    out = []
    for letter in topology:
        if letter in TOPOLOGY:
            out.append(letter)
            continue
        target = mapping.get(letter, UNLABELLED)
        counts[f"topology {letter} -> {target}"] += 1
        out.append(target)
    return "".join(out), counts
