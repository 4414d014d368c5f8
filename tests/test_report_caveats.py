"""The report marks unreliable scores (near-constant predictions, a small training split, test classes unseen in
training) and shows the warnings of each task's import."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from plus.report.build import build_report
from plus.report.caveats import CAVEAT_MARK, report_caveats
from plus.report.collect import ReportData, collect
from plus.report.summary import summary_markdown
from plus.report.tables import ablation_comparisons, build_tables
from plus.report.writers import to_markdown
from plus.settings import ReportJob, parse_settings

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "config" / "published_results.tsv"
MODELS = {
    "flat": {"label": "Flat model", "objective": "none", "preset": "plus-rnn-tiny"},
    "fine": {"label": "Fine model", "objective": "none", "preset": "plus-rnn-tiny"},
}
N = 40
WARNING = "/data/train.fa: the last line has no newline; the file may be truncated (its last record was kept)"


def _regression(model: str) -> tuple[pd.DataFrame, dict[str, float]]:
    """The held-out example: the flat model's predictions have sd 0.002 and still a Spearman ρ near 0.37."""
    rng = np.random.default_rng(3)
    target = rng.normal(0, 1, N)
    if model == "flat":
        signal = 0.4 * target + rng.normal(0, 1, N)
        prediction = 0.5 + 0.002 * (signal - signal.mean()) / signal.std()
    else:
        prediction = target + rng.normal(0, 0.5, N)
    frame = pd.DataFrame({"split": "test", "id": [f"p{i}" for i in range(N)], "target": target})
    frame["prediction"] = prediction
    rho = float(stats.spearmanr(target, prediction).statistic)
    return frame, {"spearman": rho, "pearson": float(np.corrcoef(target, prediction)[0, 1])}


def _residue(model: str) -> tuple[pd.DataFrame, dict[str, float]]:
    rng = np.random.default_rng(4)
    targets = ["".join(rng.choice(list("HEC"), 30)) for _ in range(N)]
    predictions = ["".join(rng.choice(list("HC"), 30)) for _ in range(N)]
    frame = pd.DataFrame({"split": "test", "id": [f"r{i}" for i in range(N)], "target": targets})
    frame["prediction"] = predictions
    return frame, {"accuracy": 0.4}


SHAPES = {
    "heldout": ("protein_regression", "spearman", _regression),
    "res": ("residue_classification", "accuracy", _residue),
}


def _summary(task: str, train_n: int, warnings: list[str] | None = None) -> dict:
    splits = {"train": {"n": train_n}, "valid": {"n": 10}, "test": {"n": N}}
    if task == "res":
        splits["train"]["class_balance"] = {"H": 500, "E": 0, "C": 300, ".": 4}
        splits["test"]["class_balance"] = {"H": 400, "E": 350, "C": 450, ".": 0}
    return {"task": task, "shape": SHAPES[task][0], "splits": splits, "warnings": warnings or []}


def make_data(root: Path, train_n: dict[str, int], warnings: list[str] | None = None, **overrides) -> ReportData:
    """Two models, one seed, on the tasks of `train_n` (task -> training examples in its summary.json), under the
    results root `root`; `overrides`: more of the report's job."""
    runs = []
    for task, n in train_n.items():
        shape, metric, predict = SHAPES[task]
        for model in MODELS:
            run = root / "evaluate" / model / task / "seed0"
            run.mkdir(parents=True)
            frame, metrics = predict(model)
            frame.to_parquet(run / "predictions.parquet")
            record = {"task": task, "model": model, "seed": 0, "shape": shape, "splits": {"test": {**metrics, "n": N}}}
            record["headline"] = {"metric": metric, "split": "test", "value": metrics[metric]}
            (run / "metrics.json").write_text(json.dumps(record))
            runs.append({"model": model, "task": task, "seed": 0})
        summary = root / "tasks" / task / "summary.json"
        summary.parent.mkdir(parents=True)
        summary.write_text(json.dumps(_summary(task, n, warnings)))
    models = [{"name": k, **v} for k, v in MODELS.items()]
    job = parse_settings(ReportJob, {"models": models, "runs": runs, **overrides}, "r")
    return collect(job, PUBLISHED, root)


def _main_cells(data: ReportData) -> dict[str, dict[str, str]]:
    table = build_tables(data, caveats=report_caveats(data))["main"]
    return {row["Model"]: {c: table.cell_text(i, c) for c in table.columns} for i, row in enumerate(table.rows)}


def test_the_held_out_example_is_marked_and_named(tmp_path):
    data = make_data(tmp_path, {"heldout": 25})
    written = build_report(data, tmp_path / "tables", tmp_path / "figures", tmp_path / "summary.md")
    assert written
    main = (tmp_path / "tables" / "main.md").read_text()
    summary = (tmp_path / "summary.md").read_text()
    flat_line = next(line for line in main.splitlines() if line.startswith("| Flat model"))
    fine_line = next(line for line in main.splitlines() if line.startswith("| Fine model"))
    assert CAVEAT_MARK in flat_line and CAVEAT_MARK in fine_line  # 25 training examples: every model
    assert f"{CAVEAT_MARK}: unreliable score" in main
    assert "heldout, every model: trained on 25 examples, fewer than report.min_train_examples (100)" in summary
    assert "heldout, Flat model: seed 0 test: near-constant predictions (sd 0.002" in summary
    assert "heldout, Fine model: seed 0" not in summary
    detail = (tmp_path / "tables" / "detail_heldout.md").read_text()
    assert detail.count(CAVEAT_MARK) >= 2 and "unreliable score" in detail


def test_near_constant_predictions_mark_only_that_model(tmp_path):
    data = make_data(tmp_path, {"heldout": 5000})
    flat, fine = _main_cells(data)["Flat model"], _main_cells(data)["Fine model"]
    header = next(c for c in flat if c.startswith("heldout"))
    assert flat[header].endswith(CAVEAT_MARK) and CAVEAT_MARK not in fine[header]
    assert flat[header].startswith("0.3")  # the ρ of predictions with sd 0.002 is not chance-level: hence the mark
    [caveat] = report_caveats(data)
    assert caveat.model == "flat" and "sd 0.002" in caveat.reason


def test_minimum_training_examples_is_a_setting(tmp_path):
    data = make_data(tmp_path, {"heldout": 25}, min_train_examples=20)
    assert [c.model for c in report_caveats(data)] == ["flat"]
    assert data.min_train_examples == 20
    job = parse_settings(ReportJob, {"models": [{"name": "a", "label": "a", "objective": "none", "preset": "p"}],
                                     "runs": [{"model": "a", "task": "t", "seed": 0}]}, "r")  # fmt: skip
    assert job.min_train_examples == 100


def test_test_classes_absent_from_training_are_marked(tmp_path):
    data = make_data(tmp_path, {"res": 5000})
    caveats = report_caveats(data)
    assert [(c.model, c.reason) for c in caveats] == [(None, "test split test has classes never seen in training: E")]
    cells = _main_cells(data)
    assert all(CAVEAT_MARK in cells[label]["res acc"] for label in ("Flat model", "Fine model"))


def test_single_predicted_class_is_marked(tmp_path):
    data = make_data(tmp_path, {"res": 5000})
    path = data.predictions[next(k for k in data.predictions if k.model == "flat")]
    frame = pd.read_parquet(path)
    frame["prediction"] = frame["prediction"].str.replace("C", "H")
    frame.to_parquet(path)
    reasons = {c.model: c.reason for c in report_caveats(data)}
    assert reasons["flat"] == "seed 0 test: a single predicted class ('H')"
    assert "fine" not in reasons


def test_no_caveat_no_mark(tmp_path):
    data = make_data(tmp_path, {"heldout": 5000})
    path = data.predictions[next(k for k in data.predictions if k.model == "flat")]
    frame = pd.read_parquet(path)
    frame["prediction"] = frame["target"] * 0.5
    frame.to_parquet(path)
    assert report_caveats(data) == []
    tables = build_tables(data, caveats=[])
    assert CAVEAT_MARK not in to_markdown(tables["main"])


def test_import_warnings_reach_the_data_table_notes_and_summary(tmp_path):
    data = make_data(tmp_path, {"heldout": 5000}, warnings=[WARNING])
    caveats = report_caveats(data)
    tables = build_tables(data, caveats=caveats)
    assert tables["data"].rows[0]["Import warnings"] == WARNING
    assert tables["data"].rows[0]["Splits"] == "train 5000, valid 10, test 40"
    assert any(WARNING in note for note in tables["main"].notes)
    assert any(WARNING in note for note in tables["detail_heldout"].notes)
    text = summary_markdown(data, tables, ablation_comparisons(data), [], tmp_path / "summary.md", None, caveats)
    data_section = text.split("## Data")[1].split("##")[0]
    assert f"Import warnings: {WARNING}" in data_section


@pytest.mark.parametrize("warnings", [None, []])
def test_no_import_warnings_no_note(tmp_path, warnings):
    data = make_data(tmp_path, {"heldout": 5000}, warnings=warnings)
    tables = build_tables(data)
    assert tables["data"].rows[0]["Import warnings"] == "none"
    assert not any("Import warnings" in note for note in tables["main"].notes)
