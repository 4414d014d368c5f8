"""The `plus` command line: one module per group of subcommands, each with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import errno
import logging
import sys

from plus.errors import InputError
from plus.version import __version__

DESCRIPTION = """\
plus is for pretraining protein language models the PLUS way (masked language modelling plus same-family
prediction on Pfam), fine-tuning them on the seven PLUS benchmark tasks, evaluating them with the paper's metrics,
reporting the results, and computing embeddings and predictions of your own sequences with any trained checkpoint.

Typical order: prepare data (synthetic or download, then prepare-pfam and import-task), pretrain, finetune,
evaluate, report; embed works on any model.pt or Hugging Face model directory, and predict on any fine-tuned or
probe model.pt. The Snakemake workflow runs this chain for you. Run `plus COMMAND --help` for a command's
inputs, outputs and options."""

EPILOG = """\
command groups:
  data          synthetic, download, prepare-pfam, import-task, formats (import formats and options),
                scope-pairs (homology pair files from SCOPe domains)
  training      pretrain, finetune, evaluate; frozen probes: embed-task, probe, evaluate-probe
  models        embed (embeddings of a FASTA file), predict (a task model's predictions for a FASTA file),
                models (the presets), devices (visible GPUs)
  results       report (tables, figures and summary.md), audit-leakage (test-train identity),
                alignment-baseline (nearest-neighbour alignment predictions), align-task (one test-train
                search that both read with --hits)
  planning      plan (residues, hours and SLURM runtimes of every job of a config)
  settings      settings-schema (the JSON schema of the workflow config)"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="plus", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"plus {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # every command module, imported when the parser is built (each registers its subcommands; keep them sorted)
    from plus.cli import (
        align,
        audit,
        baseline,
        devices,
        download,
        formats,
        import_task,
        models,
        pfam,
        plan,
        predict,
        probe,
        report,
        scope_pairs,
        settings_schema,
        synthetic,
        train,
    )

    command_modules = [align, audit, baseline, devices, download, formats, import_task, models, pfam, plan, predict]
    command_modules += [probe, report, scope_pairs, settings_schema, synthetic, train]
    for module in command_modules:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except (InputError, FileNotFoundError) as error:
        print(f"plus {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "no space left on the disk"
        elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason = f"cannot write here ({error.strerror}): a read-only directory or file?"
        else:
            raise
        print(f"plus {args.command}: error: {error.filename or 'output'}: {reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
