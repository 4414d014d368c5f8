"""Profile HMMs for the synthetic benchmark: real Pfam HMMs shipped with pyhmmer, sampled HMMs, a
class/fold/superfamily/family hierarchy derived by perturbing emissions, and emission with state paths."""

from __future__ import annotations

import importlib.resources
import logging
import zlib
from dataclasses import dataclass, field

import numpy as np
from pyhmmer import easel, plan7

from plus.tasks import SECSTR8

log = logging.getLogger(__name__)

ALPHABET = easel.Alphabet.amino()
AMINO = ALPHABET.symbols[: ALPHABET.K]  # Easel order: ACDEFGHIKLMNPQRSTVWY
BACKGROUND = np.asarray(plan7.Background(ALPHABET).residue_frequencies, dtype=np.float64)
BACKGROUND /= BACKGROUND.sum()
# Plan7 transitions MM MI MD IM II DM DD for sampled models: ~5% insert and delete openings, short runs
SAMPLED_TRANSITIONS = np.array([0.90, 0.05, 0.05, 0.60, 0.40, 0.70, 0.30])
# fraction of match nodes whose emission distribution a child re-draws, at each level of the hierarchy
PERTURBATION = {"fold": 0.5, "superfamily": 0.3, "family": 0.15}
# exponents that sharpen match emissions (p ** a, renormalised) so family members share ~40% identity
REAL_SHARPENING = 3.0
SAMPLED_SHARPENING = 4.0
SS_BIAS = 2.5  # weight on residues favoured by a node's secondary structure
# residues favoured by each secondary-structure letter (applied to emissions of sampled models)
SS_PREFERENCE = {"H": "AELMQKR", "G": "AELMQKR", "I": "AELMQKR", "E": "VIYFWTC", "B": "VIYFWTC", "C": "GPNDST"}
SS_PREFERENCE.update({"S": "GPNDST", "T": "GPNDST"})


def rng_for(seed: int, *keys: object) -> np.random.Generator:
    """A numpy generator determined by the seed and a path of keys (independent streams per component)."""
    words = [int(seed)] + [zlib.crc32(str(key).encode()) for key in keys]
    return np.random.default_rng(words)


def easel_seed(rng: np.random.Generator) -> easel.Randomness:
    """A seeded Easel generator drawn from `rng` (0 would mean 'random seed' to Easel, so it is avoided)."""
    return easel.Randomness(int(rng.integers(1, 2**31 - 1)), fast=True)


@dataclass
class Model:
    """A generating HMM with its per-match-node secondary structure and where it came from."""

    hmm: plan7.HMM
    ss8: str  # one SECSTR8 letter per match node
    origin: str


def real_pfam_hmms() -> list[plan7.HMM]:
    """The amino-acid Pfam HMMs (accession PF...) shipped in pyhmmer's test data, in file-name order."""
    try:
        root = importlib.resources.files("pyhmmer.tests") / "data" / "hmms" / "txt"
    except ModuleNotFoundError:
        log.warning("pyhmmer ships no test HMMs here; using sampled HMMs only")
        return []
    found = []
    for entry in sorted((p for p in root.iterdir() if p.name.endswith(".hmm")), key=lambda p: p.name):
        with importlib.resources.as_file(entry) as path, plan7.HMMFile(path) as handle:
            for hmm in handle:
                if hmm.alphabet == ALPHABET and (hmm.accession or "").startswith("PF"):
                    found.append(hmm)
    return found


def build_hmm(name: str, match: np.ndarray, insert: np.ndarray, transitions: np.ndarray) -> plan7.HMM:
    """A core Plan7 HMM from node tables (row 0 = begin node; rows 1..M = match nodes)."""
    size = match.shape[0] - 1
    hmm = plan7.HMM(ALPHABET, size, name)
    np.asarray(hmm.match_emissions)[1:] = match[1:]
    np.asarray(hmm.insert_emissions)[:] = insert
    table = np.array(transitions, dtype=np.float64)
    table[size, 2] = table[size, 6] = 0.0  # no delete state after the last node
    table[size, 0] = 1.0 - table[size, 1]
    table[size, 5] = 1.0
    for begin, end in ((0, 3), (3, 5), (5, 7)):
        table[:, begin:end] /= table[:, begin:end].sum(axis=1, keepdims=True).clip(1e-12)
    np.asarray(hmm.transition_probabilities)[:] = table
    hmm.set_composition()
    hmm.set_consensus()
    return hmm


def crop_real(hmm: plan7.HMM, length: int, rng: np.random.Generator) -> tuple[plan7.HMM, str, str]:
    """A window of `length` match nodes from a real HMM, with its CS line as secondary structure if present."""
    length = min(length, hmm.M)
    start = int(rng.integers(0, hmm.M - length + 1))
    rows = slice(start, start + length + 1)
    match = sharpen(np.asarray(hmm.match_emissions)[rows].astype(np.float64), REAL_SHARPENING)
    insert = np.asarray(hmm.insert_emissions)[rows].astype(np.float64)
    transitions = np.asarray(hmm.transition_probabilities)[rows].astype(np.float64)
    cropped = build_hmm(f"{hmm.name}_{start + 1}-{start + length}", match, insert, transitions)
    structure = hmm.consensus_structure
    ss8 = ""
    if structure:
        ss8 = "".join(c if c in SECSTR8 else "C" for c in structure[start : start + length])
    origin = f"pyhmmer test data {hmm.accession} ({hmm.name}) match nodes {start + 1}-{start + length}"
    return cropped, ss8, origin


def segment_structure(length: int, rng: np.random.Generator) -> str:
    """A plausible SS8 string: helices (8-18, some 3-10/pi), strands (4-9, some bridges), turns and coil."""
    parts: list[str] = []
    while sum(map(len, parts)) < length:
        loop = rng.choice(list("CCCSTT"), size=int(rng.integers(2, 8)))
        parts.append("".join(loop))
        if rng.random() < 0.55:
            parts.append(("G" * 3 if rng.random() < 0.2 else "") + "H" * int(rng.integers(8, 19)))
            parts.append("I" * 5 if rng.random() < 0.05 else "")
        else:
            parts.append("E" * int(rng.integers(4, 10)) + ("B" if rng.random() < 0.2 else ""))
    return "".join(parts)[:length]


def sampled_root(length: int, rng: np.random.Generator) -> tuple[plan7.HMM, str, str]:
    """A pyhmmer-sampled HMM, sharpened towards conserved columns, with a sampled SS pattern."""
    sampled = plan7.HMM.sample(ALPHABET, length, randomness=easel_seed(rng))
    match = sharpen(np.asarray(sampled.match_emissions).astype(np.float64), SAMPLED_SHARPENING)
    ss8 = segment_structure(length, rng)
    insert = np.tile(BACKGROUND, (length + 1, 1))
    transitions = np.tile(SAMPLED_TRANSITIONS, (length + 1, 1))
    return build_hmm("sampled", match, insert, transitions), ss8, f"pyhmmer HMM.sample M={length}"


def sharpen(match: np.ndarray, exponent: float) -> np.ndarray:
    """Match emissions raised to `exponent` and renormalised (row 0, the begin node, is kept)."""
    result = match.copy()
    result[1:] = match[1:] ** exponent
    result[1:] /= result[1:].sum(axis=1, keepdims=True)
    return result


def structure_biased(hmm: plan7.HMM, ss8: str) -> plan7.HMM:
    """The HMM with each match node's emissions tilted towards residues its secondary structure favours."""
    match = np.asarray(hmm.match_emissions).astype(np.float64)
    for node, letter in enumerate(ss8, start=1):
        for residue in SS_PREFERENCE[letter]:
            match[node, AMINO.index(residue)] *= SS_BIAS
    match[1:] /= match[1:].sum(axis=1, keepdims=True)
    return build_hmm(
        hmm.name,
        match,
        np.asarray(hmm.insert_emissions).astype(np.float64),
        np.asarray(hmm.transition_probabilities).astype(np.float64),
    )


def perturb(parent: plan7.HMM, fraction: float, name: str, rng: np.random.Generator) -> plan7.HMM:
    """A child HMM: a random `fraction` of match nodes get their emission distribution over residues
    permuted (a new conserved residue, same conservation); the other nodes are inherited unchanged."""
    child = np.asarray(parent.match_emissions).astype(np.float64)
    for node in np.flatnonzero(rng.random(parent.M) < fraction) + 1:
        child[node] = child[node, rng.permutation(len(AMINO))]
    return build_hmm(
        name,
        child,
        np.asarray(parent.insert_emissions).astype(np.float64),
        np.asarray(parent.transition_probabilities).astype(np.float64),
    )


@dataclass
class Family:
    """One leaf of the hierarchy: an HMM with its SCOP-like address and Pfam-like names."""

    index: int
    sccs: tuple[int, int, int, int]  # class, fold, superfamily, family (0-based)
    hmm: plan7.HMM
    ss8: str
    origin: str
    in_pfam: bool
    accession: str = ""
    name: str = ""
    scoring_hmm: plan7.HMM | None = field(default=None, repr=False)

    @property
    def sccs_string(self) -> str:
        return f"{'abcdefghijklmnopqrstuvwxyz'[self.sccs[0]]}.{self.sccs[1] + 1}.{self.sccs[2] + 1}.{self.sccs[3] + 1}"

    def to_dict(self) -> dict[str, object]:
        return {
            "accession": self.accession,
            "id": self.name,
            "sccs": self.sccs_string,
            "match_nodes": self.hmm.M,
            "in_pfam": self.in_pfam,
            "origin": self.origin,
        }


def build_hierarchy(
    seed: int, n_classes: int, n_families: int, length_range: tuple[int, int], new_per_superfamily: int = 1
) -> list[Family]:
    """Families of a class/fold/superfamily/family tree (2 folds per class, 2 superfamilies per fold).

    The first classes are rooted at real Pfam HMMs (cropped windows) as far as pyhmmer ships them, the rest at
    sampled HMMs. Each superfamily also gets `new_per_superfamily` families that are kept out of Pfam.
    """
    rng = rng_for(seed, "hierarchy")
    real = real_pfam_hmms()
    superfamilies = [(c, f, s) for c in range(n_classes) for f in range(2) for s in range(2)]
    per_superfamily = [n_families // len(superfamilies)] * len(superfamilies)
    for extra in range(n_families % len(superfamilies)):
        per_superfamily[extra] += 1
    families: list[Family] = []
    for c in range(n_classes):
        length = int(rng.integers(length_range[0], length_range[1] + 1))
        if c < len(real):
            root, ss8, origin = crop_real(real[c], length, rng)
            if not ss8:
                ss8 = segment_structure(root.M, rng)
                origin += " (no CS line: sampled secondary structure)"
        else:
            root, ss8, origin = sampled_root(length, rng)
        for f in range(2):
            fold = perturb(root, PERTURBATION["fold"], f"fold{c}.{f}", rng)
            for s in range(2):
                count = per_superfamily[superfamilies.index((c, f, s))]
                sfam = perturb(fold, PERTURBATION["superfamily"], f"sf{c}.{f}.{s}", rng)
                for k in range(count + new_per_superfamily):
                    hmm = structure_biased(perturb(sfam, PERTURBATION["family"], f"fam{c}.{f}.{s}.{k}", rng), ss8)
                    families.append(Family(len(families), (c, f, s, k), hmm, ss8, origin, k < count))
    stems = [hmm.name.split("_")[0] if i < len(real) else f"Syn{i + 1}" for i, hmm in enumerate(real)]
    stems += [f"Syn{i + 1}" for i in range(len(stems), n_classes)]
    for family in families:
        c, f, s, k = family.sccs
        family.accession = f"PF9{family.index + 1:04d}.1"
        family.name = f"{stems[c]}_f{f + 1}s{s + 1}m{k + 1}"
        family.hmm.name = family.name
        family.hmm.accession = family.accession
    return families


def emit(hmm: plan7.HMM, n: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """`n` sequences emitted by pyhmmer from the core model, each with the node that emitted every residue
    (1..M for match states, 0 for insert states)."""
    if n == 0:
        return []
    msa = hmm.emit_alignment(n, randomness=easel_seed(rng)).textize()
    is_match = np.frombuffer(msa.reference.encode(), dtype=np.uint8) == ord("x")
    column_state = np.where(is_match, np.cumsum(is_match), 0)
    result = []
    for row in msa.alignment:
        raw = np.frombuffer(row.upper().encode(), dtype=np.uint8)
        keep = (raw != ord("-")) & (raw != ord("."))
        result.append((raw[keep].tobytes().decode(), column_state[keep]))
    return result


def scoring_hmm(family: Family, seed: int) -> plan7.HMM:
    """A calibrated HMM for the family, built by pyhmmer's hmmbuild from a 50-sequence emitted seed alignment."""
    if family.scoring_hmm is None:
        rng = rng_for(seed, "seed-alignment", family.index)
        msa = family.hmm.emit_alignment(50, randomness=easel_seed(rng))
        msa.name = family.name
        builder = plan7.Builder(ALPHABET, seed=int(rng.integers(1, 2**31 - 1)))
        built, _, _ = builder.build_msa(msa, plan7.Background(ALPHABET))
        family.scoring_hmm = built
    return family.scoring_hmm
