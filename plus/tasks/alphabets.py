"""The label alphabets of the built-in tasks (no imports: every layer may read them)."""

UNLABELLED = "."  # per-residue label character for residues excluded from loss and metrics

SECSTR8 = "GHIBESTC"  # TAPE / NetSurfP-2.0 order; Q3 groups GHI->H, BE->E, STC->C
SECSTR3_OF_8 = "HHHEECCC"
SECSTR3 = "HEC"
TOPOLOGY = "IOM"  # inside, outside, membrane
LOCALIZATION_CLASSES = (
    "Cell.membrane",
    "Cytoplasm",
    "Endoplasmic.reticulum",
    "Extracellular",
    "Golgi.apparatus",
    "Lysosome/Vacuole",
    "Mitochondrion",
    "Nucleus",
    "Peroxisome",
    "Plastid",
)
SCOP_LEVELS = ("class", "fold", "superfamily", "family")  # similarity 0..4 = how many of these agree
PAIR_LEVELS = len(SCOP_LEVELS) + 1  # similarity 0..4
