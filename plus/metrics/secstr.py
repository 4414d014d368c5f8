"""Secondary-structure metrics: per-residue 8-class and 3-class accuracy, unlabelled residues ignored.

Classes are in TAPE / NetSurfP-2.0 order G H I B E S T C; the 3-class reduction is GHI -> H, BE -> E,
STC -> C (`SECSTR3_OF_8` = "HHHEECCC"). The paper's 3-class prediction (acc3) is the argmax after summing the
8-class probabilities into the three groups: `q3_from_probabilities`. Mapping the 8-class argmax letter instead
(`q3_from_q8`) can differ where, say, G and H together outweigh E but E is the single most likely class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from plus.metrics.classification import confusion_matrix
from plus.tasks.alphabets import SECSTR3, SECSTR3_OF_8, SECSTR8, UNLABELLED

_Q3_OF_Q8 = str.maketrans(SECSTR8, SECSTR3_OF_8)
_GROUPING = np.eye(len(SECSTR3))[[SECSTR3.index(letter) for letter in SECSTR3_OF_8]]  # [8, 3] one-hot


def q3_from_q8(letters8: str) -> str:
    """Map 8-class letters to H/E/C letter by letter; `.` (unlabelled) stays `.`."""
    unknown = set(letters8) - set(SECSTR8) - {UNLABELLED}
    if unknown:
        raise ValueError(f"letters {sorted(unknown)} are not secondary-structure classes {SECSTR8}")
    return letters8.translate(_Q3_OF_Q8)


def q3_from_probabilities(probs8: np.ndarray) -> str:
    """H/E/C letters from per-residue 8-class probabilities [L, 8] (GHIBESTC order), by summing each group.

    Pass softmax probabilities, not logits or log-probabilities: rows must be non-negative and sum to 1.
    """
    probs8 = np.asarray(probs8, dtype=float)
    if probs8.ndim != 2 or probs8.shape[1] != len(SECSTR8):
        raise ValueError(f"expected probabilities of shape [L, {len(SECSTR8)}], got {probs8.shape}")
    if np.any(probs8 < 0) or not np.allclose(probs8.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("rows must be probabilities (non-negative, summing to 1), not logits or log-probabilities")
    grouped = probs8 @ _GROUPING
    return "".join(SECSTR3[i] for i in grouped.argmax(axis=1))


def residue_accuracy(
    targets: Sequence[str], predictions: Sequence[str], classes: str | Sequence[str]
) -> tuple[float, int]:
    """(accuracy, number of labelled residues), pooled over all proteins; `.` in a target is skipped.

    Every target letter must be in `classes` or `.`; a prediction must have its target's length.
    """
    if len(targets) != len(predictions):
        raise ValueError(f"{len(targets)} target strings but {len(predictions)} prediction strings")
    allowed = set(classes)
    correct = labelled = 0
    for index, (target, prediction) in enumerate(zip(targets, predictions, strict=True)):
        if len(target) != len(prediction):
            raise ValueError(f"record {index}: target has {len(target)} residues but prediction has {len(prediction)}")
        unknown = (set(target) - allowed - {UNLABELLED}) | (set(prediction) - allowed)
        if unknown:
            raise ValueError(f"record {index}: letters {sorted(unknown)} are not among {sorted(allowed)}")
        t = np.frombuffer(target.encode("ascii"), dtype=np.uint8)
        p = np.frombuffer(prediction.encode("ascii"), dtype=np.uint8)
        mask = t != ord(UNLABELLED)
        labelled += int(mask.sum())
        correct += int((t[mask] == p[mask]).sum())
    if labelled == 0:
        raise ValueError("no labelled residues to score: the input is empty or entirely unlabelled")
    return correct / labelled, labelled


def residue_confusion_matrix(
    targets: Sequence[str], predictions: Sequence[str], classes: str | Sequence[str]
) -> pd.DataFrame:
    """Per-residue confusion matrix (true rows, predicted columns, `classes` order) over labelled residues."""
    residue_accuracy(targets, predictions, classes)  # same validation: lengths, letters, something labelled
    flat_target, flat_prediction = "".join(targets), "".join(predictions)
    labelled = [i for i, letter in enumerate(flat_target) if letter != UNLABELLED]
    return confusion_matrix(
        [flat_target[i] for i in labelled], [flat_prediction[i] for i in labelled], labels=list(classes)
    )


def secstr_metrics(
    targets: Sequence[str], predictions8: Sequence[str], predictions3: Sequence[str] | None = None
) -> dict[str, float]:
    """`accuracy_8class`, `accuracy_3class` and `n_residues` (labelled residues scored).

    `predictions3` should hold H/E/C letters from `q3_from_probabilities` (the paper's acc3); when it is None the
    3-class prediction is the 8-class argmax letter mapped with `q3_from_q8`.
    """
    acc8, n_residues = residue_accuracy(targets, predictions8, SECSTR8)
    if predictions3 is None:
        predictions3 = [q3_from_q8(p) for p in predictions8]
    acc3, _ = residue_accuracy([q3_from_q8(t) for t in targets], predictions3, SECSTR3)
    return {"accuracy_8class": acc8, "accuracy_3class": acc3, "n_residues": n_residues}
