"""Unpickling TAPE LMDB records without running code from the data file.

TAPE stores each LMDB record as a pickled dict of plain values and numpy arrays. A pickle can name any
importable callable, and `pickle.loads` calls it: a crafted record runs whatever it names. `loads` here uses an
unpickler whose `find_class` resolves only the names such records need, from a fixed table:

- Python builtins that hold data: dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float,
  complex, bool (and `_codecs.encode`, which protocol 2 uses to rebuild bytes);
- numpy array and scalar reconstruction: `numpy.ndarray`, `numpy.dtype`, `multiarray._reconstruct`,
  `multiarray.scalar` and `numeric._frombuffer` (protocol 5), under both `numpy.core` and `numpy._core`.

Any other name (os.system, subprocess, builtins.eval, ...) is refused with an InputError naming the file and
record before anything is called.
"""

from __future__ import annotations

import _codecs
import builtins
import io
import pickle
from functools import cache
from typing import Any

import numpy as np

from plus.errors import InputError

_BUILTINS = (
    "dict",
    "list",
    "tuple",
    "set",
    "frozenset",
    "str",
    "bytes",
    "bytearray",
    "int",
    "float",
    "complex",
    "bool",
)


@cache
def allowed_globals() -> dict[tuple[str, str], Any]:
    """The (module, name) pairs a record may name, and what each resolves to."""
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy < 2
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    table: dict[tuple[str, str], Any] = {}
    for module in ("builtins", "__builtin__"):
        table.update({(module, name): getattr(builtins, name) for name in _BUILTINS})
    table[("_codecs", "encode")] = _codecs.encode
    table[("numpy", "ndarray")] = np.ndarray
    table[("numpy", "dtype")] = np.dtype
    for package in ("numpy.core", "numpy._core"):
        table[(f"{package}.multiarray", "_reconstruct")] = multiarray._reconstruct
        table[(f"{package}.multiarray", "scalar")] = multiarray.scalar
        table[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return table


class RecordUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in `allowed_globals()`."""

    def find_class(self, module: str, name: str) -> Any:
        found = allowed_globals().get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not plain data")
        return found


def loads(data: bytes, where: str) -> Any:
    """Unpickle one record restricted to data types; `where` (file: record N) names it in the InputError."""
    try:
        return RecordUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as error:
        raise InputError(f"{where}: {error}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, OverflowError) as error:
        raise InputError(f"{where}: not a readable pickled record ({type(error).__name__}: {error})") from None
