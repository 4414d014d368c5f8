"""The report's figures (PNG and PDF), drawn to stay readable in greyscale: hatches, markers, line styles."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import average_precision_score, confusion_matrix, precision_recall_curve

from plus.errors import InputError
from plus.io import atomic_path
from plus.report.collect import ReportData
from plus.report.identity import identity_distribution
from plus.report.layout import wrap
from plus.report.tables import (
    AblationComparison,
    ScoreColumn,
    comparable_tasks,
    evaluated_models,
    main_columns,
    split_label,
    summarize_scores,
    task_label,
)
from plus.tasks import BUILTIN_TASKS, SCOP_LEVELS, UNLABELLED
from plus.tasks.metrics import metric_entry
from plus.tasks.shapes import SHAPES

HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--", "**")
FILLS = ("0.25", "0.55", "0.8", "0.95", "0.4", "0.7", "0.15", "0.9", "0.6")
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<")
PUBLISHED_MARKERS = ("D", "^", "v", "s", "P", "X", "*", "<", ">", "h")


def short_header(column: ScoreColumn) -> str:
    """The column's header with its metric's short figure label."""
    suffix = f" ({split_label(column.split)})" if column.split != "test" else ""
    return f"{task_label(column.task)} {metric_entry(column.metric).figure_label}{suffix}"


def metric_footnote(figure: Figure, columns: list[ScoreColumn]) -> None:
    """Below the panels: the long name of each metric shown by its short label."""
    shortened = dict.fromkeys(metric_entry(c.metric) for c in columns if metric_entry(c.metric).short_label)
    notes = [f"{entry.short_label}: {entry.label}" for entry in shortened]
    if notes:
        width = figure.get_figwidth() - 0.3
        figure.supxlabel(wrap("; ".join(notes) + ".", width, 7), fontsize=7, ha="center")


def _style(index: int) -> dict:
    return {"linestyle": LINESTYLES[index % len(LINESTYLES)], "marker": MARKERS[index % len(MARKERS)]}


def _bar_style(index: int) -> dict:
    return {
        "color": FILLS[index % len(FILLS)],
        "hatch": HATCHES[index % len(HATCHES)],
        "edgecolor": "black",
        "linewidth": 0.8,
    }


def _empty_panel(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def _grid(n_panels: int, max_columns: int, panel_size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    columns = max(1, min(max_columns, n_panels))
    rows = max(1, math.ceil(n_panels / columns))
    figure = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    axes = list(np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel())
    for extra in axes[n_panels:]:
        extra.set_axis_off()
    return figure, axes


def pretraining_curves(data: ReportData) -> Figure:
    """Loss, MLM accuracy and SFP accuracy against training step; train as lines, validation as markers."""
    panels = (
        ("Loss", "train_loss", "val_loss"),
        ("MLM accuracy", "train_mlm_accuracy", "val_mlm_accuracy"),
        ("SFP accuracy", "train_sfp_accuracy", "val_sfp_accuracy"),
    )
    figure, axes = _grid(len(panels), 3, (4.2, 3.4))
    for panel, (title, train_column, val_column) in zip(axes, panels, strict=False):
        drawn = False
        for index, (name, history) in enumerate(data.histories.items()):
            style = _style(index)
            label = data.models[name].label
            for column, kind in ((train_column, "train"), (val_column, "val")):
                if column not in history.columns:
                    continue
                series = history[["step", column]].apply(pd.to_numeric, errors="coerce").dropna()
                if series.empty:
                    continue
                if kind == "train":
                    window = max(1, len(series) // 50)
                    values = series[column].rolling(window, min_periods=1).mean()
                    panel.plot(series["step"], values, color="black", linestyle=style["linestyle"], label=label)
                else:
                    panel.plot(
                        series["step"],
                        series[column],
                        color="0.4",
                        linestyle="none",
                        marker=style["marker"],
                        markerfacecolor="white",
                        label=f"{label} (validation)",
                    )
                drawn = True
        panel.set_title(title)
        panel.set_xlabel("step")
        if drawn:
            panel.legend(fontsize=7)
        else:
            _empty_panel(panel, f"no {title} logged\n(e.g. objective without SFP)")
    return figure


def task_scores(data: ReportData) -> Figure:
    """One panel per main-table column: bars (mean, sd error bars) per model, published values as markers (only
    for tasks on the official benchmark data)."""
    columns = main_columns(data)
    comparable = comparable_tasks(data)
    stats = summarize_scores(data.scores)
    models = evaluated_models(data)
    published_models = list(dict.fromkeys(data.published["model"]))
    panel_width = 3.2
    figure, axes = _grid(len(columns), 4, (panel_width, 3.4))
    for panel, column in zip(axes, columns, strict=False):
        labels = []
        for index, name in enumerate(models):
            stat = stats.get((name, column.task, column.split, column.metric))
            if stat is None:
                continue
            panel.bar(len(labels), stat.mean, yerr=stat.sd or 0.0, capsize=3, **_bar_style(index))
            labels.append(data.models[name].label)
        rows = data.published[
            (data.published["task"] == column.task)
            & (column.task in comparable)
            & (data.published["metric"] == column.metric)
            & (data.published["split"] == column.split)
        ]
        for entry in rows.itertuples():
            marker = PUBLISHED_MARKERS[published_models.index(entry.model) % len(PUBLISHED_MARKERS)]
            panel.plot(len(labels), entry.value, marker=marker, color="black", markersize=7, linestyle="none")
            labels.append(f"{entry.model} (published)")
        panel.set_xlim(-0.6, len(labels) - 0.4)
        panel.set_xticks(
            range(len(labels)), [wrap(label, 1.2, 7) for label in labels], rotation=60, ha="right", fontsize=7
        )
        panel.set_title(wrap(short_header(column), panel_width - 0.3, 9), fontsize=9)
    metric_footnote(figure, columns)
    return figure


def ablation_deltas(data: ReportData, comparisons: list[AblationComparison]) -> Figure:
    """PLUS minus each same-preset variant per task metric; error bars combine both seed sds."""
    figure = Figure(figsize=(max(6.0, 1.1 * len(main_columns(data)) + 2), 4.0), layout="constrained")
    panel = figure.add_subplot()
    if not comparisons:
        _empty_panel(panel, "no MLM-only or no-pretraining variant shares a preset with a PLUS model")
        return figure
    columns: list[ScoreColumn] = list(dict.fromkeys(c.column for c in comparisons))
    pairs = list(dict.fromkeys((c.plus_model, c.other_model) for c in comparisons))
    width = 0.8 / len(pairs)
    for pair_index, (plus_model, other_model) in enumerate(pairs):
        xs, deltas, errors = [], [], []
        for comparison in comparisons:
            if (comparison.plus_model, comparison.other_model) != (plus_model, other_model):
                continue
            xs.append(columns.index(comparison.column) + (pair_index - (len(pairs) - 1) / 2) * width)
            deltas.append(comparison.delta)
            sds = [s.sd for s in (comparison.plus, comparison.other)]
            errors.append(math.hypot(*sds) if None not in sds else 0.0)
        label = f"{data.models[plus_model].label} − {data.models[other_model].label}"
        panel.bar(xs, deltas, width=width, yerr=errors, capsize=3, label=label, **_bar_style(pair_index))
    panel.axhline(0.0, color="black", linewidth=0.8)
    panel.set_xticks(
        range(len(columns)), [wrap(short_header(c), 1.6, 8) for c in columns], rotation=30, ha="right", fontsize=8
    )
    panel.set_ylabel("Δ headline metric\n(> 0: PLUS better)", fontsize=9)
    panel.legend(fontsize=8)
    metric_footnote(figure, columns)
    return figure


def _read_predictions(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    try:
        table = pd.read_parquet(path)
    except Exception as error:
        raise InputError(f"{path}: cannot read predictions: {error}") from error
    missing = [c for c in ("split", *required) if c not in table.columns]
    if missing:
        raise InputError(f"{path}: predictions lack columns {missing}")
    return table


def _task_predictions(data: ReportData, model: str, task: str, required: tuple[str, ...]) -> list[pd.DataFrame]:
    keys = sorted((k for k in data.predictions if k.model == model and k.task == task), key=lambda k: k.seed)
    return [_read_predictions(data.predictions[key], required).assign(_file=str(data.predictions[key])) for key in keys]


def residue_labels(table: pd.DataFrame, classes: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per-residue (target, prediction) letters of labelled residues, checked against the class letters."""
    targets, predictions = [], []
    for row in table.itertuples():
        if len(row.target) != len(row.prediction):
            raise InputError(f"{row._file}: protein {row.id!r}: target and prediction differ in length")
        targets.append(row.target)
        predictions.append(row.prediction)
    target = np.array(list("".join(targets)))
    prediction = np.array(list("".join(predictions)))
    labelled = target != UNLABELLED
    target, prediction = target[labelled], prediction[labelled]
    for name, letters in (("target", target), ("prediction", prediction)):
        unknown = sorted(set(np.unique(letters)) - set(classes))
        if unknown:
            raise InputError(f"{table['_file'].iloc[0]}: {name} letters {unknown} are not classes {classes}")
    return target, prediction


def confusion_matrices(data: ReportData) -> Figure:
    """Row-normalised confusion matrix per residue-level task (headline split, seeds pooled) and model."""
    tasks = [t for t in data.tasks.values() if SHAPES[t.shape].per_residue]
    models = evaluated_models(data)
    if not tasks:
        figure = Figure(figsize=(5, 3))
        _empty_panel(figure.add_subplot(), "no residue-level classification task in this run")
        return figure
    figure = Figure(figsize=(3.0 * len(models) + 0.8, 3.2 * len(tasks) + 0.4), layout="constrained")
    grid = figure.subplots(len(tasks), len(models), squeeze=False)
    image = None
    for row, task in enumerate(tasks):
        spec = BUILTIN_TASKS.get(task.name)
        for column, model in enumerate(models):
            panel = grid[row][column]
            tables = _task_predictions(data, model, task.name, ("id", "target", "prediction"))
            table = pd.concat(tables, ignore_index=True)
            table = table[table["split"] == task.headline_split]
            if table.empty:
                _empty_panel(panel, f"no predictions on {task.headline_split}")
                continue
            if spec is not None:
                classes = spec.classes
            else:
                seen = set("".join(table["target"]) + "".join(table["prediction"])) - {UNLABELLED}
                classes = tuple(sorted(seen))
            target, prediction = residue_labels(table, classes)
            counts = confusion_matrix(target, prediction, labels=list(classes)).astype(float)
            totals = counts.sum(axis=1, keepdims=True)
            fractions = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
            image = panel.imshow(fractions, cmap="Greys", vmin=0.0, vmax=1.0)
            ticks = range(len(classes))
            panel.set_xticks(ticks, classes, fontsize=7)
            panel.set_yticks(ticks, classes, fontsize=7)
            if len(classes) <= 10:
                for (i, j), value in np.ndenumerate(fractions):
                    colour = "white" if value > 0.5 else "black"
                    panel.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
            title = f"{task_label(task.name)} ({split_label(task.headline_split)})\n{data.models[model].label}"
            panel.set_title(wrap(title, 2.7, 8), fontsize=8)
            panel.set_xlabel("predicted", fontsize=7)
            panel.set_ylabel("true", fontsize=7)
    if image is not None:
        figure.colorbar(image, ax=grid, shrink=0.6, label="fraction of true class")
    return figure


def homology_pr_curves(data: ReportData) -> Figure:
    """Precision-recall per SCOP level (P(level > k)) for every pair task and test split, seeds pooled."""
    tasks = [t for t in data.tasks.values() if SHAPES[t.shape].pairs]
    models = evaluated_models(data)
    columns = ("id", "target", *(f"p_{level}" for level in SCOP_LEVELS))
    panels: list[tuple[str, str, dict[str, pd.DataFrame]]] = []
    for task in tasks:
        by_model = {m: pd.concat(_task_predictions(data, m, task.name, columns), ignore_index=True) for m in models}
        splits = list(dict.fromkeys(split for table in by_model.values() for split in table["split"]))
        panels.extend((task.name, split, by_model) for split in splits)
    if not panels:
        figure = Figure(figsize=(5, 3))
        _empty_panel(figure.add_subplot(), "no protein-pair (homology) task in this run")
        return figure
    figure = Figure(figsize=(3.2 * len(SCOP_LEVELS), 3.0 * len(panels)), layout="constrained")
    grid = figure.subplots(len(panels), len(SCOP_LEVELS), squeeze=False)
    for row, (task, split, by_model) in enumerate(panels):
        for level_index, level in enumerate(SCOP_LEVELS):
            panel = grid[row][level_index]
            drawn = False
            for model_index, model in enumerate(models):
                table = by_model[model]
                table = table[table["split"] == split]
                truth = (table["target"].to_numpy() > level_index).astype(int)
                if table.empty or truth.min() == truth.max():
                    continue
                scores = table[f"p_{level}"].to_numpy(dtype=float)
                precision, recall, _ = precision_recall_curve(truth, scores)
                ap = average_precision_score(truth, scores)
                style = _style(model_index)
                panel.plot(
                    recall,
                    precision,
                    color="black",
                    linestyle=style["linestyle"],
                    marker=style["marker"],
                    markevery=max(1, len(recall) // 8),
                    markersize=4,
                    label=f"{data.models[model].label} (AP {ap:.3f})",
                )
                drawn = True
            panel.set_title(wrap(f"{task_label(task)} {split_label(split)}: same {level}", 2.9, 8), fontsize=8)
            panel.set_xlabel("recall", fontsize=7)
            panel.set_ylabel("precision", fontsize=7)
            panel.set_xlim(0, 1)
            panel.set_ylim(0, 1.02)
            if drawn:
                panel.legend(fontsize=6, loc="lower left")
            else:
                _empty_panel(panel, "only one class among the pairs")
    return figure


def write_figure(figure: Figure, directory: Path, name: str) -> list[Path]:
    """Save `figure` as `<name>.png` (150 dpi) and `<name>.pdf`, each atomically."""
    written = []
    for suffix in ("png", "pdf"):
        path = directory / f"{name}.{suffix}"
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=suffix, dpi=150)
        written.append(path)
    return written


def build_figures(data: ReportData, comparisons: list[AblationComparison]) -> dict[str, Callable[[], Figure]]:
    """Each figure of the report by name, drawn when called."""
    return {
        "pretraining_curves": lambda: pretraining_curves(data),
        "task_scores": lambda: task_scores(data),
        "ablation_deltas": lambda: ablation_deltas(data, comparisons),
        "confusion_matrices": lambda: confusion_matrices(data),
        "homology_pr_curves": lambda: homology_pr_curves(data),
        "identity_distribution": lambda: identity_distribution(data),
    }
