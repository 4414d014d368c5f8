"""Where each task's data came from (official release, local copy, synthetic), so that a published number is set
beside this run's only when the task's data is the benchmark it was published on.

Kinds: `official` (the benchmark's own release, e.g. downloaded from its URL with the pinned md5), `local` (a
local file whose origin the report cannot check), `synthetic` (written by `plus synthetic`: every source file is
listed with its md5 in a `manifest.json` of generator `plus.data.synthetic` in the same or a parent directory),
`unknown` (no summary.json and no provenance given). Only `official` tasks get published numbers.

Content comes first: a task whose every split's fingerprint (summary.json `content`, written by `plus import-task`)
matches an official split shipped with PLUS is `official` (content-verified), whatever its files, format or path
and whatever else is given. Otherwise the kind stays as given or inferred and, unless the data is synthetic, the
detail says split by split which splits were verified, which differ from the official ones and which have no
shipped fingerprint.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plus.data.task_data.fingerprint import DIFFERS, DOWNLOADED, OFFICIAL, UNVERIFIED
from plus.errors import InputError
from plus.io import read_json_object

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


def _grouped(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Split names grouped by a key (dataset or status), in first-seen order."""
    groups: dict[str, list[str]] = {}
    for key, split in pairs:
        groups.setdefault(key, []).append(split)
    return groups


def _content_splits(content: Any, where: str) -> dict[str, Mapping[str, Any]]:
    """summary.json `content.splits` checked: split -> {status, official, dataset, ...}."""
    if content is None:
        return {}
    splits = content.get("splits") if isinstance(content, Mapping) else None
    if not isinstance(splits, Mapping) or not all(isinstance(record, Mapping) for record in splits.values()):
        raise InputError(f"{where}: content must be {{splits: {{split: {{status, fingerprint, ...}}}}}}")
    return {str(split): record for split, record in splits.items()}


def content_provenance(base: Provenance, content: Any, where: str) -> Provenance:
    """`official` when every split of summary.json `content` is an official split; else `base`, its detail
    saying split by split what the fingerprints show."""
    splits = _content_splits(content, where)
    if not splits:
        return base
    status = {split: record.get("status") for split, record in splits.items()}
    if all(value == OFFICIAL for value in status.values()):
        datasets = _grouped([(str(record.get("dataset", "")), split) for split, record in splits.items()])
        names = "; ".join(f"{dataset} {', '.join(names)}".strip() for dataset, names in datasets.items())
        return Provenance("official", f"{names} splits, content-verified")
    if base.kind == "synthetic":
        return base  # generated data: no split can be official, and saying so for each is noise
    notes = []
    verified = [
        (str(record.get("dataset", "")), split) for split, record in splits.items() if status[split] == OFFICIAL
    ]
    notes += [f"{', '.join(names)} verified as {dataset}".strip() for dataset, names in _grouped(verified).items()]
    notes += [f"{split} is not {splits[split].get('official')}" for split in splits if status[split] == DIFFERS]
    by_status = _grouped([(str(value), split) for split, value in status.items()])
    if DOWNLOADED in by_status:
        notes.append(
            f"{', '.join(by_status[DOWNLOADED])}: fingerprint recorded from the download, no official one shipped"
        )
    if UNVERIFIED in by_status:
        notes.append(f"{', '.join(by_status[UNVERIFIED])}: no official fingerprint shipped")
    content_note = f"content: {'; '.join(notes)}"
    return Provenance(base.kind, f"{base.detail}; {content_note}" if base.detail else content_note)


def read_summary(summary_path: Path) -> dict[str, Any]:
    """A canonical task's summary.json, checked to be an object with a 'task' key."""
    summary = read_json_object(summary_path)
    if "task" not in summary:
        raise InputError(f"{summary_path}: expected a task summary object with a 'task' key")
    return summary


def summary_provenance(summary: Mapping[str, Any], where: str) -> Provenance:
    """A summary's provenance from its files: an explicit `provenance` entry, else synthetic when every source
    file is in a synthetic manifest with its md5, else local."""
    task = str(summary["task"])
    if isinstance(summary.get("provenance"), Mapping):
        return parse_provenance({task: summary["provenance"]}, where)[task]
    sources = summary.get("source") or {}
    if not sources:
        return Provenance("local", "summary.json lists no source files")
    manifests = []
    for name, md5 in sources.items():
        manifests.append(_synthetic_manifest(_source_file(str(name)), str(md5)))
    if all(manifests):
        directory = sorted({str(m.parent) for m in manifests if m})
        return Provenance("synthetic", f"plus synthetic generator, {', '.join(directory)}")
    files = ", ".join(Path(str(name)).name for name in sources)
    return Provenance("local", f"files {files}; md5s in summary.json, origin not checked")


def infer_provenance(summary_path: Path) -> tuple[str, Provenance]:
    """(task, provenance) from a canonical task's summary.json: its content fingerprints, then its files."""
    summary = read_summary(summary_path)
    base = summary_provenance(summary, str(summary_path))
    return str(summary["task"]), content_provenance(base, summary.get("content"), str(summary_path))


def task_provenance(
    tasks: Sequence[str], summaries: Sequence[Path] = (), given: Mapping[str, Any] | None = None
) -> dict[str, Provenance]:
    """Each task's provenance: official when its summary.json's content is, else given by the caller, else
    inferred from its summary.json, else unknown (see the module docstring)."""
    read: dict[str, tuple[dict[str, Any], str]] = {}
    for path in summaries:
        summary = read_summary(path)
        read[str(summary["task"])] = (summary, str(path))
    explicit = parse_provenance(given, "provenance") if given else {}
    result = {}
    for task in tasks:
        if task not in read:
            result[task] = explicit.get(task) or UNKNOWN
            continue
        summary, where = read[task]
        base = explicit.get(task) or summary_provenance(summary, where)
        result[task] = content_provenance(base, summary.get("content"), where)
    return result
