"""Peak memory of homology (pair) prediction and training on long pairs: SSA in budgeted blocks against one block.

The pair head's soft symmetric alignment holds several [pairs, La, Lb] tensors (plus/objectives/ssa.py), so a
batch's memory grows with pairs x La x Lb. Each measurement runs in its own process: a homology model on a random
encoder (`--preset`), `--pairs` random pairs of `--length` residues on each side, then either predictions of the
whole batch (plus.inference.batches.predict_outputs, as `plus evaluate`) or one training step (outputs, loss,
backward). It reports the RSS before the step, the process's peak RSS, their difference and the step's seconds,
for SSA in one block (as before blocks existed) and in blocks of plus.objectives.ssa.MAX_ELEMENTS. Prints ONE
JSON line with the machine's load beside it.

    python benchmarks/pair_memory.py --pairs 64 --length 800
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from machine_load import LoadWatch, stamp

MODES = ("predict", "train")
SSA = {"one_block": 1 << 62, "blocks": None}  # None: the library's budget


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--length", type=int, default=800)
    parser.add_argument("--preset", default="plus-rnn-tiny")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SSA"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(mode: str, ssa_blocks: str, args: argparse.Namespace) -> dict[str, Any]:
    """RSS before the step, peak RSS and seconds of one prediction or training step (this process)."""
    import torch
    from process_memory import rss_mb

    from plus.data.batching.task_examples import TargetScaling
    from plus.inference.batches import predict_outputs
    from plus.models import build_encoder
    from plus.models.task_model import TaskModel
    from plus.objectives import ssa
    from plus.settings import FinetuneSettings
    from plus.tasks import resolve_task

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if SSA[ssa_blocks] is not None:
        ssa.MAX_ELEMENTS = SSA[ssa_blocks]
    module = TaskModel(build_encoder(args.preset), resolve_task("homology"), FinetuneSettings(), TargetScaling(), 0)
    tokens = torch.randint(1, 21, (2, args.pairs, args.length))
    lengths = torch.full((args.pairs,), args.length)
    before = rss_mb()["rss_mb"]
    start = time.perf_counter()
    if mode == "predict":
        module.eval()
        predict_outputs(module, list(tokens[0].numpy()), list(tokens[1].numpy()), max_items=args.pairs)
    else:
        batch = {"tokens_a": tokens[0], "len_a": lengths, "tokens_b": tokens[1], "len_b": lengths}
        module.task_loss(module.outputs(batch)["logits"], torch.zeros(args.pairs, dtype=torch.long)).backward()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_before_mib": before, "peak_rss_mib": round(peak, 1), "seconds": round(seconds, 5)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(measure(*args.child, args)))
        return 0
    watch = LoadWatch()
    results: dict[str, Any] = {}
    for mode in MODES:
        for blocks in SSA:
            options = ["--pairs", args.pairs, "--length", args.length, "--preset", args.preset]
            command = [sys.executable, str(Path(__file__)), *map(str, options), "--threads", str(args.threads)]
            result = subprocess.run([*command, "--child", mode, blocks], capture_output=True, text=True, check=True)
            record = json.loads(result.stdout.strip().splitlines()[-1])
            record["step_mib"] = round(record["peak_rss_mib"] - record["rss_before_mib"], 1)
            results.setdefault(mode, {})[blocks] = record
    from plus.objectives.ssa import MAX_ELEMENTS

    line = {
        "benchmark": "pair_memory",
        "preset": args.preset,
        "pairs": args.pairs,
        "length": args.length,
        "threads": args.threads,
        "ssa_block_elements": MAX_ELEMENTS,
        "one_block_elements": args.pairs * args.length**2,
        **results,
    }
    print(json.dumps(stamp(line, watch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
