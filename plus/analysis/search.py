"""One Smith-Waterman search of a task's test splits against its training split, read by both the leakage audit
(plus.analysis.leakage: the highest identity among the top-k scores) and the alignment baseline
(plus.analysis.baseline: the best-scoring hit and its alignment, to copy labels along).

Each distinct query sequence (upper case, BLOSUM62 alphabet; both sides of pairs) is scored once against every
training sequence (plus.analysis.alignment.AlignmentIndex.search); the expensive part, scoring, used to run twice,
once for each consumer. `hits.parquet` has one row per (split, distinct query) with HIT_COLUMNS; training
sequences are named by their row in the reference split (`*_index`). Its Parquet schema metadata (key
SEARCH_METADATA_KEY) holds the settings as JSON: reference split and size, top_k, aligner and scoring.
Pair tasks' baseline scores each pair with itself, not against training, so it needs no training search.

A search is resumable: `plus align-task` searches the distinct queries in chunks of CHUNK_QUERIES and keeps each
finished chunk in `<out>.parts/<key>.parquet`, where the key is a sha256 of the search settings, the reference
sequences, the package version and the chunk's queries (also stored in the part and checked when read). A killed
run's successor reuses exactly the chunks made from the same settings, code and data, searches the rest, and
removes the parts once `out` is written; a part made from anything else is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from plus.analysis.alignment import (
    GAP_EXTEND,
    GAP_OPEN,
    SCORING_MATRIX,
    TOP_K,
    AlignedPair,
    AlignmentIndex,
    Hit,
    SearchHit,
    clean,
    map_each,
)
from plus.errors import InputError
from plus.io import atomic_path
from plus.version import __version__

log = logging.getLogger(__name__)

HIT_COLUMNS = (
    "split",
    "sequence",
    "score_index",
    "score",
    "score_identity",
    "alignment",
    "query_start",
    "target_start",
    "identity_index",
    "identity_score",
    "identity",
)
SEARCH_METADATA_KEY = b"plus.search"
SplitHits = dict[str, dict[str, SearchHit]]  # split -> clean query sequence -> its search
CHUNK_QUERIES = 256  # distinct queries searched, then kept on disk, at a time by a resumable search
PART_KEY = "part_key"


def query_sequences(table: pd.DataFrame) -> list[str]:
    """The distinct clean sequences of a split in table order (pairs: the first side's, then the second's)."""
    columns = ["sequence", *(["sequence_b"] if "sequence_b" in table.columns else [])]
    return list(dict.fromkeys(clean(s) for column in columns for s in table[column].astype(str)))


def _digest(*texts: str) -> str:
    """sha256 hex of texts joined by newlines."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def search_key(settings: Mapping[str, Any], reference: Sequence[str]) -> str:
    """What a search's results depend on: its settings, the reference sequences and the package version."""
    record = json.dumps({"settings": settings, "version": __version__}, sort_keys=True)
    return _digest(record, _digest(*reference))


def parts_dir(out: Path) -> Path:
    """Where a resumable search keeps its finished chunks until `out` is written."""
    return out.with_name(out.name + ".parts")


def _read_part(path: Path, key: str, queries: list[str]) -> dict[str, SearchHit] | None:
    """A finished chunk's searches, or None when the part is absent, unreadable or made from something else."""
    if not path.is_file():
        return None
    try:
        hits, stored = read_hits(path)
    except InputError as error:
        log.warning("%s: ignoring an unreadable part (%s); searching its queries again", path, error)
        return None
    found = hits.get("", {})
    if stored.get(PART_KEY) != key or list(found) != queries:
        log.warning("%s: made from other settings, code or data; searching its queries again", path)
        return None
    return found


def _search_chunks(
    index: AlignmentIndex, distinct: list[str], top_k: int, threads: int, what: str, parts: Path, key: str
) -> dict[str, SearchHit]:
    """Every query searched in chunks, each kept in `parts` once done and reused when a part with its key is there."""
    parts.mkdir(parents=True, exist_ok=True)
    found: dict[str, SearchHit] = {}
    reused = 0
    for start in range(0, len(distinct), CHUNK_QUERIES):
        queries = distinct[start : start + CHUNK_QUERIES]
        chunk_key = _digest(key, *queries)
        part = parts / f"{chunk_key}.parquet"
        chunk = _read_part(part, chunk_key, queries)
        if chunk is None:
            chunk = dict(
                zip(queries, map_each(lambda q: index.search(q, top_k), queries, threads, what=what), strict=True)
            )
            write_hits(part, {"": chunk}, {PART_KEY: chunk_key})
        else:
            reused += len(queries)
        found.update(chunk)
    if reused:
        log.info("%s: reused %d of %d searches finished by an earlier run (%s)", what, reused, len(distinct), parts)
    return found


def search_splits(
    index: AlignmentIndex,
    tables: Mapping[str, pd.DataFrame],
    *,
    top_k: int = TOP_K,
    threads: int = 1,
    parts: Path | None = None,
    key: str = "",
) -> SplitHits:
    """Every distinct query of each split searched once (a sequence in several splits too).

    With `parts`, finished chunks are kept there and reused (see the module docstring); `key` is the search_key."""
    wanted = {split: query_sequences(table) for split, table in tables.items()}
    distinct = list(dict.fromkeys(q for queries in wanted.values() for q in queries))
    started = time.perf_counter()
    what = f"{'+'.join(tables)} search"
    if parts is None:
        found = dict(
            zip(distinct, map_each(lambda q: index.search(q, top_k), distinct, threads, what=what), strict=True)
        )
    else:
        found = _search_chunks(index, distinct, top_k, threads, what, parts, key)
    log.info(
        "%d distinct sequences of %s against %d in %.1f s on %d thread(s)",
        len(distinct),
        ", ".join(tables),
        len(index),
        time.perf_counter() - started,
        threads,
    )
    return {split: {q: found[q] for q in queries} for split, queries in wanted.items()}


def hits_frame(hits: SplitHits) -> pd.DataFrame:
    """HIT_COLUMNS, one row per (split, query)."""
    rows = [
        (
            split,
            query,
            h.by_score.index,
            h.by_score.score,
            h.by_score.identity,
            h.pair.alignment,
            h.pair.query_start,
            h.pair.target_start,
            h.by_identity.index,
            h.by_identity.score,
            h.by_identity.identity,
        )
        for split, found in hits.items()
        for query, h in found.items()
    ]
    frame = pd.DataFrame(rows, columns=list(HIT_COLUMNS))
    integers = ["score_index", "score", "query_start", "target_start", "identity_index", "identity_score"]
    return frame.astype({c: "int64" for c in integers} | {"score_identity": "float64", "identity": "float64"})


def frame_hits(frame: pd.DataFrame) -> SplitHits:
    """The inverse of hits_frame."""
    hits: SplitHits = {}
    for row in frame.itertuples(index=False):
        hits.setdefault(str(row.split), {})[str(row.sequence)] = SearchHit(
            Hit(int(row.score_index), int(row.score), float(row.score_identity)),
            AlignedPair(str(row.alignment), int(row.query_start), int(row.target_start)),
            Hit(int(row.identity_index), int(row.identity_score), float(row.identity)),
        )
    return hits


def write_hits(path: Path, hits: SplitHits, settings: dict[str, Any]) -> None:
    """`hits.parquet` with the search's settings in its schema metadata."""
    table = pa.Table.from_pandas(hits_frame(hits), preserve_index=False)
    metadata = {**(table.schema.metadata or {}), SEARCH_METADATA_KEY: json.dumps(settings, sort_keys=True).encode()}
    with atomic_path(Path(path)) as tmp:
        pq.write_table(table.replace_schema_metadata(metadata), tmp)


def read_hits(path: Path) -> tuple[SplitHits, dict[str, Any]]:
    """The searches and settings of a `hits.parquet` (plus align-task)."""
    path = Path(path)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as error:
        raise InputError(f"{path}: cannot read the search hits (plus align-task): {error}") from error
    raw = (table.schema.metadata or {}).get(SEARCH_METADATA_KEY)
    missing = [c for c in HIT_COLUMNS if c not in table.column_names]
    if raw is None or missing:
        raise InputError(f"{path}: not a hits table of `plus align-task` (columns missing: {missing})")
    return frame_hits(table.to_pandas()), json.loads(raw)


def check_hits(
    hits: SplitHits, settings: dict[str, Any], splits: Iterable[str], reference: str, n_reference: int, where: Path
) -> None:
    """Raise InputError unless the hits cover `splits` and were searched against this reference split."""
    if settings.get("reference_split") != reference or settings.get("n_reference") != n_reference:
        raise InputError(
            f"{where}: searched against {settings.get('reference_split')!r} of {settings.get('n_reference')} "
            f"sequences, not {reference!r} of {n_reference}: rerun `plus align-task`"
        )
    absent = [s for s in splits if s not in hits]
    if absent:
        raise InputError(f"{where}: no hits for splits {absent} (searched: {sorted(hits)})")


def search_settings(reference: str, n_reference: int, top_k: int, splits: Sequence[str]) -> dict[str, Any]:
    """What a search was: recorded in hits.parquet and checked by its readers."""
    return {
        "reference_split": reference,
        "n_reference": n_reference,
        "splits": list(splits),
        "top_k": top_k,
        "aligner": "pyopal Smith-Waterman (local)",
        "scoring_matrix": SCORING_MATRIX,
        "gap_open": GAP_OPEN,
        "gap_extend": GAP_EXTEND,
    }


def searched_splits(tables: Mapping[str, pd.DataFrame], reference: str, test_splits: Sequence[str] = ()) -> list[str]:
    """The audit's default splits (every test*, else all but the reference) and the task's test splits."""
    from plus.analysis.leakage import audited_splits

    return list(dict.fromkeys([*audited_splits(dict(tables), reference, None), *test_splits]))


def search_task(
    task_dir: Path,
    out: Path,
    *,
    test_splits: Sequence[str] = (),
    reference: str = "train",
    top_k: int = TOP_K,
    threads: int = 1,
) -> dict[str, Any]:
    """Search a canonical task's test splits against its reference split; write `out` (hits.parquet)."""
    from plus.analysis.leakage import read_task_splits

    if top_k < 1 or threads < 1:
        raise InputError("top_k and threads must be at least 1")
    started = time.perf_counter()
    tables = read_task_splits(Path(task_dir))
    splits = searched_splits(tables, reference, test_splits)
    unknown = [s for s in splits if s not in tables]
    if unknown:
        raise InputError(f"{task_dir}: splits {unknown} not found among {sorted(tables)}")
    sequences = tables[reference]["sequence"].astype(str).tolist()
    index = AlignmentIndex(sequences)
    settings = search_settings(reference, len(index), top_k, splits)
    parts = parts_dir(Path(out))
    key = search_key(settings, sequences)
    hits = search_splits(index, {s: tables[s] for s in splits}, top_k=top_k, threads=threads, parts=parts, key=key)
    write_hits(Path(out), hits, settings)
    shutil.rmtree(parts, ignore_errors=True)
    return {**settings, "queries": sum(len(h) for h in hits.values()), "seconds": time.perf_counter() - started}
