"""The report's tables, computed only from the run's metrics files and the published-results file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from plus.report.caveats import CAVEAT_NOTE, Caveat, caveat_mark
from plus.report.collect import ReportData
from plus.report.writers import Stat, Table
from plus.tasks.metrics import METRICS, metric_entry

TASK_LABELS = {
    "homology": "Homology",
    "solubility": "Solubility",
    "localization": "Localization",
    "stability": "Stability",
    "fluorescence": "Fluorescence",
    "secstr": "SecStr",
    "transmembrane": "Transmembrane",
}
OBJECTIVE_LABELS = {
    "plus": "MLM + SFP",
    "mlm": "MLM only",
    "none": "none",
    "external": "elsewhere",
    "alignment": "none (alignment baseline)",
}
# Shown beside a task's headline metric whenever a run reports it (both forms of the TM protein-level accuracy).
SECONDARY_METRICS = tuple(name for name, entry in METRICS.items() if entry.secondary)
PROTEIN_ACC_NOTE = (
    'Transmembrane protein acc: "authors\' decoder and criterion" is what the PLUS code computes as acc_p '
    "(Bepler & Berger's grammar; same number of TM segments, each overlapping by >= 5 residues; no side check), "
    "averaged over all test proteins (the authors' code keeps the last evaluation batch's value); use it to compare "
    'with the paper. "sided decoder, topology side checked" is ours: I/O alternate across helices and the '
    "N-terminal side must match. Whether the paper's table shows acc_p or per-residue acc is not verified. "
    "docs/fidelity.md, rows 1-3."
)


def higher_is_better(name: str) -> bool:
    return metric_entry(name).higher_is_better


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def task_label(task: str) -> str:
    return TASK_LABELS.get(task, task)


def metric_label(name: str) -> str:
    return metric_entry(name).label


def split_label(split: str) -> str:
    """`test` stays, `test_cb513` becomes `CB513`."""
    return split[len("test_") :].upper() if split.startswith("test_") else split


@dataclass(frozen=True)
class ScoreColumn:
    """One column of the main table: a task's metric on one test split."""

    task: str
    metric: str
    split: str

    @property
    def header(self) -> str:
        suffix = f" ({split_label(self.split)})" if self.split != "test" else ""
        return f"{task_label(self.task)} {metric_label(self.metric)}{suffix}"


def summarize_scores(scores: pd.DataFrame) -> dict[tuple[str, str, str, str], Stat]:
    """(model, task, split, metric) -> mean, sample sd and count over seeds."""
    grouped = scores.groupby(["model", "task", "split", "metric"], sort=False)["value"]
    out = {}
    for key, values in grouped:
        n = len(values)  # a NaN seed makes the mean NaN ("n/a"), never a mean over the other seeds
        sd = float(values.std(ddof=1, skipna=False)) if n > 1 else None
        out[key] = Stat(float(values.mean(skipna=False)), sd, n)
    return out


def main_columns(data: ReportData) -> list[ScoreColumn]:
    """Each task's headline metric, plus SECONDARY_METRICS on the headline split where reported."""
    reported = set(zip(data.scores["task"], data.scores["split"], data.scores["metric"], strict=True))
    columns = []
    for task in data.tasks.values():
        columns.append(ScoreColumn(task.name, task.headline_metric, task.headline_split))
        for metric in SECONDARY_METRICS:
            if metric != task.headline_metric and (task.name, task.headline_split, metric) in reported:
                columns.append(ScoreColumn(task.name, metric, task.headline_split))
    return columns


def evaluated_models(data: ReportData) -> list[str]:
    present = set(data.scores["model"])
    return [name for name in data.models if name in present]


def pretraining_table(data: ReportData) -> Table:
    metrics = {
        "MLM acc": "mlm_accuracy",
        "SFP acc": "sfp_accuracy",
        "MLM loss": "mlm_loss",
        "SFP loss": "sfp_loss",
    }
    table = Table(
        "pretraining",
        "Pretraining: masked-LM and same-family-prediction accuracy on the Pfam test split and test pairs",
        {
            "Model": "text",
            "Objective": "text",
            "Preset": "text",
            "Parameters": "text",
            "Steps": "text",
            **{name: "scalar" for name in metrics},
        },
    )
    for name, info in data.models.items():
        if not data.pretrained(name):
            continue  # an encoder pretrained elsewhere, a control or a baseline: no pretraining in this run
        record = data.pretraining[name]
        test = record["test"]
        row: dict = {
            "Model": info.label,
            "Objective": OBJECTIVE_LABELS[info.objective],
            "Preset": info.preset,
            "Parameters": _count_text(record.get("parameters")),
            "Steps": _count_text(record.get("steps")),
        }
        for column, key in metrics.items():
            value = test.get(key)
            row[column] = Stat(float(value)) if is_number(value) else None
        table.rows.append(row)
    table.mark_best(["MLM acc", "SFP acc"])
    table.mark_best(["MLM loss", "SFP loss"], higher_is_better=False)
    return table


def _count_text(value: object) -> str | None:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else None


def published_stat(value: float, text: str) -> Stat:
    """A published number shown with the decimals its source gives."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return Stat(value, digits=decimals)


def comparable_tasks(data: ReportData) -> set[str]:
    """Tasks whose data is the official benchmark, so that published numbers may be set beside this run's."""
    return {task for task in data.tasks if task in data.provenance and data.provenance[task].comparable_to_published}


def provenance_notes(data: ReportData, tasks: list[str] | None = None) -> list[str]:
    """One note naming where each task's data came from."""
    tasks = list(data.tasks) if tasks is None else tasks
    parts = [f"{task_label(t)}: {data.provenance[t].text()}" for t in tasks if t in data.provenance]
    notes = [f"Data provenance — {'; '.join(parts)}."] if parts else []
    warned = [f"{task_label(t)}: {'; '.join(import_warnings(data, t))}" for t in tasks if import_warnings(data, t)]
    return notes + ([f"Import warnings — {'; '.join(warned)}."] if warned else [])


def import_warnings(data: ReportData, task: str) -> list[str]:
    """The warnings `plus import-task` recorded in a task's summary.json (e.g. a file that may be truncated)."""
    return [str(note) for note in data.task_summaries.get(task, {}).get("warnings") or []]


def _with_mark(stat: Stat | None, mark: str) -> Stat | None:
    return stat if stat is None or not mark else replace(stat, marker=stat.marker + mark)


def main_table(
    data: ReportData,
    marks: dict[tuple[str, str], str] | None = None,
    marks_note: str = "",
    caveats: Sequence[Caveat] = (),
) -> Table:
    """Rows: this run's models then published baselines; columns: every task's headline metric.

    Published numbers appear only in the columns of tasks whose data is the official benchmark (`provenance`);
    `marks` (model, task) -> marker is appended to that model's headline cell, CAVEAT_MARK to every cell of a
    model and task that a caveat applies to.
    """
    marks = marks or {}
    columns = main_columns(data)
    stats = summarize_scores(data.scores)
    kinds: dict = {"Model": "text", "Pretraining": "text", "Encoder": "text", "Protocol": "text"}
    kinds.update({column.header: "stat" for column in columns})
    kinds["Source"] = "text"
    table = Table("main", "Downstream tasks: headline metric per task, mean ± sd over seeds", kinds)
    for name in evaluated_models(data):
        info = data.models[name]
        row: dict = {
            "Model": info.label,
            "Pretraining": OBJECTIVE_LABELS[info.objective],
            "Encoder": info.encoder if info.encoder in ("plus", info.preset) else f"{info.encoder} ({info.preset})",
            "Protocol": "—" if info.objective == "alignment" else info.protocol,
        }
        for column in columns:
            stat = stats.get((name, column.task, column.split, column.metric))
            if (
                stat is not None
                and (name, column.task) in marks
                and column.metric == data.tasks[column.task].headline_metric
            ):
                stat = replace(stat, marker=marks[(name, column.task)])
            row[column.header] = _with_mark(stat, caveat_mark(list(caveats), name, column.task))
        seeds = len(set(data.scores.loc[data.scores["model"] == name, "seed"]))
        row["Source"] = f"this run ({seeds} seed{'s' if seeds != 1 else ''})"
        table.rows.append(row)

    published = data.published
    comparable = comparable_tasks(data)
    keys = {(c.task, c.metric, c.split): c.header for c in columns if c.task in comparable}
    matching = published[[k in keys for k in zip(published.task, published.metric, published.split, strict=True)]]
    sources = list(dict.fromkeys(matching["source"]))
    for model, entries in matching.groupby("model", sort=False):
        row = {"Model": model, "Pretraining": "published"}
        for entry in entries.itertuples():
            row[keys[(entry.task, entry.metric, entry.split)]] = published_stat(entry.value, entry.value_text)
        refs = sorted({sources.index(s) + 1 for s in entries["source"]})
        row["Source"] = ", ".join(f"[{ref}]" for ref in refs)
        table.rows.append(row)
    table.notes = [f"[{index}] {source}" for index, source in enumerate(sources, start=1)]
    table.notes.append(
        "Bold: best value in the column. —: no value (not run, or not published). "
        "n/a: the metric is undefined for at least one seed (e.g. a correlation of constant predictions)."
    )
    if any(column.metric in SECONDARY_METRICS for column in columns):
        table.notes.append(PROTEIN_ACC_NOTE)
    withheld = [task_label(t) for t in data.tasks if t not in comparable]
    if withheld:
        table.notes.append(
            "Published numbers are shown only for tasks evaluated on the official benchmark data; not for: "
            + ", ".join(withheld)
            + "."
        )
    baselines = [data.models[m].label for m in evaluated_models(data) if data.models[m].objective == "alignment"]
    if baselines:
        table.notes.append(
            f"{', '.join(baselines)}: alignment baseline without an encoder (plus alignment-baseline): the label of "
            "the training sequence with the best Smith-Waterman score (BLOSUM62, gaps 11/1); per-residue tasks copy "
            "that sequence's labels along the alignment (the most frequent training label elsewhere); homology "
            "uses the pair's score over the geometric mean of the self-scores."
        )
    table.notes += provenance_notes(data)
    if marks_note:
        table.notes.append(marks_note)
    if caveats:
        table.notes.append(CAVEAT_NOTE)
    for column in columns:
        table.mark_best([column.header], higher_is_better=higher_is_better(column.metric))
    return table


def detail_table(data: ReportData, task: str, caveats: Sequence[Caveat] = ()) -> Table:
    """Every metric of one task on every test split, per model (e.g. homology AP per SCOP level)."""
    scores = data.scores[data.scores["task"] == task]
    splits = list(dict.fromkeys(scores["split"]))
    metrics = list(dict.fromkeys(scores["metric"]))
    stats = summarize_scores(scores)
    kinds: dict = {"Model": "text", "Test set": "text"}
    kinds.update({metric_label(metric): "stat" for metric in metrics})
    table = Table(
        f"detail_{task}",
        f"{task_label(task)}: every metric on every test split, mean ± sd over seeds",
        kinds,
    )
    for split in splits:
        for name in evaluated_models(data):
            row: dict = {"Model": data.models[name].label, "Test set": split_label(split)}
            mark = caveat_mark(list(caveats), name, task)
            for metric in metrics:
                row[metric_label(metric)] = _with_mark(stats.get((name, task, split, metric)), mark)
            table.rows.append(row)
    for metric in metrics:
        table.mark_best([metric_label(metric)], group_by="Test set", higher_is_better=higher_is_better(metric))
    table.notes = [
        "Bold: best value per test set. —: metric not reported for this split.",
        *provenance_notes(data, [task]),
    ]
    if any(caveat.task == task for caveat in caveats):
        table.notes.append(CAVEAT_NOTE)
    if "accuracy_protein_authors" in metrics or "accuracy_protein" in metrics:
        table.notes.append(PROTEIN_ACC_NOTE)
    return table


@dataclass(frozen=True)
class AblationComparison:
    """A PLUS model against a same-preset variant pretrained differently, on one task metric."""

    column: ScoreColumn
    preset: str
    plus_model: str
    other_model: str
    other_objective: str
    plus: Stat
    other: Stat

    @property
    def delta(self) -> float:
        """Improvement of PLUS over the other variant (sign flipped for lower-is-better metrics)."""
        sign = 1.0 if higher_is_better(self.column.metric) else -1.0
        return sign * (self.plus.mean - self.other.mean)

    @property
    def spread(self) -> float | None:
        """Sum of both seed sds; None when either has a single seed."""
        if self.plus.sd is None or self.other.sd is None:
            return None
        return self.plus.sd + self.other.sd

    @property
    def beyond_spread(self) -> bool | None:
        spread = self.spread
        if spread is None or math.isnan(spread) or math.isnan(self.delta):
            return None
        return abs(self.delta) > spread


def ablation_comparisons(data: ReportData) -> list[AblationComparison]:
    """Every PLUS model against the MLM-only and no-pretraining models that share its preset."""
    stats = summarize_scores(data.scores)
    comparisons = []
    models = evaluated_models(data)
    for plus_name in models:
        plus_info = data.models[plus_name]
        if plus_info.objective != "plus":
            continue
        for other_name in models:
            other = data.models[other_name]
            if other.objective in ("plus", "alignment") or other.preset != plus_info.preset:
                continue
            for column in main_columns(data):
                key = (column.task, column.split, column.metric)
                plus_stat, other_stat = stats.get((plus_name, *key)), stats.get((other_name, *key))
                if plus_stat is not None and other_stat is not None:
                    comparisons.append(
                        AblationComparison(
                            column, plus_info.preset, plus_name, other_name, other.objective, plus_stat, other_stat
                        )
                    )
    return comparisons


def _beyond_text(comparison: AblationComparison) -> str:
    if math.isnan(comparison.delta):
        return "n/a (metric undefined)"
    if comparison.beyond_spread is None:
        return "n/a (one seed)"
    return "yes" if comparison.beyond_spread else "no"


def ablation_table(data: ReportData, comparisons: list[AblationComparison]) -> Table:
    table = Table(
        "ablation",
        "Ablation: PLUS (MLM + SFP) against MLM-only and no pretraining with the same encoder",
        {
            "Task metric": "text",
            "Preset": "text",
            "PLUS model": "text",
            "PLUS": "stat",
            "Compared with": "text",
            "Pretraining": "text",
            "Other": "stat",
            "Δ (PLUS better by)": "scalar",
            "Seed spread": "scalar",
            "Beyond spread": "text",
        },
    )
    for comparison in comparisons:
        table.rows.append(
            {
                "Task metric": comparison.column.header,
                "Preset": comparison.preset,
                "PLUS model": data.models[comparison.plus_model].label,
                "PLUS": comparison.plus,
                "Compared with": data.models[comparison.other_model].label,
                "Pretraining": OBJECTIVE_LABELS[comparison.other_objective],
                "Other": comparison.other,
                "Δ (PLUS better by)": Stat(comparison.delta),
                "Seed spread": None if comparison.spread is None else Stat(comparison.spread),
                "Beyond spread": _beyond_text(comparison),
            }
        )
    table.notes = [
        "Δ > 0: PLUS is better. Seed spread: sd(PLUS) + sd(other) over seeds; "
        "'Beyond spread' says whether |Δ| exceeds it."
    ]
    if not comparisons:
        table.notes.append("No MLM-only or no-pretraining variant shares a preset with a PLUS model in this run.")
    return table


def published_table(data: ReportData) -> Table:
    """Every published number the report was given, with its source (also those no column uses)."""
    table = Table(
        "published",
        "Published results used for comparison, one source per value",
        {
            "Task": "text",
            "Metric": "text",
            "Test set": "text",
            "Model": "text",
            "Value": "scalar",
            "Source": "text",
            "Beside this run": "text",
        },
    )
    comparable = comparable_tasks(data)
    for entry in data.published.itertuples():
        table.rows.append(
            {
                "Task": task_label(entry.task),
                "Metric": metric_label(entry.metric),
                "Test set": split_label(entry.split),
                "Model": entry.model,
                "Value": published_stat(entry.value, entry.value_text),
                "Source": entry.source,
                "Beside this run": _beside_text(data, entry.task, comparable),
            }
        )
    table.notes = [
        "Beside this run: whether the main table and figures set this number beside this run's, which needs the "
        "task's data to be the official benchmark it was published on."
    ]
    return table


def _beside_text(data: ReportData, task: str, comparable: set[str]) -> str:
    if task not in data.tasks:
        return "no (task not in this run)"
    if task in comparable:
        return "yes"
    provenance = data.provenance.get(task)
    return f"no ({provenance.kind} data)" if provenance else "no (provenance unknown)"


def protocol_gain_table(data: ReportData) -> Table:
    """The gain of fine-tuning over a frozen probe of the same encoder, per task headline metric."""
    stats = summarize_scores(data.scores)
    table = Table(
        "protocol_gain",
        "Fine-tuning against a frozen probe of the same encoder: headline metric per task, mean over seeds",
        {
            "Task metric": "text",
            "Encoder": "text",
            "Fine-tuned": "stat",
            "Probe": "stat",
            "Δ (fine-tuning better by)": "scalar",
        },
    )
    models = evaluated_models(data)
    for tuned in (m for m in models if data.models[m].protocol == "finetune" and data.models[m].encoder_key):
        key = data.models[tuned].encoder_key
        for probed in (m for m in models if data.models[m].protocol == "probe" and data.models[m].encoder_key == key):
            for column in main_columns(data):
                cell = (column.task, column.split, column.metric)
                a, b = stats.get((tuned, *cell)), stats.get((probed, *cell))
                if a is None or b is None:
                    continue
                sign = 1.0 if higher_is_better(column.metric) else -1.0
                table.rows.append(
                    {
                        "Task metric": column.header,
                        "Encoder": f"{data.models[tuned].label} / {data.models[probed].label}",
                        "Fine-tuned": a,
                        "Probe": b,
                        "Δ (fine-tuning better by)": Stat(sign * (a.mean - b.mean)),
                    }
                )
    table.notes = ["Δ > 0: fine-tuning the encoder beats training the same head on its frozen states."]
    if not table.rows:
        table.notes.append("No encoder is evaluated under both protocols in this run.")
    return table


def data_table(data: ReportData) -> Table:
    """Per task: where its data came from, its split sizes and the warnings of its import."""
    table = Table(
        "data",
        "Data: each task's provenance, split sizes and import warnings",
        {"Task": "text", "Provenance": "text", "Splits": "text", "Import warnings": "text"},
    )
    for task in data.tasks:
        provenance = data.provenance.get(task)
        splits = data.task_summaries.get(task, {}).get("splits") or {}
        sizes = ", ".join(
            f"{split} {record['n']}" for split, record in splits.items() if isinstance(record, dict) and "n" in record
        )
        table.rows.append(
            {
                "Task": task_label(task),
                "Provenance": provenance.text() if provenance else None,
                "Splits": sizes or None,
                "Import warnings": "; ".join(import_warnings(data, task)) or "none",
            }
        )
    table.notes = ["From each task's summary.json (plus import-task). —: no task summary given."]
    return table


def build_tables(
    data: ReportData,
    marks: dict[tuple[str, str], str] | None = None,
    marks_note: str = "",
    caveats: Sequence[Caveat] = (),
) -> dict[str, Table]:
    """Every table of the report by name (the file stem it is written under)."""
    comparisons = ablation_comparisons(data)
    tables = [
        pretraining_table(data),
        main_table(data, marks, marks_note, caveats),
        ablation_table(data, comparisons),
        protocol_gain_table(data),
        published_table(data),
        data_table(data),
        *(detail_table(data, task, caveats) for task in data.tasks),
    ]
    return {table.name: table for table in tables}
