"""Every metric an evaluation reports, registered once: its table label, its short figure label, which way is
better, and whether it may be a task's headline. Task shapes and decodings name these metrics; the report reads
their labels here."""

from __future__ import annotations

from dataclasses import dataclass

from plus.tasks.alphabets import SCOP_LEVELS


@dataclass(frozen=True)
class Metric:
    """One metric's name in metrics.json, how tables and figures label it, and how it ranks."""

    name: str
    label: str
    short_label: str | None = None  # a figure panel's label where `label` is too long (the footnote gives `label`)
    higher_is_better: bool = True
    headline: bool = True  # may be a task's headline_metric
    secondary: bool = False  # shown beside a task's headline on its headline split wherever a run reports it

    @property
    def figure_label(self) -> str:
        return self.short_label or self.label


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("accuracy", "acc"),
        Metric("mcc", "MCC"),
        Metric("spearman", "ρ"),
        Metric("pearson", "r"),
        Metric("accuracy_8class", "Q8"),
        Metric("accuracy_3class", "Q3"),
        # The PLUS code's acc_p: decoded with the authors' (Bepler & Berger) grammar, segment count and overlaps only.
        Metric(
            "accuracy_protein_authors",
            "protein acc (authors' decoder and criterion, PLUS's acc_p)",
            "protein acc (authors)",
            secondary=True,
        ),
        # Ours: decoded with the sided grammar, and the N-terminal side must match as well (docs/fidelity.md, rows 1-2).
        Metric(
            "accuracy_protein",
            "protein acc (sided decoder, topology side checked)",
            "protein acc (sided)",
            secondary=True,
        ),
        Metric("accuracy_protein_segments", "protein acc (sided decoder, segments only)", "protein acc (segments)"),
        *(Metric(f"average_precision_{level}", f"AP {level}") for level in SCOP_LEVELS),
        Metric("mse", "mse", higher_is_better=False),
        Metric("rmse", "rmse", higher_is_better=False),
        Metric("mae", "mae", higher_is_better=False),
        Metric("loss", "loss", higher_is_better=False, headline=False),
        Metric("n_residues", "n_residues", headline=False),
    )
}


def metric_entry(name: str) -> Metric:
    """The registered metric, or one labelled by its name (a metric of a task added elsewhere)."""
    return METRICS.get(name) or Metric(name, name)
