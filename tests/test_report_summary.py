"""summary.md says what was run in its title, ranks its findings by effect size with the baselines and controls
included, and shows the main table with compact column names and their legend."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from plus.report.collect import ModelInfo, ReportData, TaskInfo, load_published
from plus.report.summary import compact_header, main_table_markdown, ranked_findings, summary_title
from plus.report.tables import main_columns, main_table

PUBLISHED = Path(__file__).resolve().parents[1] / "config" / "published_results.tsv"
DEMO_MODELS = {
    "plus-rnn-tiny": ModelInfo("plus-rnn-tiny", "PLUS-RNN tiny (MLM+SFP)", "plus", "plus-rnn-tiny"),
    "mlm-rnn-tiny": ModelInfo("mlm-rnn-tiny", "RNN tiny (MLM only)", "mlm", "plus-rnn-tiny"),
    "rnn-tiny-nopretrain": ModelInfo("rnn-tiny-nopretrain", "RNN tiny (no pretraining)", "none", "plus-rnn-tiny"),
    "alignment-nn": ModelInfo("alignment-nn", "Alignment NN", "alignment", "alignment", "none"),
}
TASKS = {
    "solubility": TaskInfo("solubility", "protein_classification", "accuracy", "test"),
    "stability": TaskInfo("stability", "protein_regression", "spearman", "test"),
    "transmembrane": TaskInfo("transmembrane", "residue_classification", "accuracy", "test"),
}


def make_data(models: dict[str, ModelInfo], values: dict[tuple[str, str, str], float]) -> ReportData:
    """(model, task, metric) -> value on the test split, one seed."""
    rows = [
        {"model": model, "task": task, "seed": 0, "split": "test", "metric": metric, "value": value}
        for (model, task, metric), value in values.items()
    ]
    tasks = {task: TASKS[task] for task in dict.fromkeys(row["task"] for row in rows)}
    return ReportData(
        models=models,
        tasks=tasks,
        seeds=[0],
        scores=pd.DataFrame(rows),
        predictions={},
        pretraining={},
        histories={},
        published=load_published(PUBLISHED),
    )


def demo_like() -> ReportData:
    values = {}
    for model, (solubility, stability) in {
        "plus-rnn-tiny": (0.653, 0.621),
        "mlm-rnn-tiny": (0.647, 0.533),
        "rnn-tiny-nopretrain": (0.493, 0.458),
        "alignment-nn": (0.693, 0.531),
    }.items():
        values[(model, "solubility", "accuracy")] = solubility
        values[(model, "stability", "spearman")] = stability
    return make_data(DEMO_MODELS, values)


def test_title_of_the_demo_shape_names_the_variants_and_the_baseline() -> None:
    assert summary_title(demo_like()) == (
        "PLUS-RNN tiny (MLM + SFP, MLM-only, no pretraining) and the alignment baseline on 2 tasks, 1 seed"
    )


def test_title_of_one_model_on_one_task() -> None:
    data = make_data(
        {"plus-rnn-tiny": DEMO_MODELS["plus-rnn-tiny"]}, {("plus-rnn-tiny", "solubility", "accuracy"): 0.6}
    )
    assert summary_title(data) == "PLUS-RNN tiny (MLM+SFP) on Solubility, 1 seed"
    baseline = make_data(
        {"alignment-nn": DEMO_MODELS["alignment-nn"]}, {("alignment-nn", "stability", "spearman"): 0.5}
    )
    assert summary_title(baseline) == "The alignment baseline on Stability, 1 seed"


def test_findings_name_the_alignment_baseline_when_it_beats_every_model_and_rank_by_effect() -> None:
    findings = ranked_findings(demo_like())
    assert findings[0].startswith(
        "- PLUS-RNN tiny (MLM+SFP) beats every baseline and control on Stability ρ: 0.621 against "
        "Alignment NN (alignment baseline)'s 0.531 (ahead by 0.090)"
    )
    assert findings[1].startswith(
        "- Alignment NN (alignment baseline) beats every model on Solubility acc: 0.693 against "
        "PLUS-RNN tiny (MLM+SFP)'s 0.653 (ahead by 0.040)"
    )
    assert len(findings) == 2


def test_a_control_beating_the_models_is_a_finding() -> None:
    values = {("plus-rnn-tiny", "stability", "spearman"): 0.30, ("rnn-tiny-nopretrain", "stability", "spearman"): 0.45}
    models = {name: DEMO_MODELS[name] for name in ("plus-rnn-tiny", "rnn-tiny-nopretrain")}
    (finding,) = ranked_findings(make_data(models, values))
    assert finding.startswith("- RNN tiny (no pretraining) (control) beats every model on Stability ρ: 0.450")


def test_legend_lists_every_abbreviated_column() -> None:
    values = {("plus-rnn-tiny", "transmembrane", "accuracy"): 0.9, ("alignment-nn", "transmembrane", "accuracy"): 0.6}
    for metric in ("accuracy_protein_authors", "accuracy_protein"):
        values[("plus-rnn-tiny", "transmembrane", metric)] = 0.8
    values[("plus-rnn-tiny", "solubility", "accuracy")] = 0.65
    data = make_data({name: DEMO_MODELS[name] for name in ("plus-rnn-tiny", "alignment-nn")}, values)
    lines = main_table_markdown(data, main_table(data))
    header = lines[0].splitlines()[0]
    legend = lines[-1]
    assert "| TM acc_p |" in header and "| Sol acc |" in header and "authors' decoder" not in header
    for column in main_columns(data):  # every renamed column, by its short name and its full one
        assert f"| {column.header} |" not in header and f"{compact_header(column)}: {column.header}" in legend
    assert legend.startswith("Columns: TM acc: Transmembrane acc; ") and "Sol acc: Solubility acc" in legend
    assert "TM acc_p: Transmembrane protein acc (authors' decoder and criterion, PLUS's acc_p)" in legend
