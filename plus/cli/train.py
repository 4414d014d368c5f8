"""`plus pretrain`, `plus finetune`, `plus evaluate` and `plus embed`."""

from __future__ import annotations

import argparse
from pathlib import Path

from plus.io import write_run_record


def _pretrain(args: argparse.Namespace) -> int:
    from plus.settings import PretrainJob, load_settings
    from plus.training.pretrain import run_pretraining

    job = load_settings(PretrainJob, args.settings)
    corpus = {"train": str(args.train), "test": str(args.test), "test_pairs": str(args.test_pairs)}
    config = {
        "name": job.name,
        "objective": job.objective,
        "model": {"preset": job.preset},
        "data": corpus,
        "training": job.training.model_dump(mode="json"),
    }
    checkpoint_dir = args.checkpoint_dir or args.out / "checkpoints"
    run_pretraining(config, args.out, checkpoint_dir)
    write_run_record(args.out, job.model_dump(mode="json"), corpus)
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from plus.settings import FinetuneJob, load_settings
    from plus.training.finetune import run_finetune

    job = load_settings(FinetuneJob, args.settings)
    inputs = {"encoder": str(args.encoder), "data": str(args.data)}
    config = {**job.model_dump(mode="json"), **inputs}
    run_finetune(config, args.out, args.checkpoint_dir or args.out / "checkpoints")
    write_run_record(args.out, job.model_dump(mode="json"), inputs)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from plus.settings import EvaluateJob, load_settings
    from plus.training.evaluate import run_evaluation

    job = load_settings(EvaluateJob, args.settings)
    inputs = {"model": str(args.model), "data": str(args.data)}
    config = {**job.model_dump(mode="json"), "data": str(args.data)}
    metrics = run_evaluation(config, args.model, args.out)
    write_run_record(args.out, job.model_dump(mode="json"), inputs)
    headline = metrics["headline"]
    print(f"{metrics['task']}: {headline['metric']} on {headline['split']} = {headline['value']}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from plus.training.embed import embed_fasta

    count = embed_fasta(args.model, args.fasta, args.out, args.representation, args.batch_size)
    print(f"embedded {count} sequences into {args.out}")
    return 0


def _settings_argument(parser: argparse.ArgumentParser, kind: str) -> None:
    parser.add_argument(
        "--settings", required=True, help=f"{kind} as inline JSON or a JSON/YAML file (what the workflow passes)"
    )


def _checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint-dir",
        type=Path,
        help="where resume checkpoints live (default OUT/checkpoints); a re-run continues from here",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    text = "pretrain an encoder on the prepared Pfam corpus (MLM + SFP, MLM only, or none)"
    parser = subparsers.add_parser("pretrain", help=text, description=text)
    _settings_argument(parser, "PretrainJob")
    parser.add_argument("--train", type=Path, required=True, help="training corpus store (plus prepare-pfam)")
    parser.add_argument("--test", type=Path, required=True, help="test corpus store")
    parser.add_argument("--test-pairs", type=Path, required=True, help="test_pairs.parquet of the test store")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    _checkpoint_argument(parser)
    parser.set_defaults(handler=_pretrain)

    text = "fine-tune a pretrained encoder on one task"
    parser = subparsers.add_parser("finetune", help=text, description=text)
    _settings_argument(parser, "FinetuneJob")
    parser.add_argument("--encoder", type=Path, required=True, help="pretrained model.pt")
    parser.add_argument("--data", type=Path, required=True, help="the task's canonical directory (plus import-task)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    _checkpoint_argument(parser)
    parser.set_defaults(handler=_finetune)

    text = "evaluate a fine-tuned model on the task's test splits"
    parser = subparsers.add_parser("evaluate", help=text, description=text)
    _settings_argument(parser, "EvaluateJob")
    parser.add_argument("--model", type=Path, required=True, help="fine-tuned model.pt")
    parser.add_argument("--data", type=Path, required=True, help="the task's canonical directory")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.set_defaults(handler=_evaluate)

    parser = subparsers.add_parser("embed", help="per-residue and per-protein embeddings of a FASTA file")
    parser.add_argument("--model", type=Path, required=True, help="pretrained or fine-tuned model.pt")
    parser.add_argument("--fasta", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output file, .h5 or .npz")
    parser.add_argument("--representation", choices=("h", "z"), default="h", help="h (2H-d) or projected z")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.set_defaults(handler=_embed)
