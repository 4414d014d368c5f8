"""The per-job settings a workflow config resolves into (plus.jobs), and the settings' validation (plus.settings)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from plus.errors import InputError
from plus.jobs import plan_workflow
from plus.settings import (
    FinetuneSettings,
    PretrainSettings,
    SettingsError,
    TaskSpec,
    WorkflowConfig,
    as_json,
    load_settings,
    parse_settings,
)
from plus.tasks import BUILTIN_TASKS, official_task_entry, with_official_defaults

ROOT = Path(__file__).resolve().parents[1]


def config(name: str = "config.yaml") -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.fixture(scope="module")
def paper() -> dict:
    return config("paper.yaml")


def test_model_overrides_merge_over_the_shared_settings_key_by_key(paper: dict) -> None:
    plan = plan_workflow(paper)
    tfm = plan.pretrain("plus-tfm")
    assert (tfm.training.batch_pairs, tfm.training.epochs, tfm.training.lr) == (128, 10, 1e-4)
    assert tfm.training.mlm_weight == paper["pretrain"]["mlm_weight"]  # not overridden: the shared value
    base = plan.pretrain("plus-rnn-base")
    assert (base.training.batch_pairs, base.training.lr, base.preset, base.objective) == (
        64,
        1e-3,
        "plus-rnn-base",
        "plus",
    )
    assert plan.finetune("plus-tfm", "stability", 1).training.lr == 5e-5
    assert plan.finetune("plus-rnn-base", "stability", 1).training.lr == 5e-4


def test_an_override_of_null_replaces_the_shared_value() -> None:
    values = config()
    values["models"]["plus-rnn-tiny"]["pretrain"] = {"max_steps": None}
    plan = plan_workflow(values)
    assert plan.pretrain("plus-rnn-tiny").training.max_steps is None
    assert plan.pretrain("mlm-rnn-tiny").training.max_steps == values["pretrain"]["max_steps"]


def test_defaults_come_from_the_settings_when_a_config_leaves_them_out() -> None:
    values = config()
    del values["pretrain"]["max_val_pairs"], values["finetune"]["patience"]
    plan = plan_workflow(values)
    assert plan.pretrain("plus-rnn-tiny").training.max_val_pairs == PretrainSettings().max_val_pairs == 2000
    assert plan.finetune("plus-rnn-tiny", "solubility", 0).training.patience == FinetuneSettings().patience


def test_heads_of_a_model_replace_the_task_head_key_by_key(paper: dict) -> None:
    plan = plan_workflow(paper)
    assert plan.finetune("plus-rnn-large", "solubility", 0).task.head.model_dump() == {
        "input": "z",
        "hidden": 512,
        "pooling": "sum",  # the task entry's pooling (the authors', Q2) under the LARGE input and width
    }
    base = BUILTIN_TASKS["solubility"]
    assert plan.finetune("plus-rnn-base", "solubility", 0).task == base.model_copy(
        update={"head": base.head.model_copy(update={"pooling": "sum"})}
    )
    assert (
        plan.evaluate("plus-rnn-large", "solubility", 2).task == plan.finetune("plus-rnn-large", "solubility", 2).task
    )


def test_evaluation_uses_the_one_eval_batch_size(paper: dict) -> None:
    plan = plan_workflow(paper)
    assert plan.evaluate("plus-rnn-base", "secstr", 0).batch_size == paper["finetune"]["eval_batch_size"]
    values = config()
    assert plan_workflow(values).evaluate("plus-rnn-tiny", "secstr", 0).batch_size == 256  # the default, once


def test_downloads_import_files_and_the_pfam_input(paper: dict) -> None:
    plan = plan_workflow(paper)
    assert len(plan.downloads) == 13  # Pfam, SCOPe, 6 DeepSol, DeepLoc, 3 TAPE archives, TOPCONS2
    pfam = plan.downloads["pfam/Pfam-A.fasta.gz"]
    assert pfam.arguments()[:2] == ["--url", paper["pfam"]["source"]["url"]] and "--md5-list" in pfam.arguments()
    assert plan.pfam_input == "resources/downloads/pfam/Pfam-A.fasta.gz"
    stability = plan.import_task("stability")
    assert stability.sources[0].files["test"].model_dump() == {
        "path": "resources/downloads/stability/stability.tar.gz",
        "member": "stability/stability_test.lmdb",
    }
    assert plan.import_inputs("stability") == ["resources/downloads/stability/stability.tar.gz"]
    assert stability.expected_sizes == {"train": 53614, "valid": 2512, "test": 12851}


def test_two_sources_saved_under_one_name_are_refused(paper: dict) -> None:
    values = copy.deepcopy(paper)
    values["tasks"]["solubility"] = official_task_entry("solubility")
    values["tasks"]["solubility"]["sources"][0]["files"]["val_src"] = {"url": "https://elsewhere.org/data/train_src"}
    with pytest.raises(InputError, match="would both be saved as resources/downloads/solubility/train_src"):
        plan_workflow(values)


def test_the_report_lists_models_in_config_order_and_every_run() -> None:
    report = plan_workflow(config()).report()
    names = [model.name for model in report.models]
    assert names == ["plus-rnn-tiny", "mlm-rnn-tiny", "rnn-tiny-nopretrain", "alignment-nn"]
    assert report.models[1].label == "RNN tiny (MLM only)" and report.models[1].objective == "mlm"
    assert len(report.runs) == 3 * 7 + 7 and report.runs[0].model == "plus-rnn-tiny"
    assert json.loads(as_json(report))["models"][0]["name"] == "plus-rnn-tiny"  # sorting keys keeps list order


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["models"]["plus-rnn-tiny"].__setitem__("pretrain", {"lrr": 1}),
            "models.plus-rnn-tiny.pretrain.lrr: unknown key",
        ),
        (
            lambda c: c["pretrain"].__setitem__("batch_pairs", 0),
            "pretrain.batch_pairs: Input should be greater than or equal to 1",
        ),
        (lambda c: c["finetune"].__setitem__("lr", -0.1), "finetune.lr: Input should be greater than 0"),
        (
            lambda c: c["finetune"].__setitem__("max_epochs", 0),
            "finetune.max_epochs: Input should be greater than or equal to 1",
        ),
        (lambda c: c["pretrain"].__setitem__("precision", "bf16"), "pretrain.precision: Input should be 'auto'"),
        (
            lambda c: c["models"]["plus-rnn-tiny"].__setitem__("preset", "plus-rnn-tinny"),
            "models.plus-rnn-tiny.preset: unknown preset 'plus-rnn-tinny'",
        ),
        (
            lambda c: c["tasks"]["secstr"].__setitem__("headline_split", "test_cb512"),
            "tasks.secstr: headline_split 'test_cb512' is not one of the test splits",
        ),
        (
            lambda c: c["tasks"]["stability"].__setitem__("headline_metric", "spearmann"),
            "tasks.stability: headline_metric 'spearmann' is not reported",
        ),
        (
            lambda c: c["tasks"]["solubility"].__setitem__("classes", ["1"]),
            "tasks.solubility: a classification task needs at least two classes",
        ),
        (
            lambda c: c["tasks"]["solubility"]["sources"][0].__setitem__("format", "deepsoll"),
            "tasks.solubility.sources.0: unknown import format 'deepsoll'",
        ),
        (
            lambda c: c["tasks"].__setitem__("thermo", {"sources": c["tasks"]["stability"]["sources"]}),
            "tasks.thermo: not a built-in task",
        ),
        (lambda c: c.__setitem__("seeds", [0, 0]), "seeds: seeds must be distinct"),
        (
            lambda c: c["tasks"]["stability"]["sources"][0]["options"].__setitem__("lable_field", "x"),
            "tasks.stability.sources.0 (tape_json): format 'tape_json': unknown options ['lable_field']",
        ),
        (
            lambda c: c["tasks"]["solubility"]["sources"][0].__setitem__("options", {"sep": ","}),
            "tasks.solubility.sources.0 (deepsol): format 'deepsol': takes no options, got ['sep']",
        ),
        (
            lambda c: c["pfam"].__setitem__("source", {"url": "https://x/Pfam-A.fasta.gz", "md5": "xyz"}),
            "pfam.source.md5: String should match pattern",
        ),
    ],
    ids=[
        "override-typo",
        "batch-size-0",
        "negative-lr",
        "zero-epochs",
        "unknown-precision",
        "unknown-preset",
        "headline-split-typo",
        "headline-metric-typo",
        "one-class",
        "unknown-format",
        "new-task-without-shape",
        "repeated-seed",
        "unknown-option",
        "option-of-another-format",
        "bad-md5",
    ],
)
def test_a_bad_config_names_the_key(edit, message: str) -> None:
    values = config()
    edit(values)
    with pytest.raises(InputError, match=re.escape(message)):
        plan_workflow(values)


def test_every_problem_is_named_in_one_line() -> None:
    values = config()
    values["pretrain"]["lr"] = 0
    values["finetune"]["batch_size"] = 0
    with pytest.raises(SettingsError) as caught:
        parse_settings(WorkflowConfig, values)
    text = str(caught.value)
    assert "\n" not in text and "pretrain.lr" in text and "finetune.batch_size" in text


def test_job_settings_round_trip_through_the_command_line_form(tmp_path: Path) -> None:
    plan = plan_workflow(config())
    job = plan.finetune("plus-rnn-tiny", "transmembrane", 0)
    from plus.settings import FinetuneJob

    assert load_settings(FinetuneJob, as_json(job)) == job
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(json.loads(as_json(job))))
    assert load_settings(FinetuneJob, tmp_path / "job.yaml") == job
    with pytest.raises(InputError, match="--settings: not valid JSON"):
        load_settings(FinetuneJob, "{not json")


def test_task_spec_round_trip_and_equality() -> None:
    spec = BUILTIN_TASKS["secstr"]
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    assert spec.n_outputs == 8 and BUILTIN_TASKS["homology"].n_outputs == 4


def test_the_evaluate_section_reaches_every_evaluation(paper: dict) -> None:
    plan = plan_workflow(paper)
    job = plan.evaluate("plus-rnn-base", "homology", 1)
    assert (job.homology_score, job.homology_thresholds) == ("authors", "self")
    assert plan_workflow(config()).evaluate("plus-rnn-tiny", "homology", 0).homology_score == "exceedance-sum"


def test_a_model_can_pretrain_on_a_length_limited_corpus(paper: dict) -> None:
    plan = plan_workflow(paper)
    shared, limited = plan.corpus_of("plus-rnn-base"), plan.corpus_of("plus-tfm")
    assert sorted(plan.corpora) == sorted([shared, limited]) and shared != limited and shared == plan.shared_corpus
    assert plan.pfam(limited).max_length == 256 and plan.pfam(shared).max_length is None
    assert plan.pfam(limited).min_family_size == plan.pfam().min_family_size == 1000
    assert plan.corpus_dir(limited) == f"results/pfam/{limited}" and re.fullmatch(r"[0-9a-f]{12}", limited)


def test_a_corpus_is_keyed_by_its_settings_and_source(paper: dict) -> None:
    key = plan_workflow(paper).shared_corpus
    assert plan_workflow(copy.deepcopy(paper)).shared_corpus == key  # the same settings: the same directory
    for section, value in [("min_family_size", 999), ("seed", 1), ("source", "elsewhere/Pfam-A.fasta.gz")]:
        changed = copy.deepcopy(paper)
        changed["pfam"][section] = value
        assert plan_workflow(changed).shared_corpus != key, section
    same_limit = copy.deepcopy(paper)
    same_limit["pfam"]["max_length"] = 256  # the shared corpus is then plus-tfm's: prepared once
    assert len(plan_workflow(same_limit).corpora) == 1
    with pytest.raises(InputError, match="no Pfam corpus 'pfam'"):
        plan_workflow(paper).pfam("pfam")


def test_official_sources_are_the_provenance_the_report_compares_published_numbers_on(paper: dict) -> None:
    report = plan_workflow(paper).report()
    assert report.provenance["stability"]["kind"] == "official"
    assert "s3.amazonaws.com" in report.provenance["stability"]["detail"]
    values = config()
    values["report"] = {"alignment_baseline": False}
    assert [model.name for model in plan_workflow(values).report().models][-1] == "rnn-tiny-nopretrain"


COLUMNS = {"sequence": "s", "label": "l"}


def test_a_classification_task_may_take_its_classes_from_the_data() -> None:
    values = config()
    values["tasks"]["compartment"] = {
        "shape": "protein_classification",
        "classes_from_data": True,
        "sources": [
            {"format": "table", "files": {"train": "t.csv"}, "options": {"columns": {"sequence": "s", "label": "l"}}}
        ],
    }
    plan = plan_workflow(values)
    assert plan.task_specs["compartment"].classes_from_data and plan.task_specs["compartment"].classes == ()
    assert plan.import_task("compartment").classes_from_data
    del values["tasks"]["compartment"]["classes_from_data"]
    with pytest.raises(InputError, match="tasks.compartment: a classification task needs at least two classes"):
        plan_workflow(values)


def test_the_demo_under_the_authors_protocol_resolves() -> None:
    """config/demo_authors_protocol.yaml, listed after the demo config (Snakemake merges it key by key)."""
    from snakemake.utils import update_config

    values = config()
    update_config(values, config("demo_authors_protocol.yaml"))
    plan = plan_workflow(values)
    assert plan.pretrain("mlm-rnn-tiny").training.mlm_only_inputs == "single-sequences"
    assert plan.pretrain("plus-rnn-tiny").training.mask_count == "authors"
    assert plan.pretrain("plus-rnn-tiny").training.batch_order == "shuffle"
    training = plan.finetune("plus-rnn-tiny", "stability", 0).training
    assert (training.target_scaling, training.batch_order, training.grad_clip_scope) == (
        "none",
        "shuffle",
        "per-module",
    )
    assert (
        plan.task_specs["secstr"].file_order
        and plan.evaluate("plus-rnn-tiny", "homology", 0).homology_score == "authors"
    )
    assert plan.import_task("secstr").sources[0].options["valid_mask"] == "ignore"


# ---------------------------------------------------------------- built-in tasks' official defaults


def test_every_builtin_task_has_official_defaults_and_paper_yaml_restates_none(paper: dict) -> None:
    for name in BUILTIN_TASKS:
        entry = official_task_entry(name)
        assert entry is not None and entry["sources"], name
        assert all(isinstance(spec, dict) and "url" in spec for s in entry["sources"] for spec in s["files"].values())
    assert official_task_entry("thermo") is None
    assert all("sources" not in entry and "expected_sizes" not in entry for entry in paper["tasks"].values())


def test_a_builtin_task_left_empty_is_its_official_data() -> None:
    values = config()
    values["tasks"] = {"stability": {}, "localization": {}}
    plan = plan_workflow(values)
    stability = plan.import_task("stability")
    assert stability.sources[0].format == "tape_lmdb" and stability.sources[0].options == {
        "label_field": "stability_score"
    }
    assert stability.expected_sizes == {"train": 53614, "valid": 2512, "test": 12851}
    localization = plan.import_task("localization")
    assert localization.valid_from_train.fraction == 0.1 and localization.max_length.keep_ends == 1000
    assert sorted(plan.downloads) == ["localization/deeploc_data.fasta", "stability/stability.tar.gz"]
    assert plan.downloads["stability/stability.tar.gz"].source.md5 == "aa1e06eb5a59e0ecdae581e9ea029675"
    assert plan.task_provenance("stability")["kind"] == "official"


def test_given_sources_replace_the_official_ones_and_their_sizes_but_not_the_other_keys() -> None:
    values = config()
    mine = [{"format": "deeploc", "files": {"fasta": {"path": "/data/deeploc_data.fasta"}}}]
    values["tasks"] = {"localization": {"sources": mine}, "stability": {"expected_sizes": {"test": 5}}}
    plan = plan_workflow(values)
    localization = plan.import_task("localization")
    assert localization.sources[0].files == {"fasta": "resources/downloads/localization/deeploc_data.fasta"}
    assert localization.expected_sizes == {}  # the official sizes describe the official files only
    assert localization.valid_from_train.fraction == 0.1 and localization.max_length.keep_ends == 1000
    assert plan.import_task("stability").expected_sizes == {"test": 5}
    assert plan.import_task("stability").sources[0].format == "tape_lmdb"
    assert with_official_defaults("thermo", {"shape": "pair"}) == {"shape": "pair"}
    values["tasks"]["localization"]["valid_from_train"] = None  # data of one's own with a valid split
    assert plan_workflow(values).import_task("localization").valid_from_train is None


def test_a_new_task_without_sources_is_an_error_naming_the_key() -> None:
    values = config()
    values["tasks"]["thermo"] = {"shape": "protein_regression", "headline_metric": "spearman"}
    with pytest.raises(SettingsError, match=r"^tasks\.thermo\.sources: required key missing$"):
        plan_workflow(values)


# ---------------------------------------------------------------- run: a subset of the config


def test_run_selects_the_models_and_tasks_that_are_planned(paper: dict) -> None:
    values = copy.deepcopy(paper)
    values["run"] = {"models": ["plus-tfm", "rnn-large-nopretrain"], "tasks": ["secstr", "stability"]}
    values["report"] = {"reference_model": "plus-tfm"}
    plan = plan_workflow(values)
    assert plan.models == ["plus-tfm", "rnn-large-nopretrain"]  # config order, not the selection's
    assert plan.tasks == ["stability", "secstr"]
    assert plan.pretrained_models == ["plus-tfm"]  # objective none: initialised where it is fine-tuned
    assert len(plan.corpora) == 2  # the shared corpus and plus-tfm's 256-residue one, keyed by their settings
    assert sorted(plan.downloads) == [
        "pfam/Pfam-A.fasta.gz",
        "secstr/secondary_structure.tar.gz",
        "stability/stability.tar.gz",
    ]
    assert len(plan.runs()) == 2 * 2 * 3 + 2
    assert set(plan.config.models["plus-tfm"].tasks) == {"stability", "secstr"}  # the other overrides: dropped
    assert set(plan.config.models["rnn-large-nopretrain"].heads) == {"stability", "secstr"}
    assert plan.task_spec("plus-tfm", "stability").aux_mlm_weight == 0.3
    assert plan.task_spec("rnn-large-nopretrain", "secstr").head.hidden == 512
    assert plan.report().reference_model == "plus-tfm"


def test_run_may_select_models_or_tasks_alone() -> None:
    values = config()
    values["run"] = {"tasks": ["homology"]}
    plan = plan_workflow(values)
    assert plan.models == ["plus-rnn-tiny", "mlm-rnn-tiny", "rnn-tiny-nopretrain"] and plan.tasks == ["homology"]
    values["run"] = {"models": ["mlm-rnn-tiny"]}
    plan = plan_workflow(values)
    assert plan.models == ["mlm-rnn-tiny"] and len(plan.tasks) == 7 and plan.pretrained_models == ["mlm-rnn-tiny"]


def test_a_reference_model_left_out_of_the_run_falls_back_to_the_default(paper: dict) -> None:
    values = copy.deepcopy(paper)
    values["report"] = {"reference_model": "plus-rnn-base"}
    values["run"] = {"models": ["plus-tfm", "mlm-rnn-base"]}
    assert plan_workflow(values).report().reference_model is None


def test_overrides_of_unselected_tasks_must_still_name_configured_tasks() -> None:
    values = config()
    values["models"]["plus-rnn-tiny"]["heads"] = {"solubiltiy": {"hidden": 64}}
    values["run"] = {"tasks": ["stability"]}
    with pytest.raises(SettingsError, match="models.plus-rnn-tiny.heads.solubiltiy: no task 'solubiltiy'"):
        plan_workflow(values)


@pytest.mark.parametrize(
    ("run", "message"),
    [
        (
            {"models": ["plus-rnn-tiny", "plus-rnn-tinny"]},
            "run.models: unknown model 'plus-rnn-tinny'; known: plus-rnn-tiny, mlm-rnn-tiny, rnn-tiny-nopretrain",
        ),
        ({"tasks": ["stabilty"]}, "run.tasks: unknown task 'stabilty'; known: homology, solubility, localization"),
        ({"models": []}, "run.models: List should have at least 1 item"),
        ({"model": ["plus-rnn-tiny"]}, "run.model: unknown key"),
    ],
)
def test_a_bad_run_selection_names_the_key(run: dict, message: str) -> None:
    values = config()
    values["run"] = run
    with pytest.raises(SettingsError, match=re.escape(message)):
        plan_workflow(values)


# ---------------------------------------------------------------- config/byo_example.yaml


def test_the_bring_your_own_example_resolves_without_pretraining() -> None:
    values = config("byo_example.yaml")
    plan = plan_workflow(values)
    assert plan.models == ["esm2-8m", "plus-rnn-authors", "onehot", "blosum62"]
    assert plan.pretrained_models == []
    assert [plan.encoder_spec(model).type for model in plan.models] == [
        "huggingface",
        "plus-authors",
        "onehot",
        "blosum62",
    ]
    assert plan.models_with("probe") == ["esm2-8m", "onehot", "blosum62"]
    assert plan.encoder_inputs("esm2-8m") == ["/models/esm2_t6_8M_UR50D"] and plan.encoder_inputs("onehot") == []
    assert plan.tasks == ["stability", "fluorescence", "secstr"]
    for task in plan.tasks:
        assert plan.import_task(task).sources[0].format == "tape_lmdb"
        assert plan.task_provenance(task)["kind"] == "official"
    assert plan.task_spec("esm2-8m", "stability").aux_mlm_weight == 0.0
    assert len(plan.runs()) == 4 * 3 * 3 + 3


def test_a_missing_local_source_names_its_config_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # config paths are relative to the working directory
    values = config()
    synthetic = [path for _, path in plan_workflow(values).local_sources()]
    plan_workflow(values).check_local_sources(made=synthetic)  # made by rule synthetic: not missing
    with pytest.raises(InputError, match=r"^pfam.source: no such file 'resources/synthetic/Pfam-A.fasta.gz'$"):
        plan_workflow(values).check_local_sources()

    values["tasks"]["stability"]["sources"][0]["files"]["train"] = "data/x.csv"
    with pytest.raises(InputError, match=r"^tasks.stability.sources.0.files.train: no such file 'data/x.csv'$"):
        plan_workflow(values).check_local_sources(made=synthetic)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("id,sequence,label\n")
    plan_workflow(values).check_local_sources(made=synthetic)

    values["tasks"]["stability"]["sources"][0]["files"]["valid"] = {"path": "mine/valid.json", "name": "v.json"}
    with pytest.raises(InputError, match=r"^tasks.stability.sources.0.files.valid.path: no such file 'mine/valid"):
        plan_workflow(values).check_local_sources(made=synthetic)


def test_a_path_the_download_step_writes_is_not_missing(
    paper: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    values = copy.deepcopy(paper)
    plan_workflow(values).check_local_sources()  # every source a url
    values["pfam"]["source"] = "resources/downloads/stability/stability.tar.gz"  # the stability download's target
    plan_workflow(values).check_local_sources()


def test_outputs_made_differently_under_the_same_name_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from plus.io import write_run_record

    monkeypatch.chdir(tmp_path)
    plan = plan_workflow(config())
    assert plan.replaced_outputs() == []
    model = plan.pretrained_models[0]
    corpus = plan.corpus_dir(plan.corpus_of(model))
    for directory, settings, inputs in [
        ("resources/synthetic", plan.synthetic.model_dump(mode="json"), {}),
        ("results/tasks/solubility", plan.import_task("solubility").model_dump(mode="json", exclude_none=True), {}),
        (f"results/pretrain/{model}", plan.pretrain(model).model_dump(mode="json"), {"train": f"{corpus}/train"}),
    ]:
        Path(directory).mkdir(parents=True)
        write_run_record(directory, settings, inputs)  # as `plus import-task` and `plus pretrain` write them
    assert plan.replaced_outputs() == []

    changed = config()
    changed["tasks"]["solubility"]["expected_sizes"] = {"test": 3}
    changed["pfam"]["seed"] = 1  # another corpus: the same pretraining settings, another input
    assert plan_workflow(changed).replaced_outputs() == ["results/tasks/solubility", f"results/pretrain/{model}"]
    changed["synthetic"]["seed"] = 1
    assert plan_workflow(changed).replaced_outputs()[0] == "resources/synthetic"
