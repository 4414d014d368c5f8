"""Headline metrics split by identity to the training set (from `plus audit-leakage`), and the identity figure."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from plus.analysis.leakage import IDENTITY_BINS, identity_bin
from plus.metrics.task import task_metrics
from plus.report.collect import ReportData, RunKey
from plus.report.layout import wrap
from plus.report.predictions import KEY, report_task_spec, run_predictions, with_row_keys
from plus.report.tables import evaluated_models, metric_label, split_label, task_label
from plus.report.writers import Stat, Table
from plus.tasks import TaskSpec

MIN_BIN_SIZE = 20  # fewer test examples in a bin: the metric is left blank
ALL = "all"


def _binned(identity: pd.DataFrame) -> pd.DataFrame:
    """KEY -> identity bin label for one task's audit rows."""
    keyed = with_row_keys(identity)
    return pd.DataFrame({KEY: keyed[KEY].to_numpy(), "bin": identity_bin(keyed["max_identity"].to_numpy(float))})


def _bin_value(spec: TaskSpec, frame: pd.DataFrame, metric: str, thresholds: list[float] | None) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(task_metrics(spec, frame, homology_thresholds=thresholds).get(metric, math.nan))


def identity_bin_table(data: ReportData) -> Table:
    """Per model, audited task, test split and identity bin: n and the headline metric over seeds."""
    table = Table(
        "identity_bins",
        "Headline metric by identity of the test example to its nearest training sequence, mean ± sd over seeds",
        {
            "Model": "text",
            "Task": "text",
            "Test set": "text",
            "Identity": "text",
            "n": "text",
            "Metric": "text",
            "Value": "stat",
        },
    )
    audited = [task for task in data.tasks if task in data.audits]
    for task in audited:
        info = data.tasks[task]
        bins = _binned(data.audits[task])
        splits = [s for s in dict.fromkeys(data.audits[task]["split"]) if s in _test_splits(data, task)]
        for model in evaluated_models(data):
            frames = run_predictions(data, model, task)
            if not frames:
                continue
            spec = report_task_spec(info, list(frames.values()), data.task_specs.get(task))
            for split in splits:
                for label in (*(b[0] for b in IDENTITY_BINS), ALL):
                    values, n = [], 0
                    for seed, frame in frames.items():
                        frame = frame[frame["split"] == split].merge(bins, on=KEY, how="left")
                        subset = frame if label == ALL else frame[frame["bin"] == label]
                        n = len(subset)
                        if n >= MIN_BIN_SIZE:
                            thresholds = data.homology_thresholds.get(RunKey(model, task, seed))
                            values.append(_bin_value(spec, subset, info.headline_metric, thresholds))
                    stat = None
                    if values:
                        array = np.array(values)
                        stat = Stat(
                            float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else None, len(array)
                        )
                    table.rows.append(
                        {
                            "Model": data.models[model].label,
                            "Task": task_label(task),
                            "Test set": split_label(split),
                            "Identity": label,
                            "n": str(n),
                            "Metric": metric_label(info.headline_metric),
                            "Value": stat,
                        }
                    )
    table.notes = [
        "Identity: identical aligned residues / length of the shorter sequence, best local alignment (pyopal "
        "Smith-Waterman, BLOSUM62, gap 11/1) of the test sequence to any training sequence (pairs: the larger of "
        "the two sides). Bins: <30%, 30-50%, 50-90%, >=90% (lower edge inclusive); 'all' is the whole split.",
        f"—: fewer than {MIN_BIN_SIZE} test examples in the bin (too few for the metric).",
    ]
    missing = [task_label(t) for t in data.tasks if t not in data.audits]
    if missing:
        table.notes.append(f"No leakage audit given for: {', '.join(missing)}.")
    return table


def _test_splits(data: ReportData, task: str) -> set[str]:
    scores = data.scores
    return set(scores.loc[scores["task"] == task, "split"])


def identity_distribution(data: ReportData) -> Figure:
    """Per audited task, the ECDF of the test sequences' highest identity to training, one line per test split."""
    tasks = [task for task in data.tasks if task in data.audits]
    if not tasks:
        figure = Figure(figsize=(5, 3))
        axes = figure.add_subplot()
        axes.text(0.5, 0.5, "no leakage audit given", ha="center", va="center", transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        return figure
    columns = min(4, len(tasks))
    rows = math.ceil(len(tasks) / columns)
    figure = Figure(figsize=(3.4 * columns, 3.0 * rows), layout="constrained")
    grid = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    styles = ("-", "--", ":", "-.")
    for panel, task in zip(grid, tasks, strict=False):
        audit = data.audits[task]
        for index, (split, group) in enumerate(audit.groupby("split", sort=False)):
            values = np.sort(group["max_identity"].to_numpy(float))
            fraction = np.arange(1, len(values) + 1) / len(values)
            panel.step(
                values,
                fraction,
                where="post",
                color="black",
                linestyle=styles[index % len(styles)],
                label=f"{split_label(split)} (n={len(values)})",
            )
        for edge in (0.3, 0.5, 0.9):
            panel.axvline(edge, color="0.6", linewidth=0.6)
        panel.set_xlim(0, 1.02)
        panel.set_ylim(0, 1.02)
        panel.set_title(wrap(task_label(task), 3.1, 9), fontsize=9)
        panel.set_xlabel("max identity to training", fontsize=8)
        panel.set_ylabel("fraction of test examples ≤ x", fontsize=8)
        panel.legend(fontsize=7, loc="upper left")
    for extra in grid[len(tasks) :]:
        extra.set_axis_off()
    return figure
