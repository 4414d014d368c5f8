"""A short Markdown summary of the run: what was run, the main table and findings computed from the numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from plus.report.caveats import CAVEAT_MARK, Caveat
from plus.report.collect import ReportData
from plus.report.cost_table import cost_paragraph
from plus.report.statistics import ALPHA
from plus.report.tables import (
    OBJECTIVE_LABELS,
    AblationComparison,
    ScoreColumn,
    evaluated_models,
    higher_is_better,
    import_warnings,
    main_columns,
    metric_label,
    split_label,
    summarize_scores,
    task_label,
)
from plus.report.writers import Table, to_markdown

VARIANT_NAMES = {"plus": "PLUS", "mlm": "MLM-only", "none": "no-pretraining"}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def what_was_run(data: ReportData) -> list[str]:
    runs = data.scores[["model", "task", "seed"]].drop_duplicates()
    baseline = runs["model"].map(lambda m: data.models[m].objective == "alignment")
    counts = _plural(int((~baseline).sum()), "fine-tuning run")
    if baseline.any():
        counts += f" and {_plural(int(baseline.sum()), 'alignment-baseline run')}"
    lines = [
        f"{_plural(len(data.models), 'model variant')}, {_plural(len(data.tasks), 'task')}, "
        f"{_plural(len(data.seeds), 'seed')} ({', '.join(map(str, data.seeds))}): {counts}.",
        "",
        "| Model | Config name | Pretraining | Preset | Encoder | Protocol | Parameters | Pretraining steps |",
        "|---|---|---|---|---|---|---:|---:|",
    ]
    for name, info in data.models.items():
        record = data.pretraining.get(name, {})
        parameters = record.get("parameters")
        steps = record.get("steps")
        lines.append(
            f"| {info.label} | `{name}` | {OBJECTIVE_LABELS[info.objective]} | {info.preset} | {info.encoder} | "
            f"{info.protocol} | "
            f"{f'{parameters:,}' if isinstance(parameters, int) else '—'} | "
            f"{f'{steps:,}' if isinstance(steps, int) else '—'} |"
        )
    lines += ["", "| Task | Shape | Headline metric | Test split |", "|---|---|---|---|"]
    for task in data.tasks.values():
        lines.append(
            f"| {task_label(task.name)} | {task.shape} | {metric_label(task.headline_metric)} "
            f"(`{task.headline_metric}`) | {split_label(task.headline_split)} |"
        )
    return lines


def ablation_findings(data: ReportData, comparisons: list[AblationComparison]) -> list[str]:
    """'PLUS beats X on N of T tasks' per pair of variants, on each task's headline metric."""
    headline = {(t.name, t.headline_metric, t.headline_split) for t in data.tasks.values()}
    lines = []
    pairs = dict.fromkeys((c.plus_model, c.other_model) for c in comparisons)
    for plus_model, other_model in pairs:
        selected = [
            c
            for c in comparisons
            if (c.plus_model, c.other_model) == (plus_model, other_model)
            and (c.column.task, c.column.metric, c.column.split) in headline
        ]
        undefined = [c for c in selected if math.isnan(c.delta)]
        selected = [c for c in selected if not math.isnan(c.delta)]
        wins = [c for c in selected if c.delta > 0]
        clear = [c for c in wins if c.beyond_spread]
        other = data.models[other_model]
        spread_note = (
            f"; by more than the seed spread on {len(clear)}"
            if any(c.beyond_spread is not None for c in selected)
            else "; one seed, so no seed spread to compare against"
        )
        tasks_won = ", ".join(task_label(c.column.task) for c in wins) or "none"
        lines.append(
            f"- {data.models[plus_model].label} beats the {VARIANT_NAMES[other.objective]} variant "
            f"{other.label} on {len(wins)} of {len(selected)} tasks "
            f"(headline metric, mean over seeds{spread_note}). Tasks won: {tasks_won}."
            + (f" Undefined metric on: {', '.join(task_label(c.column.task) for c in undefined)}." if undefined else "")
        )
    if not comparisons:
        lines.append("- No MLM-only or no-pretraining variant shares a preset with a PLUS model: no ablation.")
    return lines


def best_findings(data: ReportData) -> list[str]:
    """Best model of this run per main-table column, and how it compares with the best published value."""
    stats = summarize_scores(data.scores)
    lines = []
    for column in main_columns(data):
        better = max if higher_is_better(column.metric) else min
        candidates = [
            (stats[key].mean, name)
            for name in evaluated_models(data)
            if (key := (name, column.task, column.split, column.metric)) in stats and not math.isnan(stats[key].mean)
        ]
        if not candidates:
            continue
        value, name = better(candidates)
        line = f"- {column.header}: best of this run {data.models[name].label} ({value:.3f})"
        line += _published_comparison(data, column, value, better)
        lines.append(line + ".")
    return lines


def _published_comparison(
    data: ReportData, column: ScoreColumn, value: float, better: Callable[..., tuple[float, str]]
) -> str:
    provenance = data.provenance.get(column.task)
    if provenance is None or not provenance.comparable_to_published:
        kind = provenance.kind if provenance else "unknown"
        return f"; not set beside published numbers ({kind} data, not the official benchmark)"
    published = data.published[
        (data.published["task"] == column.task)
        & (data.published["metric"] == column.metric)
        & (data.published["split"] == column.split)
    ]
    if published.empty:
        return "; no published value given"
    best_value, best_text, best_model = better(
        zip(published["value"], published["value_text"], published["model"], strict=True)
    )
    sign = "+" if value - best_value >= 0 else "−"
    return f"; best published {best_model} ({best_text}), difference {sign}{abs(value - best_value):.3f}"


def pretraining_findings(data: ReportData) -> list[str]:
    lines = []
    for key, label in (
        ("mlm_accuracy", "MLM accuracy (Pfam test split)"),
        ("sfp_accuracy", "SFP accuracy (test pairs)"),
    ):
        values = [
            f"{data.models[name].label} {record['test'][key]:.3f}"
            for name, record in data.pretraining.items()
            if isinstance(record["test"].get(key), (int, float))
        ]
        if values:
            lines.append(f"- {label}: " + ", ".join(values) + ".")
    return lines


def significance_findings(data: ReportData, statistics: pd.DataFrame | None) -> list[str]:
    """Per model: the tasks where it is significantly better or worse than the reference, in words."""
    if statistics is None or statistics.empty:
        return []
    reference = statistics["reference"].iloc[0]
    lines = []
    for model, rows in statistics[statistics["model"] != reference].groupby("model", sort=False):
        tested = rows[rows["p"].notna()]
        if tested.empty:
            continue
        better, worse = [], []
        for row in tested[tested["significant"]].itertuples():
            sign = 1.0 if higher_is_better(row.metric) else -1.0
            (better if sign * row.delta > 0 else worse).append(task_label(row.task))
        lines.append(
            f"- {data.models[model].label} against {data.models[reference].label}: significantly better on "
            f"{len(better)} ({', '.join(better) or 'none'}), significantly worse on {len(worse)} "
            f"({', '.join(worse) or 'none'}), no significant difference on {len(tested) - len(better) - len(worse)} "
            f"of {len(tested)} tasks (Benjamini-Hochberg q < {ALPHA}; {_tests_used(tested)})."
        )
    return lines


def _tests_used(rows: pd.DataFrame) -> str:
    kinds = ["paired t-test over seeds" if t.startswith("paired t") else "paired bootstrap" for t in rows["test"]]
    return ", ".join(f"{kind} on {kinds.count(kind)}" for kind in dict.fromkeys(kinds))


def leakage_findings(data: ReportData) -> list[str]:
    """Per audited task and test split: how many test examples are close to training, and exact duplicates."""
    lines = []
    for task, audit in data.audits.items():
        if task not in data.tasks:
            continue
        parts = []
        for split, group in audit.groupby("split", sort=False):
            values = group["max_identity"].to_numpy(dtype=float)
            parts.append(
                f"{split_label(split)}: n={len(values)}, median identity {np.median(values):.2f}, "
                f"{np.mean(values >= 0.9):.1%} at >= 90%, {np.mean(values < 0.3):.1%} below 30%"
            )
        duplicates = data.audit_summaries.get(task, {}).get("duplicates", {}).get("across_splits", [])
        shared = [f"{'/'.join(d['splits'])} {d['sequences']}" for d in duplicates if d.get("sequences")]
        text = f"- {task_label(task)} — " + "; ".join(parts)
        text += f". Identical sequences shared between splits: {', '.join(shared)}." if shared else "."
        lines.append(text)
    if not lines:
        lines.append("- No leakage audit was given.")
    return lines


def caveat_lines(data: ReportData, caveats: Sequence[Caveat]) -> list[str]:
    """One line per caveat naming the model (or every model), the task and the reason."""
    lines = []
    for caveat in caveats:
        who = "every model" if caveat.model is None else data.models[caveat.model].label
        lines.append(f"- {CAVEAT_MARK} {task_label(caveat.task)}, {who}: {caveat.reason}.")
    return lines or ["- None found: no near-constant predictions, small training split or unseen test class."]


def data_lines(data: ReportData) -> list[str]:
    """Per task: its provenance and the warnings of its import."""
    lines = []
    for task in data.tasks:
        provenance = data.provenance.get(task)
        line = f"- {task_label(task)}: {provenance.text() if provenance else 'provenance unknown'}."
        warnings = import_warnings(data, task)
        if warnings:
            line += f" Import warnings: {'; '.join(warnings)}."
        lines.append(line)
    return lines


def summary_markdown(
    data: ReportData,
    tables: dict[str, Table],
    comparisons: list[AblationComparison],
    files: list[Path],
    summary_path: Path,
    statistics: pd.DataFrame | None = None,
    caveats: Sequence[Caveat] = (),
) -> str:
    """The whole summary.md text."""
    lines = ["# PLUS reproduction: summary of results", "", "## What was run", ""]
    lines += what_was_run(data)
    lines += ["", "## Main results", "", to_markdown(tables["main"], title=False).rstrip("\n"), ""]
    lines += ["## Caveats", "", *caveat_lines(data, caveats), ""]
    lines += ["## Data", "", *data_lines(data), ""]
    lines += ["## Findings", "", *ablation_findings(data, comparisons), *best_findings(data)]
    lines += pretraining_findings(data)
    if statistics is not None and not statistics.empty:
        lines += ["", "## Significance", "", *significance_findings(data, statistics)]
    lines += ["", "## Leakage: identity of test to training sequences", "", *leakage_findings(data)]
    lines += ["", "## Cost", "", *cost_paragraph(data)]
    if "pretraining" in tables and tables["pretraining"].rows:
        lines += ["", "## Pretraining", "", to_markdown(tables["pretraining"], title=False).rstrip("\n"), ""]
    else:
        lines += [""]
    lines += ["## Files", ""]
    base = summary_path.resolve().parent
    for path in files:
        resolved = path.resolve()
        shown = resolved.relative_to(base) if resolved.is_relative_to(base) else path
        lines.append(f"- `{shown}`")
    return "\n".join(lines) + "\n"
