"""Tasks: the spec, the built-in seven, the shapes that own their behaviour, their label alphabets.

`plus.tasks.alphabets`, `plus.tasks.shapes` and `plus.tasks.decoding` import nothing of the package's settings, so
`plus.settings` can read them; the built-in tasks (`plus.tasks.builtin`) are made of settings and load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from plus.tasks.alphabets import (
    LOCALIZATION_CLASSES,
    PAIR_LEVELS,
    SCOP_LEVELS,
    SECSTR3,
    SECSTR3_OF_8,
    SECSTR8,
    TOPOLOGY,
    UNLABELLED,
)
from plus.tasks.decoding import DECODINGS, Decoding
from plus.tasks.shapes import SHAPES, TaskShape

_LAZY = {
    "BUILTIN_TASKS": "plus.tasks.builtin",
    "OFFICIAL_TASKS_FILE": "plus.tasks.builtin",
    "layout_for": "plus.tasks.builtin",
    "official_task_entry": "plus.tasks.builtin",
    "representation_for": "plus.tasks.builtin",
    "resolve_task": "plus.tasks.builtin",
    "with_official_defaults": "plus.tasks.builtin",
    "HeadSpec": "plus.settings",
    "TaskSpec": "plus.settings",
}

__all__ = [
    "DECODINGS",
    "LOCALIZATION_CLASSES",
    "PAIR_LEVELS",
    "SCOP_LEVELS",
    "SECSTR3",
    "SECSTR3_OF_8",
    "SECSTR8",
    "SHAPES",
    "TOPOLOGY",
    "UNLABELLED",
    "Decoding",
    "TaskShape",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'plus.tasks' has no attribute {name!r}")
