"""The `plus` command line: one module per group of subcommands, each with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import errno
import sys
import time

from plus.errors import InputError
from plus.logs import configure_logging
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
    parser.add_argument(
        "--result-fd",
        type=int,
        metavar="FD",
        help="also write a one-line result (what ran, its key figure, its wall time; or why it failed) to this open "
        "file descriptor: the workflow's rules pass the console as 3 while the rest goes to the job's log",
    )
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
    started = time.monotonic()
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        status, error = run_command(args)
    except BaseException as crash:
        _write_result(args, started, _crash_reason(crash))
        raise
    _write_result(args, started, error)
    return status


def run_command(args: argparse.Namespace) -> tuple[int, str | None]:
    """The command's exit status and, when it failed, a one-line reason (also printed to stderr)."""
    try:
        status = int(args.handler(args) or 0)
    except (InputError, FileNotFoundError) as error:
        print(f"plus {args.command}: error: {error}", file=sys.stderr)
        return 2, str(error)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "no space left on the disk"
        elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            reason = f"cannot write here ({error.strerror}): a read-only directory or file?"
        else:
            raise
        print(f"plus {args.command}: error: {error.filename or 'output'}: {reason}", file=sys.stderr)
        return 2, f"{error.filename or 'output'}: {reason}"
    return status, None if status == 0 else f"exit status {status}"


def _crash_reason(crash: BaseException) -> str:
    """One line on an exception the command did not handle (its traceback goes to the log)."""
    if isinstance(crash, SystemExit):
        return f"exit status {crash.code}"
    text = str(crash).splitlines()[0] if str(crash) else ""
    return f"{type(crash).__name__}{': ' + text if text else ''} (traceback in the log)"


def _write_result(args: argparse.Namespace, started: float, error: str | None) -> None:
    """The command's one-line result to --result-fd, if given (plus.cli.results)."""
    if args.result_fd is None:
        return
    from plus.cli.results import result_line, write_result

    write_result(args.result_fd, result_line(args.command, args, time.monotonic() - started, error))


if __name__ == "__main__":
    sys.exit(main())
