"""The authors' protocol (docs/fidelity.md): bugs B1-B3 fixed, each protocol difference a named setting
that config/paper.yaml selects. Unit-level: no Trainer runs except where a setting only acts in one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from plus.data.batching.pfam_pairs import SequenceBatch
from plus.data.batching.samplers import LengthBucketBatchSampler, RankSlices
from plus.data.corpus.store import CorpusStore, CorpusWriter
from plus.errors import InputError
from plus.io import read_config
from plus.jobs import plan_workflow
from plus.models import build_encoder
from plus.models.heads import ProteinHead
from plus.objectives.masking import mask_tokens, masked_counts, pair_caps
from plus.objectives.pretraining import PretrainingModel, PretrainLossConfig
from plus.random_streams import random_stream
from plus.settings import FinetuneSettings, PretrainJob, PretrainSettings, SettingsError, parse_settings
from plus.tasks import resolve_task
from plus.tokens import MASK
from plus.training.finetune import FinetuneModule, TaskDataModule
from plus.training.optimizers import BertAdam, warmup_linear
from plus.training.pretrain import PfamDataModule, PretrainModule, build_pretraining

ROOT = Path(__file__).resolve().parents[1]
AA = "ARNDCQEGHILKMFPSTWYV"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def paper():
    return plan_workflow(read_config(ROOT / "config" / "paper.yaml", "paper config"))


def logged(module: torch.nn.Module) -> dict[str, float]:
    """Replace the module's `log` by one that records the values."""
    values: dict[str, float] = {}
    module.log = lambda name, value, **_: values.__setitem__(name, float(value))  # type: ignore[method-assign]
    return values


def protein_batch(n: int = 4, length: int = 30, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 21, (n, length), generator=generator)
    return {"tokens": tokens, "lengths": torch.full((n,), length), "target": torch.arange(n) % 2}


def finetune_module(task: str = "solubility", preset: str = "plus-rnn-tiny", **settings: object) -> FinetuneModule:
    torch.manual_seed(0)
    spec = resolve_task(task)
    return FinetuneModule(build_encoder(preset), spec, FinetuneSettings(**settings), _scaling(), seed=0)


def _scaling():
    from plus.data.batching.task_examples import TargetScaling

    return TargetScaling()


# ------------------------------------------------------------------------------------------------ bugs B1-B3


def test_b1_validation_task_loss_is_on_unmasked_inputs_and_mlm_in_a_masked_pass() -> None:
    module = finetune_module().eval()
    batch = protein_batch()
    values = logged(module)
    module.validation_step(batch, 0)
    with torch.no_grad():
        unmasked = module.task_loss(module.outputs(batch)["logits"], batch["target"])
        masked = module.outputs(batch, random_stream(0, 0, "finetune-val-mask", "cpu"))
    assert values["val_task_loss"] == pytest.approx(float(unmasked), abs=1e-6)
    assert float(unmasked) != pytest.approx(float(module.task_loss(masked["logits"], batch["target"])), abs=1e-6)
    assert values["val_mlm_loss"] == pytest.approx(float(masked["mlm_loss"]), abs=1e-6)
    w = module.mlm_weight
    assert values["val_loss"] == pytest.approx((1 - w) * values["val_task_loss"] + w * values["val_mlm_loss"])


def test_b3_no_nan_when_nothing_in_a_batch_can_be_masked() -> None:
    module = finetune_module()
    tokens = torch.tensor([[1, 2, 0], [3, 4, 5]])  # 2 and 3 residues: round(0.15 * len) = 0
    batch = {"tokens": tokens, "lengths": torch.tensor([2, 3]), "target": torch.tensor([0, 1])}
    logged(module)
    loss = module.training_step(batch, 0)
    assert torch.isfinite(loss)
    loss.backward()  # the zero MLM term keeps a graph
    out = module.outputs(batch, random_stream(0, 0, "x", "cpu"))
    assert float(out["mlm_loss"]) == 0.0


# ------------------------------------------------------------------------------------------------ row 4


def test_bert_adam_first_steps_match_a_hand_computation() -> None:
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = BertAdam([param], lr=0.1, eps=1e-6, weight_decay=0.01)
    grads = [torch.tensor([0.5, -1.0]), torch.tensor([0.2, 0.3])]
    p, m, v = torch.tensor([1.0, -2.0]), torch.zeros(2), torch.zeros(2)
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        p = p - 0.1 * (m / (v.sqrt() + 1e-6) + 0.01 * p)  # no bias correction
        torch.testing.assert_close(param.detach(), p)
    # with bias correction (torch's Adam) the first step would move by lr: here by lr * 0.1 / sqrt(0.001) ~ 0.316 lr
    assert not torch.allclose(param.detach(), torch.tensor([0.9, -1.9]), atol=1e-3)


def test_tfm_learning_rate_warms_up_over_one_percent_then_decays_to_zero(paper) -> None:
    job = paper.pretrain("plus-tfm")
    job = job.model_copy(update={"preset": "plus-tfm-tiny"})
    module = build_pretraining(job, max_steps=1000)
    config = module.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert isinstance(optimizer, BertAdam) and optimizer.defaults["eps"] == 1e-6
    assert optimizer.defaults["weight_decay"] == 0.01
    rates = {}
    for step in range(1001):
        rates[step] = optimizer.param_groups[0]["lr"]
        optimizer.step()
        scheduler.step()
    assert rates[0] == 0.0
    assert rates[5] == pytest.approx(0.5e-4)
    assert rates[10] == pytest.approx(1e-4 * 0.99)  # 1%: warm-up done, decay (1 - x) begins
    assert rates[1000] == 0.0
    assert max(rates.values()) <= 1e-4
    assert warmup_linear(1000, 0.01)(500) == pytest.approx(0.5)


def test_per_tensor_clipping_clips_each_parameter_on_its_own() -> None:
    job = PretrainJob(
        name="t", objective="plus", preset="plus-rnn-tiny", training=PretrainSettings(grad_clip_scope="per-tensor")
    )
    module = build_pretraining(job)
    for param in module.parameters():
        param.grad = torch.full_like(param, 10.0)
    module.configure_gradient_clipping(None, 1.0, "norm")
    norms = [float(p.grad.norm()) for p in module.parameters()]
    assert max(norms) == pytest.approx(1.0, rel=1e-4) and min(norms) == pytest.approx(1.0, rel=1e-4)


def test_warmup_needs_bert_adam() -> None:
    with pytest.raises(SettingsError, match="warmup_fraction applies to optimizer bert-adam"):
        parse_settings(PretrainSettings, {"warmup_fraction": 0.01})


# ------------------------------------------------------------------------------------------------ rows 6, 8, 9


def _sccs_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    sccs = [f"{'ab'[rng.integers(2)]}.{rng.integers(2)}.{rng.integers(2)}.{rng.integers(2)}" for _ in range(n)]
    sequences = ["".join(AA[j] for j in rng.integers(0, 20, 25)) for _ in range(n)]
    return pd.DataFrame({"id": [f"d{i}" for i in range(n)], "sequence": sequences, "label": sccs})


def _write(root: Path, frames: dict[str, pd.DataFrame]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for split, frame in frames.items():
        frame.to_parquet(root / f"{split}.parquet")
    return root


def test_homology_batches_of_64_pairs_under_paper_settings(paper, tmp_path: Path) -> None:
    job = paper.finetune("plus-rnn-base", "homology", 0)
    assert job.training.homology_batch_size == 64 and job.training.batch_size == 32
    train = _sccs_frame(60)
    valid = train.assign(sequence_b=train["sequence"][::-1].to_numpy(), label=0)
    training = job.training.model_copy(update={"homology_pairs_per_epoch": 200})
    data = TaskDataModule(job.task, _write(tmp_path, {"train": train, "valid": valid}), training, 0)
    batches = list(data.batch_sampler())
    assert [len(b) for b in batches] == [64, 64, 64, 8]


def _regression_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sequences = ["".join(AA[j] for j in rng.integers(0, 20, 20)) for _ in range(n)]
    return pd.DataFrame({"id": [f"s{i}" for i in range(n)], "sequence": sequences, "label": rng.normal(3, 2, n)})


def test_raw_regression_targets_reach_the_loss(paper, tmp_path: Path) -> None:
    frames = {"train": _regression_frame(20, 0), "valid": _regression_frame(5, 1)}
    spec = resolve_task("stability")
    data_dir = _write(tmp_path, frames)
    raw = TaskDataModule(spec, data_dir, paper.finetune("plus-rnn-base", "stability", 0).training, 0)
    standardized = TaskDataModule(spec, data_dir, FinetuneSettings(), 0)
    batch = raw.collate([raw.train_set[i] for i in range(4)])
    np.testing.assert_allclose(batch["target"].numpy(), frames["train"]["label"][:4].to_numpy(), rtol=1e-6)
    scaled = standardized.collate([standardized.train_set[i] for i in range(4)])["target"]
    assert not torch.allclose(scaled, batch["target"])
    module = FinetuneModule(build_encoder("plus-rnn-tiny"), spec, FinetuneSettings(), raw.scaling, seed=0)
    logits = torch.zeros(4)
    assert float(module.task_loss(logits, batch["target"])) == pytest.approx(float((batch["target"] ** 2).mean()))


def _protein_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sequences = ["".join(AA[j] for j in rng.integers(0, 20, int(rng.integers(10, 60)))) for _ in range(n)]
    return pd.DataFrame({"id": [f"p{i}" for i in range(n)], "sequence": sequences, "label": ["0", "1"] * (n // 2)})


def test_batch_order_shuffle_and_file_order(tmp_path: Path) -> None:
    data_dir = _write(tmp_path, {"train": _protein_frame(100, 0), "valid": _protein_frame(10, 1)})
    spec = resolve_task("solubility")
    buckets = TaskDataModule(spec, data_dir, FinetuneSettings(batch_size=10), 0)
    shuffled = TaskDataModule(spec, data_dir, FinetuneSettings(batch_size=10, batch_order="shuffle"), 0)
    in_file_order = TaskDataModule(spec.model_copy(update={"file_order": True}), data_dir, FinetuneSettings(), 0)
    lengths = buckets.train_set.lengths
    spread = [np.ptp(lengths[b]) for b in buckets.batch_sampler()]
    shuffle_batches = list(shuffled.batch_sampler())
    assert np.mean(spread) < np.mean([np.ptp(lengths[b]) for b in shuffle_batches])
    assert sorted(sum(shuffle_batches, [])) == list(range(100)) and sum(shuffle_batches, []) != list(range(100))
    sampler = shuffled.batch_sampler()
    sampler.set_epoch(1)
    assert list(sampler) != shuffle_batches  # a new shuffle each epoch, fixed by (seed, epoch)
    sampler.set_epoch(0)
    assert list(sampler) == shuffle_batches
    assert sum(in_file_order.batch_sampler(), []) == list(range(100))


# ------------------------------------------------------------------------------------------------ row 7


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pfam")
    rng = np.random.default_rng(0)
    names = [{"accession": f"PF{f:05d}.1", "id": f"fam{f}"} for f in range(4)]
    for split, n in (("train", 200), ("test", 12)):
        with CorpusWriter(root / split) as writer:
            for i in range(n):
                writer.add(rng.integers(1, 21, int(rng.integers(20, 40))).astype(np.uint8), i % 4)
            writer.close(names)
    from plus.data.corpus.pfam import sample_test_pairs

    sample_test_pairs(CorpusStore(root / "test"), 24, seed=1).to_parquet(root / "test_pairs.parquet")
    return {"train": root / "train", "test": root / "test", "test_pairs": root / "test_pairs.parquet"}


def test_mlm_only_steps_read_64_single_sequences(paper, corpus: dict[str, Path]) -> None:
    job = paper.pretrain("mlm-rnn-base").model_copy(update={"preset": "plus-rnn-tiny"})
    assert job.training.mlm_only_inputs == "single-sequences" and job.training.batch_pairs == 64
    data = PfamDataModule(corpus["train"], corpus["test"], corpus["test_pairs"], job.training, None, True)
    batches = list(data.batch_sampler())
    assert sorted(len(b) for b in batches) == [8, 64, 64, 64]  # ceil(200 / 64): the remainder too (row 28)
    batch = data.collate([data.dataset[i] for i in next(b for b in batches if len(b) == 64)])
    assert isinstance(batch, SequenceBatch) and batch.tokens.shape[0] == 64
    module = build_pretraining(job)
    logged(module)
    assert torch.isfinite(module.training_step(batch, 0))
    pairs = PfamDataModule(corpus["train"], corpus["test"], corpus["test_pairs"], PretrainSettings(), None)
    assert len(pairs.collate([pairs.dataset[i] for i in range(4)])) == 5  # pairs: a partner is drawn


# ------------------------------------------------------------------------------------------------ row 27


def test_pretraining_batches_are_a_uniform_shuffle_under_paper_settings(paper, corpus: dict[str, Path]) -> None:
    job = paper.pretrain("plus-rnn-base")
    assert job.training.batch_order == "shuffle" and PretrainSettings().batch_order == "length-buckets"
    store = CorpusStore(corpus["train"])
    spreads = {}
    for order in ("length-buckets", "shuffle"):
        training = PretrainSettings(batch_pairs=8, batch_order=order)
        data = PfamDataModule(corpus["train"], corpus["test"], corpus["test_pairs"], training, None)
        batches = list(data.batch_sampler())
        assert len(batches) == 200 // 8 and len({i for b in batches for i in b}) == 200 // 8 * 8
        spreads[order] = np.mean([np.ptp(store.lengths_of(b)) for b in batches])
    assert spreads["length-buckets"] < 0.5 * spreads["shuffle"]


# ------------------------------------------------------------------------------------------------ rows 10, 26


def test_global_batch_is_split_across_ranks_and_each_rank_masks_its_own() -> None:
    lengths = np.arange(40) % 13 + 5
    single = list(RankSlices(LengthBucketBatchSampler(lengths, 8, seed=2), 8))
    ranks = [list(RankSlices(LengthBucketBatchSampler(lengths, 8, seed=2), 8, 2, r)) for r in (0, 1)]
    for step, batch in enumerate(single):
        assert len(ranks[0][step]) == len(ranks[1][step]) == 4
        assert sorted(ranks[0][step] + ranks[1][step]) == sorted(batch)
    with pytest.raises(InputError, match="batch size 8 is not divisible by the 3 training processes"):
        RankSlices(LengthBucketBatchSampler(lengths, 8), 8, 3, 0)
    tokens = torch.randint(1, 21, (4, 40), generator=torch.Generator().manual_seed(0))
    masks = [
        mask_tokens(tokens, torch.full((4,), 40), random_stream(0, 5, "pretrain-mask", "cpu", r))[1] for r in (0, 1)
    ]
    assert not torch.equal(masks[0], masks[1])


# ------------------------------------------------------------------------------------------------ rows 11, 12, 14, 15


def test_cls_head_is_a_linear_on_the_cls_state_and_residue_heads_a_linear(paper) -> None:
    job = paper.finetune("plus-tfm", "solubility", 0)
    assert job.task.head.pooling == "cls" and job.task.head.hidden is None
    torch.manual_seed(0)
    encoder = build_encoder("plus-tfm-tiny").eval()
    module = FinetuneModule(encoder, job.task, job.training, _scaling(), seed=0).eval()
    assert isinstance(module.head, ProteinHead)
    assert [type(m).__name__ for m in module.head.mlp] == ["Dropout", "Linear"]
    batch = protein_batch(length=12)
    _, cls = encoder.encode_with_cls(batch["tokens"], batch["lengths"])
    torch.testing.assert_close(module.outputs(batch)["logits"], module.head.mlp(cls))
    residue = paper.finetune("plus-tfm", "secstr", 0).task
    residue_module = FinetuneModule(encoder, residue, job.training, _scaling(), seed=0)
    assert [type(m).__name__ for m in residue_module.head.mlp] == ["Dropout", "Linear"]
    with pytest.raises(ValueError, match="pooling 'cls' needs an encoder with a \\[CLS\\] state"):
        FinetuneModule(build_encoder("plus-rnn-tiny"), job.task, job.training, _scaling(), seed=0).outputs(batch)


def test_protein_inputs_keep_their_first_n_residues() -> None:
    module = finetune_module(max_input_residues=7)
    seen = []
    module.encoder.register_forward_hook(lambda _m, args, _o: seen.append(args[0].clone()))
    batch = protein_batch(length=30)
    module.outputs(batch)
    assert seen[0].shape[1] == 7 and torch.equal(seen[0], batch["tokens"][:, :7])


def test_tfm_aux_mlm_weight_on_stability_and_fluorescence(paper) -> None:
    for task in ("stability", "fluorescence"):
        assert paper.finetune("plus-tfm", task, 0).task.aux_mlm_weight == 0.3
        assert paper.finetune("plus-rnn-base", task, 0).task.aux_mlm_weight == 0.0


def test_tfm_init_pytorch_defaults_selected_by_paper(paper) -> None:
    assert paper.pretrain("plus-tfm").architecture == {"init": "pytorch", "original_layernorm": True}
    torch.manual_seed(0)
    bert = build_encoder("plus-tfm-tiny")
    torch.manual_seed(0)
    pytorch = build_encoder("plus-tfm-tiny", init="pytorch")
    assert float(bert.token_embed.weight.std()) == pytest.approx(0.02, rel=0.1)
    assert float(pytorch.token_embed.weight.std()) == pytest.approx(1.0, rel=0.1)  # nn.Embedding: N(0, 1)
    assert float(pytorch.blocks[0].qkv.bias.abs().sum()) > 0  # nn.Linear: uniform bias, not zero


# ------------------------------------------------------------------------------------------------ rows 16, 17


def test_per_module_clipping(paper) -> None:
    assert paper.finetune("plus-rnn-base", "solubility", 0).training.grad_clip_scope == "per-module"
    for task, clipped_head in (("solubility", True), ("transmembrane", False)):
        module = finetune_module(task, grad_clip_scope="per-module", grad_clip=1.0)
        for param in module.parameters():
            param.grad = torch.full_like(param, 10.0)
        module.configure_gradient_clipping(None, 1.0, "norm")
        encoder_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.encoder.parameters()]))
        head_norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in module.head.parameters()]))
        assert float(encoder_norm) == pytest.approx(1.0, rel=1e-4)
        assert (float(head_norm) == pytest.approx(1.0, rel=1e-4)) == clipped_head
    tfm = finetune_module("solubility", "plus-tfm-tiny", grad_clip_scope="per-module")
    assert all(all(p is not q for q in tfm.encoder.parameters()) for group in tfm.clip_groups() for p in group)


def test_homology_drop_pair_b_mlm_quirk() -> None:
    tokens = torch.randint(1, 21, (3, 40), generator=torch.Generator().manual_seed(1))
    lengths = torch.full((3,), 40)
    batch = {"tokens_a": tokens, "len_a": lengths, "tokens_b": tokens.flip(1), "len_b": lengths}
    ours, quirk = finetune_module("homology"), finetune_module("homology", drop_pair_b_mlm=True)
    quirk.load_state_dict(ours.state_dict())
    both = ours.outputs(batch, random_stream(0, 0, "m", "cpu"))["mlm_loss"]
    dropped = quirk.outputs(batch, random_stream(0, 0, "m", "cpu"))["mlm_loss"]
    a = quirk._encode(tokens, lengths, random_stream(0, 0, "m", "cpu"))["mlm_loss"]
    assert float(dropped) == pytest.approx(float(1.3 * a), rel=1e-5)  # w * MLM = 0.39 * MLM(A)
    assert float(both) != pytest.approx(float(dropped))


# ------------------------------------------------------------------------------------------------ row 22


def test_authors_mask_counts() -> None:
    lengths = torch.tensor([10, 13, 20, 400])
    candidates = lengths.clone()
    assert masked_counts(lengths, candidates, 0.15, 50).tolist() == [2, 2, 3, 50]  # round half up
    assert masked_counts(lengths, candidates, 0.15, 50, "authors").tolist() == [1, 1, 3, 50]  # floor
    cap_a, cap_b = pair_caps(torch.tensor([100, 300]), torch.tensor([300, 100]), int(512 * 0.15))
    assert cap_a.tolist() == [19, 57] and cap_b.tolist() == [57, 19]
    encoder = build_encoder("plus-tfm-tiny")
    len_a, len_b = torch.tensor([400, 100]), torch.tensor([100, 400])
    tokens = torch.randint(1, 21, (2, 400), generator=torch.Generator().manual_seed(0))
    for count, expected in (("authors", [[60, 15], [15, 60]]), ("round", [[50, 15], [15, 50]])):
        model = PretrainingModel(encoder, PretrainLossConfig.from_settings(PretrainSettings(mask_count=count)))
        seen: list = []
        original = model.losses
        model.losses = lambda *args, seen=seen, original=original: seen.append(args) or original(*args)
        model(tokens, len_a, tokens, len_b, torch.tensor([1, 0]), random_stream(0, 0, "m", "cpu"))
        targets_a, targets_b = seen[0][1], seen[0][4]
        counts = [(targets_a != -100).sum(1).tolist(), (targets_b != -100).sum(1).tolist()]
        assert [[counts[0][i], counts[1][i]] for i in (0, 1)] == expected  # TFM authors: 76 per pair, not 50 each
        assert MASK in seen[0][0]


# ------------------------------------------------------------------------------------------------ rows 25, quirk


def test_keep_best_and_sfp_threshold_settings(paper) -> None:
    training = paper.pretrain("plus-rnn-base").training
    assert training.keep == "best" and training.sfp_logit_threshold == 0.5  # the authors' (row 25, Q4)
    assert PretrainSettings().keep == "final"
    assert parse_settings(PretrainSettings, {"keep": "best"}).keep == "best"
    assert math.isclose(
        PretrainLossConfig.from_settings(PretrainSettings(sfp_logit_threshold=0.5)).sfp_logit_threshold, 0.5
    )


class RecordingModule(PretrainModule):
    """Saves each rank's batch and the masks its own random stream draws for sequence A (as the objective does)."""

    record_dir = ""

    def training_step(self, batch, batch_idx):  # type: ignore[no-untyped-def]
        generator = random_stream(self.seed, self.global_step, "pretrain-mask", "cpu", self.global_rank)
        config = self.objective.config
        _, targets = mask_tokens(batch.tokens_a, batch.len_a, generator, config.mask_rate, config.max_masked_per_seq)
        path = Path(self.record_dir) / f"{self.global_rank}-{self.global_step}.pt"
        torch.save({"tokens_a": batch.tokens_a, "len_a": batch.len_a, "targets_a": targets}, path)
        return super().training_step(batch, batch_idx)


def test_two_cpu_processes_split_the_global_batch_and_draw_their_own_masks(
    corpus: dict[str, Path], tmp_path: Path
) -> None:
    """Lightning DDP over gloo with 2 CPU processes: each step's two rank batches make up the 1-process batch of
    that step, and each rank masks with its own stream (rank in random_streams)."""
    import lightning as L

    training = PretrainSettings(batch_pairs=8, max_steps=2, seed=3)
    job = PretrainJob(name="ddp", objective="plus", preset="plus-rnn-tiny", training=training)
    module = RecordingModule(build_pretraining(job).objective, training, max_steps=2)
    module.record_dir = str(tmp_path)
    data = PfamDataModule(corpus["train"], corpus["test"], corpus["test_pairs"], training, None)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=2,
        strategy="ddp_spawn",
        max_steps=2,
        limit_val_batches=0,
        use_distributed_sampler=False,  # as build_trainer
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=data)
    single = list(data.batch_sampler())  # the 1-process batches of epoch 0
    for step in (0, 1):
        expected = sorted(tuple(data.dataset[i][0].tolist()) for i in single[step])
        ranks = [torch.load(tmp_path / f"{rank}-{step}.pt", weights_only=True) for rank in (0, 1)]
        rows = [tuple(r["tokens_a"][i, : r["len_a"][i]].tolist()) for r in ranks for i in range(len(r["len_a"]))]
        assert len(ranks[0]["len_a"]) == len(ranks[1]["len_a"]) == 4
        assert sorted(rows) == expected
        other = random_stream(3, step, "pretrain-mask", "cpu", 0)  # rank 0's stream on rank 1's batch
        _, targets = mask_tokens(ranks[1]["tokens_a"], ranks[1]["len_a"], other, 0.15, 50)
        assert not torch.equal(targets, ranks[1]["targets_a"])


def test_build_trainer_leaves_sharding_to_the_data_modules(tmp_path: Path) -> None:
    from plus.training.trainer import build_trainer

    trainer = build_trainer(tmp_path, max_steps=1, val_every_n_steps=1)
    assert trainer._accelerator_connector.use_distributed_sampler is False


def test_keep_best_writes_the_lowest_validation_loss_weights(corpus: dict[str, Path], tmp_path: Path) -> None:
    from plus.models.checkpoint import load_checkpoint
    from plus.training.pretrain import run_pretraining

    training = PretrainSettings(
        batch_pairs=8, lr=0.03, max_steps=9, val_every_n_steps=3, checkpoint_every_n_steps=3, max_val_pairs=16, seed=3
    )
    job = PretrainJob(name="best", objective="plus", preset="plus-rnn-tiny", training=training)
    inputs = (corpus["train"], corpus["test"], corpus["test_pairs"])
    best = run_pretraining(
        job.model_copy(update={"training": training.model_copy(update={"keep": "best"})}),
        *inputs,
        tmp_path / "best",
        tmp_path / "best_ckpt",
    )
    final = run_pretraining(job, *inputs, tmp_path / "final", tmp_path / "final_ckpt")
    history = pd.read_csv(tmp_path / "best" / "history.csv")
    val = history.loc[history["val_loss"].notna() & (history["step"] < 9)]  # in training (step 9: the final test)
    best_step = int(val.loc[val["val_loss"].idxmin(), "step"])
    assert best["kept"] == "best" and final["kept"] == "final"
    state = torch.load(tmp_path / "best_ckpt" / "best.ckpt", weights_only=True)
    assert state["global_step"] == best_step + 1 < 9, "the test needs a best validation before the last step"
    kept = load_checkpoint(tmp_path / "best" / "model.pt")["state_dict"]
    encoder = {k.removeprefix("objective.encoder."): v for k, v in state["state_dict"].items() if "encoder." in k}
    torch.testing.assert_close(kept, encoder)
    last = load_checkpoint(tmp_path / "final" / "model.pt")["state_dict"]  # keep: final, the step-9 weights
    assert any(not torch.equal(kept[name], last[name]) for name in kept)


def test_validation_on_every_test_pair_and_a_short_last_batch_under_paper_settings(corpus: dict[str, Path]) -> None:
    """Row 25: max_val_pairs null validates on all 24 test pairs; row 28: last_batch keep gives ceil(200 / 64)
    steps an epoch, the remainder in a short batch (drop: floor, the remainder left out)."""

    def data(**settings: Any) -> PfamDataModule:
        training = PretrainSettings(batch_pairs=64, eval_batch_pairs=5, **settings)
        return PfamDataModule(corpus["train"], corpus["test"], corpus["test_pairs"], training, None)

    def validated(module: PfamDataModule) -> int:
        return sum(len(batch) for batch in module.val_dataloader().batch_sampler)

    assert validated(data(max_val_pairs=None)) == len(pd.read_parquet(corpus["test_pairs"])) == 24
    assert validated(data(max_val_pairs=10)) == 10
    kept, dropped = list(data(last_batch="keep").batch_sampler()), list(data().batch_sampler())
    assert len(kept) == 4 and sorted(len(b) for b in kept) == [8, 64, 64, 64]
    assert sorted(i for b in kept for i in b) == list(range(200))
    assert len(dropped) == 3 and {len(b) for b in dropped} == {64}
