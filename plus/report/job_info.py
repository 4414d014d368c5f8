"""What the HTML report's info pane shows of the report job's settings: a short readable list, not the JSON.

Kept free of heavy imports: the workflow calls it at `snakemake -n` time.
"""

from __future__ import annotations

import hashlib
import json


def _value_text(value: object) -> str:
    if isinstance(value, list):
        names = [item["name"] for item in value if isinstance(item, dict) and "name" in item]
        if names and len(names) == len(value):
            return ", ".join(str(name) for name in names)
        return f"{len(value)} entries"
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_value_text(item)}" for key, item in value.items()) or "none"
    return "none" if value is None else str(value)


def settings_summary(settings_json: str) -> str:
    """`key: value` per top-level setting (lists of named items by their names, other lists by their length),
    then the settings' SHA-256 prefix, so that any change of the settings changes this text (and reruns the job)."""
    settings = json.loads(settings_json)
    digest = hashlib.sha256(settings_json.encode()).hexdigest()[:12]
    return "; ".join([*(f"{key}: {_value_text(value)}" for key, value in settings.items()), f"sha256: {digest}"])
