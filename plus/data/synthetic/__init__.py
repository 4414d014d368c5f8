"""The embedded synthetic benchmark for the offline demo: a mini Pfam-A.fasta and the seven tasks in their
official formats, generated with pyhmmer from a seed in seconds, without the network."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyhmmer

from plus.data.synthetic import formats, task_files
from plus.data.synthetic.hmms import Family, build_hierarchy, emit, real_pfam_hmms, rng_for
from plus.io import atomic_path, file_md5
from plus.settings import SYNTHETIC_TASK_SPLITS, SyntheticSettings

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
TASK_SPLITS = SYNTHETIC_TASK_SPLITS


FILES: tuple[str, ...] = (
    "Pfam-A.fasta.gz",
    "homology/astral-2.06.train.fa",
    "homology/astral-2.06.dev.sampledpairs.txt",
    "homology/astral-2.06.test.sampledpairs.txt",
    "homology/astral-2.07-new.allpairs.txt",
    *(f"solubility/{split}_{part}" for split in ("train", "val", "test") for part in ("src", "tgt")),
    "localization/deeploc_data.fasta",
    *(f"stability/stability_{split}.json" for split in ("train", "valid", "test")),
    *(f"fluorescence/fluorescence_{split}.json" for split in ("train", "valid", "test")),
    *(f"secstr/secondary_structure_{split}.json" for split in ("train", "valid", "casp12")),
    "secstr/CB513_HHblits.csv",
    "secstr/TS115_HHblits.csv",
    *(f"transmembrane/{split}.3line" for split in ("train", "valid", "test")),
)
"""Every data file `generate` writes, relative to its output directory (besides manifest.json)."""


def pfam_lines(families: list[Family], per_family: int, seed: int) -> list[str]:
    """Pfam-A.fasta records: >NAME/start-end ACC PFxxxxx.v;FamilyID; for every family in Pfam."""
    rng = rng_for(seed, "pfam")
    records = []
    for family in (f for f in families if f.in_pfam):
        for sequence, _ in emit(family.hmm, per_family, rng):
            number = len(records) + 1
            accession = f"S{number:05d}"
            start = int(rng.integers(1, 60))
            header = (
                f"{accession}_SYNTH/{start}-{start + len(sequence) - 1} {accession}.1 {family.accession};{family.name};"
            )
            records.append((header, sequence))
    return list(formats.fasta_lines(records))


def generate(settings: SyntheticSettings, out: str | Path) -> dict[str, Any]:
    """Write the benchmark into `out` (replaced atomically) and return its manifest."""
    seed = settings.seed
    families = build_hierarchy(seed, settings.n_classes, settings.n_families, tuple(settings.hmm_length))
    sizes = settings.tasks.model_dump()
    with atomic_path(out, directory=True) as tmp:
        formats.write_gzip_text(tmp / "Pfam-A.fasta.gz", pfam_lines(families, settings.sequences_per_family, seed))
        task_files.homology(families, sizes["homology"], seed, tmp)
        task_files.solubility(families, sizes["solubility"], seed, tmp)
        task_files.localization(families, sizes["localization"], seed, tmp)
        task_files.stability(families, sizes["stability"], seed, tmp, settings.stability_families)
        task_files.fluorescence(families, sizes["fluorescence"], seed, tmp, tuple(settings.fluorescence_test_mutations))
        task_files.secstr(families, sizes["secstr"], seed, tmp)
        task_files.transmembrane(families, sizes["transmembrane"], seed, tmp)
        manifest = {
            "generator": "plus.data.synthetic",
            "generator_version": GENERATOR_VERSION,
            "pyhmmer_version": pyhmmer.__version__,
            "seed": seed,
            "sizes": {
                "pfam": {"families": settings.n_families, "sequences_per_family": settings.sequences_per_family},
                **sizes,
            },
            "config": settings.model_dump(mode="json"),
            "real_pfam_hmms": [f"{h.accession} {h.name}" for h in real_pfam_hmms()],
            "families": [f.to_dict() for f in families],
            "label_rules": task_files.LABEL_RULES,
            "files": {str(path.relative_to(tmp)): file_md5(path) for path in sorted(tmp.rglob("*")) if path.is_file()},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("synthetic benchmark: %d files in %s", len(manifest["files"]), out)
    return manifest
