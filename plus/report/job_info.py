"""What the HTML report's info pane shows of the report job's settings: a short readable list, not the JSON.

Kept free of heavy imports: the workflow builds its params at `snakemake -n` time.
"""

from __future__ import annotations

import json


def _value_text(value: object) -> str:
    if isinstance(value, list):
        names = [item["name"] for item in value if isinstance(item, dict) and "name" in item]
        if names and len(names) == len(value):
            return ", ".join(str(name) for name in names)
        return f"{len(value)} entries"
    if isinstance(value, dict) and value and all(isinstance(item, dict) and "name" in item for item in value.values()):
        return ", ".join(str(key) for key in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_value_text(item)}" for key, item in value.items()) or "none"
    return "none" if value is None else str(value)


def settings_summary(settings_json: str) -> str:
    """`key: value` per top-level setting: lists and mappings of named items by their names, other lists by their
    length."""
    return "; ".join(f"{key}: {_value_text(value)}" for key, value in json.loads(settings_json).items())


class JobSettings(str):
    """A job's settings JSON as a rule param that Snakemake shows as `settings_summary` (the report's info pane).

    The shell command passes `{params.settings.json:q}`; Snakemake notices a change of the settings through the
    param's repr, which is the JSON's.
    """

    __slots__ = ()

    @property
    def json(self) -> str:
        return str.__str__(self)

    def __str__(self) -> str:
        return settings_summary(self.json)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)
