"""The authors' released PLUS-RNN state dicts, converted into our encoder, compute what their model computes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from encoder_helpers import TheirPlusRNN, write_authors_file
from plus.errors import InputError
from plus.models.authors import authors_config, authors_variant, load_authors_encoder
from plus.models.presets import PRESETS
from plus.tokens import CLS, MASK, PAD, SEP, VOCAB_SIZE, X


def _residues(seed: int, lengths: list[int]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    sequences = [torch.randint(1, 22, (n,), generator=generator) for n in lengths]  # A..V and X (21 in both)
    return sequences


def _batch(residues: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(r) for r in residues])
    tokens = torch.full((len(residues), int(lengths.max())), PAD, dtype=torch.long)
    for row, r in enumerate(residues):
        tokens[row, : len(r)] = r
    return tokens, lengths


@pytest.fixture()
def small(tmp_path: Path) -> tuple[TheirPlusRNN, Path]:
    torch.manual_seed(0)
    theirs = TheirPlusRNN(hidden=16, layers=2, proj=8).eval()
    return theirs, write_authors_file(tmp_path / "PLUS-RNN.pt", theirs)


def test_start_stop_option_reproduces_their_computation(small: tuple[TheirPlusRNN, Path]) -> None:
    theirs, path = small
    residues = _residues(1, [17, 5, 30, 1])
    tokens, lengths = _batch(residues)
    encoder = load_authors_encoder(path, add_start_stop=True)
    with torch.no_grad():
        their_z, their_h = theirs(residues)
        h = encoder(tokens, lengths)
        z = encoder.project(h)
        logits = encoder.mlm_logits(h)
        their_logits = theirs.decoder(their_h)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(h[row, :n], their_h[row, :n], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z[row, :n], their_z[row, :n], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(logits[row, :n, 1:21], their_logits[row, :n, 1:21], rtol=1e-5, atol=1e-5)
        assert h[row, n:].abs().sum() == 0
    assert set(logits.argmax(-1)[0].tolist()) <= {CLS, *range(1, 21)}  # never PAD, X, MASK or SEP


def test_mlm_log_probabilities_equal_theirs_output_zero_included(small: tuple[TheirPlusRNN, Path]) -> None:
    """Their MLM softmax runs over 21 outputs, their start/stop output 0 included (our CLS row carries it)."""
    theirs, path = small
    residues = _residues(4, [25, 9])
    tokens, lengths = _batch(residues)
    encoder = load_authors_encoder(path)
    with torch.no_grad():
        _, their_h = theirs(residues)
        ours = torch.log_softmax(encoder.mlm_logits(encoder(tokens, lengths)), -1)
        their_log_probs = torch.log_softmax(theirs.decoder(their_h), -1)
    for row, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(ours[row, :n, 1:21], their_log_probs[row, :n, 1:21], rtol=0, atol=1e-5)
        torch.testing.assert_close(ours[row, :n, CLS], their_log_probs[row, :n, 0], rtol=0, atol=1e-5)
        assert (ours[row, :n, [PAD, X, MASK, SEP]] < -1e3).all()


def test_without_start_stop_the_ends_differ_as_documented(small: tuple[TheirPlusRNN, Path]) -> None:
    theirs, path = small
    residues = _residues(2, [40])
    tokens, lengths = _batch(residues)
    bare = load_authors_encoder(path, add_start_stop=False)
    with torch.no_grad():
        _, their_h = theirs(residues)
        h = bare(tokens, lengths)
        reference, _ = bare.rnn.lstm(bare.rnn.embed(tokens))  # their LSTM on the bare sequence
    torch.testing.assert_close(h, reference, rtol=1e-5, atol=1e-6)
    assert (h[0, 0] - their_h[0, 0]).abs().max() > 1e-3  # the first residue's state depends on the start token


def test_embedding_and_decoder_rows_are_mapped_into_our_alphabet(small: tuple[TheirPlusRNN, Path]) -> None:
    theirs, path = small
    rnn = load_authors_encoder(path).rnn
    embed = rnn.embed.weight.detach()
    their_embed = theirs.embed.weight.detach()
    torch.testing.assert_close(embed[1:21], their_embed[1:21])
    assert embed[PAD].abs().sum() == 0 and embed[X].abs().sum() == 0 and embed[MASK].abs().sum() == 0
    torch.testing.assert_close(embed[CLS], their_embed[0])
    torch.testing.assert_close(embed[SEP], their_embed[0])
    assert rnn.decoder.weight.shape == (VOCAB_SIZE, 32)
    assert (rnn.decoder.bias[[PAD, X, MASK, SEP]] < -1e3).all()
    torch.testing.assert_close(rnn.decoder.weight[CLS], theirs.decoder.weight[0])  # their output 0 kept


def test_base_shapes_give_the_base_preset_and_large_shapes_the_large_one(tmp_path: Path) -> None:
    torch.manual_seed(1)
    base = TheirPlusRNN(hidden=512, layers=3).eval()
    assert sum(p.numel() for p in base.parameters()) == 14_915_147  # the count of the released BASE file
    encoder = load_authors_encoder(write_authors_file(tmp_path / "PLUS-RNN_BASE.pt", base, prefix=""))
    assert authors_variant(encoder.config) == "plus-rnn-base"
    assert encoder.config == PRESETS["plus-rnn-base"]
    residues = _residues(3, [12])
    with torch.no_grad():
        _, their_h = base(residues)
        h = encoder(*_batch(residues))
    torch.testing.assert_close(h, their_h, rtol=1e-5, atol=1e-5)
    with torch.device("meta"):
        large = TheirPlusRNN(hidden=1024, layers=3)
    assert sum(p.numel() for p in large.parameters()) == 59_189_835
    assert authors_variant(authors_config(large.state_dict())) == "plus-rnn-large"


def test_bad_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_authors_encoder(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="weights-only"):
        load_authors_encoder(tmp_path / "junk.pt")
    torch.save({"embed.weight": torch.zeros(22, 21)}, tmp_path / "partial.pt")
    with pytest.raises(InputError, match="missing"):
        load_authors_encoder(tmp_path / "partial.pt")
