"""Text that fits a figure: labels broken into lines for a width in inches."""

from __future__ import annotations

import textwrap

CHARACTER_WIDTH = 0.6  # average character width of the default font, as a fraction of its size


def wrap(text: str, width_inches: float, fontsize: float) -> str:
    """`text` broken into lines that fit `width_inches` at `fontsize` points."""
    columns = max(8, int(width_inches * 72 / (fontsize * CHARACTER_WIDTH)))
    return "\n".join(textwrap.fill(line, columns, break_long_words=True) for line in text.splitlines())
