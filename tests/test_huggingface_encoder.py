"""Local Hugging Face models as encoders: one state per residue, windows for long sequences, offline only."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from plus.errors import InputError
from plus.tensors import pad_tokens
from plus.tokens import encode

transformers = pytest.importorskip("transformers")

from encoder_helpers import write_tiny_esm2, write_tiny_protbert, write_tiny_prott5  # noqa: E402
from plus.models.huggingface import load_huggingface_encoder, weights_sha256, windows  # noqa: E402
from plus.models.registry import random_like  # noqa: E402

SEQUENCES = ["MKVLAXW", "ACDEFGHIKLMNPQRSTVWY", "GG"]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    return {
        "esm2": write_tiny_esm2(root / "esm2"),
        "protbert": write_tiny_protbert(root / "protbert"),
        "prott5": write_tiny_prott5(root / "prott5"),
    }


def _batch(sequences: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_tokens([encode(s).tokens for s in sequences])


def _reference(path: Path, sequence: str, spaced: bool, layer: int = -1) -> torch.Tensor:
    """The model's own computation on the tokenizer's own input, special-token states removed."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
    auto = transformers.AutoModelForTextEncoding if config.is_encoder_decoder else transformers.AutoModel
    model = auto.from_pretrained(path, local_files_only=True).eval()
    inputs = tokenizer(" ".join(sequence) if spaced else sequence, return_tensors="pt")
    with torch.no_grad():
        states = model(**inputs, output_hidden_states=True).hidden_states[layer][0]
    first = 1 if tokenizer.cls_token_id is not None and inputs["input_ids"][0, 0] == tokenizer.cls_token_id else 0
    return states[first : first + len(sequence)]


@pytest.mark.parametrize(("name", "spaced"), [("esm2", False), ("protbert", True), ("prott5", True)])
def test_states_are_the_models_own_with_special_tokens_dropped(models: dict[str, Path], name: str, spaced: bool):
    encoder = load_huggingface_encoder(models[name])
    assert encoder.vocabulary.spaced is spaced
    tokens, lengths = _batch(SEQUENCES)
    with torch.no_grad():
        h = encoder(tokens, lengths)
    assert h.shape == (3, 20, encoder.d_h) and encoder.d_z == encoder.d_h
    for row, sequence in enumerate(SEQUENCES):
        torch.testing.assert_close(h[row, : len(sequence)], _reference(models[name], sequence, spaced))
        assert h[row, len(sequence) :].abs().sum() == 0


def test_layer_picks_a_hidden_state(models: dict[str, Path]) -> None:
    tokens, lengths = _batch(SEQUENCES[:1])
    for layer in (0, 1, -2):
        with torch.no_grad():
            h = load_huggingface_encoder(models["esm2"], layer=layer)(tokens, lengths)
        torch.testing.assert_close(h[0], _reference(models["esm2"], SEQUENCES[0], False, layer))
    with pytest.raises(InputError, match="layer 3 out of range"):
        load_huggingface_encoder(models["esm2"], layer=3)


def test_long_sequences_are_encoded_in_overlapping_windows(models: dict[str, Path]) -> None:
    encoder = load_huggingface_encoder(models["esm2"], max_residues=8, window_overlap=3)
    sequence = "ACDEFGHIKLMNPQRSTVWYAC"  # 22 residues: 4 windows of 8, overlapping by 3 or more
    parts = windows(len(sequence), 8, 3)
    assert [p[0] for p in parts] == [0, 5, 9, 14]
    kept = [i for _, _, own_start, own_end in parts for i in range(own_start, own_end)]
    assert kept == list(range(len(sequence)))  # every residue from exactly one window
    with torch.no_grad():
        h = encoder(*_batch([sequence, "MK"]))
    for start, end, own_start, own_end in parts:
        alone = _reference(models["esm2"], sequence[start:end], False)
        torch.testing.assert_close(h[0, own_start:own_end], alone[own_start - start : own_end - start])
    assert windows(8, 8, 3) == [(0, 8, 0, 8)]


def test_modules_a_forward_never_calls_are_frozen(models: dict[str, Path]) -> None:
    encoder = load_huggingface_encoder(models["esm2"])
    assert {"pooler.dense.weight", "contact_head.regression.bias"} <= set(encoder.unused)
    encoder(*_batch(SEQUENCES)).sum().backward()
    trainable = [name for name, p in encoder.named_parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in encoder.parameters() if p.requires_grad)
    assert not any(name.startswith(("model.pooler", "model.contact_head")) for name in trainable)


def test_random_like_keeps_the_architecture_and_draws_new_weights(models: dict[str, Path]) -> None:
    trained = load_huggingface_encoder(models["esm2"])
    first = random_like({"type": "huggingface", "path": str(models["esm2"])}, seed=5)
    again = random_like({"type": "huggingface", "path": str(models["esm2"])}, seed=5)
    other = random_like({"type": "huggingface", "path": str(models["esm2"])}, seed=6)
    names = [name for name, _ in trained.named_parameters()]
    assert names == [name for name, _ in first.named_parameters()]
    weight = "model.encoder.layer.0.attention.self.query.weight"
    state, fresh = trained.state_dict(), first.state_dict()
    assert not torch.equal(state[weight], fresh[weight])
    torch.testing.assert_close(fresh[weight], again.state_dict()[weight])
    assert not torch.equal(fresh[weight], other.state_dict()[weight])


def test_bad_directories_and_a_missing_package_are_clear_errors(models: dict[str, Path], tmp_path: Path, monkeypatch):
    with pytest.raises(InputError, match="model directory not found"):
        load_huggingface_encoder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no config.json"):
        load_huggingface_encoder(tmp_path / "empty")
    assert len(weights_sha256(models["esm2"])) == 64
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(InputError, match=r"pip install -e '\.\[hf\]'"):
        load_huggingface_encoder(models["esm2"])
