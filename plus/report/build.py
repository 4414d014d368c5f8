"""Building the whole report: every table, figure and the summary, written atomically."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from plus.io import atomic_path
from plus.report.caveats import report_caveats
from plus.report.collect import ReportData
from plus.report.cost_table import cost_table
from plus.report.figures import build_figures, write_figure
from plus.report.identity import identity_bin_table
from plus.report.outputs import PRETRAINING_OUTPUTS
from plus.report.statistics import (
    N_RESAMPLES,
    WORKERS,
    adjust_all,
    compare_pairs,
    compare_to_reference,
    pairs_table,
    significance_marks,
    statistics_note,
    statistics_table,
)
from plus.report.summary import summary_markdown
from plus.report.tables import ablation_comparisons, build_tables
from plus.report.writers import write_table


def build_report(
    data: ReportData,
    tables_dir: Path,
    figures_dir: Path,
    summary_path: Path,
    *,
    bootstrap_resamples: int = N_RESAMPLES,
    bootstrap_seed: int = 0,
    workers: int = WORKERS,
    comparisons: Sequence[tuple[str, str]] = (),
) -> list[Path]:
    """Write every table (HTML, CSV, Markdown, LaTeX), every figure (PNG, PDF) and the summary; return the paths.

    Significance against the reference model (data.reference_model) uses a paired bootstrap of
    `bootstrap_resamples` resamples (seeded with `bootstrap_seed`, run in `workers` processes) where fewer than two
    seeds are in common. `comparisons` names more pairs [model, against] to test (results/tables/pairs.*).
    """
    statistics = compare_to_reference(data, n_resamples=bootstrap_resamples, seed=bootstrap_seed, workers=workers)
    pairs = compare_pairs(data, comparisons, n_resamples=bootstrap_resamples, seed=bootstrap_seed, workers=workers)
    statistics, pairs = adjust_all(statistics, pairs)
    caveats = report_caveats(data)
    tables = build_tables(data, significance_marks(statistics), statistics_note(statistics, data), caveats)
    tables["statistics"] = statistics_table(data, statistics)
    if comparisons:
        tables["pairs"] = pairs_table(data, pairs)
    tables["identity_bins"] = identity_bin_table(data)
    tables["cost"] = cost_table(data)
    pretrained = any(data.pretrained(model) for model in data.models)
    tables = {name: table for name, table in tables.items() if pretrained or name not in PRETRAINING_OUTPUTS}
    written: list[Path] = []
    for table in tables.values():
        written += write_table(table, Path(tables_dir))
    comparisons = ablation_comparisons(data)
    for name, draw in build_figures(data, comparisons).items():
        if pretrained or name not in PRETRAINING_OUTPUTS:
            written += write_figure(draw(), Path(figures_dir), name)
    text = summary_markdown(data, tables, comparisons, written, Path(summary_path), statistics, caveats)
    with atomic_path(summary_path) as tmp:
        tmp.write_text(text)
    return [*written, Path(summary_path)]
