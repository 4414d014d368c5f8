"""Content fingerprints of the official task splits in shared/realdata: plus/data/task_data/official_fingerprints.tsv.

Each file is read through PLUS's own importer (the config source below), each split validated as `plus import-task`
validates it, then fingerprinted (plus.data.task_data.fingerprint). Prints the table as TSV (or writes it with
--out), then one JSON line: rows and seconds. Splits absent from shared/realdata are not in the table: their
fingerprints are recorded, unverified, in the summary.json of a task imported from official downloads. Examples:

    python benchmarks/official_fingerprints.py --realdata ../shared/realdata
    python benchmarks/official_fingerprints.py --out plus/data/task_data/official_fingerprints.tsv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from plus.data.task_data.canonical import validate_split
from plus.data.task_data.fingerprint import COLUMNS, split_fingerprint
from plus.data.task_data.importers import import_source
from plus.tasks import resolve_task

ROOT = Path(__file__).resolve().parents[1]
TAPE_CSV = "technion-cs-nlp/BiologicalTokenizers@ac7ab32"
SARKISYAN = "rebuilt from Sarkisyan 2016 (gitter-lab/nn4dms@434e354 avgfp.tsv) with TAPE's sizes"
PS4 = "omarperacha/ps4-dataset@e182026"


@dataclass(frozen=True)
class Official:
    """Official splits of one task in shared/realdata: the config source that imports them and where they are from."""

    task: str
    dataset: str
    source: dict[str, Any]
    origin: dict[str, str]  # split -> where its files come from


def _table(files: dict[str, str]) -> dict[str, Any]:
    return {"format": "table", "files": files, "options": {"columns": {"sequence": "seq", "label": "label"}}}


def officials(realdata: Path) -> list[Official]:
    """The official splits in shared/realdata (its README describes each file)."""
    stability, fluorescence = realdata / "tape_stability", realdata / "tape_fluorescence"
    deepsol, secstr = realdata / "deepsol", realdata / "secondary_structure"
    return [
        Official(
            "stability",
            "TAPE stability",
            _table({split: str(stability / f"{split}.csv") for split in ("train", "valid", "test")}),
            {split: f"{TAPE_CSV} data/stability/{split}.csv" for split in ("train", "valid", "test")},
        ),
        Official(
            "fluorescence",
            "TAPE fluorescence",
            _table(
                {
                    "train": str(fluorescence / "train_reconstructed_from_sarkisyan.csv"),
                    "valid": str(fluorescence / "valid.csv"),
                    "test": str(fluorescence / "test_reconstructed_from_sarkisyan.csv"),
                }
            ),
            {"train": SARKISYAN, "valid": f"{TAPE_CSV} data/fluorescence/valid.csv", "test": SARKISYAN},
        ),
        Official(
            "localization",
            "DeepLoc 1.0",
            {"format": "deeploc", "files": {"fasta": str(realdata / "deeploc" / "deeploc_test_set.fasta")}},
            {"test": "HannesStark/protein-localization@7b0be1e deeploc_test_set.fasta (PEER's 2,768 proteins)"},
        ),
        Official(
            "solubility",
            "DeepSol",
            {
                "format": "deepsol",
                "files": {
                    f"{part}_{kind}": str(deepsol / f"{part}_{kind}")
                    for part in ("val", "test")
                    for kind in ("src", "tgt")
                },
            },
            {
                split: f"sameerkhurana10/DSOL_rv0.2@9cc5da7 data/{part}_src, {part}_tgt"
                for split, part in (("valid", "val"), ("test", "test"))
            },
        ),
        Official(
            "secstr",
            "NetSurfP-2.0",
            {
                "format": "netsurfp_csv",
                "files": {
                    "test_cb513": str(secstr / "CB513_HHblits.csv"),
                    "test_ts115": str(secstr / "TS115_HHblits.csv"),
                },
            },
            {
                "test_cb513": f"{PS4} CB513_HHblits.csv (511 proteins; TAPE's cb513 has 513)",
                "test_ts115": f"{PS4} TS115_HHblits.csv",
            },
        ),
    ]


def fingerprint_rows(official: Official) -> list[dict[str, Any]]:
    """One table row per split of `official.origin`, imported and validated as `plus import-task` does."""
    spec = resolve_task(official.task)
    tables = import_source(official.source, f"{official.task} ({official.dataset})")
    rows = []
    for split, origin in official.origin.items():
        clean, _ = validate_split(tables[split], split, spec)
        rows.append(
            {
                "task": official.task,
                "split": split,
                "dataset": official.dataset,
                "n": len(clean),
                "fingerprint": split_fingerprint(clean),
                "from": origin,
            }
        )
    return rows


def write_table(rows: list[dict[str, Any]], handle: TextIO) -> None:
    writer = csv.DictWriter(handle, fieldnames=COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    parser.add_argument("--out", type=Path, help="write the TSV here (default: print it)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = [row for official in officials(args.realdata) for row in fingerprint_rows(official)]
    if args.out:
        with open(args.out, "w", newline="") as handle:
            write_table(rows, handle)
    else:
        write_table(rows, sys.stdout)
    print(json.dumps({"rows": len(rows), "seconds": round(time.perf_counter() - start, 2)}))


if __name__ == "__main__":
    main()
