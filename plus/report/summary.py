"""A short Markdown summary of the run: what was run, the main table and findings computed from the numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from plus.report.caveats import CAVEAT_MARK, Caveat
from plus.report.collect import ModelInfo, ReportData
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
FINDINGS_INTRO = (
    "Per column of the main table, the best entry against the best of the other kind (a model against the "
    "alignment baseline and controls, or the reverse; else the runner-up), largest difference first (in the "
    "metric's units, relative for error metrics); means over seeds. Whether a difference is significant: section "
    "Significance."
)
# How a title names the pretraining of one of several variants of a preset.
TITLE_VARIANTS = {"plus": "MLM + SFP", "mlm": "MLM-only", "none": "no pretraining"}
# Architecture words of preset names, written in capitals in titles (plus-rnn-tiny: PLUS-RNN tiny).
ARCHITECTURE_WORDS = ("plus", "rnn", "tfm")
CONTROL_ENCODERS = ("onehot", "blosum62", "random")
# Compact task names for the summary's main table (its legend gives the full column names).
TASK_ABBREVIATIONS = {
    "homology": "Hom",
    "solubility": "Sol",
    "localization": "Loc",
    "stability": "Stab",
    "fluorescence": "Fluo",
    "secstr": "SS",
    "transmembrane": "TM",
}
METRIC_ABBREVIATIONS = {
    "accuracy_protein_authors": "acc_p",
    "accuracy_protein": "prot acc",
    "accuracy_protein_segments": "prot acc seg",
}


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def preset_label(preset: str) -> str:
    """A preset as a title writes it: `plus-rnn-tiny` as `PLUS-RNN tiny`."""
    words = preset.split("-")
    head = [word.upper() for word in words if word in ARCHITECTURE_WORDS]
    rest = [word for word in words if word not in ARCHITECTURE_WORDS]
    return " ".join(["-".join(head), *rest]) if head else preset


def role(info: ModelInfo) -> str:
    """`baseline` (the alignment baseline), `control` (no pretraining, a random or fixed encoding) or `model`."""
    if info.objective == "alignment":
        return "baseline"
    if info.objective == "none" or info.encoder in CONTROL_ENCODERS:
        return "control"
    return "model"


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def summary_title(data: ReportData) -> str:
    """What was run, e.g. `PLUS-RNN tiny (MLM + SFP, MLM-only, no pretraining) and the alignment baseline on 7
    tasks, 1 seed`: the variants of each preset pretrained here together, every other model by its label."""
    groups: dict[str, list[ModelInfo]] = {}
    for info in data.models.values():
        if info.objective != "alignment":
            key = info.preset if info.encoder == "plus" else f"model:{info.name}"
            groups.setdefault(key, []).append(info)
    parts = []
    for key, infos in groups.items():
        if len(infos) == 1:
            parts.append(infos[0].label)
            continue
        variants = [TITLE_VARIANTS.get(info.objective, info.objective) for info in infos]
        if len(set(variants)) < len(variants):
            variants = [f"{variant} {info.protocol}" for variant, info in zip(variants, infos, strict=True)]
        parts.append(f"{preset_label(key)} ({', '.join(variants)})")
    if any(info.objective == "alignment" for info in data.models.values()):
        parts.append("the alignment baseline" if parts else "The alignment baseline")
    tasks = task_label(next(iter(data.tasks))) if len(data.tasks) == 1 else _plural(len(data.tasks), "task")
    return f"{_joined(parts or ['No model'])} on {tasks}, {_plural(len(data.seeds), 'seed')}"


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


@dataclass(frozen=True)
class Finding:
    """A sentence of the summary's findings and the size of the difference it states, which ranks it."""

    effect: float
    text: str


def effect_size(metric: str, value: float, other: float) -> float:
    """|value - other| in the metric's units; relative to `other` for error metrics (unbounded, in data units)."""
    if not higher_is_better(metric):
        return abs(value - other) / max(abs(other), 1e-12)
    return abs(value - other)


def _described(data: ReportData, name: str) -> str:
    """A model's label, with its role when it is a baseline or control."""
    kind = {"baseline": "alignment baseline", "control": "control"}.get(role(data.models[name]))
    return f"{data.models[name].label} ({kind})" if kind else data.models[name].label


def ranked_findings(data: ReportData) -> list[str]:
    """Per main-table column, the best entry against the best of the other kind (models against the alignment
    baseline and controls) or the runner-up, largest difference first, each with its published comparison."""
    stats = summarize_scores(data.scores)
    findings = []
    for column in main_columns(data):
        better = max if higher_is_better(column.metric) else min
        entries = sorted(
            (
                (stats[key].mean, name)
                for name in evaluated_models(data)
                if (key := (name, column.task, column.split, column.metric)) in stats
                and not math.isnan(stats[key].mean)
            ),
            key=lambda entry: entry[0],
            reverse=better is max,
        )
        if not entries:
            continue
        (value, winner), header = entries[0], column.header
        models = [entry for entry in entries if role(data.models[entry[1]]) == "model"]
        others = [entry for entry in entries if role(data.models[entry[1]]) != "model"]
        winner_is_model = role(data.models[winner]) == "model"
        if not winner_is_model and models:
            other_value, other = models[0]
            text = f"{_described(data, winner)} beats every model on {header}: {value:.3f} against "
            text += f"{data.models[other].label}'s {other_value:.3f}"
        elif winner_is_model and others:
            other_value, other = others[0]
            text = f"{data.models[winner].label} beats every baseline and control on {header}: {value:.3f} against "
            text += f"{_described(data, other)}'s {other_value:.3f}"
        elif len(entries) > 1:
            other_value, other = entries[1]
            text = f"{_described(data, winner)} is best on {header}: {value:.3f} against "
            text += f"{_described(data, other)}'s {other_value:.3f}"
        else:
            text = f"{header}: {_described(data, winner)} {value:.3f}"
            findings.append(Finding(0.0, f"- {text}{_published_comparison(data, column, value, better)}."))
            continue
        text += f" (ahead by {abs(value - other_value):.3f})"
        text += _published_comparison(data, column, value, better)
        findings.append(Finding(effect_size(column.metric, value, other_value), f"- {text}."))
    findings.sort(key=lambda finding: finding.effect, reverse=True)
    return [finding.text for finding in findings]


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


def compact_header(column: ScoreColumn) -> str:
    """A main-table column's short name: `TM acc_p` for `Transmembrane protein acc (authors' decoder ...)`."""
    task = TASK_ABBREVIATIONS.get(column.task, task_label(column.task))
    metric = METRIC_ABBREVIATIONS.get(column.metric, metric_label(column.metric))
    suffix = f" ({split_label(column.split)})" if column.split != "test" else ""
    return f"{task} {metric}{suffix}"


def compact_main_table(data: ReportData, table: Table) -> tuple[Table, list[str]]:
    """The main table with short score-column names, and its legend: one `short: full name` per renamed column.

    Columns the table derives from a score column (e.g. its seed count) keep their names; a short name that would
    clash with another column's keeps the full one.
    """
    renamed: dict[str, str] = {}
    for column in main_columns(data):
        short = compact_header(column)
        if column.header in table.kinds and short != column.header and short not in table.kinds:
            renamed[column.header] = short
    if len(set(renamed.values())) < len(renamed):
        return table, []
    compact = replace(
        table,
        kinds={renamed.get(name, name): kind for name, kind in table.kinds.items()},
        rows=[{renamed.get(name, name): cell for name, cell in row.items()} for row in table.rows],
        best={(index, renamed.get(name, name)) for index, name in table.best},
    )
    return compact, [f"{short}: {full}" for full, short in renamed.items()]


def main_table_markdown(data: ReportData, table: Table) -> list[str]:
    """The summary's main table: compact column names, the table's notes, then the legend of the names."""
    compact, legend = compact_main_table(data, table)
    lines = [to_markdown(compact, title=False).rstrip("\n")]
    if legend:
        lines += ["", "Columns: " + "; ".join(legend) + "."]
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
    lines = [f"# {summary_title(data)}", "", "## What was run", ""]
    lines += what_was_run(data)
    lines += ["", "## Main results", "", *main_table_markdown(data, tables["main"]), ""]
    lines += ["## Caveats", "", *caveat_lines(data, caveats), ""]
    lines += ["## Data", "", *data_lines(data), ""]
    lines += ["## Findings", "", FINDINGS_INTRO, "", *ranked_findings(data), *ablation_findings(data, comparisons)]
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
