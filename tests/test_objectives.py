"""MLM masking, soft symmetric alignment, ordinal regression and the PLUS pretraining loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from plus.data.batching.task_examples import TargetScaling
from plus.inference.batches import predict_outputs
from plus.models import build_encoder
from plus.models.task_model import TaskModel
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
    ssa,
)
from plus.objectives.ssa import pair_blocks
from plus.settings import FinetuneSettings, PretrainSettings
from plus.tasks import resolve_task
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
    blocks = soft_symmetric_alignment(z_a, z_b, len_a, len_b, max_elements=3 * 12 * 12)
    torch.testing.assert_close(blocks, batched)


def random_pairs(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A padded float32 batch of 2..8 pairs of 1..200 residues, the longest of each side reaching its padding."""
    generator = torch.Generator().manual_seed(seed)
    n, width_a, width_b = (int(torch.randint(low, high, (1,), generator=generator)) for low, high in SHAPES)
    len_a = torch.randint(1, width_a + 1, (n,), generator=generator)
    len_b = torch.randint(1, width_b + 1, (n,), generator=generator)
    len_a[0], len_b[-1] = width_a, width_b
    z_a = torch.randn(n, width_a, 16, generator=generator, requires_grad=True)
    z_b = torch.randn(n, width_b, 16, generator=generator, requires_grad=True)
    return z_a, z_b, len_a, len_b


SHAPES = ((2, 9), (1, 201), (1, 201))


@pytest.mark.parametrize("seed", range(6))
def test_ssa_blocks_give_the_one_block_scores_and_gradients_bit_for_bit(seed):
    """Blocks of pairs keep the batch's padding, so each pair's arithmetic is that of one block (one thread)."""
    z_a, z_b, len_a, len_b = random_pairs(seed)
    n, cells = z_a.shape[0], z_a.shape[1] * z_b.shape[1]
    whole = soft_symmetric_alignment(z_a, z_b, len_a, len_b, max_elements=n * cells)
    whole_grads = torch.autograd.grad(whole.square().sum(), (z_a, z_b))
    for budget in (1, cells, 2 * cells + 1, 3 * cells):
        blocks = soft_symmetric_alignment(z_a, z_b, len_a, len_b, max_elements=budget)
        assert torch.equal(blocks, whole)
        grads = torch.autograd.grad(blocks.square().sum(), (z_a, z_b))
        assert all(torch.equal(got, want) for got, want in zip(grads, whole_grads, strict=True))
        with torch.no_grad():
            assert torch.equal(soft_symmetric_alignment(z_a, z_b, len_a, len_b, max_elements=budget), whole)


def test_ssa_blocks_bound_the_pairs_per_block():
    assert pair_blocks(5, 10, 10, 250) == [(0, 2), (2, 4), (4, 5)]
    assert pair_blocks(3, 100, 100, 10) == [(0, 1), (1, 2), (2, 3)]  # a pair over the budget goes alone
    assert pair_blocks(4, 10, 10, None) == [(0, 4)]


def test_homology_predictions_and_gradients_do_not_depend_on_the_ssa_budget(monkeypatch):
    """A homology model's predictions and training gradients, in one SSA block and in blocks of one pair."""
    torch.manual_seed(0)
    module = TaskModel(build_encoder("plus-rnn-tiny"), resolve_task("homology"), FinetuneSettings(), TargetScaling(), 0)
    module.eval()
    generator = torch.Generator().manual_seed(1)
    tokens = [torch.randint(1, 21, (int(n),), generator=generator).numpy() for n in torch.randint(5, 90, (12,))]
    batch = {"tokens_a": random_batch([30, 7, 52])[0], "len_a": torch.tensor([30, 7, 52])}
    batch |= {"tokens_b": random_batch([11, 64, 3], seed=1)[0], "len_b": torch.tensor([11, 64, 3])}
    target = torch.tensor([0, 2, 4])

    def run() -> tuple[list[dict], list[torch.Tensor]]:
        predicted = predict_outputs(module, tokens[:6], tokens[6:], max_items=4)
        module.zero_grad()
        module.task_loss(module.outputs(batch)["logits"], target).backward()
        return predicted, [p.grad.clone() for p in module.parameters() if p.grad is not None]

    one_block, one_block_grads = run()
    monkeypatch.setattr(ssa, "MAX_ELEMENTS", 1)
    blocks, block_grads = run()
    for got, want in zip(blocks, one_block, strict=True):
        assert got.keys() == want.keys() and all(np.array_equal(got[k], want[k]) for k in got)
    assert len(block_grads) == len(one_block_grads) > 0
    assert all(torch.equal(got, want) for got, want in zip(block_grads, one_block_grads, strict=True))


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
