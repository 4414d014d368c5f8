"""Errors the command line reports as a one-line message instead of a traceback."""


class InputError(Exception):
    """Bad input: a file, record, line or config key that cannot be used. The message names it."""
