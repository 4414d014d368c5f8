"""Throughput of one full PLUS pretraining step (mask, MLM + SFP loss, backward, grad clip, Adam step).

Prints ONE JSON line with `residues_per_s` (median over the timed steps of residues in the step / step time),
the step time and the peak memory (process RSS on CPU, torch.cuda.max_memory_allocated on GPU), with the
settings. `--compare-impl` times our padded biLSTM against nn.LSTM(bidirectional=True) over a PackedSequence
(cuDNN's fused packed biLSTM on a GPU), both from the same initial weights, in the same run. Sequence lengths are
log-normal with median 140 aa and sigma 0.5 (about 95% between 53 and 370 aa; an assumption for Pfam-domain-like
lengths, not a measured Pfam statistic), clipped to [20, 1000] aa (for the Transformer to half of max_len so a
pair fits). Example:

    python benchmarks/pretrain_throughput.py --preset plus-rnn-base --pairs 16 --device cpu
    python benchmarks/pretrain_throughput.py --preset plus-rnn-base --pairs 8 --steps 2 --compare-impl
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
from contextlib import nullcontext
from typing import Any

import torch
from machine_load import LoadWatch, stamp
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from plus.data.batching.pfam_pairs import PAIR_SPECIAL_TOKENS
from plus.models import build_encoder, count_parameters
from plus.models.rnn import PlusRNN, cpu_has_native_bf16
from plus.objectives import PretrainingModel, PretrainLossConfig
from plus.tokens import PAD

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="plus-rnn-base")
    parser.add_argument("--pairs", type=int, default=64, help="pairs per step (the authors' RNN batch: 64)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument(
        "--impl", choices=("padded", "packed"), default="padded", help="biLSTM: ours, or nn.LSTM over a PackedSequence"
    )
    parser.add_argument("--compare-impl", action="store_true", help="time both biLSTM formulations, same weights")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--median-length", type=float, default=140.0)
    parser.add_argument("--sigma", type=float, default=0.5, help="log-normal sigma of the lengths")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def make_batches(args: argparse.Namespace, n: int, max_length: int) -> list[Batch]:
    """Random pairs with log-normal lengths, half of them labelled same-family."""
    generator = torch.Generator().manual_seed(args.seed)
    batches = []
    for _ in range(n):
        normal = torch.randn(2, args.pairs, generator=generator)
        lengths = torch.exp(math.log(args.median_length) + args.sigma * normal).round().long().clamp(20, max_length)
        sides = []
        for side_lengths in lengths:
            tokens = torch.randint(1, 21, (args.pairs, int(side_lengths.max())), generator=generator)
            tokens[torch.arange(tokens.shape[1])[None, :] >= side_lengths[:, None]] = PAD
            sides += [tokens, side_lengths]
        same_family = torch.randint(0, 2, (args.pairs,), generator=generator)
        batches.append((sides[0], sides[1], sides[2], sides[3], same_family))
    return batches


class PackedLSTMEncoder(PlusRNN):
    """The reference formulation: PlusRNN's weights run as one nn.LSTM(bidirectional=True) over a PackedSequence."""

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embed(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        h, _ = pad_packed_sequence(out, batch_first=True, total_length=tokens.shape[1])
        return h


def build_model(args: argparse.Namespace, impl: str) -> PretrainingModel:
    """The pretraining model of `impl`; every impl starts from the same weights (seeded by --seed)."""
    torch.manual_seed(args.seed)
    encoder = build_encoder(args.preset)
    if impl == "packed":
        reference = PackedLSTMEncoder(encoder.config)
        reference.load_state_dict(encoder.state_dict())
        encoder = reference
    return PretrainingModel(encoder, PretrainLossConfig.from_settings())


def time_steps(args: argparse.Namespace, impl: str, batches: list[Batch]) -> dict[str, Any]:
    device = torch.device(args.device)
    model = build_model(args, impl).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    autocast = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16) if args.precision == "bf16" else nullcontext()
    )
    generator = torch.Generator(device=device).manual_seed(args.seed)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rates, seconds = [], []
    for index, batch in enumerate(batches):
        batch = tuple(t.to(device) for t in batch)
        residues = int(batch[1].sum() + batch[3].sum())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with autocast:
            result = model(*batch, generator=generator)
        optimizer.zero_grad(set_to_none=True)
        result["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
        if index >= args.warmup:
            seconds.append(elapsed)
            rates.append(residues / elapsed)
    if device.type == "cuda":
        peak, memory_kind = torch.cuda.max_memory_allocated(device), "cuda_max_allocated"
    else:
        peak, memory_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process_peak_rss"
    return {
        "impl": impl,
        "parameters": count_parameters(model),
        "residues_per_s": round(statistics.median(rates), 1),
        "step_seconds_median": round(statistics.median(seconds), 3),
        "step_seconds": [round(s, 3) for s in seconds],
        "peak_memory_mib": round(peak / 2**20, 1),
        "memory_kind": memory_kind,
        "final_loss": round(result["loss"].item(), 4),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    watch = LoadWatch()
    with torch.device("meta"):
        encoder = build_encoder(args.preset)
    pair_limit = encoder.max_pair_tokens
    max_length = 1000 if pair_limit is None else (pair_limit - PAIR_SPECIAL_TOKENS) // 2
    batches = make_batches(args, args.warmup + args.steps, max_length)
    settings = {
        "preset": args.preset,
        "pairs": args.pairs,
        "device": args.device,
        "precision": args.precision,
        "steps": args.steps,
        "warmup": args.warmup,
        "threads": torch.get_num_threads(),
        "median_length": args.median_length,
        "sigma": args.sigma,
        "mean_residues_per_step": round(sum(int(b[1].sum() + b[3].sum()) for b in batches) / len(batches), 1),
        "torch": torch.__version__,
    }
    if args.precision == "bf16" and args.device == "cpu":
        settings["cpu_native_bf16"] = cpu_has_native_bf16()  # without it the LSTM itself runs in fp32
    if not isinstance(encoder, PlusRNN):
        impls = ["transformer"]
    else:
        impls = ["padded", "packed"] if args.compare_impl else [args.impl]
    results = {impl: time_steps(args, impl, batches) for impl in impls}
    if len(results) == 1:
        line = {**settings, **results[impls[0]]}
    else:
        ratio = results["padded"]["residues_per_s"] / results["packed"]["residues_per_s"]
        line = {
            **settings,
            "residues_per_s": results["padded"]["residues_per_s"],
            "padded_over_packed": round(ratio, 2),
            "results": results,
        }
    print(json.dumps(stamp(line, watch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
