"""The files `plus report` writes: table and figure names, with their sections in the HTML report.

Kept free of heavy imports so the workflow reads its output lists from here at `snakemake -n` time.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

TABLE_FORMATS = ("html", "csv", "md", "tex")
FIGURE_FORMATS = ("png", "pdf")
TABLES: dict[str, str] = {
    "pretraining": "Pretraining",
    "main": "Main results",
    "ablation": "Ablation",
    "protocol_gain": "Fine-tuning against probing",
    "published": "Published results",
    "data": "Data",
    "statistics": "Statistics",
    "identity_bins": "Identity to training",
    "cost": "Cost",
}
"""Tables of every report (file stem -> section of the HTML report); each task adds `detail_<task>`."""
PAIRS_TABLE = ("pairs", "Named pairs")
"""The table of the pairs a config names (report.comparisons): written only when it names some."""
FIGURES: dict[str, str] = {
    "pretraining_curves": "Pretraining curves",
    "task_scores": "Scores per task",
    "ablation_deltas": "Ablation",
    "confusion_matrices": "Confusion matrices",
    "homology_pr_curves": "Homology precision-recall",
    "identity_distribution": "Identity to training",
}
"""Figures of every report (file stem -> section of the HTML report)."""


PRETRAINING_OUTPUTS = ("pretraining", "ablation", "pretraining_curves", "ablation_deltas")
"""Tables and figures about pretraining: written only when a model of the run is pretrained here."""


def detail_table_stem(task: str) -> str:
    """The file stem of one task's detail table (written in every TABLE_FORMATS)."""
    return f"detail_{task}"


def table_caption(table: str) -> str:
    """Stem of the caption file (workflow/report/<stem>.rst) of a table: one caption for every detail table."""
    return "table_detail" if table.startswith("detail_") else f"table_{table}"


def table_sections(tasks: Iterable[str], pretrained: bool = True, pairs: bool = False) -> dict[str, str]:
    """Every table stem of a report on these tasks -> its section (`pretrained`: a model is pretrained here;
    `pairs`: the config names pairs to compare)."""
    named = dict([PAIRS_TABLE]) if pairs else {}
    tables = {**TABLES, **named, **{detail_table_stem(task): f"Detail: {task}" for task in tasks}}
    return {stem: section for stem, section in tables.items() if pretrained or stem not in PRETRAINING_OUTPUTS}


def figure_sections(pretrained: bool = True) -> dict[str, str]:
    """Every figure stem of a report -> its section (`pretrained`: a model is pretrained here)."""
    return {stem: section for stem, section in FIGURES.items() if pretrained or stem not in PRETRAINING_OUTPUTS}


def report_files(tasks: Iterable[str], tables_dir: Path, figures_dir: Path, pretrained: bool = True) -> list[Path]:
    """Every table and figure file a report on these tasks writes (the summary aside)."""
    stems = list(table_sections(tasks, pretrained))
    tables = [tables_dir / f"{stem}.{suffix}" for stem in stems for suffix in TABLE_FORMATS]
    figures = [figures_dir / f"{stem}.{suffix}" for stem in figure_sections(pretrained) for suffix in FIGURE_FORMATS]
    return tables + figures
