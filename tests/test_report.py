"""The comparison report: tables agree with the metrics files, missing runs fail, figures are real images."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg

from plus.cli import main as cli_main
from plus.errors import InputError
from plus.paths import ModelPaths, RunPaths
from plus.report.build import build_report
from plus.report.collect import ReportData, collect, load_published
from plus.report.job_info import JobSettings
from plus.report.outputs import report_files
from plus.report.summary import summary_markdown
from plus.report.tables import ablation_comparisons, build_tables, main_columns
from plus.report.writers import (
    HTML_TABLE_END,
    HTML_TABLE_START,
    Stat,
    Table,
    latex_escape,
    to_html,
    to_latex,
    to_markdown,
    write_table,
)
from plus.settings import ReportJob, as_json, parse_settings
from plus.tasks import BUILTIN_TASKS, SCOP_LEVELS, TaskSpec

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "config" / "published_results.tsv"
MODELS = {
    "plus-rnn-tiny": {"label": "PLUS-RNN tiny", "objective": "plus", "preset": "plus-rnn-tiny"},
    "mlm-rnn-tiny": {"label": "RNN tiny (MLM only)", "objective": "mlm", "preset": "plus-rnn-tiny"},
    "rnn-tiny-nopretrain": {"label": "RNN tiny (no pretraining)", "objective": "none", "preset": "plus-rnn-tiny"},
}
TWO_TASKS = ("solubility", "secstr")
QUALITY = {"plus": 0.12, "mlm": 0.06, "none": 0.0}  # how much better than chance each variant is made to be


# ---------------------------------------------------------------- fixture generator


def _split_metrics(spec: TaskSpec, rng: np.random.Generator, quality: float) -> dict[str, dict[str, float]]:
    """Plausible metric values for every test split of a task."""

    def score(base: float) -> float:
        return float(np.clip(base + quality + rng.normal(0, 0.01), 0, 1))

    splits = {}
    for split in spec.test_splits:
        if spec.shape == "pair":
            values = {"accuracy": score(0.5), "pearson": score(0.4), "spearman": score(0.35)}
            values |= {f"average_precision_{level}": score(0.3 + 0.1 * i) for i, level in enumerate(SCOP_LEVELS)}
        elif spec.shape == "protein_classification":
            values = {"accuracy": score(0.55), "mcc": score(0.2)}
        elif spec.shape == "protein_regression":
            values = {"spearman": score(0.4), "pearson": score(0.38)}
        elif spec.headline_metric == "accuracy_3class":
            values = {"accuracy_8class": score(0.5), "accuracy_3class": score(0.62)}
        else:
            values = {"accuracy": score(0.7), "accuracy_protein": score(0.3), "accuracy_protein_authors": score(0.35)}
        splits[split] = {**values, "n": 40}
    return splits


def _predictions(spec: TaskSpec, rng: np.random.Generator, quality: float) -> pd.DataFrame:
    """Predictions in the design.md layout, better than chance by `quality`."""
    frames = []
    for split in spec.test_splits:
        n = 40
        ids = [f"{split}_{i}" for i in range(n)]
        if spec.shape == "pair":
            target = rng.integers(0, 5, n)
            noise = rng.normal(0, 1.2 - 3 * quality, (n, 1))
            levels = np.arange(4)
            p = 1 / (1 + np.exp(-(target[:, None] - levels[None, :] - 0.5 + noise)))
            p = np.minimum.accumulate(p, axis=1)
            frame = {"id": ids, "target": target, "expected_level": p.sum(axis=1)}
            frame |= {f"p_{level}": p[:, k] for k, level in enumerate(SCOP_LEVELS)}
        elif spec.shape == "protein_classification":
            target = rng.choice(spec.classes, n)
            prediction = np.where(rng.random(n) < 0.4 + quality, target, rng.choice(spec.classes, n))
            probabilities = rng.dirichlet(np.ones(len(spec.classes)), n).tolist()
            frame = {"id": ids, "target": target, "prediction": prediction, "probabilities": probabilities}
        elif spec.shape == "protein_regression":
            target = rng.normal(0, 1, n)
            frame = {"id": ids, "target": target, "prediction": target * quality * 5 + rng.normal(0, 1, n)}
        else:
            targets, predictions = [], []
            for _ in range(n):
                length = int(rng.integers(20, 60))
                target = rng.choice(list(spec.classes), length)
                prediction = np.where(
                    rng.random(length) < 0.5 + quality, target, rng.choice(list(spec.classes), length)
                )
                target[rng.random(length) < 0.05] = "."
                targets.append("".join(target))
                predictions.append("".join(prediction))
            frame = {"id": ids, "target": targets, "prediction": predictions}
        frames.append(pd.DataFrame(frame).assign(split=split))
    return pd.concat(frames, ignore_index=True)


FILE_KINDS = ("evaluations", "predictions", "pretraining", "histories")


def make_run(root: Path, seeds: tuple[int, ...] = (0, 1, 2), tasks: dict[str, TaskSpec] | None = None) -> dict:
    """A fake results/ tree (plus.paths) under `root`: 3 models x tasks x seeds of evaluations, plus pretraining
    outputs; its results root, its runs (as the report's job lists them) and its files by kind (FILE_KINDS)."""
    tasks = tasks or BUILTIN_TASKS
    rng = np.random.default_rng(7)
    results = root / "results"
    files: dict = {kind: [] for kind in FILE_KINDS} | {"results": results, "runs": []}
    for model, info in MODELS.items():
        quality = QUALITY[info["objective"]]
        for task, spec in tasks.items():
            for seed in seeds:
                paths = RunPaths(str(results), model, task, seed)
                run = Path(paths.evaluation_dir)
                run.mkdir(parents=True)
                splits = _split_metrics(spec, rng, quality)
                headline = {
                    "metric": spec.headline_metric,
                    "split": spec.headline_split,
                    "value": splits[spec.headline_split][spec.headline_metric],
                }
                metrics = {"task": task, "model": model, "seed": seed, "shape": spec.shape}
                metrics |= {"splits": splits, "headline": headline}
                (run / "metrics.json").write_text(json.dumps(metrics))
                _predictions(spec, rng, quality).to_parquet(run / "predictions.parquet")
                files["evaluations"].append(Path(paths.evaluation))
                files["predictions"].append(Path(paths.predictions))
                files["runs"].append({"model": model, "task": task, "seed": seed})
        pretrain = Path(ModelPaths(str(results), model).directory)
        pretrain.mkdir(parents=True)
        test = {"mlm_accuracy": 0.1 + quality, "mlm_loss": 2.9 - quality}
        if info["objective"] == "plus":
            test |= {"sfp_accuracy": 0.7 + quality, "sfp_loss": 0.5}
        steps = 0 if info["objective"] == "none" else 400
        record = {"model": model, "objective": info["objective"], "preset": info["preset"], "parameters": 123456}
        (pretrain / "metrics.json").write_text(json.dumps(record | {"steps": steps, "test": test}))
        step = np.arange(1, steps + 1)
        history = pd.DataFrame(
            {
                "step": step,
                "epoch": step // 100,
                "train_loss": 3.0 * np.exp(-step / 200) + rng.normal(0, 0.05, steps),
                "train_mlm_loss": np.nan,
                "train_sfp_loss": np.nan,
                "train_mlm_accuracy": 0.05 + 0.2 * (1 - np.exp(-step / 150)),
                "train_sfp_accuracy": (0.5 + 0.3 * (1 - np.exp(-step / 100)))
                if info["objective"] == "plus"
                else np.nan,
                "val_loss": np.where(step % 100 == 0, 3.0 * np.exp(-step / 200), np.nan),
                "val_mlm_accuracy": np.where(step % 100 == 0, 0.2, np.nan),
                "val_sfp_accuracy": np.nan,
            }
        )
        history.to_csv(pretrain / "history.csv", index=False)
        files["pretraining"].append(pretrain / "metrics.json")
        files["histories"].append(pretrain / "history.csv")
    return files


OFFICIAL = {task: {"kind": "official", "detail": "test fixture"} for task in BUILTIN_TASKS}


def report_job(runs: list[dict] | None = None, **settings: Any) -> ReportJob:
    """The report's job over MODELS: `runs` (default: each model on solubility, seed 0) and more `settings`."""
    runs = runs or [{"model": m, "task": "solubility", "seed": 0} for m in MODELS]
    models = [{"name": name, **model} for name, model in MODELS.items()]
    return parse_settings(ReportJob, {"models": models, "runs": runs, **settings}, "report")


def _collect(run: dict, runs: list[dict] | None = None, **settings: Any) -> ReportData:
    """The report's data from a fake results tree: its job lists `runs` (default: every run of the tree)."""
    return collect(report_job(runs or run["runs"], **settings), PUBLISHED, run["results"])


def copy_run(run: dict, root: Path) -> dict:
    """A copy of a fake results tree under `root`, to break without touching the original."""
    results = root / "results"
    shutil.copytree(run["results"], results)
    moved = {kind: [results / path.relative_to(run["results"]) for path in run[kind]] for kind in FILE_KINDS}
    return {**run, **moved, "results": results}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One full report over 3 models x 7 tasks x 3 seeds, built once for the tests that read it."""
    root = tmp_path_factory.mktemp("run")
    files = make_run(root)
    data = _collect(files, provenance=OFFICIAL)
    written = build_report(data, root / "tables", root / "figures", root / "summary.md")
    return {"root": root, "files": files, "data": data, "written": written}


# ---------------------------------------------------------------- tables agree with the metrics files


def _metric_values(files: dict, model: str, task: str, split: str, metric: str) -> list[float]:
    values = []
    for path in files["evaluations"]:
        record = json.loads(path.read_text())
        if record["model"] == model and record["task"] == task:
            values.append(record["splits"][split][metric])
    return values


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_main_table_recomputes_from_metrics(report):
    rows = {row["Model"]: row for row in _read_csv(report["root"] / "tables" / "main.csv")}
    columns = main_columns(report["data"])
    assert [c.task for c in columns if c.metric == BUILTIN_TASKS[c.task].headline_metric] == list(BUILTIN_TASKS)
    assert any(c.task == "transmembrane" and c.metric == "accuracy_protein" for c in columns)
    tm_headers = [c.header for c in columns if c.task == "transmembrane"]
    assert "Transmembrane protein acc (authors' decoder and criterion, PLUS's acc_p)" in tm_headers
    assert "Transmembrane protein acc (sided decoder, topology side checked)" in tm_headers
    assert set(tm_headers) <= set(next(iter(rows.values())))
    for model, info in MODELS.items():
        for column in columns:
            values = _metric_values(report["files"], model, column.task, column.split, column.metric)
            assert len(values) == 3
            cell = rows[info["label"]]
            assert float(cell[column.header]) == pytest.approx(np.mean(values), abs=1e-12)
            assert float(cell[f"{column.header} sd"]) == pytest.approx(np.std(values, ddof=1), abs=1e-12)
            assert cell[f"{column.header} n"] == "3"


def test_main_table_published_rows_missing_values_and_best(report):
    rows = {row["Model"]: row for row in _read_csv(report["root"] / "tables" / "main.csv")}
    tape = rows["TAPE Transformer"]
    assert tape["Pretraining"] == "published"
    assert float(tape["SecStr Q3 (CB513)"]) == 0.73
    assert tape["Homology acc"] == "" and tape["Homology acc sd"] == ""  # not published: missing, no guess
    # the best SecStr Q3 is the published one-hot + alignment (0.80); the synthetic models reach about 0.74
    assert "SecStr Q3 (CB513)" in rows["One-hot + alignment"]["best_in"].split(";")
    assert "Homology acc" in rows["PLUS-RNN tiny"]["best_in"].split(";")
    markdown = (report["root"] / "tables" / "main.md").read_text()
    assert "**0.80**" in markdown
    line = next(line for line in markdown.splitlines() if line.startswith("| TAPE Transformer"))
    assert "—" in line
    latex = (report["root"] / "tables" / "main.tex").read_text()
    assert r"\textbf{0.80}" in latex and r"\begin{tabular}" in latex and r"$\pm$" in latex


def test_detail_tables_cover_every_split_and_metric(report):
    homology = _read_csv(report["root"] / "tables" / "detail_homology.csv")
    assert {row["Test set"] for row in homology} == {"test", "2.07"}
    row = next(r for r in homology if r["Model"] == "PLUS-RNN tiny" and r["Test set"] == "2.07")
    values = _metric_values(report["files"], "plus-rnn-tiny", "homology", "test_2.07", "average_precision_family")
    assert float(row["AP family"]) == pytest.approx(np.mean(values))
    secstr = _read_csv(report["root"] / "tables" / "detail_secstr.csv")
    assert {row["Test set"] for row in secstr} == {"CB513", "CASP12", "TS115"}
    assert {"Q8", "Q3"} <= set(secstr[0])
    transmembrane = _read_csv(report["root"] / "tables" / "detail_transmembrane.csv")
    labels = {
        "protein acc (authors' decoder and criterion, PLUS's acc_p)",
        "protein acc (sided decoder, topology side checked)",
    }
    assert labels <= set(transmembrane[0])
    assert "PLUS code computes as acc_p" in (report["root"] / "tables" / "detail_transmembrane.md").read_text()


def test_ablation_deltas_and_spread(report):
    rows = _read_csv(report["root"] / "tables" / "ablation.csv")
    assert len(rows) == 2 * 9  # PLUS vs MLM-only and vs none, on 7 headline metrics + both TM protein accs
    for row in rows:
        plus, other = float(row["PLUS"]), float(row["Other"])
        assert float(row["Δ (PLUS better by)"]) == pytest.approx(plus - other)
        spread = float(row["PLUS sd"]) + float(row["Other sd"])
        assert float(row["Seed spread"]) == pytest.approx(spread)
        assert row["Beyond spread"] == ("yes" if abs(plus - other) > spread else "no")


def test_pretraining_table(report):
    rows = {row["Model"]: row for row in _read_csv(report["root"] / "tables" / "pretraining.csv")}
    assert float(rows["PLUS-RNN tiny"]["MLM acc"]) == pytest.approx(0.22)
    assert float(rows["PLUS-RNN tiny"]["SFP acc"]) == pytest.approx(0.82)
    assert rows["RNN tiny (MLM only)"]["SFP acc"] == ""
    assert rows["PLUS-RNN tiny"]["Parameters"] == "123,456"


def test_summary_findings_are_computed(report):
    text = (report["root"] / "summary.md").read_text()
    data = report["data"]
    wins = sum(
        c.delta > 0
        for c in ablation_comparisons(data)
        if c.other_model == "rnn-tiny-nopretrain" and c.column.metric == BUILTIN_TASKS[c.column.task].headline_metric
    )
    assert f"PLUS-RNN tiny beats the no-pretraining variant RNN tiny (no pretraining) on {wins} of 7 tasks" in text
    assert "3 model variants, 7 tasks, 3 seeds (0, 1, 2): 63 fine-tuning runs" in text
    assert "| PLUS-RNN tiny | MLM + SFP |" in text  # the main table is in the summary
    assert "`tables/main.csv`" in text and "`figures/task_scores.png`" in text


def test_every_expected_output_written(report):
    expected = set(report_files(list(BUILTIN_TASKS), report["root"] / "tables", report["root"] / "figures"))
    assert expected <= set(report["written"])
    assert all(path.stat().st_size > 0 for path in report["written"])
    assert not list(report["root"].glob("**/*.tmp"))


@pytest.mark.parametrize(
    "name", ["pretraining_curves", "task_scores", "ablation_deltas", "confusion_matrices", "homology_pr_curves"]
)
def test_figures_are_real_images(report, name):
    png = report["root"] / "figures" / f"{name}.png"
    assert png.stat().st_size > 20_000
    pixels = mpimg.imread(png)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 300
    assert float(pixels[..., :3].var()) > 0.001  # not blank
    pdf = report["root"] / "figures" / f"{name}.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000


# ---------------------------------------------------------------- missing or bad input fails loudly


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """2 seeds x 2 tasks: cheap to break in different ways."""
    root = tmp_path_factory.mktemp("small")
    tasks = {name: BUILTIN_TASKS[name] for name in ("solubility", "secstr")}
    return make_run(root, seeds=(0, 1), tasks=tasks)


def test_missing_run_names_it_and_its_file(small_run):
    runs = [*small_run["runs"], {"model": "mlm-rnn-tiny", "task": "secstr", "seed": 2}]
    with pytest.raises(
        InputError,
        match=r"^run \(model=mlm-rnn-tiny, task=secstr, seed=2\): \S+/results/evaluate/mlm-rnn-tiny/secstr/seed2/"
        r"metrics.json: file not found \(and 1 more missing files\)$",
    ):
        _collect(small_run, runs=runs)


def test_the_tables_follow_the_order_of_the_jobs_runs(small_run):
    in_config_order = [
        {"model": m, "task": t, "seed": s} for m in MODELS for t in ("secstr", "solubility") for s in (0, 1)
    ]
    assert list(_collect(small_run, runs=in_config_order).tasks) == ["secstr", "solubility"]
    assert list(_collect(small_run).tasks) == ["solubility", "secstr"]


def test_a_results_tree_with_more_runs_than_the_job_reads_only_the_jobs(small_run):
    runs = [run for run in small_run["runs"] if run["seed"] == 0]
    assert _collect(small_run, runs=runs).seeds == [0]


def test_a_run_listed_twice_is_an_error(small_run):
    with pytest.raises(InputError, match="list a run more than once"):
        _collect(small_run, runs=[*small_run["runs"], small_run["runs"][0]])


def test_a_run_of_a_model_the_job_lacks_is_an_error():
    with pytest.raises(InputError, match=r"runs of models \['other'\], which are not among the models"):
        report_job([{"model": "other", "task": "solubility", "seed": 0}])


def test_missing_predictions_and_pretraining_are_errors(small_run, tmp_path):
    run = copy_run(small_run, tmp_path)
    run["predictions"][0].unlink()
    with pytest.raises(
        InputError, match=r"^run \(model=plus-rnn-tiny, task=solubility, seed=0\): .*predictions.parquet"
    ):
        _collect(run)
    run = copy_run(small_run, tmp_path / "2")
    run["histories"][0].unlink()
    with pytest.raises(InputError, match=r"^model 'plus-rnn-tiny': .*/pretrain/plus-rnn-tiny/history.csv: file not"):
        _collect(run)
    run["pretraining"][0].unlink()
    with pytest.raises(InputError, match=r"metrics.json: file not found \(and 1 more missing files\)$"):
        _collect(run)


def test_a_file_of_another_run_is_an_error(small_run, tmp_path):
    run = copy_run(small_run, tmp_path)
    shutil.copy(run["evaluations"][1], run["evaluations"][0])
    with pytest.raises(InputError, match=r"records run \(model=plus-rnn-tiny, task=solubility, seed=1\), not the"):
        _collect(run)


def test_bad_metrics_file_names_file_and_key(small_run, tmp_path):
    run = copy_run(small_run, tmp_path)
    bad = run["evaluations"][0]
    record = json.loads(bad.read_text())
    del record["headline"]
    bad.write_text(json.dumps(record))
    with pytest.raises(InputError, match=rf"{bad}: missing key 'headline'"):
        _collect(run)
    record = json.loads(small_run["evaluations"][0].read_text())
    record["splits"]["test"]["accuracy"] = "high"
    bad.write_text(json.dumps(record))
    with pytest.raises(InputError, match=r"test.accuracy: expected a number or NaN"):
        _collect(run)


def test_undefined_metric_shows_as_na_not_as_a_mean_of_the_other_seeds(small_run, tmp_path):
    run = copy_run(small_run, tmp_path)
    path = next(p for p in run["evaluations"] if "plus-rnn-tiny/solubility/seed1" in str(p))
    record = json.loads(path.read_text())
    record["splits"]["test"]["accuracy"] = float("nan")
    path.write_text(json.dumps(record))
    data = _collect(run)
    table = build_tables(data)["main"]
    row = next(i for i, r in enumerate(table.rows) if r["Model"] == "PLUS-RNN tiny")
    assert table.cell_text(row, "Solubility acc") == "n/a"
    assert (row, "Solubility acc") not in table.best
    comparisons = [c for c in ablation_comparisons(data) if c.column.task == "solubility"]
    assert comparisons and all(c.beyond_spread is None for c in comparisons)
    summary = summary_markdown(data, build_tables(data), ablation_comparisons(data), [], tmp_path / "s.md")
    assert "on 1 of 1 tasks" in summary and "Undefined metric on: Solubility" in summary


def test_published_file_errors_name_the_line(tmp_path):
    path = tmp_path / "published.tsv"
    path.write_text("task\tmetric\tsplit\tmodel\tvalue\tsource\nsolubility\taccuracy\ttest\tX\tabc\tpaper\n")
    with pytest.raises(InputError, match=r"line 2: value 'abc' is not a number"):
        load_published(path)
    path.write_text("task\tmetric\tsplit\tmodel\tvalue\tsource\nsolubility\taccuracy\ttest\tX\t0.7\t\n")
    with pytest.raises(InputError, match=r"line 2: empty 'source'"):
        load_published(path)
    assert len(load_published(PUBLISHED)) == 22


def test_report_settings_errors():
    def settings(objective: str, **preset: str) -> dict:
        model = {"name": "a", "label": "A", "objective": objective, **preset}
        return {"models": [model], "runs": [{"model": "a", "task": "solubility", "seed": 0}]}

    with pytest.raises(
        InputError, match=r"report.models.0.objective: Input should be 'plus', 'mlm', 'none', 'external' or 'alignment'"
    ):
        parse_settings(ReportJob, settings("bert", preset="p"), "report")
    with pytest.raises(InputError, match="report.models.0.preset: required key missing"):
        parse_settings(ReportJob, settings("plus"), "report")


def test_cli_reports_missing_run_and_exits_2(small_run, tmp_path, capsys):
    runs = [*small_run["runs"], {"model": "rnn-tiny-nopretrain", "task": "solubility", "seed": 2}]
    code = cli_main(
        [
            "report",
            "--settings",
            as_json(report_job(runs, results="elsewhere")),
            "--results",
            str(small_run["results"]),
            "--published",
            str(PUBLISHED),
            "--tables",
            str(tmp_path / "tables"),
            "--figures",
            str(tmp_path / "figures"),
            "--summary",
            str(tmp_path / "summary.md"),
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "model=rnn-tiny-nopretrain, task=solubility, seed=2" in error and str(small_run["results"]) in error
    assert not (tmp_path / "summary.md").exists()


# ---------------------------------------------------------------- a task added by config


def test_task_added_by_config_gets_a_column(tmp_path):
    tasks = {
        "solubility": BUILTIN_TASKS["solubility"],
        "thermostability": TaskSpec(name="thermostability", shape="protein_regression", headline_metric="spearman"),
    }
    files = make_run(tmp_path, seeds=(0,), tasks=tasks)
    data = _collect(files)
    headers = [c.header for c in main_columns(data)]
    assert headers == ["Solubility acc", "thermostability ρ"]
    tables = build_tables(data)
    for table in tables.values():
        write_table(table, tmp_path / "tables")
    assert (tmp_path / "tables" / "detail_thermostability.csv").is_file()
    row = next(r for r in _read_csv(tmp_path / "tables" / "main.csv") if r["Model"] == "PLUS-RNN tiny")
    assert float(row["thermostability ρ"]) == pytest.approx(
        _metric_values(files, "plus-rnn-tiny", "thermostability", "test", "spearman")[0]
    )
    assert row["thermostability ρ sd"] == ""  # one seed: no sd, and no guess
    summary = summary_markdown(data, tables, ablation_comparisons(data), [], tmp_path / "summary.md")
    assert "one seed, so no seed spread" in summary


# ---------------------------------------------------------------- writers


def test_writers_escape_and_mark_best():
    table = Table("t", "A_b & c", {"Name": "text", "Score": "stat"})
    table.rows = [{"Name": "x_1", "Score": Stat(0.5, 0.01, 3)}, {"Name": "y|2", "Score": Stat(0.7, None, 1)}]
    table.mark_best(["Score"])
    assert table.best == {(1, "Score")}
    assert r"A\_b \& c" in to_latex(table) and r"x\_1" in to_latex(table)
    assert "**0.700**" in to_markdown(table) and "y\\|2" in to_markdown(table)
    assert "0.500 ± 0.010" in to_markdown(table)
    assert latex_escape("ρ ± 1%") == r"$\rho$ $\pm$ 1\%"
    page = to_html(table)
    assert "<caption>A_b &amp; c</caption>" in page and "<td>y|2</td>" in page
    assert '<td class="number"><strong>0.700</strong></td>' in page and "0.500 ± 0.010" in page
    assert page.split(HTML_TABLE_START)[1].split(HTML_TABLE_END)[0].strip().startswith('<table class="plus-table"')


# ---------------------------------------------------------------- the Snakemake rule and --report


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report rule in a minimal workflow (stub target helpers), then `snakemake --report`: the report.html."""
    pytest.importorskip("snakemake")
    tmp_path = tmp_path_factory.mktemp("html_report")
    tasks = {name: BUILTIN_TASKS[name] for name in ("homology", "secstr")}
    files = make_run(tmp_path, seeds=(0, 1), tasks=tasks)
    relative = {kind: [str(p.relative_to(tmp_path)) for p in files[kind]] for kind in FILE_KINDS}
    relative.update({"audits": [], "tasks": []})  # no leakage audit, no task summaries in this minimal workflow
    (tmp_path / "config").mkdir()
    shutil.copy(PUBLISHED, tmp_path / "config" / "published_results.tsv")
    config = {
        "models": MODELS,
        "tasks": {name: {} for name in tasks},
        "seeds": [0, 1],
        "pfam": {"source": "Pfam-A.fasta.gz", "release": "test"},
        "pretrain": {"batch_pairs": 16, "lr": 0.001, "max_steps": 400, "mlm_weight": 0.7, "sfp_weight": 0.3},
    }
    training = {**config["pretrain"], "val_every_n_steps": 100}
    described = [
        {"name": name, "encoder": "plus-rnn", "protocol": "finetune", "origin": "pretrained here", **model}
        | {"pretraining": training if model["objective"] != "none" else None}
        for name, model in MODELS.items()
    ]
    config["_report"] = {  # what plus.jobs.WorkflowPlan.report_context gives the captions
        "seeds": [0, 1],
        "tasks": list(tasks),
        "models": described,
        "pretrained": [model for model in described if model["pretraining"]],
        "pfam": config["pfam"],
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    settings = as_json(report_job(files["runs"]))
    (tmp_path / "Snakefile").write_text(
        "import os\n\n"
        "from plus.report.job_info import JobSettings\n"
        "from plus.report.outputs import FIGURE_FORMATS, TABLE_FORMATS\n"
        "from plus.report.outputs import figure_sections, table_caption, table_sections\n\n"
        'configfile: "config.json"\n\n'
        f"TASKS = {list(tasks)!r}\nPRETRAINING = True\n\n"
        f"def report_inputs():\n    return {relative!r}\n\n"
        f"def report_settings(wildcards):\n    return JobSettings({settings!r})\n\n"
        "def requested_runtime(rule):\n    return lambda wildcards, attempt: 30 * attempt\n\n"
        f'include: "{REPO / "workflow" / "rules" / "report.smk"}"\n\n'
        'rule all:\n    input:\n        "results/summary.md",\n    default_target: True\n'
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "plus").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m plus "$@"\n')
    (bin_dir / "plus").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
    }
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "1", "--snakefile", "Snakefile"]
    done = subprocess.run([*snakemake, "report"], cwd=tmp_path, env=env, capture_output=True, text=True)
    log = tmp_path / "logs" / "report" / "report.log"
    assert done.returncode == 0, done.stderr[-3000:] + (log.read_text() if log.exists() else "")
    assert (tmp_path / "results" / "summary.md").is_file()
    assert (tmp_path / "results" / "tables" / "detail_secstr.tex").is_file()
    html = tmp_path / "report.html"
    done = subprocess.run([*snakemake, "--report", str(html)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return html


@pytest.mark.slow
def test_report_rule_runs_and_builds_html_report(html_report: Path) -> None:
    text = html_report.read_text()
    assert "Confusion matrices" in text and "homology_pr_curves.png" in text
    assert "seeds 0, 1" in text  # the global description rendered the config through Jinja
    assert "Main table: one row per model variant" in text  # a table caption
    results, _ = json.JSONDecoder().raw_decode(text, text.index("results = {") + len("results = "))
    assert results["results/tables/main.html"]["mime_type"] == "text/html"  # shown inline, not as a download link
    assert {Path(path).suffix for path in results if path.startswith("results/figures/")} == {".png"}
    params = results["results/tables/main.html"]["job_properties"]["params"]
    assert "models: plus-rnn-tiny, mlm-rnn-tiny" in params and "runs: 12 entries" in params and '"runs"' not in params


CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)


class _RenderedCells(HTMLParser):
    """The text of every table cell the browser rendered (script sources, where the report keeps its data, aside)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and self.lasttag not in ("script", "style"):
            self._cell.append(data)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs a headless browser: apt-get install -y chromium")
def test_report_html_shows_the_main_table_on_its_front_page_in_a_browser(html_report: Path) -> None:
    """Chromium renders report.html (its JavaScript included) and the front page holds the main table's cells."""
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--dump-dom"]
        + [html_report.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parser = _RenderedCells()
    parser.feed(done.stdout)
    main = pd.read_csv(html_report.parent / "results" / "tables" / "main.csv")
    homology = float(main.set_index("Model").loc["PLUS-RNN tiny", "Homology acc"])
    rendered = set(parser.cells)
    assert {"Model", "PLUS-RNN tiny", "RNN tiny (MLM only)"} <= rendered, sorted(rendered)[:50]
    assert any(cell.startswith(f"{homology:.3f} ± ") for cell in rendered), sorted(rendered)[:50]


def test_job_settings_param_shows_a_summary_and_passes_the_json() -> None:
    settings = JobSettings(json.dumps({"models": [{"name": "a"}, {"name": "b"}], "runs": [{}, {}, {}], "seed": None}))
    assert f"{settings}" == "models: a, b; runs: 3 entries; seed: none"  # what Snakemake's info pane shows
    assert type(settings.json) is str and json.loads(settings.json)["runs"] == [{}, {}, {}]  # the shell's text
    assert repr(settings) == repr(settings.json)  # Snakemake's record of the params: a changed setting reruns
