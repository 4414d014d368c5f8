"""Named protocols (plus/fidelity.py): run-wide under a config's sections, per model over them and under the
model's own entries; one definition shared by config/paper.yaml, its overlay and the demo's; named pairs."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from plus.fidelity import AUTHORS_BUGS, AUTHORS_METHOD, protocol_settings
from plus.jobs import plan_workflow
from plus.report.statistics import adjust, adjust_all
from plus.settings import EvaluateSettings, FinetuneSettings, PretrainSettings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def config(*names: str) -> dict:
    values: dict = {}
    for name in names:
        values.update(yaml.safe_load((ROOT / "config" / name).read_text()))
    return values


@pytest.fixture
def demo() -> dict:
    values = config("config.yaml")
    values["models"]["plus-rnn-tiny-authors"] = {
        "preset": "plus-rnn-tiny",
        "objective": "plus",
        "fidelity": "authors",
        "pretrain": {"batch_order": "length-buckets"},
    }
    return values


def test_a_model_fidelity_lies_over_the_run_and_under_the_model_entry(demo: dict) -> None:
    plan = plan_workflow(demo)
    ours, authors = "plus-rnn-tiny", "plus-rnn-tiny-authors"
    pretrain = plan.pretrain(authors).training
    assert (pretrain.mask_count, pretrain.keep, pretrain.max_val_pairs) == ("authors", "best", None)
    assert pretrain.batch_order == "length-buckets"  # the model's own entry wins over its fidelity
    assert pretrain.max_steps == demo["pretrain"]["max_steps"]  # not in the protocol: the run's
    assert plan.pretrain(ours).training.mask_count == "round"
    finetune = plan.finetune(authors, "homology", 0).training
    assert (finetune.homology_sampler, finetune.homology_batch_size) == ("authors", 64)
    assert plan.evaluate(authors, "homology", 0).homology_thresholds == "self"
    assert plan.evaluate(ours, "homology", 0).homology_thresholds == "dev"
    assert plan.finetune(authors, "secstr", 0).task.file_order
    assert not plan.finetune(ours, "secstr", 0).task.file_order
    assert plan.finetune(authors, "stability", 0).task.head.pooling == "sum"
    assert plan.finetune(ours, "stability", 0).task.head.pooling == "attention"


def test_fixed_is_every_protocol_key_at_its_default_and_overrides_a_run_of_the_authors() -> None:
    values = config("paper.yaml")
    values["models"]["plus-rnn-base-fixed"] = {**values["models"]["plus-rnn-base"], "fidelity": "fixed"}
    plan = plan_workflow(values)
    fixed = protocol_settings("fixed")
    defaults = {"pretrain": PretrainSettings(), "finetune": FinetuneSettings(), "evaluate": EvaluateSettings()}
    for section, settings in defaults.items():
        assert fixed[section] == {key: getattr(settings, key) for key in fixed[section]}
    assert plan.pretrain("plus-rnn-base-fixed").training.drop_pair_b_mlm is False
    assert plan.pretrain("plus-rnn-base").training.drop_pair_b_mlm is True
    assert plan.pretrain("plus-rnn-base-fixed").training.lr == plan.pretrain("plus-rnn-base").training.lr
    assert plan.finetune("plus-rnn-base-fixed", "solubility", 0).task.head.pooling == "attention"


def test_paper_configs_and_the_demo_overlay_name_the_protocols_and_do_not_restate_them() -> None:
    assert config("paper.yaml")["fidelity"] == "authors"
    assert config("paper_fixed.yaml")["fidelity"] == config("demo_authors_protocol.yaml")["fidelity"]
    assert config("paper_fixed.yaml")["fidelity"] == "authors-method"
    paper = config("paper.yaml")
    for section in ("pretrain", "finetune", "evaluate"):
        restated = set(paper.get(section, {})) & set(protocol_settings("authors")[section])
        assert not restated, (section, restated)
    assert not set(AUTHORS_METHOD["pretrain"]) & set(AUTHORS_BUGS["pretrain"])
    assert not set(AUTHORS_METHOD["finetune"]) & set(AUTHORS_BUGS["finetune"])


def test_a_run_wide_protocol_lies_under_the_config_sections() -> None:
    values = config("config.yaml")
    values["fidelity"] = "authors"
    values["finetune"]["homology_sampler"] = "bepler"
    values["tasks"]["stability"]["head"] = {"pooling": "attention"}
    plan = plan_workflow(values)
    training = plan.finetune("plus-rnn-tiny", "homology", 0).training
    assert (training.homology_sampler, training.mask_count) == ("bepler", "authors")
    assert plan.finetune("plus-rnn-tiny", "stability", 0).task.head.pooling == "attention"
    assert plan.finetune("plus-rnn-tiny", "solubility", 0).task.head.pooling == "sum"


def test_named_pairs_are_checked_and_follow_the_run_selection(demo: dict) -> None:
    values = copy.deepcopy(demo)
    values["report"] = {"comparisons": [["plus-rnn-tiny-authors", "plus-rnn-tiny"]]}
    assert plan_workflow(values).report().comparisons == [("plus-rnn-tiny-authors", "plus-rnn-tiny")]
    values["run"] = {"models": ["plus-rnn-tiny", "mlm-rnn-tiny"]}
    assert plan_workflow(values).report().comparisons == []
    values["report"] = {"comparisons": [["plus-rnn-tiny", "nope"]]}
    with pytest.raises(SettingsError, match=r"report\.comparisons\.0: no model 'nope'"):
        plan_workflow(values)


def test_named_pairs_share_one_benjamini_hochberg_adjustment() -> None:
    statistics = pd.DataFrame({"p": [0.01, np.nan, 0.04], "q": [0.0, np.nan, 0.0], "significant": [True] * 3})
    pairs = pd.DataFrame({"p": [0.03]})
    adjusted, named = adjust_all(statistics, pairs)
    q = adjust([0.01, np.nan, 0.04, 0.03])
    assert np.allclose(adjusted["q"], q[:3], equal_nan=True) and np.allclose(named["q"], q[3:])
    assert list(named["significant"]) == [True]
    same, empty = adjust_all(statistics, pd.DataFrame())
    assert same is statistics and empty.empty
