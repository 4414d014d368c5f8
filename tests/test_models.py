"""Encoders, their config types and presets, the exact fast biLSTM, checkpoints and `plus models`."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from plus.cli import main
from plus.errors import InputError
from plus.io import file_sha256
from plus.models import (
    PRESETS,
    Encoder,
    PlusRNN,
    PlusTFM,
    RNNConfig,
    TransformerConfig,
    build_encoder,
    count_parameters,
    parse_encoder_config,
    preset_config,
)
from plus.models.checkpoint import load_checkpoint, load_encoder, save_checkpoint
from plus.models.transformer import OriginalLayerNorm
from plus.tokens import PAD, VOCAB_SIZE


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run much faster on one thread, especially on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_batch(lengths: list[int], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    tokens = torch.randint(1, 22, (len(lengths), max(lengths)), generator=generator)
    tokens[torch.arange(max(lengths))[None, :] >= lengths_t[:, None]] = PAD
    return tokens, lengths_t


@pytest.mark.parametrize(
    ("preset", "expected"),
    [("plus-rnn-base", 14.9e6), ("plus-rnn-large", 59.2e6), ("plus-tfm", 85.7e6)],
)
def test_published_parameter_counts(preset, expected):
    with torch.device("meta"):
        encoder = build_encoder(preset)
    assert abs(count_parameters(encoder) - expected) / expected < 0.01


def test_published_architectures():
    base, large, tfm = PRESETS["plus-rnn-base"], PRESETS["plus-rnn-large"], PRESETS["plus-tfm"]
    assert (base.layers, base.hidden, base.proj_dim, base.embed_dim) == (3, 512, 100, 21)
    assert large.hidden == 1024
    assert (tfm.layers, tfm.hidden, tfm.heads, tfm.ffn, tfm.max_len) == (12, 768, 12, 3072, 512)
    with torch.device("meta"):
        encoder = build_encoder("plus-rnn-base")
    assert (encoder.d_h, encoder.d_z) == (1024, 100)
    assert encoder.lstm.bidirectional and encoder.lstm.num_layers == 3


def test_build_encoder_overrides_and_errors():
    encoder = build_encoder("plus-rnn-tiny", hidden=8, rnn_bucket_size=4)
    assert encoder.config.hidden == 8 and encoder.d_h == 16 and encoder.config.rnn_bucket_size == 4
    with pytest.raises(InputError, match="unknown model preset"):
        build_encoder("plus-rnn-huge")
    with pytest.raises(InputError, match="hiden"):
        build_encoder("plus-rnn-tiny", hiden=8)
    with pytest.raises(InputError, match="rnn_bucket_size"):
        build_encoder("plus-rnn-tiny", rnn_bucket_size=-1)


def packed_reference(encoder: PlusRNN, tokens: torch.Tensor, lengths: torch.Tensor):
    """The authors' formulation: nn.LSTM(bidirectional=True) over a PackedSequence, same weights (copied)."""
    reference = copy.deepcopy(encoder.lstm)
    embedded = encoder.embed(tokens).detach().requires_grad_()
    packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
    out, _ = reference(packed)
    h, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])
    return reference, embedded, h


def test_fast_bilstm_equals_packed_lstm_outputs_and_gradients():
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny", layers=3, hidden=16)
    tokens, lengths = random_batch([41, 1, 17, 3, 29, 8], seed=1)
    weights = torch.randn(len(lengths), tokens.shape[1], encoder.d_h)

    embedded = encoder.embed(tokens).detach().requires_grad_()
    fast = encoder._padded(embedded, lengths) * (tokens != PAD)[:, :, None]
    (fast * weights).sum().backward()

    reference, ref_embedded, expected = packed_reference(encoder, tokens, lengths)
    (expected * weights).sum().backward()

    torch.testing.assert_close(fast, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(embedded.grad, ref_embedded.grad, atol=1e-5, rtol=0)
    for name, parameter in encoder.lstm.named_parameters():
        torch.testing.assert_close(parameter.grad, getattr(reference, name).grad, atol=1e-5, rtol=0)


def test_length_buckets_are_exact_with_gradients():
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny", rnn_bucket_size=2)
    tokens, lengths = random_batch([5, 33, 1, 12, 20, 7, 2], seed=9)
    weights = torch.randn(len(lengths), tokens.shape[1], encoder.d_h)
    h = encoder(tokens, lengths)
    (h * weights).sum().backward()
    reference, embedded, expected = packed_reference(encoder, tokens, lengths)
    (expected * weights).sum().backward()
    torch.testing.assert_close(h, expected, atol=1e-5, rtol=0)
    for name, parameter in encoder.lstm.named_parameters():
        torch.testing.assert_close(parameter.grad, getattr(reference, name).grad, atol=1e-5, rtol=0)
    embedding_grad = torch.zeros_like(encoder.embed.weight).index_add_(0, tokens.flatten(), embedded.grad.flatten(0, 1))
    embedding_grad[PAD] = 0
    torch.testing.assert_close(encoder.embed.weight.grad, embedding_grad, atol=1e-5, rtol=0)


def test_encoder_output_equals_the_packed_lstm_on_its_embedding():
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    tokens, lengths = random_batch([12, 30, 2, 19], seed=2)
    _, _, expected = packed_reference(encoder, tokens, lengths)
    torch.testing.assert_close(encoder(tokens, lengths), expected, atol=1e-5, rtol=0)


def test_reverse_direction_starts_at_each_sequences_last_residue():
    """A sequence alone and the same sequence beside a much longer one give the same h."""
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny").eval()
    tokens, lengths = random_batch([7, 60], seed=3)
    together = encoder(tokens, lengths)
    alone = encoder(tokens[:1, :7], lengths[:1])
    torch.testing.assert_close(together[0, :7], alone[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("preset", ["plus-rnn-tiny", "plus-tfm-tiny"])
def test_encoder_interface_and_padding(preset):
    torch.manual_seed(0)
    encoder = build_encoder(preset).eval()
    tokens, lengths = random_batch([9, 4, 13], seed=4)
    h = encoder(tokens, lengths)
    assert h.shape == (3, 13, encoder.d_h)
    assert torch.all(h[1, 4:] == 0) and torch.all(h[0, 9:] == 0)
    assert encoder.project(h).shape == (3, 13, encoder.d_z)
    assert encoder.mlm_logits(h).shape == (3, 13, VOCAB_SIZE)
    changed = tokens.clone()
    changed[1, 4:] = 5  # garbage after the end of sequence 1 must not matter
    torch.testing.assert_close(encoder(changed, lengths), h)
    torch.testing.assert_close(encoder(tokens[1:2, :4], lengths[1:2])[0], h[1, :4], atol=1e-5, rtol=0)


@pytest.mark.parametrize(("preset", "joint"), [("plus-rnn-tiny", False), ("plus-tfm-tiny", True)])
def test_both_encoders_offer_the_encoder_interface(preset, joint):
    torch.manual_seed(0)
    encoder = build_encoder(preset).eval()
    assert isinstance(encoder, Encoder) and encoder.joint_pairs is joint
    assert isinstance(encoder.d_h, int) and isinstance(encoder.d_z, int)
    tokens_a, len_a = random_batch([9, 4, 13], seed=10)
    tokens_b, len_b = random_batch([5, 11, 2], seed=11)
    pair = encoder.encode_pair(tokens_a, len_a, tokens_b, len_b)
    assert pair.h_a.shape == (3, 13, encoder.d_h) and pair.h_b.shape == (3, 11, encoder.d_h)
    assert torch.all(pair.h_a[1, 4:] == 0) and torch.all(pair.h_b[2, 2:] == 0)
    assert torch.all(pair.h_a[1, :4].abs().sum(1) > 0) and torch.all(pair.h_b[2, :2].abs().sum(1) > 0)
    if joint:
        assert pair.joint.shape == (3, encoder.d_h) and encoder.max_pair_tokens == encoder.config.max_len
    else:
        assert pair.joint is None and encoder.max_pair_tokens is None
    with pytest.raises(TypeError, match="abstract"):
        Encoder()


def test_rnn_pair_encoding_equals_encoding_each_side_alone():
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny", rnn_bucket_size=2).eval()
    tokens_a, len_a = random_batch([9, 4, 30, 1], seed=12)
    tokens_b, len_b = random_batch([5, 17, 2, 8], seed=13)
    h_a, h_b, joint = encoder.encode_pair(tokens_a, len_a, tokens_b, len_b)
    assert joint is None
    torch.testing.assert_close(h_a, encoder(tokens_a, len_a), atol=1e-6, rtol=0)
    torch.testing.assert_close(h_b, encoder(tokens_b, len_b), atol=1e-6, rtol=0)


ENCODER_CLASS_QUESTIONS = re.compile(
    r"\b(PlusRNN|PlusTFM|RNNConfig|TransformerConfig)\b|isinstance\([^,()]*encoder|type\([^()]*encoder[^()]*\)"
)


def test_objectives_heads_and_training_never_ask_which_encoder_they_have():
    """Objectives, heads and fine-tuning use the Encoder interface only (capabilities, never classes)."""
    root = Path(__file__).resolve().parents[1] / "plus"
    files = [*sorted((root / "objectives").glob("*.py")), root / "models" / "heads.py"]
    files += sorted((root / "training").glob("*.py"))
    assert len(files) >= 10 and all(path.is_file() for path in files)
    found = [
        f"{path.relative_to(root.parent)}:{number}: {line.strip()}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if ENCODER_CLASS_QUESTIONS.search(line)
    ]
    assert not found, "asks which encoder class it has:\n" + "\n".join(found)
    assert ENCODER_CLASS_QUESTIONS.search("if isinstance(self.encoder, Thing):")
    assert ENCODER_CLASS_QUESTIONS.search("from plus.models import PlusTFM")
    assert not ENCODER_CLASS_QUESTIONS.search("isinstance(value, dict) and encoder.joint_pairs")


def test_transformer_pair_input_matches_manual_framing():
    torch.manual_seed(0)
    encoder: PlusTFM = build_encoder("plus-tfm-tiny").eval()
    tokens_a, len_a = random_batch([5, 3], seed=5)
    tokens_b, len_b = random_batch([2, 6], seed=6)
    h_a, h_b, cls = encoder.encode_pair(tokens_a, len_a, tokens_b, len_b)
    assert cls.shape == (2, encoder.d_h) and h_a.shape == (2, 5, encoder.d_h) and h_b.shape == (2, 6, encoder.d_h)
    # pair 1 by hand: [CLS] a(3) [SEP] b(6) [SEP], segments 0 x5 then 1 x7
    framed = torch.tensor([[23, *tokens_a[1, :3].tolist(), 24, *tokens_b[1, :6].tolist(), 24]])
    segments = torch.tensor([[0] * 5 + [1] * 7])
    x = encoder.encode(framed, segments, torch.tensor([12]))
    torch.testing.assert_close(cls[1], x[0, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(h_a[1, :3], x[0, 1:4], atol=1e-5, rtol=0)
    torch.testing.assert_close(h_b[1], x[0, 5:11], atol=1e-5, rtol=0)
    assert torch.all(h_a[1, 3:] == 0) and torch.all(h_b[0, 2:] == 0)


def test_transformer_rejects_pairs_over_max_len():
    encoder = build_encoder("plus-tfm-tiny", max_len=10)
    tokens, lengths = random_batch([4], seed=7)
    with pytest.raises(ValueError, match="max_len"):
        encoder.encode_pair(tokens, lengths, tokens, lengths)  # 4 + 4 + 3 tokens


def test_layernorm_fixed_by_default_original_behind_flag():
    fixed = build_encoder("plus-tfm-tiny")
    original = build_encoder("plus-tfm-tiny", original_layernorm=True)
    assert isinstance(fixed.embed_norm, nn.LayerNorm)
    assert isinstance(original.embed_norm, OriginalLayerNorm)
    x = torch.randn(4, 64) * 3
    expected = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.std(-1, unbiased=False, keepdim=True) + 1e-12)
    torch.testing.assert_close(original.embed_norm(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("preset", ["plus-rnn-tiny", "plus-tfm-tiny"])
def test_checkpoint_round_trip(tmp_path, preset):
    torch.manual_seed(0)
    encoder = build_encoder(preset).eval()
    path = tmp_path / "model.pt"
    save_checkpoint(path, "encoder", encoder.config, encoder.state_dict(), steps=12, objective="plus")
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]
    payload = load_checkpoint(path)
    assert payload["format"] == "plus" and payload["version"] == 2 and payload["steps"] == 12
    assert payload["model_config"] == encoder.config.model_dump() and payload["model_config"]["kind"] == preset[5:8]
    loaded = load_encoder(path)
    tokens, lengths = random_batch([6, 3], seed=8)
    torch.testing.assert_close(loaded(tokens, lengths), encoder(tokens, lengths))
    assert loaded.config == encoder.config


def test_same_weights_give_the_same_checkpoint_bytes(tmp_path):
    """Results record the sha256 of the weights they used, so two runs that save the same weights must agree."""
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny")
    for run in ("local", "cluster"):
        save_checkpoint(tmp_path / run / "model.pt", "encoder", encoder.config, encoder.state_dict())
    assert file_sha256(tmp_path / "local" / "model.pt") == file_sha256(tmp_path / "cluster" / "model.pt")


def test_finetuned_checkpoint_yields_its_encoder(tmp_path):
    torch.manual_seed(0)
    model = nn.ModuleDict({"encoder": build_encoder("plus-rnn-tiny"), "head": nn.Linear(64, 2)})
    save_checkpoint(tmp_path / "ft.pt", "finetuned", model["encoder"].config, model.state_dict())
    loaded = load_encoder(tmp_path / "ft.pt")
    torch.testing.assert_close(loaded.proj.weight, model["encoder"].proj.weight)


def test_foreign_or_broken_checkpoints_are_input_errors(tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(InputError, match="notes.pt"):
        load_checkpoint(text)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(InputError, match="not a PLUS checkpoint"):
        load_checkpoint(foreign)
    future = tmp_path / "future.pt"
    torch.save({"format": "plus", "version": 99, "kind": "encoder", "model_config": {}, "state_dict": {}}, future)
    with pytest.raises(InputError, match="version"):
        load_checkpoint(future)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    mismatched = tmp_path / "mismatched.pt"
    encoder = build_encoder("plus-rnn-tiny")
    save_checkpoint(mismatched, "encoder", preset_config("plus-rnn-tiny", hidden=8), encoder.state_dict())
    with pytest.raises(InputError, match="do not match"):
        load_encoder(mismatched)


def test_version_1_and_bad_model_configs_are_input_errors(tmp_path):
    encoder = build_encoder("plus-rnn-tiny")
    old = tmp_path / "old.pt"
    config_v1 = {**encoder.config.model_dump(), "heads": 0, "ffn": 0, "max_len": 0, "rnn_impl": "padded"}
    torch.save({"format": "plus", "version": 1, "kind": "encoder", "model_config": config_v1, "state_dict": {}}, old)
    with pytest.raises(InputError, match=r"old\.pt: checkpoint version 1 .*version 2"):
        load_checkpoint(old)
    broken = tmp_path / "broken.pt"
    save_checkpoint(broken, "encoder", encoder.config, encoder.state_dict())
    payload = torch.load(broken, weights_only=True)
    payload["model_config"]["layers"] = 0
    torch.save(payload, broken)
    with pytest.raises(InputError, match=r"broken\.pt: model_config: layers"):
        load_encoder(broken)
    payload["model_config"] = {"layers": 2, "hidden": 32}
    torch.save(payload, broken)
    with pytest.raises(InputError, match=r"broken\.pt: model_config: kind"):
        load_encoder(broken)


def test_config_types_validate_ranges_and_forbid_unknown_keys():
    assert (
        RNNConfig(layers=1, hidden=1).kind == "rnn"
        and TransformerConfig(layers=1, hidden=4, heads=2, ffn=1).kind == "tfm"
    )
    bad = [
        {"kind": "rnn", "layers": 0, "hidden": 8},
        {"kind": "rnn", "layers": 1, "hidden": 0},
        {"kind": "rnn", "layers": 1, "hidden": 8, "dropout": 1.0},
        {"kind": "rnn", "layers": 1, "hidden": 8, "dropout": -0.1},
        {"kind": "rnn", "layers": 1, "hidden": 8, "proj_dim": 0},
        {"kind": "rnn", "layers": 1, "hidden": 8, "heads": 2},  # a transformer key
        {"kind": "tfm", "layers": 1, "hidden": 10, "heads": 3, "ffn": 4},
        {"kind": "tfm", "layers": 1, "hidden": 8, "heads": 2, "ffn": 4, "max_len": 2},
        {"kind": "tfm", "layers": 1, "hidden": 8, "heads": 2, "ffn": 4, "embed_dim": 21},  # an RNN key
        {"kind": "cnn", "layers": 1, "hidden": 8},
    ]
    named = ["layers", "hidden", "dropout", "dropout", "proj_dim", "heads", "heads", "max_len", "embed_dim", "kind"]
    for values, key in zip(bad, named, strict=True):
        with pytest.raises(InputError, match=rf"^my\.yaml: .*{key}"):
            parse_encoder_config(values, source="my.yaml")
    with pytest.raises(ValueError, match="frozen"):
        PRESETS["plus-rnn-base"].hidden = 8
    config = parse_encoder_config({"kind": "tfm", "layers": 1, "hidden": 8, "heads": 2, "ffn": 4})
    assert isinstance(config, TransformerConfig) and (config.max_len, config.dropout, config.proj_dim) == (
        512,
        0.1,
        None,
    )
    assert parse_encoder_config(PRESETS["plus-rnn-base"].model_dump()) == PRESETS["plus-rnn-base"]


def test_preset_config_names_the_bad_preset_or_key():
    assert preset_config("plus-rnn-tiny") is PRESETS["plus-rnn-tiny"]
    assert preset_config("plus-tfm-tiny", max_len=64).max_len == 64
    assert preset_config(PRESETS["plus-rnn-tiny"], layers=1).layers == 1
    with pytest.raises(InputError, match="'plus-rnn-medium'"):
        preset_config("plus-rnn-medium")
    with pytest.raises(InputError, match="plus-tfm-tiny.*heads"):
        preset_config("plus-tfm-tiny", heads=5)
    with pytest.raises(InputError, match="plus-rnn-tiny.*max_len"):
        preset_config("plus-rnn-tiny", max_len=64)


def test_plus_models_cli(capsys):
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert set(listed) == set(PRESETS)
    assert listed["plus-rnn-base"]["kind"] == "rnn"
    assert abs(listed["plus-rnn-base"]["parameters"] - 14.9e6) / 14.9e6 < 0.01
    assert main(["models"]) == 0
    table = capsys.readouterr().out
    assert "plus-tfm" in table and "14,919,306" in table


def test_throughput_benchmark_prints_one_json_line(capsys, benchmark_module):
    benchmark = benchmark_module("pretrain_throughput")
    argv = ["--preset", "plus-rnn-tiny", "--pairs", "2", "--steps", "2", "--warmup", "1", "--median-length", "30"]
    assert benchmark.main([*argv, "--threads", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["residues_per_s"] > 0 and result["impl"] == "padded" and result["pairs"] == 2
    assert len(result["step_seconds"]) == 2 and result["peak_memory_mib"] > 0


def test_throughput_benchmark_compares_with_the_packed_lstm_from_the_same_weights(capsys, benchmark_module):
    benchmark = benchmark_module("pretrain_throughput")
    argv = ["--preset", "plus-rnn-tiny", "--pairs", "3", "--steps", "1", "--warmup", "0", "--median-length", "30"]
    assert benchmark.main([*argv, "--threads", "1", "--compare-impl"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    padded, packed = result["results"]["padded"], result["results"]["packed"]
    assert result["residues_per_s"] == padded["residues_per_s"] and result["padded_over_packed"] > 0
    assert packed["impl"] == "packed" and packed["parameters"] == padded["parameters"]
    # one step from the same weights on the same batch and masks: the same loss (printed to 4 decimals)
    assert abs(padded["final_loss"] - packed["final_loss"]) <= 1.5e-4
