"""`plus pretrain`, `plus finetune`, `plus evaluate` and `plus embed`."""

from __future__ import annotations

import argparse
from pathlib import Path

from plus.io import read_config


def _pretrain(args: argparse.Namespace) -> int:
    from plus.training.pretrain import run_pretraining

    run_pretraining(read_config(args.config), args.out, args.checkpoint_dir or args.out / "checkpoints")
    return 0


def _finetune(args: argparse.Namespace) -> int:
    from plus.training.finetune import run_finetune

    run_finetune(read_config(args.config), args.out, args.checkpoint_dir or args.out / "checkpoints")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from plus.training.evaluate import run_evaluation

    metrics = run_evaluation(read_config(args.config), args.model, args.out)
    headline = metrics["headline"]
    print(f"{metrics['task']}: {headline['metric']} on {headline['split']} = {headline['value']}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from plus.training.embed import embed_fasta

    options = {"max_residues": args.max_residues} if args.max_residues else {}
    count = embed_fasta(args.model, args.fasta, args.out, args.representation, device=args.device, **options)
    print(f"embedded {count} sequences into {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    for name, handler, text in (
        ("pretrain", _pretrain, "pretrain an encoder on the prepared Pfam corpus (MLM + SFP, MLM only, or none)"),
        ("finetune", _finetune, "fine-tune a pretrained encoder on one task"),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        parser.add_argument("--config", type=Path, required=True, help="resolved config file (JSON or YAML)")
        parser.add_argument("--out", type=Path, required=True, help="output directory")
        parser.add_argument(
            "--checkpoint-dir",
            type=Path,
            help="where resume checkpoints live (default OUT/checkpoints); a re-run continues from here",
        )
        parser.set_defaults(handler=handler)

    parser = subparsers.add_parser("evaluate", help="evaluate a fine-tuned model on the task's test splits")
    parser.add_argument("--config", type=Path, required=True, help="the fine-tuning config of the model")
    parser.add_argument("--model", type=Path, required=True, help="fine-tuned model.pt")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.set_defaults(handler=_evaluate)

    text = "per-residue and per-protein embeddings of a FASTA file"
    parser = subparsers.add_parser(
        "embed",
        help=text,
        description=f"{text}: writes {{id}}/residues ([L, d]) and {{id}}/protein (the mean over residues) for every "
        "record, the id being the header's first word. Sequences must be non-empty and letters only, ids unique.",
    )
    parser.add_argument("--model", type=Path, required=True, help="pretrained or fine-tuned model.pt")
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
