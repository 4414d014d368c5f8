"""Where each task's data came from (official release, local copy, synthetic), so that a published number is set
beside this run's only when the task's data is the benchmark it was published on.

Kinds: `official` (the benchmark's own release, e.g. downloaded from its URL with the pinned md5), `local` (a
local file whose origin the report cannot check), `synthetic` (written by `plus synthetic`: every source file is
listed with its md5 in a `manifest.json` of generator `plus.data.synthetic` in the same or a parent directory),
`unknown` (no summary.json and no provenance given). Only `official` tasks get published numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plus.errors import InputError

KINDS = ("official", "local", "synthetic", "unknown")
SYNTHETIC_GENERATOR = "plus.data.synthetic"
MANIFEST_LEVELS = 3  # how many parent directories of a source file are searched for a synthetic manifest


@dataclass(frozen=True)
class Provenance:
    """A task's data provenance: its kind (KINDS) and a one-line detail (source, release, generator)."""

    kind: str
    detail: str

    @property
    def comparable_to_published(self) -> bool:
        return self.kind == "official"

    def text(self) -> str:
        return f"{self.kind} ({self.detail})" if self.detail else self.kind


UNKNOWN = Provenance("unknown", "no task summary.json or provenance given")


def parse_provenance(value: Mapping[str, Any], where: str) -> dict[str, Provenance]:
    """`{task: {"kind": ..., "detail": ...}}` as given by the caller, checked."""
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: expected a mapping task -> {{kind, detail}}")
    result = {}
    for task, entry in value.items():
        if isinstance(entry, Provenance):
            result[str(task)] = entry
            continue
        if not isinstance(entry, Mapping) or entry.get("kind") not in KINDS:
            raise InputError(f"{where}: task {task!r}: expected {{kind: one of {KINDS}, detail: text}}, got {entry!r}")
        result[str(task)] = Provenance(str(entry["kind"]), str(entry.get("detail", "")))
    return result


def _synthetic_manifest(source: Path, md5: str) -> Path | None:
    """The synthetic generator's manifest.json listing `source` with this md5, if any."""
    for directory in list(source.parents)[:MANIFEST_LEVELS]:
        manifest = directory / "manifest.json"
        if not manifest.is_file():
            continue
        try:
            record = json.loads(manifest.read_text())
        except (json.JSONDecodeError, OSError):
            continue
        if not isinstance(record, dict) or record.get("generator") != SYNTHETIC_GENERATOR:
            continue
        files = record.get("files") or {}
        relative = source.relative_to(directory).as_posix()
        if files.get(relative) == md5:
            return manifest
    return None


def _source_file(name: str) -> Path:
    """The file a summary's source entry names: `path`, or the archive of `archive.tar.gz:member`."""
    path = Path(name)
    if not path.exists() and ":" in name:
        return Path(name.rsplit(":", 1)[0])
    return path


def infer_provenance(summary_path: Path) -> tuple[str, Provenance]:
    """(task, provenance) from a canonical task's summary.json: an explicit `provenance` entry, else synthetic
    when every source file is in a synthetic manifest with its md5, else local."""
    summary_path = Path(summary_path)
    if not summary_path.is_file():
        raise InputError(f"{summary_path}: task summary not found")
    try:
        summary = json.loads(summary_path.read_text())
    except json.JSONDecodeError as error:
        raise InputError(f"{summary_path}: not valid JSON: {error}") from error
    if not isinstance(summary, dict) or "task" not in summary:
        raise InputError(f"{summary_path}: expected a task summary object with a 'task' key")
    task = str(summary["task"])
    if isinstance(summary.get("provenance"), Mapping):
        return task, parse_provenance({task: summary["provenance"]}, str(summary_path))[task]
    sources = summary.get("source") or {}
    if not sources:
        return task, Provenance("local", "summary.json lists no source files")
    manifests = []
    for name, md5 in sources.items():
        manifests.append(_synthetic_manifest(_source_file(str(name)), str(md5)))
    if all(manifests):
        directory = sorted({str(m.parent) for m in manifests if m})
        return task, Provenance("synthetic", f"plus synthetic generator, {', '.join(directory)}")
    files = ", ".join(Path(str(name)).name for name in sources)
    return task, Provenance("local", f"files {files}; md5s in summary.json, origin not checked")


def task_provenance(
    tasks: Sequence[str], summaries: Sequence[Path] = (), given: Mapping[str, Any] | None = None
) -> dict[str, Provenance]:
    """Each task's provenance: given by the caller, else inferred from its summary.json, else unknown."""
    inferred = dict(infer_provenance(Path(path)) for path in summaries)
    explicit = parse_provenance(given, "provenance") if given else {}
    return {task: explicit.get(task) or inferred.get(task) or UNKNOWN for task in tasks}
