"""Predicting new sequences: a probe through the encoder it records, and `plus predict` for fine-tuned and probe
models, with its input errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import plus
from plus.cli import main
from plus.errors import InputError
from plus.models import build_encoder
from plus.models.checkpoint import load_checkpoint, save_checkpoint
from plus.tasks import resolve_task

AA = "ARNDCQEGHILKMFPSTWYV"
ENCODER = "results/pretrain/tiny/model.pt"  # recorded relative to the project directory, as the workflow does


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def protein_frame(rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    """Class 1 proteins are rich in K, class 0 in D."""
    labels = rng.integers(0, 2, n)
    sequences = []
    for label in labels:
        residues = rng.choice(list(AA), size=int(rng.integers(15, 30)))
        residues[rng.random(len(residues)) < 0.4] = "K" if label else "D"
        sequences.append("".join(residues))
    return pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "sequence": sequences, "label": labels.astype(str)})


def membrane_frame(rng: np.random.Generator, n: int, prefix: str) -> pd.DataFrame:
    sequences, labels = [], []
    for _ in range(n):
        length = int(rng.integers(25, 40))
        start = int(rng.integers(0, length - 21))
        label = "I" * start + "M" * 21 + "O" * (length - start - 21)
        sequences.append("".join(rng.choice(list("LIVF")) if c == "M" else rng.choice(list("KDE")) for c in label))
        labels.append(label)
    return pd.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "sequence": sequences, "label": labels})


def homology_frames(rng: np.random.Generator) -> dict[str, pd.DataFrame]:
    """Training domains with SCOP sccs labels, and pairs of them labelled with the level they share."""
    sccs = [".".join(str(x) for x in ("ab"[rng.integers(2)], *rng.integers(0, 2, 3))) for _ in range(30)]
    sequences = ["".join(rng.choice(list(AA), int(rng.integers(15, 30)))) for _ in sccs]
    train = pd.DataFrame({"id": [f"d{i}" for i in range(30)], "sequence": sequences, "label": sccs})

    def pairs(n: int, prefix: str) -> pd.DataFrame:
        a, b = rng.integers(0, 30, n), rng.integers(0, 30, n)
        levels = [
            next((k for k in range(4) if sccs[i].split(".")[k] != sccs[j].split(".")[k]), 4)
            for i, j in zip(a, b, strict=True)
        ]
        return pd.DataFrame(
            {
                "id": [f"{prefix}{i}" for i in range(n)],
                "sequence": [sequences[i] for i in a],
                "sequence_b": [sequences[j] for j in b],
                "label": levels,
            }
        )

    return {"train": train, "valid": pairs(12, "v"), "test": pairs(10, "t"), "test_2.07": pairs(6, "n")}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory: our tiny pretrained encoder where the workflow puts it, and two tiny tasks."""
    root = tmp_path_factory.mktemp("project")
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(root / ENCODER, "encoder", encoder.config, encoder.state_dict())
    rng = np.random.default_rng(0)
    for task, make in (("solubility", protein_frame), ("transmembrane", membrane_frame)):
        directory = root / "results" / "tasks" / task
        directory.mkdir(parents=True)
        for split, n in (("train", 24), ("valid", 8), ("test", 10)):
            make(rng, n, f"{split}-").to_parquet(directory / f"{split}.parquet")
    (root / "results" / "tasks" / "homology").mkdir()
    for split, frame in homology_frames(rng).items():
        frame.to_parquet(root / "results" / "tasks" / "homology" / f"{split}.parquet")
    return root


def train_probe(root: Path, name: str, task: str, encoder: dict, **overrides: object) -> Path:
    """embed-task, probe and evaluate-probe through the command line, run from `root`; the probe's directory."""
    spec = resolve_task(task, {"aux_mlm_weight": 0.0, **overrides}).to_dict()
    data, embeddings, out = f"results/tasks/{task}", f"results/embeddings/{name}", root / "results" / "probe" / name
    training = {"max_epochs": 2, "batch_size": 8, "lr": 3e-3, "homology_pairs_per_epoch": 32, "homology_epochs": 2}
    job = {"model": name, "task": spec, "seed": 0, "training": training, "encoder": encoder}
    evaluate = json.dumps({"model": name, "task": spec, "seed": 0})
    embed = json.dumps({"encoder": encoder, "task": spec})
    assert main(["embed-task", "--settings", embed, "--data", data, "--out", embeddings]) == 0
    assert (
        main(["probe", "--settings", json.dumps(job), "--embeddings", embeddings, "--data", data, "--out", str(out)])
        == 0
    )
    arguments = ["--model", str(out / "model.pt"), "--embeddings", embeddings, "--data", data]
    assert main(["evaluate-probe", "--settings", evaluate, *arguments, "--out", str(out / "evaluation")]) == 0
    return out


@pytest.fixture(scope="module")
def probes(project: Path) -> dict[str, Path]:
    """Probes of our encoder (recorded by a relative path), of one-hot residues and of a summing head (pooled)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        return {
            "plus": train_probe(project, "plus", "solubility", {"type": "plus", "path": ENCODER}),
            "onehot": train_probe(project, "onehot", "transmembrane", {"type": "onehot"}),
            "pooled": train_probe(project, "pooled", "solubility", {"type": "blosum62"}, head={"pooling": "sum"}),
            "homology": train_probe(project, "homology", "homology", {"type": "plus", "path": ENCODER}),
        }


def test_a_probe_records_its_states_and_encoder(probes: dict[str, Path]) -> None:
    checkpoint = load_checkpoint(probes["plus"] / "model.pt")
    assert checkpoint["protocol"] == "probe" and checkpoint["encoder"]["spec"]["path"] == ENCODER
    assert checkpoint["states"] == {"representation": "h", "layout": "residues", "dtype": "float16"}
    assert load_checkpoint(probes["pooled"] / "model.pt")["states"]["layout"] == "pooled"


@pytest.mark.parametrize("name", ["plus", "onehot", "pooled"])
def test_a_probe_predicts_new_sequences_as_evaluate_probe_did(
    name: str, probes: dict[str, Path], project: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # elsewhere: the recorded relative path is found above the checkpoint
    model = plus.load(probes[name] / "model.pt", device="cpu")
    assert model.kind == "probe" and not model.finetuned.training
    task = model.task.name
    test = pd.read_parquet(project / "results" / "tasks" / task / "test.parquet")
    got = model.predict(list(zip(test["id"], test["sequence"], strict=True)), max_residues=64)
    expected = pd.read_parquet(probes[name] / "evaluation" / "predictions.parquet")
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["prediction"].tolist() == expected["prediction"].tolist()
    if task == "solubility":
        np.testing.assert_allclose(np.stack(got["probabilities"]), np.stack(expected["probabilities"]), atol=1e-4)
    else:
        assert got["topology"].tolist() == expected["topology"].tolist()


def test_a_homology_probe_predicts_pairs_as_evaluate_probe_did(
    probes: dict[str, Path], project: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model = plus.load(probes["homology"] / "model.pt", device="cpu")
    assert load_checkpoint(probes["homology"] / "model.pt")["states"]["representation"] == "z"
    test = pd.read_parquet(project / "results" / "tasks" / "homology" / "test.parquet")
    got = model.predict_pairs(list(zip(test["sequence"], test["sequence_b"], strict=True)), max_residues=100)
    expected = pd.read_parquet(probes["homology"] / "evaluation" / "predictions.parquet")
    expected = expected[expected["split"] == "test"]
    columns = ["expected_level", "p_class", "p_fold", "p_superfamily", "p_family"]
    np.testing.assert_allclose(got[columns].to_numpy(), expected[columns].to_numpy(), atol=1e-4)


def test_a_probe_embeds_through_its_encoder_and_loads_without_lightning(probes: dict[str, Path], project: Path) -> None:
    sequences = ["MKVLAAGGW", "ACDEFGHIKLMNPQRSTVWY"]
    probe = plus.load(probes["plus"] / "model.pt", device="cpu").embed(sequences)
    encoder = plus.load(project / ENCODER, device="cpu").embed(sequences)
    torch.testing.assert_close(probe.proteins, encoder.proteins)
    code = f"import sys, plus; plus.load({str(probes['onehot'] / 'model.pt')!r}); print('lightning' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_old_or_moved_probes_are_one_line_errors(probes: dict[str, Path], tmp_path: Path) -> None:
    checkpoint = load_checkpoint(probes["plus"] / "model.pt")
    old = {**checkpoint, "encoder": {k: v for k, v in checkpoint["encoder"].items() if k != "spec"}}
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(InputError, match=r"does not record its encoder's spec .* re-run `plus probe`"):
        plus.load(tmp_path / "old.pt")
    torch.save(checkpoint, tmp_path / "moved.pt")  # nothing above it holds results/pretrain/tiny/model.pt
    with pytest.raises(InputError, match=r"moved.pt: its encoder results/pretrain/tiny/model.pt was not found"):
        plus.load(tmp_path / "moved.pt")
    changed = {**checkpoint, "encoder": {**checkpoint["encoder"], "sha256": "0" * 64}}
    torch.save(changed, probes["plus"] / "changed.pt")
    with pytest.raises(InputError, match="not those the probe was trained on"):
        plus.load(probes["plus"] / "changed.pt")


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{name} description\n{sequence}\n" for name, sequence in records))
    return path


def save_finetuned(path: Path, task: str) -> Path:
    """A fine-tuned model.pt as run_finetune writes it (random weights)."""
    from plus.data.batching.task_examples import TargetScaling
    from plus.settings import FinetuneSettings
    from plus.tasks import BUILTIN_TASKS
    from plus.training.finetune import FinetuneModule, finetuned_state

    torch.manual_seed(1)
    encoder = build_encoder("plus-rnn-tiny")
    module = FinetuneModule(encoder, BUILTIN_TASKS[task], FinetuneSettings(), TargetScaling(), seed=0)
    save_checkpoint(path, "finetuned", encoder.config, module.state_dict(), **finetuned_state(module))
    return path


def test_predict_command_for_a_fine_tuned_and_a_probe_model(
    probes: dict[str, Path], project: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setattr("plus.inference.predict.ITEMS_PER_CHUNK", 3)  # several chunks, rows still in input order
    records = [("a", "MKVLAAGGWKD"), ("b", "ACD"), ("c", "W" * 40), ("d", "PPPPPEKKR"), ("e", "mkvlkdkdkkd")]
    fasta = write_fasta(tmp_path / "x.fasta", records)
    model = save_finetuned(tmp_path / "localization.pt", "localization")
    out = tmp_path / "out" / "localization.parquet"
    assert main(["predict", "--model", str(model), "--fasta", str(fasta), "--out", str(out)]) == 0
    assert f"predicted 5 sequences into {out}" in capsys.readouterr().out
    expected = plus.load(model, device="cpu").predict(records)
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected)
    assert expected.columns.tolist() == ["id", "prediction", "probabilities"] and expected["id"].tolist() == list(
        "abcde"
    )

    test = pd.read_parquet(project / "results" / "tasks" / "transmembrane" / "test.parquet")
    fasta = write_fasta(tmp_path / "test.fasta", list(zip(test["id"], test["sequence"], strict=True)))
    out = tmp_path / "probe.parquet"
    probe = probes["onehot"] / "model.pt"
    assert main(["predict", "--model", str(probe), "--fasta", str(fasta), "--out", str(out), "--device", "cpu"]) == 0
    evaluated = pd.read_parquet(probes["onehot"] / "evaluation" / "predictions.parquet")
    got = pd.read_parquet(out)
    assert set(got.columns) == set(evaluated.columns) - {"target", "split"}
    pd.testing.assert_frame_equal(got, evaluated[got.columns.tolist()])


def test_predict_command_for_pairs(tmp_path: Path, capsys) -> None:
    records = [("a", "MKVLAAGGWKD"), ("b", "ACDKLLV"), ("c", "W" * 30)]
    fasta = write_fasta(tmp_path / "x.fasta", records)
    (tmp_path / "pairs.tsv").write_text("id_a\tid_b\na\tb\n\nc a\nb\tb\n")
    model = save_finetuned(tmp_path / "homology.pt", "homology")
    out = tmp_path / "pairs.parquet"
    argv = ["predict", "--model", str(model), "--fasta", str(fasta), "--out", str(out)]
    assert main([*argv, "--pairs", str(tmp_path / "pairs.tsv")]) == 0
    assert "predicted 3 pairs" in capsys.readouterr().out
    got = pd.read_parquet(out)
    sequences = dict(records)
    pairs = [(("a", sequences["a"]), ("b", sequences["b"])), (("c", sequences["c"]), ("a", sequences["a"]))]
    pairs.append((("b", sequences["b"]), ("b", sequences["b"])))
    pd.testing.assert_frame_equal(got, plus.load(model, device="cpu").predict_pairs(pairs))
    assert got.columns.tolist() == ["id_a", "id_b", "expected_level", "p_class", "p_fold", "p_superfamily", "p_family"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(root / "encoder.pt", "encoder", encoder.config, encoder.state_dict())
    return {
        "encoder": root / "encoder.pt",
        "localization": save_finetuned(root / "localization.pt", "localization"),
        "homology": save_finetuned(root / "homology.pt", "homology"),
    }


@pytest.mark.parametrize(
    ("model", "text", "extra", "message"),
    [
        ("localization", None, [], r"{dir}/x.fasta: file not found"),
        ("localization", "", [], r"{dir}/x.fasta: no FASTA records"),
        ("localization", ">a\nMKV\n>b\nMK1V\n", [], r"{dir}/x.fasta: line 3: record 'b': characters other .*'1'.*"),
        ("encoder", ">a\nMKV\n", [], r".*encoder.pt: not a task model \(an encoder without a task head\).*"),
        ("localization", ">a\nMKV\n", ["--pairs", "{dir}/p.tsv"], r".*localization.pt: .*predicts single proteins.*"),
        ("homology", ">a\nMKV\n", [], r".*homology.pt: homology compares two proteins: give the pairs with --pairs"),
        ("homology", ">a\nMKV\n", ["--pairs", "{dir}/q.tsv"], r"{dir}/q.tsv: file not found"),
        ("homology", ">a\nMKV\n", ["--pairs", "{dir}/z.tsv"], r"{dir}/z.tsv: line 2: id 'z' is not a record .*"),
        ("homology", ">a\nMKV\n", ["--pairs", "{dir}/bad.tsv"], r"{dir}/bad.tsv: line 1: expected two FASTA ids.*"),
        ("localization", ">a\nMKV\n", ["--out", "{dir}/y.csv"], r"{dir}/y.csv: output must end in .parquet"),
        ("missing", ">a\nMKV\n", [], r".*missing.pt: checkpoint file not found"),
    ],
)
def test_predict_bad_input_exits_2_with_one_line(
    models: dict[str, Path], tmp_path: Path, capsys, model: str, text: str | None, extra: list[str], message: str
) -> None:
    if text is not None:
        (tmp_path / "x.fasta").write_text(text)
    (tmp_path / "p.tsv").write_text("a\ta\n")
    (tmp_path / "z.tsv").write_text("a\ta\na\tz\n")
    (tmp_path / "bad.tsv").write_text("a a a\n")
    path = models.get(model, tmp_path / "missing.pt")
    argv = ["predict", "--model", str(path), "--fasta", str(tmp_path / "x.fasta"), "--out", str(tmp_path / "y.parquet")]
    argv += [word.format(dir=tmp_path) for word in extra]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    pattern = message.format(dir=re.escape(str(tmp_path)))
    assert re.fullmatch(rf"plus predict: error: {pattern}", lines[0]), lines[0]
    assert not (tmp_path / "y.parquet").exists()
