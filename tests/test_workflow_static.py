"""Static checks of the Snakemake workflow: lint, formatting, dry runs of both configs, envs, config schema.

Every dry run works in a scratch copy of the workflow files, so results of a real run in the checkout do not
change the job counts.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from plus.cli import main as cli_main
from plus.estimates.requests import load_table
from plus.jobs import plan_workflow
from plus.settings import PfamSettings, PretrainSettings, workflow_schema
from plus.tasks import BUILTIN_TASKS, TaskSpec
from workflow_helpers import ROOT, copy_workflow, job_counts, run_snakemake

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

RULE_FILES = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
TRAINING_RULES = ("pretrain", "finetune", "evaluate")
# import name -> conda-forge package names that provide it
CONDA_NAME = {
    "torch": {"pytorch"},
    "sklearn": {"scikit-learn"},
    "Bio": {"biopython"},
    "yaml": {"pyyaml"},
    "matplotlib": {"matplotlib", "matplotlib-base"},
    "lmdb": {"python-lmdb"},
}
# pyproject distribution name -> conda-forge package names
CONDA_OF_DIST = {"torch": {"pytorch"}, "matplotlib": {"matplotlib", "matplotlib-base"}, "lmdb": {"python-lmdb"}}


@pytest.fixture(scope="module")
def pfam_seeds(realdata: Path) -> Path:
    return realdata / "pfam_seed" / "derived_Pfam-A_fasta_format_from_seeds.fasta"


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_snakemake(workdir, *args)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("workflow"))


def job_settings(output: str) -> dict[str, dict]:
    """The settings each `plus` command of a dry run receives (`--settings`), by its `--out` (else its command)."""
    settings = {}
    for line in output.splitlines():
        if " plus " in f" {line}" and "--settings " in line:
            words = shlex.split(line.split("Shell command:", 1)[-1].split(" > ")[0])
            command = words[words.index("plus") + 3]  # after `plus --result-fd 3`
            key = words[words.index("--out") + 1] if "--out" in words else command
            settings[key] = json.loads(words[words.index("--settings") + 1])
    return settings


def load_config(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def expected_counts(config: dict) -> dict[str, int]:
    models, tasks, seeds = len(config["models"]), len(config["tasks"]), len(config["seeds"])
    pretrained = [model for model in config["models"].values() if model.get("objective") in ("plus", "mlm")]
    corpora = {model.get("corpus_max_length") for model in pretrained}  # objective none: no pretraining job
    return {
        "prepare_pfam": len(corpora),
        "import_task": tasks,
        "pretrain": len(pretrained),
        "finetune": models * tasks * seeds,
        "align_task": tasks,  # one search per task, read by both the audit and the baseline
        "audit_leakage": tasks,
        "alignment_baseline": tasks,
        "evaluate": models * tasks * seeds,
        "report": 1,
        "all": 1,
    }


# ---------------------------------------------------------------- lint and format


@pytest.mark.parametrize("configfile", [None, "config/paper.yaml"])
def test_lint_is_clean(workdir: Path, configfile: str | None) -> None:
    extra = ["--configfile", configfile] if configfile else []
    result = snakemake(workdir, "--lint", *extra)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_snakefmt_check_is_clean() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakefmt"), "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- the demo DAG


@pytest.fixture(scope="module")
def demo_dry_run(workdir: Path) -> str:
    result = snakemake(workdir, "-n", "-p")
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_demo_dry_run_lists_every_rule(demo_dry_run: str) -> None:
    config = load_config("config.yaml")
    assert len(config["models"]) == 3 and len(config["tasks"]) == 7 and config["seeds"] == [0]
    assert {model["objective"] for model in config["models"].values()} == {"plus", "mlm", "none"}
    expected = {**expected_counts(config), "synthetic": 1}
    assert job_counts(demo_dry_run) == expected  # no download: the demo is offline


def test_demo_jobs_receive_their_resolved_settings(demo_dry_run: str) -> None:
    settings = job_settings(demo_dry_run)
    pretrain = settings["results/pretrain/plus-rnn-tiny"]
    assert (pretrain["name"], pretrain["objective"], pretrain["preset"]) == ("plus-rnn-tiny", "plus", "plus-rnn-tiny")
    demo = load_config("config.yaml")["pretrain"]
    assert pretrain["training"]["batch_pairs"] == demo["batch_pairs"] and pretrain["training"]["max_steps"] == 1500
    assert pretrain["training"]["max_val_pairs"] == demo["max_val_pairs"]
    assert pretrain["training"]["eval_batch_pairs"] == PretrainSettings().eval_batch_pairs  # a default, now visible
    assert settings["results/pretrain/mlm-rnn-tiny"]["objective"] == "mlm"

    finetune = settings["results/finetune/plus-rnn-tiny/secstr/seed0"]
    assert finetune["seed"] == 0 and finetune["model"] == "plus-rnn-tiny"
    assert TaskSpec.from_dict(finetune["task"]) == BUILTIN_TASKS["secstr"]
    assert finetune["training"]["homology_pairs_per_epoch"] == 2000
    evaluate = settings["results/evaluate/plus-rnn-tiny/secstr/seed0"]
    assert evaluate["batch_size"] == finetune["training"]["eval_batch_size"]  # one default for both

    localization = settings["results/tasks/localization"]
    assert TaskSpec.from_dict(localization["task"]) == BUILTIN_TASKS["localization"]
    assert localization["valid_from_train"] == {"fraction": 0.1, "seed": 0}
    assert localization["max_length"] == {"keep_ends": 1000}
    assert localization["sources"] == [
        {
            "format": "deeploc",
            "files": {"fasta": "resources/synthetic/localization/deeploc_data.fasta"},
            "options": {},
        }
    ]
    secstr = settings["results/tasks/secstr"]
    assert [source["format"] for source in secstr["sources"]] == ["tape_json", "netsurfp_csv"]
    corpora = plan_workflow(load_config("config.yaml"))
    assert set(settings[corpora.corpus_dir(corpora.shared_corpus)]) == set(PfamSettings.model_fields)
    report = settings["report"]
    names = [model["name"] for model in report["models"]]
    assert names == ["plus-rnn-tiny", "mlm-rnn-tiny", "rnn-tiny-nopretrain", "alignment-nn"]
    assert len(report["runs"]) == 3 * 7 + 7  # the alignment baseline once per task
    assert report["bootstrap_resamples"] == 200 and report["provenance"] == {}  # synthetic: read from its manifest


def test_no_rule_only_writes_a_config_file(demo_dry_run: str) -> None:
    assert "write-config" not in demo_dry_run and not re.search(r"rule \w+_config:", demo_dry_run)
    outputs_config = [block for block in demo_dry_run.split("\nrule ") if "config.json" in block.split("log:")[0]]
    assert {block.split(":", 1)[0] for block in outputs_config} >= {"pretrain", "finetune", "evaluate", "prepare_pfam"}


def test_training_keeps_checkpoints_outside_outputs(demo_dry_run: str) -> None:
    commands = [
        line for line in demo_dry_run.splitlines() if "pretrain --settings" in line or "finetune --settings" in line
    ]
    assert commands
    for command in commands:
        words = shlex.split(command.split("Shell command:", 1)[-1])
        out = words[words.index("--out") + 1]
        checkpoints = words[words.index("--checkpoint-dir") + 1]
        assert checkpoints.startswith("results/checkpoints/") and not checkpoints.startswith(out)


# ---------------------------------------------------------------- the paper DAG through the SLURM profile


def test_slurm_profile_dry_run_lists_the_paper_dag(workdir: Path) -> None:
    result = snakemake(workdir, "--profile", "slurm", "-n", "-p")
    assert result.returncode == 0, result.stdout + result.stderr
    config = load_config("paper.yaml")
    assert len(config["models"]) == 6 and len(config["tasks"]) == 7 and len(config["seeds"]) == 3
    # one download per distinct file: Pfam, the SCOPe archive, 6 DeepSol files, DeepLoc, 3 TAPE archives, TOPCONS2
    expected = {**expected_counts(config), "download": 13}
    counts = job_counts(result.stdout)
    assert counts == expected
    assert counts["finetune"] == 6 * 7 * 3

    configs = job_settings(result.stdout)
    large = configs["results/finetune/plus-rnn-large/solubility/seed2"]
    assert large["task"]["head"] == {"input": "z", "hidden": 512, "pooling": "sum"}
    base = configs["results/finetune/plus-rnn-base/solubility/seed2"]
    assert base["task"]["head"] == {"input": "h", "hidden": 512, "pooling": "sum"}  # the authors' (Q2)
    tfm = configs["results/pretrain/plus-tfm"]["training"]
    assert (tfm["batch_pairs"], tfm["lr"], tfm["epochs"]) == (128, 0.0001, 10)
    rnn = configs["results/pretrain/plus-rnn-base"]["training"]
    assert (rnn["batch_pairs"], rnn["lr"], rnn["epochs"], rnn["mlm_weight"], rnn["sfp_weight"]) == (
        64,
        0.001,
        5,
        0.7,
        0.3,
    )
    stability = configs["results/tasks/stability"]
    assert stability["sources"][0]["files"]["train"] == {
        "path": "resources/downloads/stability/stability.tar.gz",
        "member": "stability/stability_train.lmdb",
    }
    assert "--md5 aa1e06eb5a59e0ecdae581e9ea029675" in result.stdout
    assert re.search(
        r"plus --result-fd 3 download --url \S+Pfam27\.0/Pfam-A\.fasta\.gz --md5-list \S+md5_checksums", result.stdout
    )
    # training jobs ask SLURM for a GPU, with runtime and memory
    for rule in TRAINING_RULES:
        block = result.stdout.split(f"\nrule {rule}:", 1)[1].split("\n\n", 1)[0]
        resources = re.search(r"resources: (.*)", block).group(1)
        assert "gpu=1" in resources and "runtime=" in resources and "mem_mb=" in resources, (rule, resources)


def test_slurm_profile_settings() -> None:
    profile = yaml.safe_load((ROOT / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["jobs"] >= 1
    assert profile["configfile"] == "config/paper.yaml" and "replace-workflow-config" not in profile
    assert profile["retries"] >= 1 and profile["rerun-incomplete"] is True
    for rule in TRAINING_RULES:
        assert profile["set-resources"][rule]["gpu"] >= 1
    text = (ROOT / "slurm" / "config.yaml").read_text()
    assert "slurm_partition" in text and "slurm_account" in text  # documented for the site to set


# ---------------------------------------------------------------- run: a subset of a config


def subset(config: dict, models: list[str], tasks: list[str]) -> dict:
    """`config` with only these models and tasks, as `run: {models, tasks}` selects them."""
    return {
        **config,
        "models": {name: config["models"][name] for name in models},
        "tasks": {name: config["tasks"][name] for name in tasks},
    }


def test_run_given_on_the_command_line_plans_the_selected_subset_only(workdir: Path) -> None:
    selection = 'run={"models": ["plus-rnn-tiny"], "tasks": ["stability"]}'
    result = snakemake(workdir, "-n", "-p", "--config", selection)
    assert result.returncode == 0, result.stdout + result.stderr
    config = subset(load_config("config.yaml"), ["plus-rnn-tiny"], ["stability"])
    assert job_counts(result.stdout) == {**expected_counts(config), "synthetic": 1}
    outputs = [key for key in job_settings(result.stdout) if key.startswith("results/")]
    assert all("tiny" not in key or "plus-rnn-tiny" in key for key in outputs)
    assert all("/tasks/" not in key or key.endswith("/stability") for key in outputs)


def test_a_run_overlay_cuts_the_paper_config_downloads_included(workdir: Path) -> None:
    models, tasks = ["plus-tfm", "rnn-base-nopretrain"], ["stability", "secstr"]
    (workdir / "subset.yaml").write_text(yaml.safe_dump({"run": {"models": models, "tasks": tasks}}))
    result = snakemake(workdir, "-n", "-p", "--configfile", "config/paper.yaml", "subset.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = subset(load_config("paper.yaml"), models, tasks)
    # Pfam, the stability and the secondary-structure archives; plus-tfm's 256-residue corpus alone (the model
    # without pretraining is initialised where it is fine-tuned)
    assert job_counts(result.stdout) == {**expected_counts(config), "download": 3}
    assert expected_counts(config)["prepare_pfam"] == 1 and expected_counts(config)["finetune"] == 2 * 2 * 3
    tfm = job_settings(result.stdout)["results/finetune/plus-tfm/stability/seed0"]
    assert tfm["task"]["aux_mlm_weight"] == 0.3 and tfm["task"]["head"]["pooling"] == "cls"


def test_the_paper_config_with_our_fixes_dry_runs(workdir: Path) -> None:
    result = snakemake(workdir, "-n", "-p", "--configfile", "config/paper.yaml", "config/paper_fixed.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert job_counts(result.stdout) == {**expected_counts(load_config("paper.yaml")), "download": 13}
    settings = job_settings(result.stdout)
    base = settings["results/finetune/plus-rnn-base/solubility/seed0"]
    assert base["task"]["head"]["pooling"] == "attention" and base["training"]["homology_sampler"] == "bepler"
    assert settings["results/finetune/plus-tfm/solubility/seed0"]["task"]["head"]["pooling"] == "cls"
    pretrain = settings["results/pretrain/plus-rnn-base"]["training"]
    assert (pretrain["precision"], pretrain["drop_pair_b_mlm"], pretrain["keep"]) == ("auto", False, "final")


def test_a_run_selection_of_an_unknown_model_fails_at_dry_run(workdir: Path) -> None:
    result = snakemake(workdir, "-n", "--config", 'run={"models": ["plus-rnn-tinny"]}')
    assert result.returncode != 0
    assert "run.models: unknown model 'plus-rnn-tinny'; known: plus-rnn-tiny" in result.stdout + result.stderr


def test_the_bring_your_own_example_dry_runs_without_pretraining(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "workflow")
    config = load_config("byo_example.yaml")
    (tmp_path / "esm2").mkdir()
    (tmp_path / "esm2" / "config.json").write_text("{}")  # a dry run reads no weights: the paths must exist
    (tmp_path / "PLUS-RNN_BASE.pt").write_bytes(b"")
    config["models"]["esm2-8m"]["encoder"]["path"] = str(tmp_path / "esm2")
    config["models"]["plus-rnn-authors"]["encoder"]["path"] = str(tmp_path / "PLUS-RNN_BASE.pt")
    (workdir / "byo.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "--configfile", "byo.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    runs = 3 * len(config["seeds"])  # three tasks
    assert job_counts(result.stdout) == {
        "download": 3,  # the three TAPE archives
        "import_task": 3,
        "align_task": 3,
        "audit_leakage": 3,
        "alignment_baseline": 3,
        "finetune": runs,  # plus-rnn-authors
        "evaluate": runs,
        "embed_task": 3 * 3,  # esm2-8m, onehot, blosum62: states computed once per task
        "probe": 3 * runs,
        "evaluate_probe": 3 * runs,
        "report": 1,
        "all": 1,
    }


def test_probes_of_the_same_encoder_share_one_embed_task_job(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path / "workflow")
    config = load_config("byo_example.yaml")
    (tmp_path / "esm2").mkdir()
    (tmp_path / "esm2" / "config.json").write_text("{}")
    (tmp_path / "PLUS-RNN_BASE.pt").write_bytes(b"")
    config["models"]["esm2-8m"]["encoder"]["path"] = str(tmp_path / "esm2")
    config["models"]["plus-rnn-authors"]["encoder"]["path"] = str(tmp_path / "PLUS-RNN_BASE.pt")
    # the same encoders under other names (one with a wider head: the states it reads are the same)
    config["models"]["esm2-8m-again"] = {**config["models"]["esm2-8m"], "label": "ESM-2 8M again"}
    config["models"]["onehot-again"] = {"encoder": {"type": "onehot"}, "protocol": "probe", "label": "One-hot 2"}
    config["models"]["onehot-again"]["heads"] = {"stability": {"hidden": 64}}
    config["tasks"] = {"stability": {}}
    (workdir / "byo.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "-p", "--configfile", "byo.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout)
    assert counts["embed_task"] == 3 and counts["probe"] == 5 * len(config["seeds"])  # esm2, onehot, blosum62
    made = set(
        re.findall(
            r"plus --result-fd 3 embed-task .* --out (results/embeddings/[0-9a-f]{12}/stability) ", result.stdout
        )
    )
    assert len(made) == 3
    read = re.findall(r"plus --result-fd 3 probe .* --embeddings (\S+) ", result.stdout)
    assert set(read) == made and len(read) == 5 * len(config["seeds"])

    plan = plan_workflow(config)
    assert plan.embedding_dir("esm2-8m", "stability") == plan.embedding_dir("esm2-8m-again", "stability")
    assert plan.embedding_dir("onehot", "stability") == plan.embedding_dir("onehot-again", "stability")
    assert plan.embedding_dir("onehot", "stability") != plan.embedding_dir("blosum62", "stability")
    # the key is what the states are, not the config's order or names: a rerun with models reordered reuses them
    reordered = plan_workflow({**config, "models": dict(reversed(list(config["models"].items())))})
    assert reordered.embedding_jobs() == plan.embedding_jobs()


# ---------------------------------------------------------------- rules


def rule_blocks_of(path: Path) -> dict[str, str]:
    """Rule name -> the indented body of the rule, for one Snakemake file."""
    return {
        match.group(1): match.group(2)
        for match in re.finditer(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", path.read_text(), re.MULTILINE)
    }


def rule_blocks() -> dict[str, str]:
    return {name: block for path in [ROOT / "Snakefile", *RULE_FILES] for name, block in rule_blocks_of(path).items()}


def test_every_rule_has_log_benchmark_conda_threads_resources_and_calls_plus() -> None:
    blocks = rule_blocks()
    assert {"download", "import_task", "pretrain", "finetune", "evaluate", "report"} <= set(blocks)
    for rule, block in blocks.items():
        if rule == "all":
            continue
        for directive in ("log:", "benchmark:", "conda:", "threads:", "resources:", "shell:"):
            assert f"    {directive}" in block, f"rule {rule} lacks {directive}"
        shell = block.split("    shell:", 1)[1]
        launcher = r"(\{params\.launch:q\} )?"  # pretrain: `env`, or srun for a multi-process job (plus.launch)
        assert re.search(rf'"(OMP_NUM_THREADS=\{{threads\}} )?{launcher}plus [a-z-]+ ', shell), f"rule {rule}: {shell}"
    for rule in TRAINING_RULES:
        resources = blocks[rule].split("    resources:", 1)[1].split("    shell:", 1)[0]
        assert f'gpu=REQUESTS.gpus("{rule}")' in resources and "mem_mb=memory_mb(" in resources
        assert f'runtime=requested_runtime("{rule}")' in resources
        assert "../../envs/plus-gpu.yaml" in blocks[rule]


def test_every_rule_takes_its_runtime_and_gpus_from_the_requests_table() -> None:
    table = load_table()
    blocks = {rule: block for rule, block in rule_blocks().items() if rule != "all"}
    assert set(blocks) == set(table), "plus/estimates/requests.yaml has one row per rule"
    for rule, block in blocks.items():
        resources = block.split("    resources:", 1)[1].split("    shell:", 1)[0]
        assert f'runtime=requested_runtime("{rule}")' in resources, rule
        assert ("gpu=" in resources) == bool(table[rule].gpus), rule
        assert ("    retries:" in block) == (table[rule].retries is not None), rule


def test_rules_do_not_name_the_builtin_tasks() -> None:
    for path in [ROOT / "Snakefile", *(p for p in RULE_FILES if p.name != "common.smk")]:
        for task in BUILTIN_TASKS:
            assert not re.search(rf"\b{task}\b", path.read_text()), f"{path.name} names task {task}"


def test_a_task_added_by_config_alone_runs_through_the_workflow(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    config = load_config("config.yaml")
    data = workdir / "data"
    data.mkdir()
    for split in ("train", "valid", "test"):
        (data / f"{split}.csv").write_text("name,seq,value\na,MKV,1.0\n")
    config["tasks"]["thermo"] = {
        "shape": "protein_regression",
        "headline_metric": "spearman",
        "sources": [
            {
                "format": "table",
                "files": {split: f"data/{split}.csv" for split in ("train", "valid", "test")},
                "options": {"columns": {"id": "name", "sequence": "seq", "label": "value"}},
            }
        ],
    }
    (workdir / "extended.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "-p", "--configfile", "extended.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    counts = job_counts(result.stdout)
    assert counts["import_task"] == 8 and counts["finetune"] == 3 * 8
    written = job_settings(result.stdout)["results/tasks/thermo"]
    assert written["task"]["shape"] == "protein_regression" and written["task"]["name"] == "thermo"


def test_unconfigured_wildcards_are_rejected(workdir: Path) -> None:
    result = snakemake(workdir, "-n", "results/evaluate/unknown-model/solubility/seed0/metrics.json")
    assert result.returncode != 0
    assert "MissingRuleException" in result.stdout + result.stderr


def test_a_changed_setting_reruns_that_job_only(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    targets = ["results/tasks/solubility", "results/tasks/stability"]
    made = snakemake(workdir, "--cores", "1", *targets)
    assert made.returncode == 0, made.stdout + made.stderr
    record = json.loads((workdir / "results/tasks/solubility/config.json").read_text())
    assert record["settings"]["task"]["name"] == "solubility" and record["settings"]["expected_sizes"] == {}

    config = load_config("config.yaml")
    config["tasks"]["solubility"]["expected_sizes"] = {"test": 150}
    (workdir / "changed.yaml").write_text(yaml.safe_dump(config))
    changed = snakemake(workdir, "-n", "--configfile", "changed.yaml", "--", *targets)
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert job_counts(changed.stdout) == {"import_task": 1}
    block = changed.stdout.split("\nrule import_task:", 1)[1].split("\n\n", 1)[0]
    assert "results/tasks/solubility" in block and "Params have changed since last execution" in block


def test_a_mistyped_source_fails_the_dry_run_even_after_a_first_import(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    made = snakemake(workdir, "--cores", "1", "results/tasks/stability")
    assert made.returncode == 0, made.stdout + made.stderr
    config = load_config("config.yaml")
    config["tasks"]["stability"]["sources"][0]["files"]["train"] = "data/x.csv"
    (workdir / "typo.yaml").write_text(yaml.safe_dump(config))
    # without the check, Snakemake takes the existing results/tasks/stability for a source file and plans no import
    result = snakemake(workdir, "-n", "--configfile", "typo.yaml")
    assert result.returncode != 0, result.stdout
    message = "config: tasks.stability.sources.0.files.train: no such file 'data/x.csv'"
    assert message in result.stdout + result.stderr, result.stdout + result.stderr


def test_a_missing_pfam_source_fails_the_dry_run(tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    config = load_config("config.yaml")
    config["pfam"]["source"] = {"path": "data/Pfam-A.fasta.gz"}
    (workdir / "missing.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "--configfile", "missing.yaml")
    assert result.returncode != 0, result.stdout
    assert "config: pfam.source.path: no such file 'data/Pfam-A.fasta.gz'" in result.stdout + result.stderr


# ---------------------------------------------------------------- config schema


SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["tasks"]["solubility"].__setitem__("expected_size", {"train": 3}), "'expected_size'"),
        (lambda c: c["models"]["plus-rnn-tiny"].__setitem__("objective", "plsu"), "'plsu'"),
        (lambda c: c["pretrain"].__setitem__("learning_rate", 0.1), "'learning_rate'"),
        (lambda c: c["finetune"].__setitem__("lr", "fast"), "'fast'"),
        (lambda c: c["pfam"].__setitem__("source", {"url": "https://x/Pfam-A.fasta.gz", "md5": "xyz"}), "'xyz'"),
        (lambda c: c.__setitem__("seed", [0]), "'seed'"),
    ],
    ids=["task-key-typo", "bad-objective", "hyperparameter-typo", "bad-type", "bad-md5", "top-level-typo"],
)
def test_the_schema_rejects_a_bad_config(edit, message: str) -> None:
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    config = load_config("config.yaml")
    edit(config)
    with pytest.raises(WorkflowError, match=re.escape(message)):
        validate(config, schema=SCHEMA, set_default=False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["tasks"].__setitem__("solubilty", c["tasks"].pop("solubility")),
            "config: tasks.solubilty: not a built-in task",
        ),
        (
            lambda c: c["models"]["plus-rnn-tiny"].__setitem__("heads", {"solubilty": {"input": "z"}}),
            "config: models.plus-rnn-tiny.heads.solubilty: no task 'solubilty'",
        ),
        (
            lambda c: c["models"]["plus-rnn-tiny"].__setitem__("pretrain", {"lrr": 0.1}),
            "config: models.plus-rnn-tiny.pretrain.lrr: unknown key",
        ),
        (
            lambda c: c["tasks"]["secstr"].__setitem__("headline_metric", "accuracy_3clas"),
            "config: tasks.secstr: headline_metric 'accuracy_3clas' is not reported for this task",
        ),
    ],
    ids=["task-name-typo", "head-of-unknown-task", "hyperparameter-typo", "headline-metric-typo"],
)
def test_the_workflow_names_the_bad_config_key(tmp_path: Path, edit, message: str) -> None:
    workdir = copy_workflow(tmp_path)
    config = load_config("config.yaml")
    edit(config)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, "-n", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, result.stdout + result.stderr


def test_both_configs_pass_the_schema_and_resolve() -> None:
    from snakemake.utils import validate

    for name in ("config.yaml", "paper.yaml"):
        config = load_config(name)
        validate(config, schema=SCHEMA, set_default=False)
        plan = plan_workflow(config)
        assert plan.import_task("solubility").sources[0].options == {}
        rnn_models = [model for model in plan.models if model != "plus-tfm"]  # plus-tfm: the authors' Linear heads
        assert all(plan.task_spec(model, "secstr").head.hidden == 512 for model in rnn_models)
        if "plus-tfm" in plan.models:
            assert plan.task_spec("plus-tfm", "secstr").head.hidden is None


def test_the_committed_schema_is_generated_from_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    committed = json.loads(Path(SCHEMA).read_text())
    assert committed == json.loads(json.dumps(workflow_schema())), "run `plus settings-schema --out " + SCHEMA + "`"
    assert cli_main(["settings-schema"]) == 0
    assert json.loads(capsys.readouterr().out) == committed
    assert committed["additionalProperties"] is False and committed["required"] == ["tasks"]


# ---------------------------------------------------------------- conda envs


def third_party_imports() -> dict[str, bool]:
    """Top-level module names imported anywhere in plus/ (not stdlib), -> whether every import is optional."""
    found: dict[str, bool] = {}
    for path in (ROOT / "plus").rglob("*.py"):
        tree = ast.parse(path.read_text())
        optional_nodes = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(handler.type, ast.Name) and handler.type.id in ("ImportError", "ModuleNotFoundError")
                for handler in node.handlers
            ):
                optional_nodes.update(id(child) for stmt in node.body for child in ast.walk(stmt))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "plus":
                    continue
                found[top] = found.get(top, True) and id(node) in optional_nodes
    return found


def env_packages(path: Path) -> dict[str, str]:
    """name -> conda spec (version[=build]) of an env file's conda dependencies."""
    env = yaml.safe_load(path.read_text())
    assert isinstance(env, dict) and "conda-forge" in env["channels"] and "defaults" not in env["channels"]
    packages = {}
    for dependency in env["dependencies"]:
        assert isinstance(dependency, str), f"{path.name}: pip sections are not used: {dependency}"
        name, _, spec = re.match(r"([A-Za-z0-9_.-]+)(([=<>!].*)?)$", dependency.split("#")[0].strip()).groups()[:3]
        packages[name] = spec.lstrip("=")
    return packages


ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))


def test_rules_use_existing_env_files() -> None:
    used = set()
    for path in [ROOT / "Snakefile", *RULE_FILES]:
        for relative in re.findall(r'conda:\n\s+"([^"]+)"', path.read_text()):
            env = (path.parent / relative).resolve()
            assert env.is_file(), f"{path.name}: {relative}"
            used.add(env.name)
    assert used == {"plus-cpu.yaml", "plus-gpu.yaml"}
    assert [p.name for p in ENV_FILES] == ["plus-cpu.yaml", "plus-gpu.yaml"]


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_lists_every_package_the_code_imports(env_file: Path) -> None:
    packages = env_packages(env_file)
    imports = third_party_imports()
    assert {"torch", "numpy", "pandas", "lightning", "yaml"} <= set(imports)  # the scan sees the package
    for module, optional in imports.items():
        if optional:
            continue
        names = CONDA_NAME.get(module, {module})
        assert names & set(packages), f"{env_file.name}: `import {module}` in plus/ but none of {names} listed"


@pytest.mark.parametrize("env_file", ENV_FILES, ids=lambda p: p.name)
def test_env_versions_agree_with_pyproject(env_file: Path) -> None:
    packages = env_packages(env_file)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    python = pyproject["project"]["requires-python"]
    assert Version(packages["python"].split("=")[0]) in Requirement(f"python{python}").specifier
    for line in pyproject["project"]["dependencies"]:
        requirement = Requirement(line)
        names = CONDA_OF_DIST.get(requirement.name, {requirement.name})
        listed = names & set(packages)
        assert listed, f"{env_file.name}: pyproject dependency {requirement.name} is missing"
        spec = packages[listed.pop()]
        assert re.fullmatch(r"\d+(\.\d+)*(=\S+)?", spec), f"{env_file.name}: {requirement.name} not pinned: {spec!r}"
        version = Version(spec.split("=")[0])
        assert version in requirement.specifier, f"{env_file.name}: {requirement.name}={version} vs {requirement}"


def test_gpu_env_forces_a_cuda_build_and_cpu_env_a_cpu_build() -> None:
    gpu = env_packages(ROOT / "envs" / "plus-gpu.yaml")
    cpu = env_packages(ROOT / "envs" / "plus-cpu.yaml")
    assert gpu["pytorch"].endswith("=cuda*") and "cuda-version" in gpu
    assert cpu["pytorch"].endswith("=cpu*") and "cuda-version" not in cpu
    assert "CONDA_OVERRIDE_CUDA" in (ROOT / "envs" / "plus-gpu.yaml").read_text()


# ---------------------------------------------------------------- quoting (nothing from a config runs)


def test_every_value_in_a_rule_shell_command_is_quoted() -> None:
    for path in [ROOT / "Snakefile", *RULE_FILES]:
        for name, block in rule_blocks_of(path).items():
            if "    shell:" not in block:
                continue
            command = block.split("    shell:", 1)[1]
            for field in re.findall(r"\{([^{}]+)\}", command):
                if field == "threads":
                    continue
                assert field.endswith(":q"), f"{path.name}: rule {name}: {{{field}}} is not quoted with :q"


def test_a_hostile_file_name_and_url_are_data_not_commands(pfam_seeds: Path, tmp_path: Path) -> None:
    workdir = copy_workflow(tmp_path)
    data = workdir / "data (copy)"
    data.mkdir()
    hostile = data / "Pfam $(touch PWNED-PATH) `touch PWNED-TICK`.fa"
    hostile.write_bytes(pfam_seeds.read_bytes())
    url_file = data / "ok$(id>PWNED-URL)"
    url_file.write_bytes(pfam_seeds.read_bytes())
    config = load_config("config.yaml")
    config["pfam"] = {"source": str(hostile.relative_to(workdir)), "min_family_size": 5, "n_test_pairs": 10}
    config["tasks"]["solubility"]["sources"][0]["files"]["test_src"] = {"url": f"file://{url_file.resolve()}"}
    (workdir / "hostile.yaml").write_text(yaml.safe_dump(config))
    target = "resources/downloads/solubility/ok$(id>PWNED-URL)"
    corpus = plan_workflow(config).corpus_dir(plan_workflow(config).shared_corpus)
    targets = (f"{corpus}/summary.json", target)
    result = snakemake(workdir, "--cores", "1", "--configfile", "hostile.yaml", "--", *targets)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads((workdir / corpus / "summary.json").read_text())["counts"]["read"] == 283
    assert (workdir / target).read_bytes() == pfam_seeds.read_bytes()
    assert not list(workdir.rglob("PWNED*")), "a command in a file name or URL was executed"
