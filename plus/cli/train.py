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
    checkpoint_dir = args.checkpoint_dir or args.out / "checkpoints"
    run_pretraining(job, args.train, args.test, args.test_pairs, args.out, checkpoint_dir)
    write_run_record(args.out, job.model_dump(mode="json"), corpus)
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from plus.settings import FinetuneJob, load_settings
    from plus.training.finetune import run_finetune

    job = load_settings(FinetuneJob, args.settings)
    inputs = {"data": str(args.data)}
    run_finetune(job, args.data, args.out, args.checkpoint_dir or args.out / "checkpoints")
    write_run_record(args.out, job.model_dump(mode="json"), inputs)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from plus.inference.evaluate import run_evaluation
    from plus.settings import EvaluateJob, load_settings

    job = load_settings(EvaluateJob, args.settings)
    inputs = {"model": str(args.model), "data": str(args.data)}
    metrics = run_evaluation(job, args.model, args.data, args.out)
    write_run_record(args.out, job.model_dump(mode="json"), inputs)
    headline = metrics["headline"]
    print(f"{metrics['task']}: {headline['metric']} on {headline['split']} = {headline['value']}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from plus.inference.embed import embed_fasta

    options = {"max_residues": args.max_residues} if args.max_residues else {}
    count = embed_fasta(args.model, args.fasta, args.out, args.representation, device=args.device, **options)
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
    _settings_argument(parser, "FinetuneJob (its `encoder` names the encoder to fine-tune)")
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

    text = "per-residue and per-protein embeddings of a FASTA file"
    parser = subparsers.add_parser(
        "embed",
        help=text,
        description=f"{text}: writes {{id}}/residues ([L, d]) and {{id}}/protein (the mean over residues) for every "
        "record, the id being the header's first word. Sequences must be non-empty and letters only, ids unique.",
    )
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        help="model.pt (pretrained, fine-tuned or probe) or a Hugging Face model directory",
    )
    parser.add_argument("--fasta", type=Path, required=True, help="protein sequences (plain or gzip)")
    parser.add_argument("--out", type=Path, required=True, help="output file, .h5 or .npz")
    parser.add_argument("--representation", choices=("h", "z"), default="h", help="h (2H-d) or projected z")
    parser.add_argument(
        "--max-residues",
        type=_positive_int,
        help="padded residues per forward pass, which bounds memory (default 16384; a longer sequence runs alone)",
    )
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda:1 (default: a GPU if there is one)")
    parser.set_defaults(handler=_embed)


def _positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
