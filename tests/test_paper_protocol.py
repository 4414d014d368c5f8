"""config/paper.yaml runs the authors' protocol on every row of docs/fidelity.md that has a setting, their bugs
included; config/paper_fixed.yaml, merged after it as Snakemake merges config files, applies our fixes."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from snakemake.utils import update_config

from plus.jobs import WorkflowPlan, plan_workflow
from plus.models.configs import TransformerConfig
from plus.settings import EvaluateSettings, FinetuneSettings, HeadSpec, PretrainSettings, TaskSpec
from workflow_helpers import ROOT

RNN_MODELS = ("plus-rnn-base", "plus-rnn-large", "mlm-rnn-base", "rnn-base-nopretrain", "rnn-large-nopretrain")
PRETRAINED_RNN = ("plus-rnn-base", "plus-rnn-large", "mlm-rnn-base")
PROTEIN_TASKS = ("solubility", "localization", "stability", "fluorescence")
Getter = Callable[[WorkflowPlan], Any]


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def merged(*names: str) -> dict[str, Any]:
    """The config Snakemake builds from `--configfile` names in order (nested mappings merged key by key)."""
    config: dict[str, Any] = {}
    for name in names:
        update_config(config, copy.deepcopy(load(name)))
    return config


def pretrain(field: str, models: tuple[str, ...] = PRETRAINED_RNN) -> Getter:
    return lambda plan: {getattr(plan.pretrain(model).training, field) for model in models}


def finetune(field: str, models: tuple[str, ...] = RNN_MODELS, task: str = "homology") -> Getter:
    return lambda plan: {getattr(plan.finetune(model, task, 0).training, field) for model in models}


def head(field: str, models: tuple[str, ...], tasks: tuple[str, ...] = PROTEIN_TASKS) -> Getter:
    return lambda plan: {getattr(plan.finetune(m, t, 0).task.head, field) for m in models for t in tasks}


def task(field: str, model: str, tasks: tuple[str, ...]) -> Getter:
    return lambda plan: {getattr(plan.finetune(model, t, 0).task, field) for t in tasks}


def evaluate(field: str) -> Getter:
    return lambda plan: {getattr(plan.evaluate(model, "homology", 0), field) for model in plan.models}


def architecture(field: str) -> Getter:
    default = TransformerConfig.model_fields[field].default
    return lambda plan: {plan.pretrain("plus-tfm").architecture.get(field, default)}


# (fidelity row, setting path, what resolves it, the authors' value, ours: the value with paper_fixed.yaml)
FIXED: list[tuple[str, str, Getter, Any, Any]] = [
    ("Q1", "pretrain.drop_pair_b_mlm", pretrain("drop_pair_b_mlm"), True, False),
    ("Q2", "head.pooling", head("pooling", RNN_MODELS), "sum", "attention"),
    ("Q4", "pretrain.sfp_logit_threshold", pretrain("sfp_logit_threshold"), 0.5, 0.0),
    ("Q5", "evaluate.homology_thresholds", evaluate("homology_thresholds"), "self", "dev"),
    ("Q7", "architecture.original_layernorm", architecture("original_layernorm"), True, False),
    ("Q10", "pretrain.precision", pretrain("precision", (*PRETRAINED_RNN, "plus-tfm")), "32-true", "auto"),
    ("Q10", "finetune.precision", finetune("precision", (*RNN_MODELS, "plus-tfm")), "32-true", "auto"),
    ("17", "finetune.drop_pair_b_mlm", finetune("drop_pair_b_mlm"), True, False),
    ("18", "finetune.homology_sampler", finetune("homology_sampler"), "authors", "bepler"),
    ("25", "pretrain.keep", pretrain("keep", (*PRETRAINED_RNN, "plus-tfm")), "best", "final"),
    ("25", "pretrain.max_val_pairs", pretrain("max_val_pairs", (*PRETRAINED_RNN, "plus-tfm")), None, 2000),
]

# Rows whose authors' choice is the method itself (or not a bug): both configs select it.
AUTHORS: list[tuple[str, str, Getter, Any]] = [
    ("4", "pretrain.optimizer", pretrain("optimizer", ("plus-tfm",)), "bert-adam"),
    ("4", "pretrain.warmup_fraction", pretrain("warmup_fraction", ("plus-tfm",)), 0.01),
    ("4", "pretrain.weight_decay", pretrain("weight_decay", ("plus-tfm",)), 0.01),
    ("4", "pretrain.adam_eps", pretrain("adam_eps", ("plus-tfm",)), 1e-6),
    ("4", "pretrain.grad_clip_scope", pretrain("grad_clip_scope", ("plus-tfm",)), "per-tensor"),
    ("4", "pretrain.optimizer", pretrain("optimizer"), "adam"),  # the authors' RNN: plain Adam, global clip
    ("4", "pretrain.grad_clip_scope", pretrain("grad_clip_scope"), "global"),
    ("5", "import.valid_mask", lambda plan: {plan.import_task("secstr").sources[0].options["valid_mask"]}, "ignore"),
    ("6", "finetune.homology_batch_size", finetune("homology_batch_size", (*RNN_MODELS, "plus-tfm")), 64),
    ("7", "pretrain.mlm_only_inputs", pretrain("mlm_only_inputs", ("mlm-rnn-base",)), "single-sequences"),
    ("8", "finetune.target_scaling", finetune("target_scaling", task="stability"), "none"),
    ("9", "finetune.batch_order", finetune("batch_order", task="solubility"), "shuffle"),
    ("9", "task.file_order", task("file_order", "plus-rnn-base", ("secstr",)), True),
    ("11", "head.pooling", head("pooling", ("plus-tfm",)), "cls"),
    ("11", "head.hidden", head("hidden", ("plus-tfm",), (*PROTEIN_TASKS, "secstr", "transmembrane")), None),
    ("12", "finetune.max_input_residues", finetune("max_input_residues", ("plus-tfm",), "solubility"), 510),
    ("12", "finetune.max_input_residues", finetune("max_input_residues", task="solubility"), None),
    ("13", "models.corpus_max_length", lambda plan: {plan.config.models["plus-tfm"].corpus_max_length}, 256),
    ("14", "task.aux_mlm_weight", task("aux_mlm_weight", "plus-tfm", ("stability", "fluorescence")), 0.3),
    ("15", "architecture.init", architecture("init"), "pytorch"),
    ("16", "finetune.grad_clip_scope", finetune("grad_clip_scope", (*RNN_MODELS, "plus-tfm")), "per-module"),
    ("20", "evaluate.homology_score", evaluate("homology_score"), "authors"),
    ("22", "pretrain.mask_count", pretrain("mask_count", (*PRETRAINED_RNN, "plus-tfm")), "authors"),
    ("22", "finetune.mask_count", finetune("mask_count", (*RNN_MODELS, "plus-tfm")), "authors"),
    ("27", "pretrain.batch_order", pretrain("batch_order", (*PRETRAINED_RNN, "plus-tfm")), "shuffle"),
    ("28", "pretrain.last_batch", pretrain("last_batch", (*PRETRAINED_RNN, "plus-tfm")), "keep"),
    # The quirks of Q1 and 17 and the threshold of Q4 are the authors' RNN's: their TFM reads a pair jointly (its
    # MLM covers both segments) and takes the argmax of two SFP logits.
    ("Q1", "pretrain.drop_pair_b_mlm", pretrain("drop_pair_b_mlm", ("plus-tfm",)), False),
    ("17", "finetune.drop_pair_b_mlm", finetune("drop_pair_b_mlm", ("plus-tfm",)), False),
    ("Q4", "pretrain.sfp_logit_threshold", pretrain("sfp_logit_threshold", ("plus-tfm",)), 0.0),
]


@pytest.fixture(scope="module")
def paper() -> WorkflowPlan:
    return plan_workflow(load("paper.yaml"))


@pytest.fixture(scope="module")
def fixed() -> WorkflowPlan:
    return plan_workflow(merged("paper.yaml", "paper_fixed.yaml"))


@pytest.mark.parametrize(("row", "path", "get", "authors", "ours"), FIXED, ids=[f"{r[0]}-{r[1]}" for r in FIXED])
def test_paper_yaml_is_the_authors_and_the_overlay_ours(
    paper: WorkflowPlan, fixed: WorkflowPlan, row: str, path: str, get: Getter, authors: Any, ours: Any
) -> None:
    assert get(paper) == {authors}, (row, path)
    assert get(fixed) == {ours}, (row, path)


@pytest.mark.parametrize(("row", "path", "get", "authors"), AUTHORS, ids=[f"{r[0]}-{r[1]}" for r in AUTHORS])
def test_rows_of_the_method_are_the_authors_in_both(
    paper: WorkflowPlan, fixed: WorkflowPlan, row: str, path: str, get: Getter, authors: Any
) -> None:
    assert get(paper) == get(fixed) == {authors}, (row, path)


def test_our_fixes_are_the_settings_defaults() -> None:
    defaults = {
        "pretrain": PretrainSettings(),
        "finetune": FinetuneSettings(),
        "evaluate": EvaluateSettings(),
        "head": HeadSpec(),
        "architecture": TransformerConfig(layers=1, hidden=2, heads=1, ffn=2),
    }
    for row, path, _, _, ours in FIXED:
        section, field = path.split(".")
        assert getattr(defaults[section], field) == ours, (row, path)


def test_every_setting_naming_the_authors_is_decided() -> None:
    """A setting whose description names the authors' behaviour is in one of the tables above."""
    decided = {path for _, path, *_ in FIXED + AUTHORS}
    sections = {"pretrain": PretrainSettings, "finetune": FinetuneSettings, "evaluate": EvaluateSettings}
    sections |= {"head": HeadSpec, "task": TaskSpec}
    named = {
        f"{section}.{field}"
        for section, model in sections.items()
        for field, info in model.model_fields.items()
        if "author" in (info.description or "")
    }
    assert named and named <= decided, named - decided


def resolved(plan: WorkflowPlan) -> dict[str, Any]:
    """Every job's settings as one flat mapping, `job/setting.path -> value`."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}", item)
        else:
            flat[prefix] = value

    for model in plan.pretrained_models:
        walk(f"pretrain {model}", plan.pretrain(model).model_dump(mode="json"))
    for model in plan.models:
        for name in plan.tasks:
            walk(f"finetune {model} {name}", plan.finetune(model, name, 0).model_dump(mode="json"))
            walk(f"evaluate {model} {name}", plan.evaluate(model, name, 0).model_dump(mode="json"))
    return flat


def test_the_overlay_changes_only_the_fixed_rows(paper: WorkflowPlan, fixed: WorkflowPlan) -> None:
    before, after = resolved(paper), resolved(fixed)
    assert before.keys() == after.keys()
    changed = {key.split(" ")[0] + " " + key.rsplit(".", 1)[-1] for key in before if before[key] != after[key]}
    fields = {path.split(".")[1] for _, path, *_ in FIXED}
    stages = {"pretrain", "finetune", "evaluate"}
    assert changed and {key.split(" ")[1] for key in changed} == fields
    assert {key.split(" ")[0] for key in changed} <= stages
