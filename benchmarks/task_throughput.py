"""Throughput of a fine-tuning step or of an evaluation pass (residues/s), for the run plan (`plus plan`).

--stage finetune: one training step as `plus finetune` takes it on a protein-classification task (head on h with
512 hidden units, auxiliary MLM weight 0.3): mask, encoder, head, task and MLM losses, backward, grad-norm clip,
Adam step. --stage inference: one unmasked forward pass without gradients, as `plus evaluate` predicts
(FinetuneModule.predict_batch). Sequence lengths are log-normal with median 140 aa and sigma 0.5, clipped to
[20, 1000] aa (the Transformer: to its context), the assumption benchmarks/pretrain_throughput.py makes.

Prints ONE JSON line: `residues_per_s` (median over the timed batches of residues / batch time), the batch
times, the load average before and after (other processes on the machine slow the figure down) and the
settings. Example:

    python benchmarks/task_throughput.py --preset plus-rnn-base --stage finetune --batch 32
    python benchmarks/task_throughput.py --preset plus-rnn-base --stage inference --batch 256 --steps 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

from plus.data.batching.task_examples import TargetScaling
from plus.models import build_encoder
from plus.settings import HeadSpec, TaskSpec
from plus.tokens import PAD
from plus.training.finetune import FinetuneModule

TASK = TaskSpec(
    name="benchmark",
    shape="protein_classification",
    classes=("a", "b"),
    head=HeadSpec(input="h", hidden=512),
    aux_mlm_weight=0.3,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="plus-rnn-base")
    parser.add_argument("--stage", choices=("finetune", "inference"), default="finetune")
    parser.add_argument("--batch", type=int, default=32, help="sequences per batch (fine-tuning: 32, evaluation: 256)")
    parser.add_argument("--steps", type=int, default=3, help="timed batches")
    parser.add_argument("--warmup", type=int, default=1, help="untimed batches first")
    parser.add_argument("--median-length", type=float, default=140.0)
    parser.add_argument("--sigma", type=float, default=0.5, help="log-normal sigma of the lengths")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def make_batch(args: argparse.Namespace, generator: torch.Generator, max_length: int) -> dict[str, torch.Tensor]:
    """Random sequences with log-normal lengths and random binary labels, padded as collate_sequences pads."""
    normal = torch.randn(args.batch, generator=generator)
    lengths = torch.exp(math.log(args.median_length) + args.sigma * normal).round().long().clamp(20, max_length)
    tokens = torch.randint(1, 21, (args.batch, int(lengths.max())), generator=generator)
    tokens[torch.arange(tokens.shape[1])[None, :] >= lengths[:, None]] = PAD
    return {"tokens": tokens, "lengths": lengths, "target": torch.randint(0, 2, (args.batch,), generator=generator)}


def finetune_step(module: FinetuneModule, optimizer: torch.optim.Optimizer, batch: dict[str, torch.Tensor]) -> None:
    """The loss of FinetuneModule._step ((1 - w) * task + w * MLM), backward, clip and Adam."""
    out = module.outputs(batch, masked=True)
    loss = (1 - module.mlm_weight) * module.task_loss(out["logits"], batch["target"]) + module.mlm_weight * out[
        "mlm_loss"
    ]
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
    optimizer.step()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    encoder = build_encoder(args.preset)
    max_length = 1000 if encoder.config.kind == "rnn" else encoder.config.max_len - 2
    module = FinetuneModule(encoder, TASK, {}, TargetScaling(), args.seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=5e-4)
    module.train(args.stage == "finetune")
    generator = torch.Generator().manual_seed(args.seed)
    load_before = os.getloadavg()
    rates, seconds = [], []
    for index in range(args.warmup + args.steps):
        batch = make_batch(args, generator, max_length)
        start = time.perf_counter()
        if args.stage == "finetune":
            finetune_step(module, optimizer, batch)
        else:
            with torch.no_grad():
                module.predict_batch(batch)
        elapsed = time.perf_counter() - start
        if index >= args.warmup:
            seconds.append(elapsed)
            rates.append(int(batch["lengths"].sum()) / elapsed)
    line = {
        "preset": args.preset,
        "stage": args.stage,
        "batch": args.batch,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "median_length": args.median_length,
        "sigma": args.sigma,
        "torch": torch.__version__,
        "residues_per_s": round(statistics.median(rates), 1),
        "batch_seconds": [round(s, 3) for s in seconds],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
