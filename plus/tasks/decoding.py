"""How a per-residue task's letters are decoded and scored: plain argmax, SecStr Q3, transmembrane topology.

A task declares its decoding (`TaskSpec.decoding`); nothing is inferred from its name or its classes. A decoding
other than argmax fixes the alphabet it decodes (`alphabet`), and the spec checks its classes against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from plus.tasks.alphabets import SECSTR3, SECSTR8, TOPOLOGY

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


class Decoding:
    """Argmax letters, scored by per-residue accuracy (any alphabet)."""

    name: ClassVar[str] = "argmax"
    alphabet: ClassVar[str | None] = None
    metric_names: ClassVar[tuple[str, ...]] = ("accuracy",)

    def columns(self, log_probs: Sequence[np.ndarray]) -> dict[str, list[str]]:
        """Prediction columns beyond the argmax letters, one value per protein ([L, C] log-probabilities each)."""
        return {}

    def metrics(self, frame: pd.DataFrame, classes: Sequence[str], where: str, checked: bool) -> dict[str, Any]:
        """The metrics of one split's rows (`target`, `prediction` and this decoding's columns)."""
        from plus.metrics.secstr import residue_accuracy

        accuracy, n_residues = residue_accuracy(frame["target"].tolist(), frame["prediction"].tolist(), classes)
        return {"accuracy": accuracy, "n_residues": n_residues}


def _decoded(frame: pd.DataFrame, column: str, alphabet: str, where: str, checked: bool) -> list[str] | None:
    """An optional decoded column's strings (checked against the alphabet), or None when the table lacks it."""
    if column not in frame.columns:
        return None
    if not checked:
        from plus.metrics.task import check_residue_strings

        check_residue_strings(frame, column, alphabet, where, unlabelled_ok=False)
    return frame[column].tolist()


class SecstrQ3(Decoding):
    """8-class letters, plus the paper's 3-class prediction: the argmax of the 8 probabilities summed by group."""

    name = "secstr_q3"
    alphabet = SECSTR8
    metric_names = ("accuracy_8class", "accuracy_3class")

    def columns(self, log_probs: Sequence[np.ndarray]) -> dict[str, list[str]]:
        import numpy as np

        from plus.metrics.secstr import q3_from_probabilities

        return {"prediction_3class": [q3_from_probabilities(np.exp(p)) for p in log_probs]}

    def metrics(self, frame: pd.DataFrame, classes: Sequence[str], where: str, checked: bool) -> dict[str, Any]:
        from plus.metrics.secstr import secstr_metrics

        predictions3 = _decoded(frame, "prediction_3class", SECSTR3, where, checked)
        return secstr_metrics(frame["target"].tolist(), frame["prediction"].tolist(), predictions3)


class TmTopology(Decoding):
    """Inside/outside/membrane letters, plus two decoded topologies: our sided grammar and the authors' decoder."""

    name = "tm_topology"
    alphabet = TOPOLOGY
    metric_names = ("accuracy", "accuracy_protein", "accuracy_protein_authors", "accuracy_protein_segments")

    def columns(self, log_probs: Sequence[np.ndarray]) -> dict[str, list[str]]:
        from plus.metrics.transmembrane import authors_topology, viterbi_topology

        return {
            "topology": [viterbi_topology(p, grammar="sided") for p in log_probs],
            "topology_authors": [authors_topology(p) for p in log_probs],
        }

    def metrics(self, frame: pd.DataFrame, classes: Sequence[str], where: str, checked: bool) -> dict[str, Any]:
        from plus.metrics.transmembrane import transmembrane_metrics

        return transmembrane_metrics(
            frame["target"].tolist(),
            frame["prediction"].tolist(),
            _decoded(frame, "topology", TOPOLOGY, where, checked),
            authors_topologies=_decoded(frame, "topology_authors", TOPOLOGY, where, checked),
        )


DECODINGS: dict[str, Decoding] = {decoding.name: decoding for decoding in (Decoding(), SecstrQ3(), TmTopology())}
