"""`plus scope-pairs`: domain pairs at each SCOP similarity level (0-4) from an ASTRAL/SCOPe domain FASTA."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def run_scope_pairs(args: argparse.Namespace) -> int:
    from plus.data.task_data.scope_pairs import scope_pairs

    counts = scope_pairs(args.fasta, args.out, args.pairs_per_level, args.seed)
    log.info("%s: %s pairs per similarity level", args.out, counts)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scope-pairs",
        help="sample domain pairs per SCOP similarity level from an ASTRAL FASTA into a pair TSV",
        description=__doc__ + " The TSV has columns pdb_id_A pdb_id_B sequence_A sequence_B similarity "
        "(the format scope_bepler and plus_homology read), so a homology task can be built from domains alone.",
    )
    parser.add_argument("--fasta", required=True, help="ASTRAL FASTA, headers '>d1dlwa_ a.1.1.1 ...' (gzip or not)")
    parser.add_argument("--out", required=True, help="pair TSV to write (atomically)")
    parser.add_argument("--pairs-per-level", type=int, default=1000, help="pairs per level 0-4 (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampling (default 0)")
    parser.set_defaults(handler=run_scope_pairs)
