"""PLUS: protein sequence representations pre-trained with MLM and same-family prediction.

`plus.load(path)` opens any checkpoint for embedding and prediction (see plus.api); it and the other API names are
imported on first use, so `import plus` stays light for the command line and Snakemake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plus.version import __version__

__all__ = ["Batch", "Embeddings", "Model", "__version__", "load"]
_API_NAMES = frozenset(__all__) - {"__version__"}

if TYPE_CHECKING:
    from plus.api import Batch, Embeddings, Model, load


def __getattr__(name: str) -> Any:
    """plus.load, plus.Model, plus.Batch and plus.Embeddings from plus.api (which imports torch) on first use."""
    if name in _API_NAMES:
        from plus import api

        return getattr(api, name)
    raise AttributeError(f"module 'plus' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API_NAMES})
