"""Which resume checkpoint a run may continue from: only one its own run wrote, and only one that can be read.

A checkpoint directory belongs to the run whose fingerprint (settings, architecture, input data, package version)
it holds in `fingerprint.json`. A run that finds another fingerprint there, or checkpoints without one, moves the
directory aside and starts fresh, so a changed config never continues (or "finishes" with 0 steps) an old run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import torch
from lightning.pytorch.utilities import rank_zero_only

from plus.errors import InputError
from plus.io import write_json
from plus.version import __version__

log = logging.getLogger(__name__)

FINGERPRINT = "fingerprint.json"
LAST = "last.ckpt"
CLAIM_TIMEOUT_S = 600.0


def _plain(value: Any) -> Any:
    """JSON form of the config objects a fingerprint may hold (model configs, paths, arrays)."""
    for method in ("model_dump", "to_dict"):
        if callable(getattr(value, method, None)):
            return getattr(value, method)()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def fingerprint(settings: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    """The run's identity: sha256 over canonical JSON of its settings, inputs and the package version."""
    record = {"settings": settings, "inputs": inputs, "version": __version__}
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=_plain)
    return {"fingerprint": hashlib.sha256(canonical.encode()).hexdigest(), **json.loads(canonical)}


def parameter_shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    """Every parameter and buffer name of a module with its shape."""
    return {name: list(tensor.shape) for name, tensor in module.state_dict().items()}


def _utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _set_aside(path: Path, label: str) -> Path:
    """Rename `path` to `<path>.<label>-<UTC timestamp>` and return the new path."""
    aside = path.with_name(f"{path.name}.{label}-{_utc_stamp()}")
    path.rename(aside)
    return aside


def _stored_fingerprint(checkpoint_dir: Path) -> str | None:
    try:
        return json.loads((checkpoint_dir / FINGERPRINT).read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return None


def claim_checkpoint_dir(checkpoint_dir: Path, record: dict[str, Any]) -> None:
    """Make `checkpoint_dir` this run's: one holding another run's (or an unfingerprinted) state is moved aside.

    Only global rank 0 changes files. The other DDP ranks wait until the directory holds this run's fingerprint:
    a launcher (torchrun, srun) starts every rank at once, and a rank that looked before rank 0 moved a stale
    directory aside would resume from another run's checkpoint.
    """
    if rank_zero_only.rank != 0:
        _wait_for_claim(checkpoint_dir, record["fingerprint"])
        return
    stored = _stored_fingerprint(checkpoint_dir)
    if stored != record["fingerprint"] and checkpoint_dir.is_dir() and any(checkpoint_dir.iterdir()):
        aside = _set_aside(checkpoint_dir, "stale")
        why = "no fingerprint" if stored is None else f"fingerprint {stored[:12]}"
        log.warning(
            "%s holds the checkpoints of another run (%s, this run is %s): moved to %s, starting fresh",
            checkpoint_dir,
            why,
            record["fingerprint"][:12],
            aside,
        )
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_saves(checkpoint_dir)
    if _stored_fingerprint(checkpoint_dir) != record["fingerprint"]:
        write_json(checkpoint_dir / FINGERPRINT, record)


PARTIAL_SAVES = ".*.tmp"  # the temporary siblings plus.io.atomic_path writes a file through


def remove_partial_saves(directory: Path) -> list[Path]:
    """Remove the temporary files of saves that were killed before they were moved into place; return them."""
    removed = []
    for path in sorted(directory.glob(PARTIAL_SAVES)):
        if path.is_file():
            size = path.stat().st_size
            path.unlink()
            log.warning("%s: removed the partial file (%d bytes) of a save that was interrupted", path, size)
            removed.append(path)
    return removed


def _wait_for_claim(checkpoint_dir: Path, expected: str) -> None:
    """Return once `checkpoint_dir` holds the fingerprint `expected` (written by rank 0); fail after CLAIM_TIMEOUT_S."""
    timeout_s = CLAIM_TIMEOUT_S
    deadline = time.monotonic() + timeout_s
    while _stored_fingerprint(checkpoint_dir) != expected:
        if time.monotonic() > deadline:
            raise InputError(
                f"{checkpoint_dir}: rank {rank_zero_only.rank} waited {timeout_s:.0f} s for rank 0 to claim it for "
                "this run (is rank 0 running the same settings?)"
            )
        time.sleep(0.1)


class ResumePoint(NamedTuple):
    """A readable Lightning checkpoint and the global step it was written at."""

    path: Path
    step: int


def _read_step(path: Path) -> int | None:
    """The checkpoint's global step, or None if it cannot be read (truncated, not a Lightning checkpoint)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        step = int(payload["global_step"])
        if not isinstance(payload.get("state_dict"), dict):
            return None
    except Exception:  # a truncated or foreign file fails in many ways inside the zip reader and unpickler
        return None
    return step


def resume_checkpoint(checkpoint_dir: Path) -> ResumePoint | None:
    """The newest readable checkpoint (`last.ckpt` on a tie) to continue from, or None to start fresh.

    Unreadable checkpoints (a disk-full or killed write) are renamed `<name>.corrupt-<UTC timestamp>` with a
    warning. Training data are step-indexed, so a resume from any earlier checkpoint equals an uninterrupted run.
    """
    found = []
    for path in sorted(checkpoint_dir.glob("*.ckpt")):
        step = _read_step(path)
        if step is None:
            if rank_zero_only.rank == 0:
                aside = _set_aside(path, "corrupt")
                log.warning("%s cannot be read as a checkpoint: set aside as %s", path, aside)
            continue
        found.append(ResumePoint(path, step))
    if not found:
        return None
    best = max(found, key=lambda point: (point.step, point.path.name == LAST))
    log.info("resuming from %s (step %d)", best.path, best.step)
    return best
