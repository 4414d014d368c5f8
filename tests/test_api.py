"""The Python API: the README snippet verbatim, loading, batching, chunked embedding, predictions of every shape."""

from __future__ import annotations

import errno
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
from plus.data.batching.task_examples import TargetScaling
from plus.errors import InputError
from plus.inference.evaluate import load_finetuned, predict_split
from plus.models import build_encoder
from plus.models.checkpoint import save_checkpoint
from plus.settings import FinetuneSettings
from plus.tasks import BUILTIN_TASKS, LOCALIZATION_CLASSES
from plus.training.finetune import FinetuneModule, finetuned_state

README = Path(__file__).resolve().parents[1] / "README.md"
PRETRAINED = "results/pretrain/plus-rnn-tiny/model.pt"
LOCALIZATION = "results/finetune/plus-rnn-tiny/localization/seed0/model.pt"
AA = "ARNDCQEGHILKMFPSTWYV"


def save_finetuned(path: Path, task: str, scaling: TargetScaling | None = None) -> None:
    """A fine-tuned model.pt exactly as run_finetune writes it (random weights)."""
    encoder = build_encoder("plus-rnn-tiny")
    module = FinetuneModule(encoder, BUILTIN_TASKS[task], FinetuneSettings(), scaling or TargetScaling(), seed=0)
    save_checkpoint(path, "finetuned", encoder.config, module.state_dict(), **finetuned_state(module))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding checkpoints where the demo writes them."""
    root = tmp_path_factory.mktemp("demo")
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(root / PRETRAINED, "encoder", encoder.config, encoder.state_dict())
    save_finetuned(root / LOCALIZATION, "localization")
    for task in ("secstr", "transmembrane", "homology"):
        save_finetuned(root / f"{task}.pt", task)
    save_finetuned(root / "stability.pt", "stability", TargetScaling(mean=5.0, std=2.0))
    return root


def readme_snippet() -> str:
    """The one ```python block of the README's "Python API" section, verbatim."""
    text = README.read_text()
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    return blocks[0]


def random_sequences(n: int, low: int, high: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(AA), int(rng.integers(low, high)))) for _ in range(n)]


def test_readme_snippet_runs_and_gives_what_it_says(demo: Path, monkeypatch, capsys) -> None:
    snippet = readme_snippet()
    assert 6 <= len([line for line in snippet.splitlines() if line.strip()]) <= 10
    monkeypatch.chdir(demo)
    namespace: dict = {}
    exec(compile(snippet, str(README), "exec"), namespace)
    batch, emb, z, predictions = (namespace[k] for k in ("batch", "emb", "z", "predictions"))
    lengths = [len(s) for s in batch.sequences]
    assert emb.ids == batch.ids == ("P1", "P2")
    assert [tuple(r.shape) for r in emb.residues] == [(n, 64) for n in lengths]
    assert isinstance(emb.proteins, torch.Tensor) and emb.proteins.shape == (2, 64)
    torch.testing.assert_close(emb.proteins[1], emb.residues[1].mean(dim=0))
    assert isinstance(z.proteins, np.ndarray) and z.proteins.shape == (2, 16)
    assert [r.shape for r in z.residues] == [(n, 16) for n in lengths]
    assert predictions["id"].tolist() == ["P1", "P2"]
    assert set(predictions["prediction"]) <= set(LOCALIZATION_CLASSES)
    probabilities = np.array(predictions["probabilities"].tolist())
    assert probabilities.shape == (2, 10) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert [LOCALIZATION_CLASSES[i] for i in probabilities.argmax(axis=1)] == predictions["prediction"].tolist()
    assert "P1" in capsys.readouterr().out


def test_load_any_checkpoint_in_eval_mode(demo: Path) -> None:
    encoder = plus.load(demo / PRETRAINED, device="cpu")
    tuned = plus.load(demo / LOCALIZATION)
    assert (encoder.kind, encoder.task) == ("encoder", None)
    assert (tuned.kind, tuned.task.name) == ("finetuned", "localization")
    assert not encoder.encoder.training and not tuned.finetuned.training and not tuned.encoder.training
    assert tuned.encoder is tuned.finetuned.encoder and str(tuned.device) == "cpu"
    with pytest.raises(InputError, match="not a torch device"):
        plus.load(demo / PRETRAINED, device="gpu please")
    with pytest.raises(InputError, match="checkpoint file not found"):
        plus.load(demo / "missing.pt")


def test_pretrained_encoder_cannot_predict(demo: Path) -> None:
    encoder = plus.load(demo / PRETRAINED)
    with pytest.raises(InputError, match="pretrained encoder has no task head"):
        encoder.predict(["MKV"])
    with pytest.raises(InputError, match="no task head"):
        encoder.predict_pairs([("MKV", "MKV")])


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            ["MKV", "MK1V"],
            r"^sequences\[1\]: characters other than the letters A-Z: '1'; the first, '1' at position 3 "
            r"\(excerpt 'MK1V'\)$",
        ),
        (
            [("a", "MKV"), ("b", "MKV*")],
            r"^sequences\[1\] \('b'\): characters other than the letters A-Z: '\*'; the first, '\*' at position 4",
        ),
        ([("a", "")], r"^sequences\[0\] \('a'\): empty sequence$"),
        (["MKVé"], r"^sequences\[0\]: characters other than the letters A-Z: 'é'; the first, 'é' at position 4"),
        (["MK-V"], r"characters other than the letters A-Z: '-'"),
        (["MKV", 7], r"^sequences\[1\]: expected a sequence string or an \(id, sequence\) pair, got int$"),
        ([], r"no sequences"),
    ],
)
def test_batch_names_the_bad_item(demo: Path, items: list, message: str) -> None:
    with pytest.raises(InputError, match=message):
        plus.load(demo / PRETRAINED).batch(items)


def test_embedding_runs_in_chunks_within_the_residue_budget(demo: Path) -> None:
    model = plus.load(demo / PRETRAINED)
    sequences = [*random_sequences(20, 3, 40), "M" * 150]
    shapes: list[tuple[int, int]] = []
    handle = model.encoder.register_forward_pre_hook(lambda _, args: shapes.append(tuple(args[0].shape)))
    try:
        chunked = model.embed(model.batch(sequences), max_residues=100)
    finally:
        handle.remove()
    assert len(shapes) > 1 and all(b * width <= 100 or b == 1 for b, width in shapes)
    assert (1, 150) in shapes
    whole = model.embed(sequences, max_residues=10_000)
    for a, b, sequence in zip(chunked.residues, whole.residues, sequences, strict=True):
        assert a.shape == (len(sequence), 64)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    alone = model.encoder(torch.tensor([[AA.index(c) + 1 for c in sequences[3]]]), torch.tensor([len(sequences[3])]))
    torch.testing.assert_close(chunked.residues[3], alone[0].detach(), atol=1e-5, rtol=1e-5)
    projected = model.embed(sequences[:2], representation="z")
    torch.testing.assert_close(projected.residues[0], model.encoder.project(whole.residues[0]).detach())
    with pytest.raises(InputError, match="representation must be 'h' or 'z'"):
        model.embed(sequences, representation="x")


def test_predict_is_the_evaluation_code(demo: Path) -> None:
    sequences = random_sequences(13, 5, 60, seed=1)
    frame = pd.DataFrame({"id": [f"s{i}" for i in range(13)], "sequence": sequences, "label": ["Nucleus"] * 13})
    expected = predict_split(load_finetuned(demo / LOCALIZATION), frame, batch_size=4)
    model = plus.load(demo / LOCALIZATION)
    got = model.predict(model.batch(list(zip(frame["id"], sequences, strict=True))), max_residues=120)
    assert got.columns.tolist() == ["id", "prediction", "probabilities"]
    pd.testing.assert_frame_equal(got, expected.drop(columns="target"))


def test_residue_and_regression_predictions(demo: Path) -> None:
    sequences = random_sequences(5, 5, 50, seed=2)
    secstr = plus.load(demo / "secstr.pt").predict(sequences)
    assert [len(p) for p in secstr["prediction"]] == [len(s) for s in sequences]
    assert set("".join(secstr["prediction"])) <= set("GHIBESTC")
    assert [len(p) for p in secstr["prediction_3class"]] == [len(s) for s in sequences]
    assert set("".join(secstr["prediction_3class"])) <= set("HEC")
    topology = plus.load(demo / "transmembrane.pt").predict(sequences)["topology"]
    assert [len(t) for t in topology] == [len(s) for s in sequences] and set("".join(topology)) <= set("IOM")
    stability = plus.load(demo / "stability.pt")
    values = stability.predict(sequences)["prediction"].to_numpy()
    head = stability.finetuned
    tokens = torch.tensor([[AA.index(c) + 1 for c in sequences[0]]])
    with torch.no_grad():
        raw = head.outputs({"tokens": tokens, "lengths": torch.tensor([len(sequences[0])])})["logits"]
    assert values[0] == pytest.approx(float(raw[0]) * 2.0 + 5.0, abs=1e-4)  # training-split scaling undone


def test_homology_predicts_pairs(demo: Path) -> None:
    model = plus.load(demo / "homology.pt")
    a, b, c = random_sequences(3, 10, 40, seed=3)
    table = model.predict_pairs([(a, a), (("x", a), ("y", b)), (c, b)])
    assert table["id_a"].tolist() == ["0", "x", "2"] and table["id_b"].tolist() == ["0", "y", "2"]
    p = table[["p_class", "p_fold", "p_superfamily", "p_family"]].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(table["expected_level"], p.sum(axis=1), rtol=1e-6)
    swapped = model.predict_pairs([(b, a)])
    assert swapped["expected_level"][0] == pytest.approx(table["expected_level"][1], abs=1e-5)  # SSA is symmetric
    with pytest.raises(InputError, match=r"use predict_pairs"):
        model.predict([a])
    with pytest.raises(InputError, match=r"^pairs\[1\]\[1\]: empty sequence$"):
        model.predict_pairs([(a, b), (a, "")])
    with pytest.raises(InputError, match="predicts single proteins"):
        plus.load(demo / LOCALIZATION).predict_pairs([(a, b)])


def test_import_plus_stays_light_and_exports_the_api() -> None:
    code = "import sys, plus; print(sorted(m for m in ('torch', 'numpy', 'pandas', 'plus.api') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    from plus import api

    assert (plus.load, plus.Model, plus.Batch, plus.Embeddings) == (api.load, api.Model, api.Batch, api.Embeddings)
    with pytest.raises(AttributeError):
        plus.no_such_name  # noqa: B018


@pytest.mark.parametrize("module", ["plus.api", "plus.inference.evaluate"])
def test_loading_and_evaluating_do_not_import_lightning(module: str) -> None:
    """Lightning (with torchmetrics) costs seconds per process: every evaluate job and every API user would pay it."""
    code = f"import sys, {module}; print('lightning' in sys.modules, 'torchmetrics' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


@pytest.fixture(scope="module")
def tiny_esm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from encoder_helpers import write_tiny_esm2

    return write_tiny_esm2(tmp_path_factory.mktemp("hf") / "esm2")


def test_load_a_hugging_face_directory_as_path_string_or_spec(tiny_esm2: Path) -> None:
    from plus.models.registry import open_encoder
    from plus.settings import HuggingFaceEncoderSpec

    sequences = random_sequences(4, 5, 30, seed=4)
    expected = open_encoder({"type": "huggingface", "path": str(tiny_esm2)})
    padded = [torch.tensor([[AA.index(c) + 1 for c in s]]) for s in sequences]
    spec = HuggingFaceEncoderSpec(type="huggingface", path=str(tiny_esm2))
    for source in (tiny_esm2, str(tiny_esm2), {"type": "huggingface", "path": str(tiny_esm2)}, spec):
        model = plus.load(source, device="cpu")
        assert model.kind == "encoder" and model.task is None and not model.encoder.training
        emb = model.embed(sequences)
        assert [tuple(r.shape) for r in emb.residues] == [(len(s), 32) for s in sequences]
        with torch.no_grad():
            alone = expected(padded[2], torch.tensor([len(sequences[2])]))[0]
        torch.testing.assert_close(emb.residues[2], alone, atol=1e-5, rtol=1e-5)
    assert str(tiny_esm2) in repr(plus.load(tiny_esm2))
    fasta, out = tiny_esm2.parent / "x.fasta", tiny_esm2.parent / "x.npz"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    assert main(["embed", "--model", str(tiny_esm2), "--fasta", str(fasta), "--out", str(out)]) == 0
    np.testing.assert_allclose(np.load(out)["s2/residues"], emb.residues[2].numpy(), atol=1e-5)
    with pytest.raises(InputError, match="no task head"):
        plus.load(tiny_esm2).predict(sequences)


def test_load_controls_from_a_spec(tmp_path: Path) -> None:
    from plus.settings import Blosum62EncoderSpec

    onehot = plus.load({"type": "onehot"})
    emb = onehot.embed([("a", "ACD"), ("b", "MKVW")])
    assert emb.ids == ("a", "b") and tuple(emb.residues[0].shape) == (3, 21)
    torch.testing.assert_close(emb.residues[0].sum(dim=1), torch.ones(3))
    assert onehot.kind == "encoder" and str(onehot.device) == "cpu" and onehot.path is None
    assert repr(onehot).startswith('plus.Model(\'{"type": "onehot"}\'')
    blosum = plus.load(Blosum62EncoderSpec(type="blosum62")).embed(["W"])
    assert float(blosum.residues[0][0, AA.index("W")]) == 11.0  # BLOSUM62's W/W score
    with pytest.raises(InputError, match=r"encoder\.type: unknown encoder type"):
        plus.load({"type": "esm"})
    with pytest.raises(InputError, match="without config.json"):
        plus.load(tmp_path)
    with pytest.raises(InputError, match="expected a path or an encoder spec"):
        plus.load(3)  # type: ignore[arg-type]


def _broken_checkpoints(root: Path) -> dict[str, tuple[Path, str]]:
    """Malformed model.pt files -> (path, what the one-line error says)."""
    import zipfile

    good = root / "good.pt"
    save_finetuned(good, "stability")
    data = good.read_bytes()
    broken = {
        "truncated": (data[: len(data) // 2], "not a zip archive, as torch.save writes: truncated"),
        "text": (b"hello\n", "not a zip archive"),
    }
    files = {name: (root / f"{name}.pt", message) for name, (content, message) in broken.items()}
    for name, (content, _) in broken.items():
        files[name][0].write_bytes(content)
    with zipfile.ZipFile(root / "zip.pt", "w") as archive:
        archive.writestr("a.txt", "x")
    files["zip"] = (root / "zip.pt", "cannot be read as a weights-only torch file")
    payload = torch.load(good, weights_only=True)
    edits = {
        "no_scaling": ({"scaling": None}, r"lacks the key\(s\) \['scaling'\]"),
        "no_task": ({"task": None}, r"lacks the key\(s\) \['task'\]"),
        "no_seed": ({"seed": None}, r"lacks the key\(s\) \['seed'\]"),
        "bad_scaling": ({"scaling": {"scale": 2.0}}, "'scaling' must be"),
        "bad_weights": ({"state_dict": {}}, "weights do not match the model the checkpoint describes"),
        "bad_task": ({"task": {"name": 3}}, "bad_task.pt: task"),
    }
    for name, (edit, message) in edits.items():
        changed = {key: value for key, value in {**payload, **edit}.items() if value is not None}
        torch.save(changed, root / f"{name}.pt")
        files[name] = (root / f"{name}.pt", message)
    return files


def test_malformed_checkpoints_are_one_line_errors(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"id": ["a"], "sequence": ["MKV"], "label": [1.0]}).to_parquet(data / "test.parquet")
    job = {"model": "m", "task": BUILTIN_TASKS["stability"].to_dict()}
    for name, (path, message) in _broken_checkpoints(tmp_path).items():
        with pytest.raises(InputError, match=message):
            plus.load(path, device="cpu")
        arguments = ["evaluate", "--settings", json.dumps(job), "--model", str(path), "--data", str(data)]
        assert main([*arguments, "--out", str(tmp_path / "out")]) == 2, name
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"plus evaluate: error: {path}"), (name, lines)


def test_a_read_only_results_directory_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    model = tmp_path / "model.pt"
    save_finetuned(model, "stability")
    data = tmp_path / "data"
    data.mkdir()
    test = {"id": ["a", "b", "c"], "sequence": ["MKV", "LLA", "GGW"], "label": [1.0, 0.5, 2.0]}
    pd.DataFrame(test).to_parquet(data / "test.parquet")
    out = tmp_path / "results" / "evaluate"

    def read_only(self: Path, *args, **kwargs) -> None:
        raise PermissionError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", read_only)
    job = {"model": "m", "task": BUILTIN_TASKS["stability"].to_dict()}
    arguments = ["evaluate", "--settings", json.dumps(job), "--model", str(model), "--data", str(data)]
    assert main([*arguments, "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        f"plus evaluate: error: {out}: cannot write here (Read-only file system): a read-only directory or file?"
    ]
