"""Building the whole report: every table, figure and the summary, written atomically."""

from __future__ import annotations

from pathlib import Path

from plus.io import atomic_path
from plus.report.collect import ReportData
from plus.report.figures import build_figures, write_figure
from plus.report.summary import summary_markdown
from plus.report.tables import ablation_comparisons, build_tables
from plus.report.writers import write_table


def build_report(data: ReportData, tables_dir: Path, figures_dir: Path, summary_path: Path) -> list[Path]:
    """Write every table (CSV, Markdown, LaTeX), every figure (PNG, PDF) and the summary; return the paths."""
    tables = build_tables(data)
    written: list[Path] = []
    for table in tables.values():
        written += write_table(table, Path(tables_dir))
    comparisons = ablation_comparisons(data)
    for name, draw in build_figures(data, comparisons).items():
        written += write_figure(draw(), Path(figures_dir), name)
    text = summary_markdown(data, tables, comparisons, written, Path(summary_path))
    with atomic_path(summary_path) as tmp:
        tmp.write_text(text)
    return [*written, Path(summary_path)]
