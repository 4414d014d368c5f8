"""The report's comparisons: alignment baseline rows, significance, identity bins, provenance, cost."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib import image as mpimg
from scipy import stats

from plus.errors import InputError
from plus.metrics.task import task_metrics
from plus.report import statistics as statistics_module
from plus.report.build import build_report
from plus.report.collect import ReportData, collect
from plus.report.outputs import report_files
from plus.report.provenance import infer_provenance
from plus.report.statistics import compare_to_reference
from plus.settings import ReportJob, parse_settings
from plus.tasks import BUILTIN_TASKS

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "config" / "published_results.tsv"
MODELS = {
    "plus-a": {"label": "PLUS A", "objective": "plus", "preset": "plus-rnn-tiny"},
    "same": {"label": "Same as A", "objective": "mlm", "preset": "plus-rnn-tiny"},
    "weak": {"label": "Weak", "objective": "none", "preset": "plus-rnn-tiny"},
    "nn": {"label": "Alignment NN", "objective": "alignment", "preset": "alignment"},
}
TASKS = ("solubility", "stability")
N = 150
BINS = np.array([0.95] * 60 + [0.1] * 50 + [0.7] * 30 + [0.4] * 10)  # >=90%: 60, <30%: 50, 50-90%: 30, 30-50%: 10


def _predictions(task: str, model: str, seed: int) -> pd.DataFrame:
    truth = np.random.default_rng(100)  # the same test examples for every model and seed
    twin = "plus-a" if model == "same" else model  # `same` predicts exactly what the reference predicts
    rng = np.random.default_rng([seed, list(MODELS).index(twin)])
    ids = [f"{task}_{i}" for i in range(N)]
    if task == "stability":
        target = truth.normal(0, 1, N)
        noise = {"plus-a": 0.3, "same": 0.3, "weak": 3.0, "nn": 0.6}[model]
        prediction = target + rng.normal(0, noise, N)
        return pd.DataFrame({"split": "test", "id": ids, "target": target, "prediction": prediction})
    target = truth.choice(["0", "1"], N)
    right = {"plus-a": 0.9, "same": 0.9, "weak": 0.5, "nn": 0.8}[model]
    prediction = np.where(rng.random(N) < right, target, np.where(target == "0", "1", "0"))
    probabilities = [[float(p == "0"), float(p == "1")] for p in prediction]
    return pd.DataFrame(
        {"split": "test", "id": ids, "target": target, "prediction": prediction, "probabilities": probabilities}
    )


def collect_run(root: Path, files: dict, **settings: Any) -> ReportData:
    """The report's data from the results root `root`: its job lists every run make_run wrote, with `settings`."""
    models = [{"name": name, **model} for name, model in MODELS.items()]
    job = parse_settings(ReportJob, {"models": models, "runs": files["runs"], **settings}, "report")
    return collect(job, PUBLISHED, root)


def make_run(root: Path, seeds: tuple[int, ...]) -> dict:
    """Evaluations whose metrics.json is computed from their predictions, pretraining for encoder models only."""
    files: dict[str, list] = {"evaluations": [], "predictions": [], "pretraining": [], "histories": [], "runs": []}
    for model, info in MODELS.items():
        for task in TASKS:
            spec = BUILTIN_TASKS[task]
            for seed in seeds if info["objective"] != "alignment" else (0,):
                run = root / "evaluate" / model / task / f"seed{seed}"
                run.mkdir(parents=True)
                predictions = _predictions(task, model, seed)
                predictions.to_parquet(run / "predictions.parquet", index=False)
                metrics = task_metrics(spec, predictions)
                record = {
                    "task": task,
                    "model": model,
                    "seed": seed,
                    "shape": spec.shape,
                    "splits": {"test": metrics},
                    "headline": {
                        "metric": spec.headline_metric,
                        "split": "test",
                        "value": metrics[spec.headline_metric],
                    },
                }
                (run / "metrics.json").write_text(json.dumps(record))
                files["evaluations"].append(run / "metrics.json")
                files["predictions"].append(run / "predictions.parquet")
                files["runs"].append({"model": model, "task": task, "seed": seed})
        if info["objective"] == "alignment":
            continue
        pretrain = root / "pretrain" / model
        pretrain.mkdir(parents=True)
        record = {"model": model, "objective": info["objective"], "preset": info["preset"], "steps": 10}
        (pretrain / "metrics.json").write_text(json.dumps(record | {"test": {"mlm_accuracy": 0.2}}))
        pd.DataFrame(
            {
                "step": [1],
                "train_loss": [1.0],
                "train_mlm_accuracy": [0.1],
                "val_loss": [1.0],
                "val_mlm_accuracy": [0.1],
            }
        ).to_csv(pretrain / "history.csv", index=False)
        files["pretraining"].append(pretrain / "metrics.json")
        files["histories"].append(pretrain / "history.csv")
    return files


def write_audits(root: Path) -> list[Path]:
    paths = []
    for task in TASKS:
        folder = root / "audit" / task
        folder.mkdir(parents=True)
        identity = pd.DataFrame(
            {"split": "test", "id": [f"{task}_{i}" for i in range(N)], "max_identity": BINS, "nearest_train_id": "t0"}
        )
        identity.to_parquet(folder / "identity.parquet", index=False)
        (folder / "summary.json").write_text(
            json.dumps(
                {
                    "task": task,
                    "duplicates": {
                        "across_splits": [{"splits": ["test", "train"], "sequences": 3, "examples": [["a", "b"]]}]
                    },
                }
            )
        )
        paths.append(folder / "identity.parquet")
    return paths


def write_benchmarks(root: Path) -> list[Path]:
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    rows = {
        "pretrain/plus-a.tsv": "3600\t1:00:00\t2048\t1\t1\t1\t0\t0\t100\t7200\n",
        "finetune/plus-a/stability/seed0.tsv": "1800\t0:30:00\t1024\t1\t1\t1\t0\t0\t100\t1800\n",
        "evaluate/plus-a/stability/seed0.tsv": "360\t0:06:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n",
        "import_task/stability.tsv": "60\t0:01:00\t300\t1\t1\t1\t0\t0\t100\t50\n",
    }
    paths = []
    for name, row in rows.items():
        path = root / "benchmarks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + row)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("comparisons")
    files = make_run(root, seeds=(0,))
    write_audits(root)
    write_benchmarks(root)
    data = collect_run(
        root,
        files,
        leakage_audit=True,
        gpus_per_rule={"pretrain": 4, "finetune": 1},
        provenance={
            "stability": {"kind": "official", "detail": "TAPE stability.tar.gz"},
            "solubility": {"kind": "synthetic", "detail": "plus synthetic"},
        },
    )
    written = build_report(data, root / "tables", root / "figures", root / "summary.md", bootstrap_resamples=300)
    return {"root": root, "data": data, "written": written, "files": files}


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_alignment_baseline_is_one_more_model_row(report: dict) -> None:
    main = {row["Model"]: row for row in rows_of(report["root"] / "tables" / "main.csv")}
    assert main["Alignment NN"]["Pretraining"] == "none (alignment baseline)"
    assert main["Alignment NN"]["Source"] == "this run (1 seed)"
    pretraining = {row["Model"] for row in rows_of(report["root"] / "tables" / "pretraining.csv")}
    assert "Alignment NN" not in pretraining  # no encoder, so no pretraining row
    ablation = {row["Compared with"] for row in rows_of(report["root"] / "tables" / "ablation.csv")}
    assert ablation == {"Same as A", "Weak"}
    summary = (report["root"] / "summary.md").read_text()
    assert "4 model variants, 2 tasks, 1 seed (0): 6 fine-tuning runs and 2 alignment-baseline runs." in summary


def test_significance_against_the_reference(report: dict) -> None:
    rows = {(r["Model"], r["Task metric"]): r for r in rows_of(report["root"] / "tables" / "statistics.csv")}
    for task in ("Solubility acc", "Stability ρ"):
        assert rows[("PLUS A (reference)", task)]["Significant"] == ""
        same = rows[("Same as A", task)]
        assert float(same["p"]) == 1.0 and same["Significant"] == "no"  # identical predictions
        weak = rows[("Weak", task)]
        assert float(weak["p"]) < 0.01 and weak["Significant"] == "yes" and float(weak["Δ vs reference"]) < 0
        assert "paired bootstrap over 150 examples (300 resamples" in weak["Test"]
        assert float(weak["q (BH)"]) >= float(weak["p"])
    markdown = (report["root"] / "tables" / "main.md").read_text()
    weak_line = next(line for line in markdown.splitlines() if line.startswith("| Weak"))
    same_line = next(line for line in markdown.splitlines() if line.startswith("| Same as A"))
    assert weak_line.count("†") == 2 and "†" not in same_line
    assert "Benjamini-Hochberg" in markdown
    assert r"$^\dagger$" in (report["root"] / "tables" / "main.tex").read_text()
    summary = (report["root"] / "summary.md").read_text()
    assert "- Weak against PLUS A: significantly better on 0 (none), significantly worse on 2" in summary
    assert "- Same as A against PLUS A: significantly better on 0 (none), significantly worse on 0 (none)" in summary


def test_identity_bins_recompute_the_metric_on_each_subset(report: dict) -> None:
    rows = rows_of(report["root"] / "tables" / "identity_bins.csv")
    weak = {(r["Task"], r["Identity"]): r for r in rows if r["Model"] == "Weak"}
    predictions = _predictions("stability", "weak", 0)
    high = predictions[BINS >= 0.9]
    assert weak[("Stability", ">=90%")]["n"] == "60"
    expected = stats.spearmanr(high["target"], high["prediction"]).statistic
    assert float(weak[("Stability", ">=90%")]["Value"]) == pytest.approx(expected)
    assert weak[("Stability", "30-50%")]["n"] == "10" and weak[("Stability", "30-50%")]["Value"] == ""  # < 20
    solubility = _predictions("solubility", "weak", 0)
    low = solubility[BINS < 0.3]
    assert float(weak[("Solubility", "<30%")]["Value"]) == pytest.approx((low["target"] == low["prediction"]).mean())
    assert weak[("Solubility", "all")]["n"] == str(N)
    assert "fewer than 20 test examples" in (report["root"] / "tables" / "identity_bins.md").read_text()
    png = report["root"] / "figures" / "identity_distribution.png"
    assert float(mpimg.imread(png)[..., :3].var()) > 0.001
    summary = (report["root"] / "summary.md").read_text()
    assert "Stability — test: n=150, median identity 0.70, 40.0% at >= 90%, 33.3% below 30%" in summary
    assert "Identical sequences shared between splits: test/train 3." in summary


def test_published_numbers_only_beside_official_data(report: dict) -> None:
    main = {row["Model"]: row for row in rows_of(report["root"] / "tables" / "main.csv")}
    assert float(main["TAPE Transformer"]["Stability ρ"]) == 0.73  # official stability data: shown
    assert "DeepSol" not in main  # solubility is synthetic here: DeepSol's 0.77 is not set beside it
    notes = (report["root"] / "tables" / "main.md").read_text()
    assert "not for: Solubility" in notes
    assert "Solubility: synthetic (plus synthetic)" in notes and "Stability: official (TAPE stability.tar.gz)" in notes
    published = {(r["Task"], r["Model"]): r for r in rows_of(report["root"] / "tables" / "published.csv")}
    assert published[("Solubility", "DeepSol")]["Beside this run"] == "no (synthetic data)"
    assert published[("Stability", "UniRep")]["Beside this run"] == "yes"
    assert published[("SecStr", "One-hot")]["Beside this run"] == "no (task not in this run)"
    summary = (report["root"] / "summary.md").read_text()
    assert "not set beside published numbers (synthetic data" in summary


def test_cost_table_sums_jobs_per_model_and_task(report: dict) -> None:
    rows = {(r["Model"], r["Stage"], r["Task"]): r for r in rows_of(report["root"] / "tables" / "cost.csv")}
    pretraining = rows[("PLUS A", "pretraining", "—")]
    assert float(pretraining["Wall h"]) == 1.0 and float(pretraining["GPU h"]) == 4.0
    assert float(pretraining["CPU h"]) == 2.0 and float(pretraining["Peak RSS GB"]) == 2.0
    finetune = rows[("PLUS A", "fine-tune + evaluate", "Stability")]
    assert finetune["Jobs"] == "2" and float(finetune["Wall h"]) == pytest.approx(0.6)
    assert float(finetune["GPU h"]) == pytest.approx(0.5)  # evaluate: no GPUs listed for its rule
    assert float(finetune["Peak RSS GB"]) == 1.0  # NA (not measured) is skipped, not read as 0
    assert ("—", "shared", "Stability") in rows
    summary = (report["root"] / "summary.md").read_text()
    # (3600 + 1800 + 360 + 60) s wall, (7200 + 1800 + 50) s CPU, 3600 s x 4 GPUs + 1800 s x 1 GPU
    assert "4 jobs took 1.62 wall hours and 2.51 CPU hours, and held 4.50 GPU hours" in summary


def test_every_new_output_is_listed(report: dict) -> None:
    expected = set(report_files(list(TASKS), report["root"] / "tables", report["root"] / "figures"))
    assert expected <= set(report["written"])
    names = {p.name for p in expected}
    assert {"statistics.csv", "identity_bins.md", "cost.tex", "identity_distribution.pdf"} <= names


def test_paired_t_test_over_seeds_when_there_are_several(tmp_path: Path) -> None:
    files = make_run(tmp_path, seeds=(0, 1, 2))
    data = collect_run(tmp_path, files, reference_model="weak")
    build_report(data, tmp_path / "tables", tmp_path / "figures", tmp_path / "summary.md", bootstrap_resamples=50)
    rows = {(r["Model"], r["Task metric"]): r for r in rows_of(tmp_path / "tables" / "statistics.csv")}
    plus = rows[("PLUS A", "Stability ρ")]
    assert plus["Test"] == "paired t over 3 seeds" and plus["Seeds"] == "3"
    values = {}
    for model in ("plus-a", "weak"):
        values[model] = [
            stats.spearmanr(p["target"], p["prediction"]).statistic
            for p in (_predictions("stability", model, seed) for seed in (0, 1, 2))
        ]
    assert float(plus["p"]) == pytest.approx(stats.ttest_rel(values["plus-a"], values["weak"]).pvalue)
    low, high = plus["95% CI"].strip("[]").split(", ")
    mean, sd = np.mean(values["plus-a"]), np.std(values["plus-a"], ddof=1)
    half = stats.t.ppf(0.975, 2) * sd / np.sqrt(3)
    assert float(low) == pytest.approx(mean - half, abs=6e-4) and float(high) == pytest.approx(mean + half, abs=6e-4)
    assert rows[("Weak (reference)", "Stability ρ")]["Significant"] == ""
    nn = rows[("Alignment NN", "Stability ρ")]  # one seed against three: bootstrap on the seeds in common
    assert nn["Test"].startswith("paired bootstrap") and "seed 0" in nn["Test"]


def test_unknown_reference_model_is_an_error(tmp_path: Path) -> None:
    files = make_run(tmp_path, seeds=(0,))
    with pytest.raises(InputError, match="reference model 'nope'"):
        collect_run(tmp_path, files, reference_model="nope")


def test_provenance_is_inferred_from_the_synthetic_manifest(tmp_path: Path) -> None:
    synthetic = tmp_path / "synthetic"
    synthetic.mkdir()
    data_file = synthetic / "stability" / "train.fa"
    data_file.parent.mkdir()
    data_file.write_text(">a 1.0\nMKV\n")
    md5 = hashlib.md5(data_file.read_bytes()).hexdigest()
    manifest = {"generator": "plus.data.synthetic", "files": {"stability/train.fa": md5}}
    (synthetic / "manifest.json").write_text(json.dumps(manifest))
    summary = tmp_path / "tasks" / "stability" / "summary.json"
    summary.parent.mkdir(parents=True)
    summary.write_text(json.dumps({"task": "stability", "source": {str(data_file): md5}}))
    task, provenance = infer_provenance(summary)
    assert task == "stability" and provenance.kind == "synthetic"
    summary.write_text(json.dumps({"task": "stability", "source": {str(data_file): "0" * 32}}))  # edited since
    assert infer_provenance(summary)[1].kind == "local"
    summary.write_text(
        json.dumps({"task": "stability", "source": {}, "provenance": {"kind": "official", "detail": "TAPE"}})
    )
    assert infer_provenance(summary)[1].kind == "official"


def test_bootstraps_in_worker_processes_give_the_same_table(tmp_path: Path, monkeypatch) -> None:
    files = make_run(tmp_path, seeds=(0,))
    data = collect_run(tmp_path, files)
    alone = compare_to_reference(data, n_resamples=100, seed=3)
    monkeypatch.setattr("plus.report.statistics.WORKER_START_S", 0.0)  # workers however quick the bootstraps
    parallel = compare_to_reference(data, n_resamples=100, seed=3, workers=2)
    assert alone["test"].str.startswith("paired bootstrap").sum() == 6  # 3 models x 2 tasks against the reference
    pd.testing.assert_frame_equal(alone, parallel)


def test_bootstraps_too_quick_to_pay_for_workers_run_in_the_report_process(tmp_path: Path, monkeypatch) -> None:
    files = make_run(tmp_path, seeds=(0,))
    data = collect_run(tmp_path, files)
    asked = []
    run_calls = statistics_module.starmap

    def starmap(function, calls, workers):
        asked.append(workers)
        return run_calls(function, calls, workers)

    monkeypatch.setattr("plus.report.statistics.starmap", starmap)
    # 6 bootstraps of 10 resamples: about 0.4 s in all, timed under load, against 1.3 s to start each worker
    compare_to_reference(data, n_resamples=10, seed=3, workers=2)
    monkeypatch.setattr("plus.report.statistics.WORKER_START_S", 0.0)
    compare_to_reference(data, n_resamples=10, seed=3, workers=2)
    assert asked == [1, 2]


def test_named_pairs_get_a_paired_test_and_an_interval_of_the_differences(tmp_path: Path) -> None:
    files = make_run(tmp_path, seeds=(0, 1, 2))
    data = collect_run(tmp_path, files)
    build_report(
        data,
        tmp_path / "tables",
        tmp_path / "figures",
        tmp_path / "summary.md",
        bootstrap_resamples=50,
        comparisons=[("weak", "same"), ("nn", "weak")],
    )
    rows = {(r["Model"], r["Against"], r["Task metric"]): r for r in rows_of(tmp_path / "tables" / "pairs.csv")}
    assert len(rows) == 4  # two pairs x two tasks
    pair = rows[("Weak", "Same as A", "Stability ρ")]
    values = {
        model: [
            stats.spearmanr(p["target"], p["prediction"]).statistic
            for p in (_predictions("stability", model, seed) for seed in (0, 1, 2))
        ]
        for model in ("weak", "same")
    }
    differences = np.subtract(values["weak"], values["same"])
    assert pair["Test"] == "paired t over 3 seeds" and pair["Seeds in common"] == "3"
    assert float(pair["Δ"]) == pytest.approx(differences.mean(), abs=6e-4)
    assert float(pair["p"]) == pytest.approx(stats.ttest_rel(values["weak"], values["same"]).pvalue, rel=1e-3)
    half = stats.t.ppf(0.975, 2) * differences.std(ddof=1) / np.sqrt(3)
    low, high = (float(value) for value in pair["95% CI of Δ"].strip("[]").split(", "))
    assert low == pytest.approx(differences.mean() - half, abs=6e-4)
    assert high == pytest.approx(differences.mean() + half, abs=6e-4)
    baseline = rows[("Alignment NN", "Weak", "Stability ρ")]  # one seed in common: bootstrap, no interval
    assert baseline["Test"].startswith("paired bootstrap") and baseline["95% CI of Δ"] == "—"
    statistics = rows_of(tmp_path / "tables" / "statistics.csv")
    assert len(statistics) == len(MODELS) * len(TASKS)  # the pairs are rows of their own table only
