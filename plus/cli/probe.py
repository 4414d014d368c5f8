"""`plus embed-task`, `plus probe` and `plus evaluate-probe`: the frozen-probe protocol."""

from __future__ import annotations

import argparse
from pathlib import Path

from plus.io import write_run_record


def _embed_task(args: argparse.Namespace) -> int:
    from plus.inference.embed_task import run_embed_task
    from plus.settings import EmbedTaskJob, load_settings

    job = load_settings(EmbedTaskJob, args.settings)
    manifest = run_embed_task(job, args.data, args.out)
    write_run_record(args.out, job.model_dump(mode="json"), {"data": str(args.data)})
    counts = ", ".join(f"{split} {n['sequences']}" for split, n in manifest["splits"].items())
    print(f"{manifest['task']}: {manifest['representation']} states of {counts} sequences in {args.out}")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from plus.settings import FinetuneJob, load_settings
    from plus.training.probe import run_probe

    job = load_settings(FinetuneJob, args.settings)
    inputs = {"embeddings": str(args.embeddings), "data": str(args.data)}
    run_probe(job, args.embeddings, args.data, args.out, args.checkpoint_dir or args.out / "checkpoints")
    write_run_record(args.out, job.model_dump(mode="json"), inputs)
    return 0


def _evaluate_probe(args: argparse.Namespace) -> int:
    from plus.inference.evaluate import run_evaluation
    from plus.settings import EvaluateJob, load_settings

    job = load_settings(EvaluateJob, args.settings)
    inputs = {"model": str(args.model), "embeddings": str(args.embeddings), "data": str(args.data)}
    metrics = run_evaluation(job, args.model, args.data, args.out, embeddings=args.embeddings)
    write_run_record(args.out, job.model_dump(mode="json"), inputs)
    headline = metrics["headline"]
    print(f"{metrics['task']} (probe): {headline['metric']} on {headline['split']} = {headline['value']}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    text = "compute one encoder's states for every sequence of a task, once (the input of `plus probe`)"
    parser = subparsers.add_parser("embed-task", help=text, description=text)
    parser.add_argument("--settings", required=True, help="EmbedTaskJob as inline JSON or a JSON/YAML file")
    parser.add_argument("--data", type=Path, required=True, help="the task's canonical directory")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output directory (one store per split; replaces only a directory plus wrote)",
    )
    parser.set_defaults(handler=_embed_task)

    text = "train a task head on a frozen encoder's stored states (same head, splits and stopping as fine-tuning)"
    parser = subparsers.add_parser("probe", help=text, description=text)
    parser.add_argument("--settings", required=True, help="FinetuneJob as inline JSON or a JSON/YAML file")
    parser.add_argument("--embeddings", type=Path, required=True, help="directory written by plus embed-task")
    parser.add_argument("--data", type=Path, required=True, help="the task's canonical directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--checkpoint-dir", type=Path, help="where resume checkpoints live (default OUT/checkpoints)")
    parser.set_defaults(handler=_probe)

    text = "evaluate a probe on the task's test splits (writes what plus evaluate writes)"
    parser = subparsers.add_parser("evaluate-probe", help=text, description=text)
    parser.add_argument("--settings", required=True, help="EvaluateJob as inline JSON or a JSON/YAML file")
    parser.add_argument("--model", type=Path, required=True, help="model.pt of plus probe")
    parser.add_argument("--embeddings", type=Path, required=True, help="the directory the probe was trained on")
    parser.add_argument("--data", type=Path, required=True, help="the task's canonical directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.set_defaults(handler=_evaluate_probe)
