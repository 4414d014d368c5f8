"""A tiny pretrain -> fine-tune -> evaluate chain through the package, on CPU or on 1 or more GPUs (DDP).

Builds a small synthetic corpus (families repeat their own motif, so MLM and SFP are learnable) and a small
solubility-shaped task under --workdir, then calls run_pretraining, run_finetune and run_evaluation with the
requested precision. The package trains on every visible GPU, so this script first restricts
CUDA_VISIBLE_DEVICES to --gpus devices (or hides them all for --device cpu). With --process-per-stage each stage
runs in its own process: under DDP, Lightning re-runs this script for the other ranks, and a stage must not
start before the previous one's files are written (it is implied by --gpus 2 or more). Prints ONE JSON line:
the pretraining test losses (and the last logged training loss; Lightning logs every 10 steps), the fine-tuning
best validation loss and the test metrics; exits non-zero unless the test loss, best validation loss and
headline metric exist and every number is finite.

    python benchmarks/gpu_smoke_chain.py --device cuda --precision bf16 --gpus 2 --process-per-stage
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STAGES = ("pretrain", "finetune", "evaluate")
AA = "ARNDCQEGHILKMFPSTWYV"
PRECISIONS = {"fp32": "32-true", "bf16": "bf16-mixed"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="corpus, task and outputs go here")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--gpus", type=int, default=1, help="GPUs to train on (with --device cuda)")
    parser.add_argument("--precision", choices=tuple(PRECISIONS), default="bf16")
    parser.add_argument("--preset", default="plus-rnn-tiny")
    parser.add_argument("--pretrain-steps", type=int, default=40)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--sequences-per-family", type=int, default=40, help="training sequences per family")
    parser.add_argument("--stage", choices=("all", *STAGES), default="all")
    parser.add_argument("--process-per-stage", action="store_true", help="run each stage in its own process")
    return parser.parse_args(argv)


def restrict_devices(args: argparse.Namespace) -> None:
    """Make exactly the requested GPUs visible (none for --device cpu), before torch is imported."""
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(args.gpus)]
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices[: args.gpus])


def is_rank_zero() -> bool:
    """False in the processes Lightning starts for the other DDP ranks."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def motif_tokens(rng: Any, family: int, length: int) -> Any:
    """Family f repeats its own 5-residue motif with 10% noise (tokens 1..20)."""
    import numpy as np

    tokens = np.resize((np.arange(5) * (family + 3)) % 20 + 1, length).astype(np.uint8)
    noise = rng.random(length) < 0.1
    tokens[noise] = rng.integers(1, 21, noise.sum())
    return tokens


def build_data(workdir: Path, per_family: int) -> None:
    """The corpus (train/test stores, test pairs) and the task (train/valid/test parquet), unless present."""
    import numpy as np
    import pandas as pd

    from plus.data.corpus.pfam import sample_test_pairs
    from plus.data.corpus.store import CorpusStore, CorpusWriter

    done = workdir / "data.done"
    if done.is_file():
        return
    rng = np.random.default_rng(0)
    names = [{"accession": f"PF{f:05d}.1", "id": f"fam{f}"} for f in range(4)]
    for split, n in (("train", per_family), ("test", max(per_family // 4, 4))):
        with CorpusWriter(workdir / "corpus" / split) as writer:
            for i in range(4 * n):
                writer.add(motif_tokens(rng, i % 4, int(rng.integers(20, 40))), i % 4)
            writer.close(names)
    pairs = sample_test_pairs(CorpusStore(workdir / "corpus" / "test"), 32, seed=1)
    pairs.to_parquet(workdir / "corpus" / "test_pairs.parquet")
    (workdir / "task").mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 64), ("valid", 16), ("test", 24)):
        labels = rng.integers(0, 2, n)
        sequences = ["".join(AA[t - 1] for t in motif_tokens(rng, int(label), 30)) for label in labels]
        frame = pd.DataFrame({"id": [f"{split}{i}" for i in range(n)], "sequence": sequences, "label": labels})
        frame.assign(label=frame["label"].astype(str)).to_parquet(workdir / "task" / f"{split}.parquet")
    done.write_text("ok\n")


def configs(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pretraining and fine-tuning configs of the chain."""
    from plus.tasks import resolve_task

    corpus = args.workdir / "corpus"
    steps = args.pretrain_steps
    pretrain = {
        "name": f"smoke-{args.preset}",
        "objective": "plus",
        "model": {"preset": args.preset},
        "data": {
            "train": str(corpus / "train"),
            "test": str(corpus / "test"),
            "test_pairs": str(corpus / "test_pairs.parquet"),
        },
        "training": {
            "batch_pairs": 8,
            "lr": 3e-3,
            "max_steps": steps,
            "val_every_n_steps": steps,
            "checkpoint_every_n_steps": steps,
            "max_val_pairs": 16,
            "precision": PRECISIONS[args.precision],
            "seed": 7,
        },
    }
    finetune = {
        "model": f"smoke-{args.preset}",
        "task": resolve_task("solubility").to_dict(),
        "seed": 3,
        "data": str(args.workdir / "task"),
        "encoder": str(args.workdir / "pretrain" / "model.pt"),
        "training": {
            "lr": 3e-3,
            "batch_size": 8,
            "max_epochs": args.finetune_epochs,
            "patience": args.finetune_epochs,
            "precision": PRECISIONS[args.precision],
        },
    }
    return pretrain, finetune


def last_train_loss(history_csv: Path) -> float | None:
    """The last logged training loss of a history.csv (logged every 10 steps), if any."""
    import pandas as pd

    history = pd.read_csv(history_csv) if history_csv.is_file() else pd.DataFrame()
    losses = history["train_loss"].dropna() if "train_loss" in history else []
    return float(losses.iloc[-1]) if len(losses) else None


def run_stage(stage: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one stage in this process; returns its summary."""
    import torch

    from plus.inference.evaluate import run_evaluation
    from plus.settings import EvaluateJob, FinetuneJob, FinetuneSettings, PretrainJob, PretrainSettings
    from plus.training.finetune import run_finetune
    from plus.training.pretrain import run_pretraining

    pretrain_config, finetune_config = configs(args)
    workdir = args.workdir
    if stage == "pretrain":
        data = {key: Path(value) for key, value in pretrain_config["data"].items()}
        job = PretrainJob(
            name=pretrain_config["name"],
            objective=pretrain_config["objective"],
            preset=pretrain_config["model"]["preset"],
            training=PretrainSettings(**pretrain_config["training"]),
        )
        metrics = run_pretraining(
            job,
            data["train"],
            data["test"],
            data["test_pairs"],
            workdir / "pretrain",
            workdir / "checkpoints" / "pretrain",
        )
        return {
            "steps": metrics["steps"],
            "last_train_loss": last_train_loss(workdir / "pretrain" / "history.csv"),
            "test": metrics["test"],
            "devices": max(torch.cuda.device_count(), 1) if args.device == "cuda" else 0,
        }
    if stage == "finetune":
        job = FinetuneJob(
            model=finetune_config["model"],
            task=finetune_config["task"],
            seed=finetune_config["seed"],
            training=FinetuneSettings(**finetune_config["training"]),
            encoder={"type": "plus", "path": str(finetune_config["encoder"])},
        )
        data_dir = Path(finetune_config["data"])
        metrics = run_finetune(job, data_dir, workdir / "finetune", workdir / "checkpoints" / "finetune")
        return {
            "epochs": metrics["epochs"],
            "steps": metrics["steps"],
            "best_val_loss": metrics["best_val_loss"],
            "last_train_loss": last_train_loss(workdir / "finetune" / "history.csv"),
        }
    job = EvaluateJob(
        model=finetune_config["model"], task=finetune_config["task"], seed=finetune_config["seed"], batch_size=64
    )
    metrics = run_evaluation(
        job, workdir / "finetune" / "model.pt", Path(finetune_config["data"]), workdir / "evaluate"
    )
    return {"headline": metrics["headline"], "test": metrics["splits"]["test"]}


def run_stage_process(stage: str, argv: list[str]) -> dict[str, Any]:
    """Run one stage in a child process of this script and return the summary it prints."""
    command = [sys.executable, __file__, *argv, "--stage", stage]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def numbers(value: Any) -> list[float]:
    """Every number inside nested dicts and lists."""
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for item in value.values() for x in numbers(item)]
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in numbers(item)]
    return []


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    restrict_devices(args)
    import torch

    if args.device == "cuda" and torch.cuda.device_count() < args.gpus:
        print(f"error: --gpus {args.gpus} but {torch.cuda.device_count()} CUDA device(s) visible", file=sys.stderr)
        return 2
    start = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.redirect_stdout(sys.stderr):  # Lightning's progress bars write to stdout
        build_data(args.workdir, args.sequences_per_family)
        if args.stage != "all":
            result = run_stage(args.stage, args)
        elif args.process_per_stage or (args.device == "cuda" and args.gpus > 1):
            results = {stage: run_stage_process(stage, argv) for stage in STAGES}
        else:
            results = {stage: run_stage(stage, args) for stage in STAGES}
    if args.stage != "all":
        if is_rank_zero():
            print(json.dumps(result), flush=True)
        return 0
    required = [
        results["pretrain"]["test"].get("loss"),
        results["finetune"]["best_val_loss"],
        results["evaluate"]["headline"]["value"],
    ]
    finite = None not in required and all(math.isfinite(x) for x in numbers(results))
    line = {
        "check": "smoke_chain",
        "device": args.device,
        "gpus": args.gpus if args.device == "cuda" else 0,
        "precision": args.precision,
        "preset": args.preset,
        "process_per_stage": args.process_per_stage or (args.device == "cuda" and args.gpus > 1),
        **results,
        "finite": finite,
        "seconds": round(time.perf_counter() - start, 1),
        "torch": torch.__version__,
    }
    if is_rank_zero():
        print(json.dumps(line), flush=True)
    return 0 if finite else 1


if __name__ == "__main__":
    sys.exit(main())
