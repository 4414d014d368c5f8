"""The seven synthetic tasks: sequences from the family hierarchy, labels from rules a model can learn."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyhmmer
from pyhmmer import easel

from plus.data.synthetic import formats
from plus.data.synthetic.hmms import ALPHABET, AMINO, BACKGROUND, Family, emit, rng_for, scoring_hmm
from plus.errors import InputError
from plus.tasks import LOCALIZATION_CLASSES, SECSTR3_OF_8, SECSTR8

HYDROPHOBIC = "AILMFVW"
CHARGED = "DEKR"
HELIX_RESIDUES = np.array(list("LLLLIIIVVVFFAAAGMWCT"))  # composition of synthetic membrane helices
TM_HELIX_LENGTH = 21
# targeting signals: location -> (which end, consensus); each residue is resampled with probability 0.15
TARGETING = {
    "Cell.membrane": ("N", "MGCCFSKRRKWLLAVVL"),
    "Cytoplasm": ("N", "MSDEEKQAAEGSSDEE"),
    "Endoplasmic.reticulum": ("C", "GRSEKKDEL"),
    "Extracellular": ("N", "MKKLLFAIPLVVPFYSHS"),
    "Golgi.apparatus": ("N", "MRLRRWFLVGLCLAAW"),
    "Lysosome/Vacuole": ("N", "MPSRLLLLALLALAPGA"),
    "Mitochondrion": ("N", "MLRTSSLFRRAFSTSARR"),
    "Nucleus": ("N", "MPKKKRKVEDPKKRRK"),
    "Peroxisome": ("C", "PRSRLSKL"),
    "Plastid": ("N", "MASSMLSSATMVASPAQATMVAPFNG"),
}
MEMBRANE_LOCATIONS = {"Cell.membrane", "Endoplasmic.reticulum", "Golgi.apparatus", "Lysosome/Vacuole"}

LABEL_RULES = {
    "pfam": "Each family is a leaf HMM of a class/fold/superfamily/family tree; sequences are emitted from it.",
    "homology": "Domains are emitted from family HMMs; the sccs is the family's place in the tree. Pair "
    "similarity = how many of class, fold, superfamily, family agree (0..4); children HMMs mix the parent's "
    "match emissions except at a random fraction of nodes (fold 0.5, superfamily 0.3, family 0.15), where the "
    "emission distribution is permuted over residues, so similarity shows in sequence. "
    "test_2.07 pairs have one domain from families held out of Pfam and of train.",
    "solubility": "1 if (superfamily propensity + family offset + 4 x (fraction DEKR - fraction AILMFVW) + "
    "N(0, 0.3)) is above the median over all proteins, else 0.",
    "localization": "Half the proteins carry a targeting signal (N- or C-terminal consensus, 15% of residues "
    "resampled) and take its location; the others take their superfamily's home location. The M/S/U tag is "
    "M for membrane locations and S otherwise with probability 0.8 (random otherwise; not learnable).",
    "stability": "Sequences are family emissions with 0-50% of residues replaced at random; stability_score = "
    "0.05 x hmmsearch bit score against the family's HMM (hmmbuild of a 50-sequence emitted seed; 0 bits "
    "where hmmsearch finds no domain) + N(0, 0.1).",
    "fluorescence": "Mutants of one wild type emitted along a family HMM's match states; effect of a "
    "substitution = log p(new) - log p(wt) under that match state; log_fluorescence = 1.3 + 2.4 x "
    "sigmoid(3 + 0.2 x sum of effects) + N(0, 0.05). Train/valid have 1-3 mutations, test 4 or more.",
    "secstr": "Every match node of a class has an SS8 letter (the real Pfam CS line where the HMM has one, "
    "otherwise a sampled helix/strand/loop pattern); emissions are tilted 2.5x towards residues the node's "
    "structure favours (helix AELMQKR, strand VIYFWTC, turn/coil GPNDST); a residue gets "
    "the letter of the match state that emitted it; insert-state residues are C and masked out "
    "(valid_mask false, disorder 0).",
    "transmembrane": "Proteins of 1-3 membrane helices (21 residues drawn from a hydrophobic composition, M) "
    "between loops cut from family emissions that alternate inside (I, 25% of residues K/R) and outside (O); "
    "a quarter start with a signal peptide (S: M, 2-5 K/R, 8-12 hydrophobic, A.A) followed by an O loop.",
}


def _choose(rng: np.random.Generator, items: Sequence[Family]) -> Family:
    return items[int(rng.integers(len(items)))]


def _one(family: Family, rng: np.random.Generator) -> tuple[str, np.ndarray]:
    return emit(family.hmm, 1, rng)[0]


def _fraction(sequence: str, letters: str) -> float:
    return sum(sequence.count(c) for c in letters) / len(sequence)


def homology(families: list[Family], sizes: dict[str, int], seed: int, out: Path) -> None:
    """ASTRAL-style training FASTA and Bepler & Berger pair tables."""
    rng = rng_for(seed, "homology")
    known = [f for f in families if f.in_pfam]
    new = [f for f in families if not f.in_pfam]
    counter = iter(range(1, 10**7))

    def domain(family: Family) -> tuple[str, str]:
        return f"d{np.base_repr(next(counter), 36).lower():0>4}a_", _one(family, rng)[0]

    train = []
    for _ in range(sizes["train"]):
        family = _choose(rng, known)
        name, sequence = domain(family)
        train.append((f"{name} {family.sccs_string} (A:) synthetic {{synthetic}}", sequence.lower()))
    formats.write_text(out / "homology/astral-2.06.train.fa", formats.fasta_lines(train))

    def pairs(n: int, first: list[Family], second: list[Family]) -> list[tuple[object, ...]]:
        rows = []
        levels = np.resize(np.arange(5), n)
        rng.shuffle(levels)
        for level in levels:
            while True:
                a = _choose(rng, first)
                options = [b for b in second if _agreement(a, b) == level]
                if options:
                    break
            b = _choose(rng, options)
            seq_a, seq_b = domain(a)[1], domain(b)[1]
            rows.append((seq_a, seq_b, int(level)))
        return rows

    columns = ("sequence_A", "sequence_B", "similarity")
    for split, file in (("valid", "dev.sampledpairs"), ("test", "test.sampledpairs")):
        formats.write_tsv(out / f"homology/astral-2.06.{file}.txt", columns, pairs(sizes[split], known, known))
    rows = pairs(sizes["test_2.07"], new, known + new)
    formats.write_tsv(out / "homology/astral-2.07-new.allpairs.txt", columns, rows)


def _agreement(a: Family, b: Family) -> int:
    level = 0
    while level < 4 and a.sccs[level] == b.sccs[level]:
        level += 1
    return level


def solubility(families: list[Family], sizes: dict[str, int], seed: int, out: Path) -> None:
    """DeepSol src/tgt files."""
    rng = rng_for(seed, "solubility")
    known = [f for f in families if f.in_pfam]
    superfamily = {f.sccs[:3]: rng.normal() for f in known}
    propensity = {f.index: superfamily[f.sccs[:3]] + 0.5 * rng.normal() for f in known}
    proteins = []
    for split in ("train", "val", "test"):
        for _ in range(sizes["valid" if split == "val" else split]):
            family = _choose(rng, known)
            sequence = _one(family, rng)[0]
            charge = _fraction(sequence, CHARGED) - _fraction(sequence, HYDROPHOBIC)
            proteins.append((split, sequence, propensity[family.index] + 4 * charge + rng.normal(0, 0.3)))
    threshold = float(np.median([score for _, _, score in proteins]))
    for split in ("train", "val", "test"):
        chosen = [(seq, int(score > threshold)) for name, seq, score in proteins if name == split]
        formats.write_text(out / f"solubility/{split}_src", [seq for seq, _ in chosen])
        formats.write_text(out / f"solubility/{split}_tgt", [str(label) for _, label in chosen])


def _noisy(consensus: str, rng: np.random.Generator, rate: float = 0.15) -> str:
    letters = np.array(list(consensus))
    change = rng.random(len(letters)) < rate
    letters[change] = rng.choice(list(AMINO), size=int(change.sum()), p=BACKGROUND)
    return "".join(letters)


def localization(families: list[Family], sizes: dict[str, int], seed: int, out: Path) -> None:
    """DeepLoc 1.0 FASTA: train and valid without a tag (valid is split off train on import), test tagged."""
    rng = rng_for(seed, "localization")
    known = [f for f in families if f.in_pfam]
    superfamilies = sorted({f.sccs[:3] for f in known})
    order = rng.permutation(len(LOCALIZATION_CLASSES))
    home = {sf: LOCALIZATION_CLASSES[order[i % len(order)]] for i, sf in enumerate(superfamilies)}
    records = []
    total = sizes["train"] + sizes["valid"] + sizes["test"]
    for i in range(total):
        family = _choose(rng, known)
        sequence = _one(family, rng)[0]
        location = home[family.sccs[:3]]
        if rng.random() < 0.5:
            location = LOCALIZATION_CLASSES[int(rng.integers(len(LOCALIZATION_CLASSES)))]
            end, consensus = TARGETING[location]
            signal = _noisy(consensus, rng)
            sequence = signal + sequence[1:] if end == "N" else sequence + signal
        if rng.random() < 0.8:
            tag = "M" if location in MEMBRANE_LOCATIONS else "S"
        else:
            tag = "MSU"[int(rng.integers(3))]
        test = " test" if i >= sizes["train"] + sizes["valid"] else ""
        records.append((f"SYN{i + 1:05d} {location}-{tag}{test}", sequence))
    formats.write_text(out / "localization/deeploc_data.fasta", formats.fasta_lines(records))


def stability(families: list[Family], sizes: dict[str, int], seed: int, out: Path, n_families: int) -> None:
    """TAPE stability JSON; labels from pyhmmer hmmsearch bit scores against each family's HMM."""
    rng = rng_for(seed, "stability")
    known = [f for f in families if f.in_pfam]
    chosen = [known[i] for i in np.linspace(0, len(known) - 1, min(n_families, len(known))).astype(int)]
    for split in ("train", "valid", "test"):
        drawn = []
        for i in range(sizes[split]):
            family = _choose(rng, chosen)
            sequence = np.array(list(_one(family, rng)[0]))
            change = rng.random(len(sequence)) < rng.uniform(0, 0.5)
            sequence[change] = rng.choice(list(AMINO), size=int(change.sum()), p=BACKGROUND)
            drawn.append((f"syn_stability_{split}_{i + 1}", family, "".join(sequence)))
        scores = _bit_scores(drawn, seed)
        records = [
            {
                "primary": sequence,
                "protein_length": len(sequence),
                "stability_score": [round(0.05 * scores[name] + float(rng.normal(0, 0.1)), 4)],
                "topology": _topology(family.ss8),
                "parent": family.name,
                "id": name,
            }
            for name, family, sequence in drawn
        ]
        formats.write_tape_json(out / f"stability/stability_{split}.json", records)


def _topology(ss8: str) -> str:
    """Rocklin-style topology string: the order of helices (H) and strands (E), e.g. 'HEEH'."""
    letters = "".join("H" if c in "GHI" else "E" if c in "EB" else "-" for c in ss8)
    runs = [run[0] for run in letters.split("-") if run]
    return "".join(r for i, r in enumerate(runs) if i == 0 or r != runs[i - 1])


def _bit_scores(drawn: list[tuple[str, Family, str]], seed: int) -> dict[str, float]:
    """hmmsearch bit score of every sequence against its own family's HMM, with all filters off; 0 bits
    where hmmsearch defines no domain at all (no detectable homology)."""
    scores: dict[str, float] = {}
    for family in {f.index: f for _, f, _ in drawn}.values():
        block = easel.DigitalSequenceBlock(
            ALPHABET,
            [
                easel.TextSequence(name=name, sequence=seq).digitize(ALPHABET)
                for name, f, seq in drawn
                if f.index == family.index
            ],
        )
        hits = next(
            pyhmmer.hmmsearch(
                [scoring_hmm(family, seed)], block, cpus=1, T=-1e9, domT=-1e9, F1=1.0, F2=1.0, F3=1.0, bias_filter=False
            )
        )
        scores.update({hit.name: hit.score for hit in hits})
    return {name: scores.get(name, 0.0) for name, _, _ in drawn}


def fluorescence(
    families: list[Family], sizes: dict[str, int], seed: int, out: Path, test_mutations: tuple[int, int]
) -> None:
    """TAPE fluorescence JSON: mutants of one wild type, labels from match-state emission log-odds."""
    rng = rng_for(seed, "fluorescence")
    family = _choose(rng, [f for f in families if f.in_pfam])
    match = np.asarray(family.hmm.match_emissions, dtype=np.float64)[1:]
    sharpened = match**2 / (match**2).sum(axis=1, keepdims=True)
    wild = np.array([rng.choice(len(AMINO), p=row) for row in sharpened])
    log_p = np.log(match.clip(1e-4))
    seen = {tuple()}
    plan = {"train": (1, 3), "valid": (1, 3), "test": test_mutations}
    for split in ("train", "valid", "test"):
        records = []
        if split == "train":
            records.append(_fluorescence_record(wild, (), log_p, rng, f"syn_gfp_{split}_wt"))
        attempts = 0
        while len(records) < sizes[split]:
            attempts += 1
            if attempts > 100 * sizes[split]:
                raise InputError(
                    f"synthetic.tasks.fluorescence.{split}: cannot draw {sizes[split]} distinct mutants of a "
                    f"{len(wild)}-residue wild type with {plan[split][0]}-{plan[split][1]} mutations"
                )
            count = int(rng.integers(plan[split][0], plan[split][1] + 1))
            positions = np.sort(rng.choice(len(wild), size=count, replace=False))
            mutations = tuple((int(p), int((wild[p] + rng.integers(1, len(AMINO))) % len(AMINO))) for p in positions)
            if mutations in seen:
                continue
            seen.add(mutations)
            records.append(_fluorescence_record(wild, mutations, log_p, rng, f"syn_gfp_{split}_{len(records)}"))
        formats.write_tape_json(out / f"fluorescence/fluorescence_{split}.json", records)


def _fluorescence_record(
    wild: np.ndarray, mutations: tuple[tuple[int, int], ...], log_p: np.ndarray, rng: np.random.Generator, name: str
) -> dict[str, object]:
    sequence = wild.copy()
    effect = 0.0
    for position, residue in mutations:
        effect += log_p[position, residue] - log_p[position, wild[position]]
        sequence[position] = residue
    value = 1.3 + 2.4 / (1 + np.exp(-(3 + 0.2 * effect))) + rng.normal(0, 0.05)
    primary = "".join(AMINO[i] for i in sequence)
    return {
        "primary": primary,
        "protein_length": len(primary),
        "log_fluorescence": [round(float(value), 4)],
        "num_mutations": len(mutations),
        "id": name,
    }


def secstr(families: list[Family], sizes: dict[str, int], seed: int, out: Path) -> None:
    """TAPE secondary-structure JSON (train, valid, casp12) and NetSurfP-2.0 CSV (CB513, TS115)."""
    rng = rng_for(seed, "secstr")
    known = [f for f in families if f.in_pfam]

    def protein() -> tuple[str, str, np.ndarray]:
        family = _choose(rng, known)
        sequence, states = _one(family, rng)
        labels = "".join(family.ss8[s - 1] if s > 0 else "C" for s in states)
        return sequence, labels, states > 0

    for split, file in (("train", "train"), ("valid", "valid"), ("test_casp12", "casp12")):
        records = []
        for i in range(sizes[split]):
            sequence, labels, valid = protein()
            records.append(
                {
                    "primary": sequence,
                    "protein_length": len(sequence),
                    "ss3": ["HEC".index(SECSTR3_OF_8[SECSTR8.index(c)]) for c in labels],
                    "ss8": [SECSTR8.index(c) for c in labels],
                    "valid_mask": valid.tolist(),
                    "id": f"syn_ss_{file}_{i + 1}",
                }
            )
        formats.write_tape_json(out / f"secstr/secondary_structure_{file}.json", records)
    for split, file in (("test_cb513", "CB513_HHblits.csv"), ("test_ts115", "TS115_HHblits.csv")):
        rows = []
        for _ in range(sizes[split]):
            sequence, labels, valid = protein()
            mask = " ".join("1.0" if v else "0.0" for v in valid)
            rows.append(
                {
                    "input": " ".join(sequence),
                    "dssp3": " ".join(SECSTR3_OF_8[SECSTR8.index(c)] for c in labels),
                    "dssp8": " ".join(labels),
                    "disorder": mask,
                    "cb513_mask": mask,
                }
            )
        formats.write_netsurfp_csv(out / f"secstr/{file}", rows)


def transmembrane(families: list[Family], sizes: dict[str, int], seed: int, out: Path) -> None:
    """TOPCONS2 3-line files of helical membrane proteins, some with a signal peptide."""
    rng = rng_for(seed, "transmembrane")
    known = [f for f in families if f.in_pfam]

    def loop(inside: bool) -> str:
        source = _one(_choose(rng, known), rng)[0]
        length = min(int(rng.integers(6, 26)), len(source))
        start = int(rng.integers(0, len(source) - length + 1))
        letters = np.array(list(source[start : start + length]))
        if inside:
            charge = rng.random(length) < 0.25
            letters[charge] = rng.choice(["K", "R"], size=int(charge.sum()))
        return "".join(letters)

    for split in ("train", "valid", "test"):
        records = []
        for i in range(sizes[split]):
            parts: list[tuple[str, str]] = []
            inside = bool(rng.random() < 0.5)
            if rng.random() < 0.25:
                signal = (
                    "M"
                    + "".join(rng.choice(list("KR"), size=int(rng.integers(2, 6))))
                    + "".join(rng.choice(list("LLLAAVIF"), size=int(rng.integers(8, 13))))
                    + "A"
                    + str(rng.choice(list(AMINO)))
                    + "A"
                )
                parts.append((signal, "S"))
                inside = False
            for _ in range(int(rng.integers(1, 4))):
                parts.append((loop(inside), "I" if inside else "O"))
                parts.append(("".join(rng.choice(HELIX_RESIDUES, size=TM_HELIX_LENGTH)), "M"))
                inside = not inside
            parts.append((loop(inside), "I" if inside else "O"))
            sequence = "".join(seq for seq, _ in parts)
            topology = "".join(letter * len(seq) for seq, letter in parts)
            records.append((f"syn_tm_{split}_{i + 1}", sequence, topology))
        formats.write_3line(out / f"transmembrane/{split}.3line", records)
