"""Every encoder type through both protocols (fine-tuning and frozen probe) on a protein- and a residue-level task,
with every result recording its encoder (type, path, weights sha256) and protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from encoder_helpers import TheirPlusRNN, write_authors_file, write_tiny_esm2
from plus.errors import InputError
from plus.inference import evaluate
from plus.inference.embed_task import run_embed_task
from plus.io import file_sha256
from plus.models import build_encoder
from plus.models.checkpoint import load_checkpoint, save_checkpoint
from plus.models.specs import ENCODER_TYPES, parse_encoder_spec
from plus.settings import EvaluateJob, FinetuneJob
from plus.tasks import resolve_task
from plus.training import finetune, probe

AA = "ARNDCQEGHILKMFPSTWYV"
TASKS = ("solubility", "transmembrane")


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _protein_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Class 1 proteins are rich in K, class 0 in D: learnable from residue identity alone."""
    labels = rng.integers(0, 2, n)
    sequences = []
    for label in labels:
        residues = rng.choice(list(AA), size=int(rng.integers(15, 30)))
        residues[rng.random(len(residues)) < 0.4] = "K" if label else "D"
        sequences.append("".join(residues))
    return pd.DataFrame({"id": [f"p{i}" for i in range(n)], "sequence": sequences, "label": labels.astype(str)})


def _membrane_frame(rng: np.random.Generator, n: int) -> pd.DataFrame:
    sequences, labels = [], []
    for _ in range(n):
        length = int(rng.integers(25, 40))
        start = int(rng.integers(0, length - 21))
        label = "I" * start + "M" * 21 + "O" * (length - start - 21)
        sequences.append("".join("L" if c == "M" else ("K" if c == "I" else "D") for c in label))
        labels.append(label)
    return pd.DataFrame({"id": [f"r{i}" for i in range(n)], "sequence": sequences, "label": labels})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tasks")
    rng = np.random.default_rng(0)
    directories = {}
    for task, make in (("solubility", _protein_frame), ("transmembrane", _membrane_frame)):
        directories[task] = root / task
        directories[task].mkdir()
        for split, n in (("train", 32), ("valid", 8), ("test", 10)):
            make(rng, n).to_parquet(directories[task] / f"{split}.parquet")
    return directories


@pytest.fixture(scope="module")
def encoders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], str | None]]:
    """{type: (spec, sha256 the records must show)} for every type of the EncoderSpec union."""
    root = tmp_path_factory.mktemp("encoders")
    torch.manual_seed(0)
    ours = build_encoder("plus-rnn-tiny")
    save_checkpoint(root / "model.pt", "encoder", ours.config, ours.state_dict())
    authors = write_authors_file(root / "PLUS-RNN.pt", TheirPlusRNN(hidden=16, layers=2, proj=8))
    esm = write_tiny_esm2(root / "esm2")
    return {
        "plus": ({"type": "plus", "path": str(root / "model.pt")}, file_sha256(root / "model.pt")),
        "plus-authors": ({"type": "plus-authors", "path": str(authors)}, file_sha256(authors)),
        "huggingface": ({"type": "huggingface", "path": str(esm)}, file_sha256(esm / "model.safetensors")),
        "onehot": ({"type": "onehot"}, None),
        "blosum62": ({"type": "blosum62"}, None),
        "random": ({"type": "random", "like": {"type": "huggingface", "path": str(esm)}, "seed": 1}, None),
    }


def _config(task: str, data: Path, encoder: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "task": resolve_task(task, overrides).to_dict(),
        "seed": 3,
        "data": str(data),
        "encoder": encoder,
        "batch_size": 16,
        "training": {"lr": 3e-3, "batch_size": 8, "max_epochs": 2, "patience": 3},
    }


def run_finetune(config: dict[str, Any], out: Path, checkpoint_dir: Path) -> dict[str, Any]:
    """The package's run_finetune for a test config (the typed job and its data directory)."""
    job = FinetuneJob(**{k: config[k] for k in ("model", "task", "seed", "encoder", "training")})
    return finetune.run_finetune(job, Path(config["data"]), out, checkpoint_dir)


def run_probe(config: dict[str, Any], embeddings: Path, out: Path, checkpoint_dir: Path) -> dict[str, Any]:
    job = FinetuneJob(**{k: config[k] for k in ("model", "task", "seed", "encoder", "training")})
    return probe.run_probe(job, embeddings, Path(config["data"]), out, checkpoint_dir)


def run_evaluation(config: dict[str, Any], model: Path, out: Path, embeddings: Path | None = None) -> dict[str, Any]:
    job = EvaluateJob(**{k: config[k] for k in ("model", "task", "seed", "batch_size")})
    return evaluate.run_evaluation(job, model, Path(config["data"]), out, embeddings)


def _check_outputs(out: Path, evaluation: dict[str, Any], record: dict[str, Any], protocol: str) -> None:
    checkpoint = load_checkpoint(out / "model.pt")  # weights-only
    assert checkpoint["encoder"] == record and checkpoint["protocol"] == protocol
    assert evaluation["encoder"] == record and evaluation["protocol"] == protocol
    assert evaluation["splits"]["test"]["n"] == 10


@pytest.mark.parametrize("kind", ENCODER_TYPES)
def test_every_encoder_type_finetunes_and_probes(kind: str, encoders, data, tmp_path: Path) -> None:
    spec, sha256 = encoders[kind]
    has_mlm = parse_encoder_spec(spec).has_mlm_head
    for task in TASKS:
        config = _config(task, data[task], spec, aux_mlm_weight=0.3 if has_mlm else 0.0)
        out = tmp_path / task
        finetuned = run_finetune(config, out / "finetune", out / "ckpt")
        record = finetuned["encoder"]
        assert record["type"] == kind and record["sha256"] == sha256 and finetuned["protocol"] == "finetune"
        assert record["path"] == spec.get("path", spec.get("like", {}).get("path"))
        evaluation = run_evaluation(config, out / "finetune" / "model.pt", out / "evaluate")
        _check_outputs(out / "finetune", evaluation, record, "finetune")

        manifest = run_embed_task({"encoder": spec, "task": config["task"]}, data[task], out / "embeddings")
        assert manifest["encoder"] == record and manifest["layout"] == "residues"
        probed = run_probe(config, out / "embeddings", out / "probe", out / "probe_ckpt")
        assert probed["protocol"] == "probe" and probed["encoder"] == record
        evaluation = run_evaluation(config, out / "probe" / "model.pt", out / "probe_eval", out / "embeddings")
        _check_outputs(out / "probe", evaluation, record, "probe")
        assert all(name.startswith("head.") for name in load_checkpoint(out / "probe" / "model.pt")["state_dict"])
        assert len(pd.read_parquet(out / "probe_eval" / "predictions.parquet")) == 10


@pytest.mark.parametrize("pooling", ["attention", "sum"])
def test_a_probe_is_fine_tuning_without_encoder_weights(pooling: str, data, tmp_path: Path) -> None:
    """BLOSUM62 has no weights, so fine-tuning and probing it train the same head on the same states: the same
    predictions, whether the probe read per-residue states or (summing head) one pooled vector per protein."""
    config = _config(
        "solubility", data["solubility"], {"type": "blosum62"}, aux_mlm_weight=0.0, head={"pooling": pooling}
    )
    run_finetune(config, tmp_path / "finetune", tmp_path / "ckpt")
    finetuned = run_evaluation(config, tmp_path / "finetune" / "model.pt", tmp_path / "evaluate")
    manifest = run_embed_task(
        {"encoder": {"type": "blosum62"}, "task": config["task"]}, data["solubility"], tmp_path / "e"
    )
    assert manifest["layout"] == ("pooled" if pooling == "sum" else "residues")
    run_probe(config, tmp_path / "e", tmp_path / "probe", tmp_path / "probe_ckpt")
    probed = run_evaluation(config, tmp_path / "probe" / "model.pt", tmp_path / "probe_eval", tmp_path / "e")
    a = pd.read_parquet(tmp_path / "evaluate" / "predictions.parquet")
    b = pd.read_parquet(tmp_path / "probe_eval" / "predictions.parquet")
    np.testing.assert_allclose(np.stack(a["probabilities"]), np.stack(b["probabilities"]), atol=1e-5)
    assert finetuned["splits"] == probed["splits"]


def test_mismatches_are_input_errors(encoders, data, tmp_path: Path) -> None:
    hf, _ = encoders["huggingface"]
    with pytest.raises(InputError, match="no MLM head"):
        run_finetune(_config("solubility", data["solubility"], hf), tmp_path / "ft", tmp_path / "ckpt")
    config = _config("solubility", data["solubility"], {"type": "onehot"}, aux_mlm_weight=0.0)
    run_embed_task({"encoder": {"type": "onehot"}, "task": config["task"]}, data["solubility"], tmp_path / "onehot")
    run_embed_task({"encoder": {"type": "blosum62"}, "task": config["task"]}, data["solubility"], tmp_path / "blosum")
    run_probe(config, tmp_path / "onehot", tmp_path / "probe", tmp_path / "probe_ckpt")
    with pytest.raises(InputError, match="another encoder"):
        run_evaluation(config, tmp_path / "probe" / "model.pt", tmp_path / "eval", tmp_path / "blosum")
    with pytest.raises(InputError, match="a probe"):
        run_evaluation(config, tmp_path / "probe" / "model.pt", tmp_path / "eval")
    other_task = _config("transmembrane", data["transmembrane"], {"type": "onehot"}, aux_mlm_weight=0.0)
    with pytest.raises(InputError, match="embeddings of task 'solubility'"):
        run_probe(other_task, tmp_path / "onehot", tmp_path / "probe2", tmp_path / "probe2_ckpt")


def test_commands_embed_probe_and_evaluate(data, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from plus.cli import main

    task = resolve_task("solubility", {"aux_mlm_weight": 0.0}).to_dict()
    embed = json.dumps({"encoder": {"type": "onehot"}, "task": task})
    training = {"max_epochs": 1, "batch_size": 8}
    probe = json.dumps(
        {"model": "onehot", "task": task, "seed": 0, "training": training, "encoder": {"type": "onehot"}}
    )
    evaluate = json.dumps({"model": "onehot", "task": task, "seed": 0})
    data_dir, emb = str(data["solubility"]), str(tmp_path / "emb")
    assert main(["embed-task", "--settings", embed, "--data", data_dir, "--out", emb]) == 0
    assert (
        main(["probe", "--settings", probe, "--embeddings", emb, "--data", data_dir, "--out", str(tmp_path / "p")]) == 0
    )
    model = str(tmp_path / "p" / "model.pt")
    args = ["--settings", evaluate, "--model", model, "--embeddings", emb, "--data", data_dir]
    assert main(["evaluate-probe", *args, "--out", str(tmp_path / "e")]) == 0
    metrics = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert metrics["protocol"] == "probe" and metrics["encoder"]["type"] == "onehot"
    assert json.loads((tmp_path / "emb" / "config.json").read_text())["settings"]["encoder"] == {"type": "onehot"}
    capsys.readouterr()
    bad = json.dumps({"encoder": {"type": "huggingface", "path": str(tmp_path / "none")}, "task": task})
    assert main(["embed-task", "--settings", bad, "--data", data_dir, "--out", str(tmp_path / "x")]) == 2
    assert "model directory not found" in capsys.readouterr().err


def test_a_model_is_evaluated_only_on_its_own_task(data, tmp_path: Path) -> None:
    """A solubility model scored against data or a job of another task is refused, naming both tasks."""
    config = _config("solubility", data["solubility"], {"type": "onehot"}, aux_mlm_weight=0.0)
    run_finetune(config, tmp_path / "ft", tmp_path / "ckpt")
    other = tmp_path / "fluorescence"
    other.mkdir()
    for split in ("train", "valid", "test"):
        (other / f"{split}.parquet").write_bytes((data["solubility"] / f"{split}.parquet").read_bytes())
    (other / "summary.json").write_text(json.dumps({"task": "fluorescence", "shape": "protein_regression"}))
    with pytest.raises(InputError, match=r"task 'solubility'.*summary.json has name 'fluorescence'"):
        run_evaluation({**config, "data": str(other)}, tmp_path / "ft" / "model.pt", tmp_path / "e1")
    stability = {**config, "task": resolve_task("stability").to_dict()}
    with pytest.raises(InputError, match=r"task 'solubility'.*the job's task has name 'stability'"):
        run_evaluation(stability, tmp_path / "ft" / "model.pt", tmp_path / "e2")
    run_embed_task({"encoder": {"type": "onehot"}, "task": config["task"]}, data["solubility"], tmp_path / "e")
    run_probe(config, tmp_path / "e", tmp_path / "probe", tmp_path / "probe_ckpt")
    with pytest.raises(InputError, match=r"task 'solubility'.*summary.json has name 'fluorescence'"):
        run_evaluation({**config, "data": str(other)}, tmp_path / "probe" / "model.pt", tmp_path / "e3", tmp_path / "e")
    assert not (tmp_path / "e1").exists() and not (tmp_path / "e3").exists()
