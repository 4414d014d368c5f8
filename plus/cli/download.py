"""`plus download`: fetch a URL (resumable, md5-checked) or take a local file after checking it."""

from __future__ import annotations

import argparse

from plus.data.download import fetch_source


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download a file (resumable, md5-checked, atomic) or check and link a local copy",
        description=__doc__,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="http(s), ftp or file URL")
    source.add_argument("--path", help="a local file to use instead of downloading (no network needed)")
    checksum = parser.add_mutually_exclusive_group()
    checksum.add_argument("--md5", help="expected md5 of the file")
    checksum.add_argument("--md5-list", help="URL or path of an md5_checksums listing naming the file")
    parser.add_argument("--out", required=True, help="destination file")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_download)


def run_download(args: argparse.Namespace) -> int:
    spec = {"url": args.url} if args.url else {"path": args.path}
    if args.md5:
        spec["md5"] = args.md5
    if args.md5_list:
        spec["md5_list"] = args.md5_list
    fetch_source(spec, args.out, progress=not args.no_progress)
    return 0
