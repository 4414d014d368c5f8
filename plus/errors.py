"""Errors the command line reports as a one-line message instead of a traceback."""


class InputError(Exception):
    """Bad input: a file, record, line or config key that cannot be used. The message names it."""


def short_list(items: object, limit: int = 10, noun: str = "classes") -> str:
    """A list for a one-line message: in full when short, else its first `limit` items and how many there are."""
    values = list(items) if isinstance(items, (list, tuple, set, frozenset)) else None
    if values is None:
        return repr(items)
    if len(values) <= limit:
        return repr(values)
    head = ", ".join(repr(value) for value in values[:limit])
    return f"[{head}, ...] ({len(values):,} {noun})"
