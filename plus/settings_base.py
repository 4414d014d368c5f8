"""The base of every settings model and the error of settings that fail validation.

Apart from plus.settings so that the modules it gathers settings from (plus.models.specs) can derive from it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from plus.errors import InputError


class Settings(BaseModel):
    """Base of every settings model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingsError(InputError):
    """Settings that fail validation; the message names every bad key by its full path."""
