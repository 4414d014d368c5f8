"""MLM masking, soft symmetric alignment, ordinal regression and the PLUS pretraining loss."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from plus.models import build_encoder
from plus.objectives import (
    IGNORE_INDEX,
    OrdinalRegression,
    PretrainingModel,
    PretrainLossConfig,
    expected_level,
    level_probabilities,
    mask_tokens,
    ordinal_loss,
    soft_symmetric_alignment,
)
from plus.settings import PretrainSettings
from plus.tokens import MASK, PAD, X


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_batch(lengths: list[int], seed: int = 0, high: int = 21) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    tokens = torch.randint(1, high + 1, (len(lengths), max(lengths)), generator=generator)
    tokens[torch.arange(max(lengths))[None, :] >= lengths_t[:, None]] = PAD
    return tokens, lengths_t


# masking


def test_mask_counts_positions_and_targets():
    lengths = [400, 100, 7, 3, 60]
    tokens, lengths_t = random_batch(lengths, seed=1)
    tokens[4, :55] = X  # only 5 maskable residues left in sequence 4
    inputs, targets = mask_tokens(tokens, lengths_t, torch.Generator().manual_seed(0))
    chosen = targets != IGNORE_INDEX
    # round-half-up(0.15 * length), at most 50, at most the number of non-X residues
    assert chosen.sum(1).tolist() == [50, 15, 1, 0, 5]
    assert torch.equal(targets[chosen], tokens[chosen])
    assert not chosen[tokens == PAD].any() and not chosen[tokens == X].any()
    assert torch.equal(inputs[~chosen], tokens[~chosen])


def test_mask_replacement_statistics_match_the_spec():
    tokens, lengths = random_batch([300] * 400, seed=2)
    generator = torch.Generator().manual_seed(3)
    inputs, targets = mask_tokens(tokens, lengths, generator)
    chosen = targets != IGNORE_INDEX
    n = chosen.sum().item()
    assert n == 400 * 45
    masked = (inputs[chosen] == MASK).float().mean().item()
    kept = (inputs[chosen] == tokens[chosen]).float().mean().item()
    replaced = ((inputs[chosen] != MASK) & (inputs[chosen] != tokens[chosen])).float().mean().item()
    # 10% random residue among 21 tokens: 1/21 of them equal the original
    assert masked == pytest.approx(0.8, abs=0.01)
    assert kept == pytest.approx(0.1 + 0.1 / 21, abs=0.01)
    assert replaced == pytest.approx(0.1 * 20 / 21, abs=0.01)
    random_values = inputs[chosen & (inputs != MASK) & (inputs != tokens)]
    assert random_values.min() >= 1 and random_values.max() <= X
    # positions are uniform along the sequence
    per_position = chosen.float().mean(0)
    assert per_position[:150].mean().item() == pytest.approx(per_position[150:].mean().item(), abs=0.01)


def test_mask_is_reproducible_from_the_generator():
    tokens, lengths = random_batch([80, 40], seed=4)
    first = mask_tokens(tokens, lengths, torch.Generator().manual_seed(9))
    second = mask_tokens(tokens, lengths, torch.Generator().manual_seed(9))
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


# soft symmetric alignment


def ssa_one_pair(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    s = -(z_a[:, None, :] - z_b[None, :, :]).abs().sum(-1)
    a, b = torch.softmax(s, dim=1), torch.softmax(s, dim=0)
    c = a + b - a * b
    return (c * s).sum() / c.sum()


def test_ssa_equals_a_loop_over_pairs_with_gradients():
    torch.manual_seed(0)
    len_a, len_b = torch.tensor([7, 1, 12, 4]), torch.tensor([3, 9, 12, 1])
    z_a = torch.randn(4, 12, 5, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(4, 12, 5, dtype=torch.float64, requires_grad=True)
    batched = soft_symmetric_alignment(z_a, z_b, len_a, len_b)
    looped = torch.stack([ssa_one_pair(z_a[i, : len_a[i]], z_b[i, : len_b[i]]) for i in range(4)])
    torch.testing.assert_close(batched, looped, atol=1e-5, rtol=0)
    grad_batched = torch.autograd.grad(batched.sum(), (z_a, z_b))
    grad_looped = torch.autograd.grad(looped.sum(), (z_a, z_b))
    for got, want in zip(grad_batched, grad_looped, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    chunked = soft_symmetric_alignment(z_a, z_b, len_a, len_b, pairs_per_chunk=3)
    torch.testing.assert_close(chunked, batched)


def test_ssa_rejects_empty_sequences():
    z = torch.randn(1, 3, 2)
    with pytest.raises(ValueError, match="at least one residue"):
        soft_symmetric_alignment(z, z, torch.tensor([0]), torch.tensor([3]))


# ordinal regression


def test_ordinal_layer_initialisation_loss_and_probabilities():
    ordinal = OrdinalRegression(5)
    assert torch.all(ordinal.linear.weight == 1) and torch.all(ordinal.linear.bias == 10)
    logits = ordinal(torch.tensor([-12.0, -9.5, -30.0]))
    assert logits.shape == (3, 4)
    levels = torch.tensor([0, 3, 4])
    cumulative = torch.tensor([[0.0, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]])
    torch.testing.assert_close(ordinal_loss(logits, levels), F.binary_cross_entropy_with_logits(logits, cumulative))
    monotone = torch.tensor([[3.0, 1.0, -1.0, -2.0]])
    probabilities = level_probabilities(monotone)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(1))
    levels_range = torch.arange(5, dtype=torch.float32)
    torch.testing.assert_close(expected_level(monotone), (probabilities * levels_range).sum(1))


# the pretraining loss


def pair_batch(seed: int = 0, n_pairs: int = 4):
    generator = torch.Generator().manual_seed(seed)
    len_a = torch.randint(10, 30, (n_pairs,), generator=generator)
    len_b = torch.randint(10, 30, (n_pairs,), generator=generator)
    tokens_a, _ = random_batch(len_a.tolist(), seed=seed + 1, high=20)
    tokens_b, _ = random_batch(len_b.tolist(), seed=seed + 2, high=20)
    return tokens_a, len_a, tokens_b, len_b, torch.arange(n_pairs) % 2


@pytest.mark.parametrize("preset", ["plus-rnn-tiny", "plus-tfm-tiny"])
def test_loss_is_the_weighted_sum_and_counts_both_sequences(preset):
    torch.manual_seed(0)
    model = PretrainingModel(build_encoder(preset)).eval()
    tokens_a, len_a, tokens_b, len_b, same = pair_batch()
    result = model(tokens_a, len_a, tokens_b, len_b, same, generator=torch.Generator().manual_seed(1))
    assert set(result) >= {"loss", "mlm_loss", "sfp_loss", "mlm_accuracy", "sfp_accuracy"}
    torch.testing.assert_close(result["loss"], 0.7 * result["mlm_loss"] + 0.3 * result["sfp_loss"])
    # only sequence B has masked targets: the default counts them, the authors' quirk drops them
    no_targets = torch.full_like(tokens_a, IGNORE_INDEX)
    _, targets_b = mask_tokens(tokens_b, len_b, torch.Generator().manual_seed(2))
    both = model.losses(tokens_a, no_targets, len_a, tokens_b, targets_b, len_b, same)
    assert both["mlm_loss"] > 0
    quirk = PretrainingModel(
        model.encoder, PretrainLossConfig.from_settings(PretrainSettings(drop_pair_b_mlm=True))
    ).eval()
    quirk.sfp_head = model.sfp_head
    dropped = quirk.losses(tokens_a, no_targets, len_a, tokens_b, targets_b, len_b, same)
    assert dropped["mlm_loss"] == 0
    torch.testing.assert_close(dropped["loss"], 0.3 * both["sfp_loss"])


def test_authors_weighting_of_sequence_a():
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny").eval()
    quirk = PretrainingModel(encoder, PretrainLossConfig.from_settings(PretrainSettings(drop_pair_b_mlm=True))).eval()
    result = quirk(*pair_batch(seed=3), generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(result["loss"], 1.19 * result["mlm_loss"] + 0.3 * result["sfp_loss"])


def test_sfp_threshold_option_and_mlm_only_objective():
    torch.manual_seed(0)
    encoder = build_encoder("plus-rnn-tiny").eval()
    batch = pair_batch(seed=5)
    default = PretrainingModel(encoder).eval()
    logits = default.sfp_logits(*batch[:4])
    assert logits.shape == (4,)
    authors = PretrainingModel(encoder, PretrainLossConfig.from_settings(PretrainSettings(sfp_logit_threshold=0.5)))
    logit, same = torch.tensor([0.2, 0.7, -1.0, 0.3]), torch.tensor([1, 1, 0, 1])
    assert default._sfp_terms(logit, same)["sfp_accuracy"] == 1.0
    assert authors._sfp_terms(logit, same)["sfp_accuracy"] == 0.5
    unmasked = default(*batch, sfp_on_unmasked=True)
    torch.testing.assert_close(unmasked["sfp_logit"], logits)
    mlm_only = PretrainingModel(encoder, PretrainLossConfig.from_settings(objective="mlm"))
    result = mlm_only(*batch[:4])
    assert "sfp_loss" not in result and "sfp_accuracy" not in result
    torch.testing.assert_close(result["loss"], result["mlm_loss"])
    with pytest.raises(ValueError, match="same_family"):
        default(*batch[:4])


def test_tiny_rnn_overfits_a_tiny_batch_of_pairs():
    torch.manual_seed(0)
    model = PretrainingModel(build_encoder("plus-rnn-tiny"))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = pair_batch(seed=6)
    losses = []
    for _ in range(100):
        result = model(*batch, generator=torch.Generator().manual_seed(0))  # the same masks every step
        optimizer.zero_grad()
        result["loss"].backward()
        optimizer.step()
        losses.append(result["loss"].item())
    assert losses[-1] < losses[0] / 20
    assert result["mlm_accuracy"] > 0.9 and result["sfp_accuracy"] == 1.0
