"""The embedded synthetic benchmark for the offline demo: a mini Pfam-A.fasta and the seven tasks in their
official formats, generated with pyhmmer from a seed in seconds, without the network."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import pyhmmer

from plus.data.synthetic import formats, task_files
from plus.data.synthetic.hmms import Family, build_hierarchy, emit, real_pfam_hmms, rng_for
from plus.errors import InputError
from plus.io import atomic_path, file_md5

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
TASK_SPLITS: dict[str, tuple[str, ...]] = {
    "homology": ("train", "valid", "test", "test_2.07"),
    "solubility": ("train", "valid", "test"),
    "localization": ("train", "valid", "test"),
    "stability": ("train", "valid", "test"),
    "fluorescence": ("train", "valid", "test"),
    "secstr": ("train", "valid", "test_casp12", "test_cb513", "test_ts115"),
    "transmembrane": ("train", "valid", "test"),
}
DEFAULTS: dict[str, Any] = {
    "seed": 2020,
    "n_classes": 4,
    "n_families": 40,
    "sequences_per_family": 150,
    "hmm_length": [60, 140],
    "tasks": {
        name: {split: 400 if split == "train" else 100 if split == "valid" else 150 for split in splits}
        for name, splits in TASK_SPLITS.items()
    },
    "stability_families": 6,
    "fluorescence_test_mutations": [4, 6],
}


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


def resolve_config(config: dict[str, Any], source: str = "config") -> dict[str, Any]:
    """Defaults overlaid with `config` (keys nested under `synthetic:` or at top level), checked."""
    values = config.get("synthetic", config) if isinstance(config, dict) else config
    if not isinstance(values, dict):
        raise InputError(f"{source}: 'synthetic' must be a mapping")
    resolved = copy.deepcopy(DEFAULTS)
    for key, value in values.items():
        if key not in DEFAULTS:
            raise InputError(f"{source}: unknown config key 'synthetic.{key}' (known: {sorted(DEFAULTS)})")
        if key == "tasks":
            if not isinstance(value, dict):
                raise InputError(f"{source}: 'synthetic.tasks' must be a mapping of task -> split sizes")
            for task, sizes in value.items():
                if task not in TASK_SPLITS:
                    raise InputError(f"{source}: unknown task 'synthetic.tasks.{task}'")
                if not isinstance(sizes, dict):
                    raise InputError(f"{source}: 'synthetic.tasks.{task}' must map split -> size")
                for split, size in sizes.items():
                    if split not in TASK_SPLITS[task]:
                        raise InputError(f"{source}: unknown split 'synthetic.tasks.{task}.{split}'")
                    resolved["tasks"][task][split] = _count(size, f"synthetic.tasks.{task}.{split}", source)
        else:
            resolved[key] = value
    for key in ("seed", "n_classes", "n_families", "sequences_per_family", "stability_families"):
        resolved[key] = _count(resolved[key], f"synthetic.{key}", source)
    for key in ("hmm_length", "fluorescence_test_mutations"):
        pair = resolved[key]
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(v, int) for v in pair)):
            raise InputError(f"{source}: 'synthetic.{key}' must be [low, high] integers")
        if not 1 <= pair[0] <= pair[1]:
            raise InputError(f"{source}: 'synthetic.{key}' needs 1 <= low <= high, got {pair}")
        resolved[key] = list(pair)
    if not 2 <= resolved["n_classes"] <= 26:
        raise InputError(f"{source}: 'synthetic.n_classes' must be 2..26 (pairs of similarity 0 need 2)")
    if resolved["stability_families"] < 1:
        raise InputError(f"{source}: 'synthetic.stability_families' must be at least 1")
    if resolved["n_families"] < 8 * resolved["n_classes"]:
        raise InputError(
            f"{source}: 'synthetic.n_families' must be at least 8 x n_classes (2 per superfamily, "
            "so every similarity level 0..4 has pairs)"
        )
    if resolved["hmm_length"][0] < 20:
        raise InputError(f"{source}: 'synthetic.hmm_length' must start at 20 or more")
    if resolved["fluorescence_test_mutations"][1] > resolved["hmm_length"][0]:
        raise InputError(f"{source}: 'synthetic.fluorescence_test_mutations' exceeds the shortest HMM")
    return resolved


def _count(value: Any, key: str, source: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{source}: '{key}' must be a non-negative integer, got {value!r}")
    return value


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


def generate(config: dict[str, Any], out: str | Path, source: str = "config") -> dict[str, Any]:
    """Write the benchmark into `out` (replaced atomically) and return its manifest."""
    settings = resolve_config(config, source)
    seed = settings["seed"]
    families = build_hierarchy(seed, settings["n_classes"], settings["n_families"], tuple(settings["hmm_length"]))
    sizes = settings["tasks"]
    with atomic_path(out, directory=True) as tmp:
        formats.write_gzip_text(tmp / "Pfam-A.fasta.gz", pfam_lines(families, settings["sequences_per_family"], seed))
        task_files.homology(families, sizes["homology"], seed, tmp)
        task_files.solubility(families, sizes["solubility"], seed, tmp)
        task_files.localization(families, sizes["localization"], seed, tmp)
        task_files.stability(families, sizes["stability"], seed, tmp, settings["stability_families"])
        task_files.fluorescence(
            families, sizes["fluorescence"], seed, tmp, tuple(settings["fluorescence_test_mutations"])
        )
        task_files.secstr(families, sizes["secstr"], seed, tmp)
        task_files.transmembrane(families, sizes["transmembrane"], seed, tmp)
        manifest = {
            "generator": "plus.data.synthetic",
            "generator_version": GENERATOR_VERSION,
            "pyhmmer_version": pyhmmer.__version__,
            "seed": seed,
            "sizes": {
                "pfam": {"families": settings["n_families"], "sequences_per_family": settings["sequences_per_family"]},
                **sizes,
            },
            "config": settings,
            "real_pfam_hmms": [f"{h.accession} {h.name}" for h in real_pfam_hmms()],
            "families": [f.to_dict() for f in families],
            "label_rules": task_files.LABEL_RULES,
            "files": {str(path.relative_to(tmp)): file_md5(path) for path in sorted(tmp.rglob("*")) if path.is_file()},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("synthetic benchmark: %d files in %s", len(manifest["files"]), out)
    return manifest
