"""Which resume checkpoint a run continues from: the newest one that can be read."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

import torch
from lightning.pytorch.utilities import rank_zero_only

log = logging.getLogger(__name__)

LAST = "last.ckpt"


def _utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _set_aside(path: Path, label: str) -> Path:
    """Rename `path` to `<path>.<label>-<UTC timestamp>` and return the new path."""
    aside = path.with_name(f"{path.name}.{label}-{_utc_stamp()}")
    path.rename(aside)
    return aside


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
