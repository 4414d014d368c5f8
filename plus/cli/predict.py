"""`plus predict`: predictions of a fine-tuned or probe model for the sequences of a FASTA file."""

from __future__ import annotations

import argparse
from pathlib import Path

from plus.cli.train import _positive_int

DESCRIPTION = """\
predictions of a fine-tuned or probe model for every record of a FASTA file (the id is the header's first word;
sequences must be non-empty and letters only, ids unique). A probe embeds the sequences through the encoder it
records. Pair tasks (homology) predict the pairs listed in --pairs: one pair per line, two FASTA ids separated by
a tab or spaces (an `id_a id_b` header line is skipped). The output has the prediction columns of `plus evaluate`'s
predictions.parquet: id, prediction and the task's extra columns (probabilities, prediction_3class, topology), or
id_a, id_b, expected_level and p_class ... p_family for pairs; rows in input order."""


def _predict(args: argparse.Namespace) -> int:
    from plus.inference.predict import predict_fasta

    options = {"max_residues": args.max_residues} if args.max_residues else {}
    count = predict_fasta(args.model, args.fasta, args.out, args.pairs, device=args.device, **options)
    print(f"predicted {count} {'pairs' if args.pairs else 'sequences'} into {args.out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    text = "predictions of a fine-tuned or probe model for a FASTA file (or pairs of its records)"
    parser = subparsers.add_parser(
        "predict", help=text, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, required=True, help="fine-tuned or probe model.pt")
    parser.add_argument("--fasta", type=Path, required=True, help="protein sequences (plain or gzip)")
    parser.add_argument("--pairs", type=Path, help="pair tasks: the pairs to predict, two FASTA ids per line")
    parser.add_argument("--out", type=Path, required=True, help="output file, .parquet")
    parser.add_argument(
        "--max-residues",
        type=_positive_int,
        help="padded residues per forward pass, which bounds memory (default 16384; a longer sequence runs alone)",
    )
    parser.add_argument("--device", help="torch device, e.g. cpu or cuda:1 (default: a GPU if there is one)")
    parser.set_defaults(handler=_predict)
