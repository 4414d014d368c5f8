"""The run estimate (`plus plan`, plus.estimates): jobs of the DAG, residues, hours from measurements, attempts, and
the rules' requests from their plain table."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from plus.cli import main as cli_main
from plus.errors import InputError
from plus.estimates import slurm
from plus.estimates.estimate import NO_MEASUREMENT
from plus.estimates.reference import load_throughput
from plus.estimates.render import render_json, render_text, requests_text
from plus.estimates.requests import load_table, rule_requests
from plus.estimates.run import build_run_estimate
from plus.estimates.settings import PlanSettings, parse_duration
from plus.jobs import plan_workflow
from plus.settings import SettingsError
from workflow_helpers import ROOT, copy_workflow, job_counts, run_snakemake

TEST_THROUGHPUT = {
    "device_classes": {"testgpu": {"kind": "gpu", "description": "a made-up device for the tests"}},
    "measurements": [
        {
            "stage": "pretrain",
            "preset": "plus-rnn-tiny",
            "device_class": "testgpu",
            "residues_per_s": 100,
            "source": "t",
        },
        {
            "stage": "inference",
            "preset": "plus-rnn-tiny",
            "device_class": "testgpu",
            "residues_per_s": 1000,
            "source": "t",
        },
        {
            "stage": "finetune",
            "preset": "plus-rnn-tiny",
            "device_class": "testgpu",
            "residues_per_s": 10,
            "source": "t",
        },
    ],
}


def load_config(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def small_config() -> dict[str, Any]:
    """The paper config cut to one tiny model, two tasks and one seed, with small hand-checkable settings."""
    config = load_config("paper.yaml")
    config["seeds"] = [0]
    config["models"] = {"m": {"preset": "plus-rnn-tiny", "objective": "plus"}}
    config["tasks"] = {task: config["tasks"][task] for task in ("homology", "solubility")}
    config["pfam"]["n_test_pairs"] = 100
    config["pretrain"].update(batch_pairs=10, epochs=2, val_every_n_steps=50, max_val_pairs=40)
    config["finetune"].update(max_epochs=5, homology_epochs=3, homology_pairs_per_epoch=40)
    return config


def write_summaries(results: Path) -> None:
    """Summaries in the shape `plus prepare-pfam` and `plus import-task` write them (only the keys the plan reads),
    the corpus's in small_config's corpus directory."""
    pfam = {
        "counts": {"read": 1300},
        "splits": {"train": {"sequences": 1000, "tokens": 120_000}, "test": {"sequences": 250, "tokens": 30_000}},
        "test_pairs": {"n": 100},
    }
    solubility = {
        "splits": {
            "train": {"n": 200, "length": {"min": 20, "median": 50.0, "max": 90}},
            "valid": {"n": 20, "length": {"min": 20, "median": 60.0, "max": 90}},
            "test": {"n": 30, "length": {"min": 20, "median": 70.0, "max": 90}},
        }
    }
    homology = {
        "splits": {
            "train": {"n": 100, "length": {"mean": 80.0, "median": 75.0}},
            "valid": {"n": 10, "length": {"median": 90.0}},
            "test": {"n": 20, "length": {"median": 100.0}},
            "test_2.07": {"n": 5, "length": {"median": 100.0}},
        }
    }
    for path, summary in (
        (f"pfam/{plan_workflow(small_config()).shared_corpus}/summary.json", pfam),
        ("tasks/solubility/summary.json", solubility),
        ("tasks/homology/summary.json", homology),
    ):
        (results / path).parent.mkdir(parents=True, exist_ok=True)
        (results / path).write_text(json.dumps(summary))


@pytest.fixture
def throughput_file(tmp_path: Path) -> Path:
    path = tmp_path / "throughput.yaml"
    path.write_text(yaml.safe_dump(TEST_THROUGHPUT))
    return path


# ------------------------------------------------------------------ the DAG


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_one_row_per_job_of_the_snakemake_dag(name: str, tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "workflow")
    dry = run_snakemake(workdir, "-n", "--configfile", f"config/{name}")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    dag = job_counts(dry.stdout)
    dag.pop("all")
    jobs = build_run_estimate(plan_workflow(load_config(name)), results=tmp_path / "no-results").jobs()
    assert Counter(job.rule for job in jobs) == dag


def test_paper_plan_counts() -> None:
    config = load_config("paper.yaml")
    jobs = build_run_estimate(plan_workflow(config), results="/nonexistent").jobs()
    counts = Counter(job.rule for job in jobs)
    assert counts["finetune"] == counts["evaluate"] == 6 * 7 * 3
    # plus-tfm: <= 256 aa; the two models without pretraining are initialised where they are fine-tuned
    assert (counts["pretrain"], counts["import_task"], counts["prepare_pfam"]) == (4, 7, 2)
    runs = {(job.model, job.task, job.seed) for job in jobs if job.rule == "finetune"}
    assert len(runs) == 126 and ("plus-rnn-large", "transmembrane", 2) in runs


# ------------------------------------------------------------------ residues


def test_residues_from_summaries_match_a_hand_count(tmp_path: Path) -> None:
    write_summaries(tmp_path)
    plan = build_run_estimate(plan_workflow(small_config()), results=tmp_path)
    jobs = {job.name: job for job in plan.jobs()}
    pretrain = jobs["pretrain m"].work
    # steps = 2 epochs x (1000 // 10) = 200; 200 x 10 pairs x 2 x 120 aa (tokens / sequences)
    assert [p.residues for p in pretrain.passes] == [
        200 * 10 * 2 * 120,
        (200 // 50) * 40 * 2 * 120 * 2,  # 4 validations x min(40, 100) pairs x 2 x 120 aa x 2 passes (MLM, SFP)
        100 * 2 * 120 * 2,  # the 100 test pairs once at the end
    ]
    # solubility: 5 epochs x 200 x 50 aa (the summary has medians only) + 5 validations x 20 x 60 aa
    assert jobs["finetune m/solubility/seed0"].work.residues == 5 * 200 * 50 + 5 * 20 * 60
    assert jobs["evaluate m/solubility/seed0"].work.residues == 30 * 70
    # homology: 3 epochs x 40 pairs x 2 x 80 aa (train mean) + 3 x 10 valid pairs x 2 x 90 aa
    assert jobs["finetune m/homology/seed0"].work.residues == 3 * 40 * 2 * 80 + 3 * 10 * 2 * 90
    assert jobs["evaluate m/homology/seed0"].work.residues == 10 * 2 * 90 + 20 * 2 * 100 + 5 * 2 * 100
    assert jobs[f"prepare_pfam {plan.workflow.shared_corpus}"].work.residues == 1300 * 120
    sources = [s for p in jobs["finetune m/solubility/seed0"].work.passes for s in p.sources]
    assert any("splits.train.length.median, taken as the mean" in s for s in sources)


def test_max_steps_cap_the_count(tmp_path: Path) -> None:
    write_summaries(tmp_path)
    config = small_config()
    config["pretrain"]["max_steps"] = 30
    config["finetune"]["max_steps"] = 7
    jobs = {job.name: job for job in build_run_estimate(plan_workflow(config), results=tmp_path).jobs()}
    assert jobs["pretrain m"].work.passes[0].residues == 30 * 10 * 2 * 120
    assert jobs["pretrain m"].work.passes[1].residues == 0  # 30 steps: no validation every 50
    # solubility: ceil(200 / 32) = 7 steps per epoch, so 7 steps = 7 x 32 sequences and one validation
    assert [p.residues for p in jobs["finetune m/solubility/seed0"].work.passes] == [7 * 32 * 50, 1 * 20 * 60]


def test_a_dry_run_labels_every_size(tmp_path: Path) -> None:
    plan = build_run_estimate(plan_workflow(load_config("paper.yaml")), results=tmp_path)
    jobs = {job.name: job for job in plan.jobs()}
    training = jobs["pretrain plus-rnn-large"].work.passes[0]
    per_epoch = math.ceil(int(14_670_860 * 0.8) / 64)  # last_batch keep: a short last batch, as the authors (row 28)
    assert training.residues == 5 * per_epoch * 64 * 2 * 150
    assert any(s.startswith("the paper's Pfam 27.0 count") for s in training.sources)
    assert any(s.startswith("assumption:") for s in training.sources)
    stability = jobs["finetune plus-rnn-base/stability/seed0"].work.passes[0]
    assert stability.residues == pytest.approx(20 * 53614 * 45.2)
    assert "config tasks.stability.expected_sizes.train" in stability.sources
    homology = jobs["evaluate plus-rnn-base/homology/seed0"]
    assert homology.work.residues is None  # no expected_sizes, no typical length: unknown, not guessed
    assert all(s.startswith(("unknown:", "config")) for p in homology.work.passes for s in p.sources)


# ------------------------------------------------------------------ hours, attempts, runtimes


def test_attempts_follow_from_time_and_limit() -> None:
    settings = PlanSettings(time_limit="48h", margin=1.2, overhead_minutes=10)
    # 100 h x 1.2 = 7200 min of work; 2880 - 10 = 2870 useful minutes per attempt -> 3 attempts
    assert slurm.attempts(100, settings) == 3
    assert slurm.attempts(1, settings) == 1 and slurm.attempts(None, settings) is None
    assert slurm.attempts(100, settings, resumable=False) == 1 and not slurm.fits(100, settings)
    # 1 h: 72 min of work; resumable attempts add up their time after start-up, others need one long enough
    assert slurm.covered(1, (50, 50), settings) and not slurm.covered(1, (50, 50), settings, resumable=False)
    assert slurm.covered(1, (50, 90), settings, resumable=False)


def test_rules_request_attempt_times_their_minutes_capped_at_the_limit() -> None:
    requests = rule_requests(PlanSettings(time_limit="48h"))
    assert [requests.runtime_minutes("finetune", k) for k in (1, 2, 3, 4, 5)] == [720, 1440, 2160, 2880, 2880]
    assert requests.attempt_minutes("pretrain") == (2880,) * 3 and requests.retries("pretrain") == 2
    assert requests.attempt_minutes("evaluate") == (120, 240, 360)
    assert requests.retries("prepare_pfam") == 1 and requests.retries("import_task") is None  # the profile's
    assert requests.gpus("finetune") == 1 and requests.gpus("align_task") == 0
    short = rule_requests(PlanSettings(time_limit="2h", requests={"finetune": {"minutes": 45, "gpus": 2}}))
    assert [short.runtime_minutes("finetune", k) for k in (1, 2, 3)] == [45, 90, 120] and short.gpus("finetune") == 2
    assert short.retries("finetune") == 2  # what the change leaves out stays the table's
    assert set(load_table()) >= {"pretrain", "finetune", "evaluate", "prepare_pfam", "report", "gpu_smoke"}


def test_the_config_changes_a_rules_request_and_an_unknown_rule_is_named() -> None:
    config = small_config()
    config["plan"] = {"requests": {"finetune": {"minutes": 30}}}
    assert plan_workflow(config).requests.runtime_minutes("finetune", 2) == 60
    config["plan"] = {"requests": {"finetun": {"minutes": 30}}}
    with pytest.raises(SettingsError, match="plan.requests.finetun: no rule 'finetun'"):
        plan_workflow(config)


@pytest.mark.parametrize(("limit", "attempts", "requests"), [("2h", 1, [120, 120, 120]), ("30m", 4, [30, 30, 30])])
def test_estimate_from_a_measured_figure(
    tmp_path: Path, throughput_file: Path, limit: str, attempts: int, requests: list[int]
) -> None:
    write_summaries(tmp_path)
    settings = {"device_class": "testgpu", "time_limit": limit, "margin": 1.0, "overhead_minutes": 5}
    run = build_run_estimate(plan_workflow(small_config()), settings, tmp_path, throughput_file)
    pretrain = run.job("pretrain", "m")
    seconds = 480_000 / 100 + (76_800 + 48_000) / 1000  # training at 100 residues/s, the rest at 1000
    assert pretrain.device is not None and pretrain.device.hours == pytest.approx(seconds / 3600)
    assert math.ceil(seconds / 60 / (parse_duration(limit) - 5)) == attempts == pretrain.attempts
    assert list(pretrain.runtime_minutes) == requests  # the rule's: attempt x 48 h, capped at the limit
    # 30m: 3 attempts of 25 useful minutes do not cover 82 minutes of work
    assert (pretrain.note == "") == (limit == "2h")


def test_a_job_that_cannot_resume_must_fit_one_attempt(tmp_path: Path) -> None:
    write_summaries(tmp_path)
    slow = {**TEST_THROUGHPUT, "measurements": [{**m, "residues_per_s": 0.01} for m in TEST_THROUGHPUT["measurements"]]}
    path = tmp_path / "slow.yaml"
    path.write_text(yaml.safe_dump(slow))
    run = build_run_estimate(plan_workflow(small_config()), {"device_class": "testgpu"}, tmp_path, path)
    evaluate, finetune = run.job("evaluate", "m", "solubility", 0), run.job("finetune", "m", "solubility", 0)
    assert evaluate.attempts == 1 and "cannot resume" in evaluate.note  # 2,100 residues at 0.01/s: 58 h > 48 h
    assert finetune.attempts is not None and finetune.attempts > 1  # resumes: more attempts
    assert "raise plan.requests.finetune" in finetune.note  # 3 attempts of 12, 24 and 36 h are not enough
    assert "Warnings:" in render_text(run, [evaluate, finetune], "small")


def test_unknown_device_class_figures_are_unknown_never_numbers(tmp_path: Path) -> None:
    run = build_run_estimate(plan_workflow(load_config("paper.yaml")), {"device_class": "h100"}, tmp_path)
    jobs = run.jobs()
    gpu = [job for job in jobs if job.rule in ("pretrain", "finetune", "evaluate")]
    assert gpu and all(job.device is not None and job.device.hours is None for job in gpu)
    assert all(job.attempts is None and job.note == "" for job in gpu)
    requests = {job.rule: job.runtime_minutes for job in gpu}  # the rules' table: minutes x attempt, capped
    assert requests == {"pretrain": (2880,) * 3, "finetune": (720, 1440, 2160), "evaluate": (120, 240, 360)}
    document = render_json(run, jobs, "config/paper.yaml")
    for job in document["jobs"]:
        if job["rule"] in ("pretrain", "finetune", "evaluate"):
            assert job["device"]["hours"] is None and job["attempts"] is None
    assert document["requests"]["finetune"] == {"minutes": 720, "gpus": 1, "retries": 2}
    pretrain = next(job for job in document["jobs"] if job["model"] == "plus-rnn-base" and job["rule"] == "pretrain")
    assert pretrain["device"]["missing"].startswith(NO_MEASUREMENT)
    text = render_text(run, jobs, "config/paper.yaml")
    assert f"On h100: unknown ({NO_MEASUREMENT}" in text and "its rule asks for 48:00 x3" in text
    totals = text.split("Totals per stage:")[1].splitlines()
    assert any(line.split()[0] == "pretrain" and f"unknown ({NO_MEASUREMENT})" in line for line in totals if line)
    rules = text.split("Requests per rule")[1].split("\n\n")[0].splitlines()
    assert any(line.split()[:4] == ["finetune", "720", "1", "2"] and "12:00, 24:00, 36:00" in line for line in rules)


def test_the_estimate_reads_a_summary_that_appears_later(tmp_path: Path, throughput_file: Path) -> None:
    run = build_run_estimate(plan_workflow(small_config()), {"device_class": "testgpu"}, tmp_path, throughput_file)
    assert run.job("finetune", "m", "homology", 0).device.hours is None  # type: ignore[union-attr]
    write_summaries(tmp_path)
    assert run.job("finetune", "m", "homology", 0).device.hours is not None  # type: ignore[union-attr]


def test_parse_duration() -> None:
    cases = {"48h": 2880, "2d": 2880, "1d12h": 2160, "90m": 90, "2-00:00:00": 2880, "48:00:00": 2880, "2880": 2880}
    assert {text: parse_duration(text) for text in cases} == cases
    assert parse_duration("30:00") == 30 and parse_duration("2-12") == 3600  # SLURM: MM:SS and D-HH
    for bad in ("4x", "", "0", "-1h"):
        with pytest.raises(InputError, match="time limit"):
            parse_duration(bad)


def test_requests_text_folds_equal_attempts() -> None:
    assert requests_text([2880, 2880, 750]) == "48:00 x2, 12:30"


# ------------------------------------------------------------------ the throughput table


def test_packaged_throughput_has_a_source_for_every_figure() -> None:
    table = load_throughput()
    assert table.reference == "cpu-core" and table.device_classes["cpu-core"].kind == "cpu"
    assert all(m.source.strip() and m.device_class in table.device_classes for m in table.measurements)
    base = table.measurement("pretrain", "plus-rnn-base", "cpu-2core")
    assert base is not None and base.residues_per_s == 945


def test_a_site_file_adds_figures_and_bad_ones_name_the_file(tmp_path: Path, throughput_file: Path) -> None:
    table = load_throughput(throughput_file)
    assert table.measurement("finetune", "plus-rnn-tiny", "testgpu").residues_per_s == 10  # type: ignore[union-attr]
    assert table.measurement("pretrain", "plus-rnn-base", "cpu-2core") is not None  # the packaged ones stay
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"measurements": [{**TEST_THROUGHPUT["measurements"][0]}]}))  # undeclared class
    with pytest.raises(InputError, match=str(bad)):
        load_throughput(bad)


# ------------------------------------------------------------------ the command line


def test_cli_prints_tables_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = str(ROOT / "config" / "paper.yaml")
    assert cli_main(["plan", "--config", config, "--results", str(tmp_path), "--time-limit", "2-00:00:00"]) == 0
    text = capsys.readouterr().out
    assert "Totals per stage:" in text and "Totals per model" in text and "pretrain plus-rnn-large" in text
    assert cli_main(["plan", "--config", config, "--results", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert len(document["jobs"]) == 13 + 2 + 7 + 7 + 7 + 7 + 4 + 126 + 126 + 1  # align_task: one per task
    assert [row["rule"] for row in document["totals"]["rule"]][-1] == "total (GPU rules)"
    assert [row["model"] for row in document["totals"]["model"]][:2] == ["plus-rnn-base", "plus-rnn-large"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--time-limit", "4x"], "plan.time_limit: cannot read '4x'"),
        (["--device-class", "h300"], "device class 'h300' is not declared"),
        (["--throughput", "/nonexistent/t.yaml"], "/nonexistent/t.yaml: throughput file not found"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    assert cli_main(["plan", "--config", str(ROOT / "config" / "paper.yaml"), *extra]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and message in captured.err


def test_cli_bad_config_exits_2_naming_the_key(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = load_config("paper.yaml")
    config["pretrain"]["epochz"] = 5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli_main(["plan", "--config", str(path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "pretrain.epochz: unknown key" in error
