"""`plus settings-schema`: the JSON schema of the workflow config, generated from plus.settings."""

from __future__ import annotations

import argparse
import json


def write_schema(args: argparse.Namespace) -> int:
    """Print the schema, or write it to --out (workflow/schemas/config.schema.json is this output)."""
    from plus.io import atomic_path
    from plus.settings import workflow_schema

    text = json.dumps(workflow_schema(), indent=2) + "\n"
    if args.out:
        with atomic_path(args.out) as tmp:
            tmp.write_text(text)
    else:
        print(text, end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "settings-schema",
        help="print the JSON schema of the workflow config (generated from the typed settings)",
        description=__doc__,
    )
    parser.add_argument("--out", help="file to write instead of printing")
    parser.set_defaults(handler=write_schema)
