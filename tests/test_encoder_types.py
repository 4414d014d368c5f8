"""Encoder specs, the parameter-free controls, random re-initialisation, records, and the embedding store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from plus.data.embedding_store import EmbeddingSplit, EmbeddingWriter
from plus.errors import InputError
from plus.inference.embed_task import residue_budget_batches
from plus.io import file_sha256
from plus.models import build_encoder
from plus.models.cached import CachedEncoder
from plus.models.checkpoint import save_checkpoint
from plus.models.controls import Blosum62Encoder, OneHotEncoder
from plus.models.encoder import Encoder, has_mlm_head
from plus.models.registry import encoder_record, open_encoder, random_like
from plus.settings import encoder_inputs, parse_encoder_spec, spec_has_mlm_head
from plus.tensors import pad_tokens
from plus.tokens import CLS, X, encode


def _batch(*sequences: str) -> tuple[torch.Tensor, torch.Tensor]:
    return pad_tokens([encode(s).tokens for s in sequences])


def test_onehot_is_the_residue_identity_and_zero_elsewhere() -> None:
    encoder = OneHotEncoder()
    tokens, lengths = _batch("ARX", "V")
    h = encoder(tokens, lengths)
    assert h.shape == (2, 3, 21) and encoder.d_z == 21 and list(encoder.state_dict()) == []
    assert h[0].argmax(-1).tolist() == [0, 1, 20] and h[0].sum().item() == 3
    assert h[1, 0, 19] == 1 and h[1, 1:].abs().sum() == 0  # V, then padding
    assert encoder(torch.tensor([[CLS]]), torch.tensor([1])).abs().sum() == 0
    assert not has_mlm_head(encoder)
    with pytest.raises(NotImplementedError, match="no MLM head"):
        encoder.mlm_logits(h)


def test_blosum62_rows_come_from_biopythons_matrix() -> None:
    h = Blosum62Encoder()(*_batch("WAX"))[0]
    assert h[0, 17] == 11 and h[0, 0] == -3  # W-W and W-A
    assert h[1, 0] == 4 and h[1, 20] == 0  # A-A and A-X
    assert h[2, 20] == -1 and h[2, 0] == 0  # X-X and X-A
    assert Blosum62Encoder().table[X].tolist() == h[2].tolist()


def test_base_pair_encoding_encodes_each_side_alone() -> None:
    encoder = OneHotEncoder()
    a, len_a = _batch("ARND", "C")
    b, len_b = _batch("QE", "GH")
    pair = encoder.encode_pair(a, len_a, b, len_b)
    assert pair.joint is None and pair.h_a.shape == (2, 4, 21) and pair.h_b.shape == (2, 2, 21)
    torch.testing.assert_close(pair.h_a, encoder(a, len_a))
    assert isinstance(encoder, Encoder)


def test_specs_name_the_bad_key() -> None:
    assert parse_encoder_spec("results/pretrain/m/model.pt").type == "plus"
    with pytest.raises(InputError, match=r"models\.m\.encoder\.path: required key missing"):
        parse_encoder_spec({"type": "huggingface"}, "models.m.encoder")
    with pytest.raises(InputError, match=r"encoder\.type: unknown encoder type"):
        parse_encoder_spec({"type": "esm", "path": "x"})
    with pytest.raises(InputError, match=r"encoder\.like\.type: unknown encoder type"):
        parse_encoder_spec({"type": "random", "like": {"type": "onehot"}})
    with pytest.raises(InputError, match=r"encoder\.layer: unknown key"):
        parse_encoder_spec({"type": "blosum62", "layer": 2})


def test_specs_say_what_they_read_and_whether_they_predict_masked_tokens() -> None:
    hf = parse_encoder_spec({"type": "huggingface", "path": "/models/esm2"})
    authors = parse_encoder_spec({"type": "plus-authors", "path": "/models/PLUS-RNN_BASE.pt"})
    random = parse_encoder_spec({"type": "random", "like": {"type": "plus-authors", "path": "/m.pt"}})
    assert [spec_has_mlm_head(s) for s in (hf, authors, random)] == [False, True, True]
    assert not spec_has_mlm_head(parse_encoder_spec({"type": "onehot"}))
    assert encoder_inputs(hf) == ["/models/esm2"] and encoder_inputs(random) == ["/m.pt"]
    assert encoder_inputs(parse_encoder_spec({"type": "blosum62"})) == []


def test_random_like_a_preset_is_build_encoder_with_a_seed(tmp_path: Path) -> None:
    torch.manual_seed(3)
    expected = build_encoder("plus-rnn-tiny").state_dict()
    fresh = random_like({"type": "plus", "preset": "plus-rnn-tiny"}, seed=3).state_dict()
    assert all(torch.equal(fresh[name], tensor) for name, tensor in expected.items())
    path = tmp_path / "model.pt"
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(path, "encoder", encoder.config, encoder.state_dict())
    like_file = random_like({"type": "plus", "path": str(path)}, seed=3).state_dict()
    assert all(torch.equal(like_file[name], tensor) for name, tensor in expected.items())


def test_records_carry_type_path_and_weights_sha256(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(path, "encoder", encoder.config, encoder.state_dict())
    record = encoder_record(str(path))
    assert record["type"] == "plus" and record["path"] == str(path) and record["sha256"] == file_sha256(path)
    assert encoder_record({"type": "onehot"})["sha256"] is None
    random = encoder_record({"type": "random", "like": {"type": "plus", "path": str(path)}, "seed": 1})
    assert random["sha256"] is None and random["path"] == str(path) and random["spec"]["seed"] == 1
    with pytest.raises(InputError, match="needs our checkpoint"):
        open_encoder({"type": "plus"})


def test_residue_budget_batches_keep_the_budget() -> None:
    lengths = np.array([5, 300, 40, 41, 7, 1000, 2])
    batches = residue_budget_batches(lengths, residues_per_batch=100)
    assert sorted(i for batch in batches for i in batch) == list(range(7))
    for batch in batches:
        assert len(batch) == 1 or len(batch) * lengths[batch].max() <= 100
    assert [5] in batches  # longer than the budget: alone


def test_cached_encoder_reads_back_what_was_stored(tmp_path: Path) -> None:
    sequences = [encode(s).tokens for s in ("ACD", "KLMNP", "W")]
    states = [np.random.default_rng(i).normal(size=(len(s), 4)).astype(np.float32) for i, s in enumerate(sequences)]
    for layout in ("residues", "pooled"):
        writer = EmbeddingWriter(tmp_path / layout, "train", sequences, 4, layout, "float16")
        for index in (2, 0, 1):
            writer.put(index, states[index])
        writer.close()
    cached = CachedEncoder([EmbeddingSplit(tmp_path / "residues", "train", "residues")])
    tokens, lengths = _batch("KLMNP", "ACD")
    h = cached(tokens, lengths)
    np.testing.assert_allclose(h[0].numpy(), states[1], atol=2e-3)
    np.testing.assert_allclose(h[1, :3].numpy(), states[0], atol=2e-3)
    assert h[1, 3:].abs().sum() == 0 and list(cached.parameters()) == []
    pooled = CachedEncoder([EmbeddingSplit(tmp_path / "pooled", "train", "pooled")])(tokens, lengths)
    assert pooled.shape == (2, 1, 4) and pooled.dtype == torch.float32
    np.testing.assert_allclose(pooled[0, 0].numpy(), states[1].sum(0), rtol=1e-6)
    with pytest.raises(InputError, match="not in the embeddings"):
        cached(*_batch("GG"))
    with pytest.raises(InputError, match="not found"):
        EmbeddingSplit(tmp_path / "residues", "test", "residues")
