"""`plus write-config`: write a resolved config (a JSON object given on the command line) to a file."""

from __future__ import annotations

import argparse
import json
from typing import Any

from plus.errors import InputError
from plus.io import write_json


def parse_config_object(text: str) -> dict[str, Any]:
    """The JSON object in `text`, or an InputError saying why it is not one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"config argument is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise InputError(f"config argument must be a JSON object, not {type(value).__name__}")
    return value


def write_config(args: argparse.Namespace) -> int:
    """Validate the JSON argument and write it, pretty-printed, atomically."""
    write_json(args.out, parse_config_object(args.json))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "write-config",
        help="write a resolved config file from a JSON object",
        description="Validate that JSON is an object and write it to OUT atomically, pretty-printed.",
    )
    parser.add_argument("--out", required=True, help="file to write")
    parser.add_argument("json", metavar="JSON", help="the config as a JSON object")
    parser.set_defaults(handler=write_config)
