"""Throughput of one training stage, for the run plan (`plus plan`): residues per second of wall clock and, on CPU,
per second of CPU time.

--stage pretrain: one pretraining step (mask, MLM + SFP, backward, grad-norm clip, Adam) on the pairs
benchmarks/pretrain_throughput.py generates. --stage finetune: one fine-tuning step as `plus finetune` takes it on a
protein-classification task (head on h, 512 hidden units, auxiliary MLM weight 0.3). --stage inference: one
unmasked forward pass without gradients, as `plus evaluate` predicts (FinetuneModule.predict_batch). Lengths are
log-normal with median 140 aa and sigma 0.5, clipped to [20, 1000] aa (the Transformer: to its context), the
assumption pretrain_throughput.py makes.

On a shared machine the wall-clock figure depends on what else runs. `residues_per_cpu_s` (residues / the
process's CPU time, time.process_time) does much less: with `--threads 1` it is what one core does when the job
has it to itself, so CPU-hours follow from it. Prints ONE JSON line with both, the load average before and after,
and the settings. Example:

    python benchmarks/stage_throughput.py --preset plus-rnn-base --stage pretrain --batch 64 --threads 1
    python benchmarks/stage_throughput.py --preset plus-rnn-large --stage inference --batch 16 --steps 2
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from types import SimpleNamespace

import torch

from plus.data.batching.task_examples import TargetScaling
from plus.models import build_encoder
from plus.objectives import PretrainingModel, PretrainLossConfig
from plus.settings import FinetuneSettings, HeadSpec, TaskSpec
from plus.tokens import PAD
from plus.training.finetune import FinetuneModule

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine_load import LoadWatch, stamp  # noqa: E402
from pretrain_throughput import make_batches  # noqa: E402  (the same generated pairs)

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
    parser.add_argument("--stage", choices=("pretrain", "finetune", "inference"), default="finetune")
    parser.add_argument("--batch", type=int, default=32, help="pairs (pretrain) or sequences per batch")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--steps", type=int, default=3, help="timed batches")
    parser.add_argument("--warmup", type=int, default=1, help="untimed batches first")
    parser.add_argument("--median-length", type=float, default=140.0)
    parser.add_argument("--sigma", type=float, default=0.5, help="log-normal sigma of the lengths")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def sequences(args: argparse.Namespace, generator: torch.Generator, max_length: int) -> dict[str, torch.Tensor]:
    """Random sequences with log-normal lengths and binary labels, padded as collate_sequences pads them."""
    normal = torch.randn(args.batch, generator=generator)
    lengths = torch.exp(math.log(args.median_length) + args.sigma * normal).round().long().clamp(20, max_length)
    tokens = torch.randint(1, 21, (args.batch, int(lengths.max())), generator=generator)
    tokens[torch.arange(tokens.shape[1])[None, :] >= lengths[:, None]] = PAD
    return {"tokens": tokens, "lengths": lengths, "target": torch.randint(0, 2, (args.batch,), generator=generator)}


def pretrain_steps(args: argparse.Namespace, device: torch.device) -> tuple[Callable[[int], int], int]:
    """A function running pretraining step i (returns its residues), and the parameter count."""
    encoder = build_encoder(args.preset)
    max_length = 1000 if encoder.config.kind == "rnn" else (encoder.config.max_len - 3) // 2
    model = PretrainingModel(encoder, PretrainLossConfig.from_settings()).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    options = SimpleNamespace(seed=args.seed, pairs=args.batch, median_length=args.median_length, sigma=args.sigma)
    batches = make_batches(options, args.warmup + args.steps, max_length)
    generator = torch.Generator(device=device).manual_seed(args.seed)

    def step(index: int) -> int:
        batch = tuple(t.to(device) for t in batches[index])
        loss = model(*batch, generator=generator)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return int(batch[1].sum() + batch[3].sum())

    return step, sum(p.numel() for p in model.parameters())


def task_steps(args: argparse.Namespace, device: torch.device) -> tuple[Callable[[int], int], int]:
    """A function running fine-tuning step (or inference pass) i, and the parameter count."""
    encoder = build_encoder(args.preset)
    max_length = 1000 if encoder.config.kind == "rnn" else encoder.config.max_len - 2
    module = FinetuneModule(encoder, TASK, FinetuneSettings(), TargetScaling(), args.seed).to(device)
    module.train(args.stage == "finetune")
    optimizer = torch.optim.Adam(module.parameters(), lr=5e-4)
    generator = torch.Generator().manual_seed(args.seed)
    batches = [sequences(args, generator, max_length) for _ in range(args.warmup + args.steps)]

    def step(index: int) -> int:
        batch = {key: value.to(device) for key, value in batches[index].items()}
        if args.stage == "inference":
            with torch.no_grad():
                module.predict_batch(batch)
        else:  # the loss of FinetuneModule._step: (1 - w) * task + w * MLM
            out = module.outputs(batch, masked=True)
            task = module.task_loss(out["logits"], batch["target"])
            loss = (1 - module.mlm_weight) * task + module.mlm_weight * out["mlm_loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
            optimizer.step()
        return int(batch["lengths"].sum())

    return step, sum(p.numel() for p in module.parameters())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    watch = LoadWatch()
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    build = pretrain_steps if args.stage == "pretrain" else task_steps
    step, parameters = build(args, device)
    load_before = os.getloadavg()
    wall, cpu, residues = [], [], []
    for index in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        count = step(index)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if index >= args.warmup:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            residues.append(count)
    line = {
        "preset": args.preset,
        "stage": args.stage,
        "batch": args.batch,
        "device": args.device,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "parameters": parameters,
        "median_length": args.median_length,
        "sigma": args.sigma,
        "torch": torch.__version__,
        "residues_per_s": round(statistics.median(r / s for r, s in zip(residues, wall, strict=True)), 1),
        "residues_per_cpu_s": round(statistics.median(r / s for r, s in zip(residues, cpu, strict=True)), 1),
        "wall_seconds": [round(s, 3) for s in wall],
        "cpu_seconds": [round(s, 3) for s in cpu],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(stamp(line, watch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
