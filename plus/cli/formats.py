"""`plus formats`: the import formats, their files keys and options (docs/formats.md is its --markdown output)."""

from __future__ import annotations

import argparse


def run_formats(args: argparse.Namespace) -> int:
    from plus.data.task_data.formats_doc import formats_list, formats_markdown

    print(formats_markdown() if args.markdown else formats_list(), end="" if args.markdown else "\n")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "formats",
        help="list the task import formats (--markdown: every files key and option, as in docs/formats.md)",
        description=__doc__,
    )
    parser.add_argument("--markdown", action="store_true", help="print the full reference as Markdown")
    parser.set_defaults(handler=run_formats)
