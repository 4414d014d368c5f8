"""Leakage audit of a canonical task: each evaluated sequence's highest identity to any training sequence, and
exact duplicates between any two splits.

Identity is defined and computed as in plus.analysis.alignment (pyopal Smith-Waterman, BLOSUM62 11/1; identical
aligned residues / length of the shorter sequence; best of the top-10 score hits, exact copies first). Pair tasks
(homology): each side of a pair is audited against the training domains and the pair gets the larger identity.
Speed: see plus.analysis.alignment (about 35 s per 1000 short test sequences against 50,000 training ones, on one
thread). Identity 1.0 means an exact copy or a sequence contained in a training one; exact copies alone are
counted in `duplicates` (identical upper-case sequences, any two splits, and repeats within a split).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plus.analysis.alignment import GAP_EXTEND, GAP_OPEN, SCORING_MATRIX, TOP_K, AlignmentIndex, Hit, clean
from plus.analysis.search import SplitHits, check_hits, read_hits, search_splits
from plus.errors import InputError
from plus.io import atomic_path, write_json

log = logging.getLogger(__name__)

IDENTITY_BINS: tuple[tuple[str, float, float], ...] = (
    ("<30%", 0.0, 0.3),
    ("30-50%", 0.3, 0.5),
    ("50-90%", 0.5, 0.9),
    (">=90%", 0.9, float("inf")),
)
HISTOGRAM_EDGES = tuple(round(0.05 * i, 2) for i in range(21))
N_EXAMPLES = 5
IDENTITY_COLUMNS = ("split", "id", "max_identity", "nearest_train_id", "score")


def identity_bin(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The IDENTITY_BINS label of each identity (lower edge inclusive)."""
    values = np.asarray(values, dtype=float)
    labels = np.full(len(values), "", dtype=object)
    for label, low, high in IDENTITY_BINS:
        labels[(values >= low) & (values < high)] = label
    return labels


def read_task_splits(task_dir: Path) -> dict[str, pd.DataFrame]:
    """Every `{split}.parquet` of a canonical task directory, by split name."""
    task_dir = Path(task_dir)
    if not task_dir.is_dir():
        raise InputError(f"{task_dir}: task directory not found (run `plus import-task`)")
    splits = {}
    for path in sorted(task_dir.glob("*.parquet")):
        try:
            table = pd.read_parquet(path)
        except Exception as error:
            raise InputError(f"{path}: cannot read canonical split: {error}") from error
        missing = [c for c in ("id", "sequence") if c not in table.columns]
        if missing:
            raise InputError(f"{path}: canonical split lacks columns {missing}")
        splits[path.stem] = table
    if not splits:
        raise InputError(f"{task_dir}: no canonical split files (*.parquet)")
    return splits


def audited_splits(splits: dict[str, pd.DataFrame], reference: str, chosen: Sequence[str] | None) -> list[str]:
    """The splits to audit: those chosen, else every split named test*, else every split but the reference."""
    if reference not in splits:
        raise InputError(f"reference split {reference!r} not found among the task's splits {sorted(splits)}")
    if chosen:
        unknown = [s for s in chosen if s not in splits]
        if unknown:
            raise InputError(f"splits {unknown} not found among the task's splits {sorted(splits)}")
        return list(chosen)
    tests = [s for s in splits if s.startswith("test")]
    return tests or [s for s in splits if s != reference]


def _sides(table: pd.DataFrame) -> list[tuple[str, str]]:
    """(id column, sequence column) of each side of a record: one for proteins, two for pairs."""
    sides = [("id", "sequence")]
    if "sequence_b" in table.columns:
        sides.append(("id_b" if "id_b" in table.columns else "id", "sequence_b"))
    return sides


def audit_identity(
    splits: dict[str, pd.DataFrame],
    reference: str = "train",
    chosen: Sequence[str] | None = None,
    *,
    top_k: int = TOP_K,
    threads: int = 1,
    hits: SplitHits | None = None,
) -> pd.DataFrame:
    """IDENTITY_COLUMNS for every record of the audited splits, in table order (pairs: max over both sides).

    `hits`: the shared search (plus.analysis.search, e.g. read from hits.parquet) instead of searching here."""
    audited = audited_splits(splits, reference, chosen)
    train = splits[reference]
    if hits is None:
        index = AlignmentIndex(train["sequence"].astype(str).tolist())
        hits = search_splits(index, {split: splits[split] for split in audited}, top_k=top_k, threads=threads)
    train_ids = train["id"].astype(str).to_numpy()
    frames = []
    for split in audited:
        table = splits[split]
        found = hits[split]
        best: list[Hit] = []
        for row in range(len(table)):
            candidates = [found[clean(str(table[column].iat[row]))].by_identity for _, column in _sides(table)]
            best.append(max(candidates, key=lambda h: (h.identity, h.score)))
        frames.append(
            pd.DataFrame(
                {
                    "split": split,
                    "id": table["id"].astype(str).to_numpy(),
                    "max_identity": [h.identity for h in best],
                    "nearest_train_id": train_ids[[h.index for h in best]] if best else [],
                    "score": [h.score for h in best],
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(IDENTITY_COLUMNS))


def _sequence_ids(table: pd.DataFrame) -> dict[str, list[str]]:
    """Each distinct sequence of a split (both sides of pairs) -> the ids carrying it, in table order."""
    found: dict[str, list[str]] = {}
    for id_column, sequence_column in _sides(table):
        for record, sequence in zip(table[id_column].astype(str), table[sequence_column].astype(str), strict=True):
            found.setdefault(clean(sequence), []).append(record)
    return found


def exact_duplicates(splits: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Identical sequences shared by each pair of splits, and repeated within each split."""
    by_split = {split: _sequence_ids(table) for split, table in splits.items()}
    across = []
    for first, second in itertools.combinations(splits, 2):
        shared = [s for s in by_split[first] if s in by_split[second]]
        across.append(
            {
                "splits": [first, second],
                "sequences": len(shared),
                f"records_{first}": sum(len(by_split[first][s]) for s in shared),
                f"records_{second}": sum(len(by_split[second][s]) for s in shared),
                "examples": [[by_split[first][s][0], by_split[second][s][0]] for s in shared[:N_EXAMPLES]],
            }
        )
    within = {
        split: {
            "sequences_repeated": sum(1 for ids in found.values() if len(ids) > 1),
            "examples": [ids[:2] for ids in found.values() if len(ids) > 1][:N_EXAMPLES],
        }
        for split, found in by_split.items()
    }
    return {"across_splits": across, "within_split": within}


def split_summary(values: np.ndarray) -> dict[str, Any]:
    """Histogram (HISTOGRAM_EDGES), counts per IDENTITY_BINS and quantiles of one split's identities."""
    counts, _ = np.histogram(np.clip(values, 0.0, 1.0), bins=np.array(HISTOGRAM_EDGES))
    labels = identity_bin(values)
    return {
        "n": int(len(values)),
        "histogram": {"edges": list(HISTOGRAM_EDGES), "counts": counts.tolist()},
        "bins": {label: int((labels == label).sum()) for label, _, _ in IDENTITY_BINS},
        "median": float(np.median(values)) if len(values) else None,
        "mean": float(np.mean(values)) if len(values) else None,
        "full_identity": int((values >= 1.0).sum()),  # exact copies and sequences contained in a training one
    }


def audit_task(
    task_dir: Path,
    out_dir: Path,
    *,
    reference: str = "train",
    splits: Sequence[str] | None = None,
    top_k: int = TOP_K,
    threads: int = 1,
    hits_path: Path | None = None,
) -> dict[str, Any]:
    """Write `identity.parquet` and `summary.json` of one task into out_dir; return the summary.

    `hits_path`: the task's hits.parquet (plus align-task), read instead of searching; its top_k is used."""
    started = time.perf_counter()
    tables = read_task_splits(Path(task_dir))
    hits = None
    if hits_path is not None:
        hits, settings = read_hits(Path(hits_path))
        check_hits(
            hits, settings, audited_splits(tables, reference, splits), reference, len(tables[reference]), hits_path
        )
        top_k = int(settings["top_k"])
    identity = audit_identity(tables, reference, splits, top_k=top_k, threads=threads, hits=hits)
    summary = {
        "task": Path(task_dir).name,
        "data": str(task_dir),
        "reference_split": reference,
        "n_reference": len(tables[reference]),
        "method": {
            "aligner": "pyopal Smith-Waterman (local)",
            "scoring_matrix": SCORING_MATRIX,
            "gap_open": GAP_OPEN,
            "gap_extend": GAP_EXTEND,
            "top_k": top_k,
            "identity": "identical aligned residues / length of the shorter sequence; max over the top_k "
            "best-scoring training sequences (exact copies: 1.0); pairs: max over both sides",
        },
        "bins": [label for label, _, _ in IDENTITY_BINS],
        "splits": {
            split: split_summary(group["max_identity"].to_numpy(dtype=float))
            for split, group in identity.groupby("split", sort=False)
        },
        "duplicates": exact_duplicates(tables),
        "seconds": round(time.perf_counter() - started, 2),
    }
    out_dir = Path(out_dir)
    with atomic_path(out_dir / "identity.parquet") as tmp:
        identity.to_parquet(tmp, index=False)
    write_json(out_dir / "summary.json", summary)
    return summary
