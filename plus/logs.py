"""Logging of the `plus` commands: one handler, so each line appears once in a job's log, warnings as log lines,
and no adverts (Lightning's tips, its TPU/HPU banners, hints about launchers the workflow already chose)."""

from __future__ import annotations

import logging
import re
import warnings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Text of library messages that advertise something or state what a job does not use; such records are dropped.
ADVERTS = (
    "💡",
    "litlogger",
    "litmodels",
    "TPU available",
    "HPU available",
    "The `srun` command is available on your system but is not used",
)
# Warnings a user cannot act on: raised inside Lightning by the installed PyTorch.
UNACTIONABLE_WARNINGS = ("`isinstance(treespec, LeafSpec)` is deprecated",)
# Libraries that attach a console handler of their own on import (lightning always does, on its top logger).
OWN_HANDLER_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning")


class DropAdverts(logging.Filter):
    """Drops records whose message contains one of ADVERTS."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in ADVERTS)


def configure_logging(verbose: bool = False) -> None:
    """Root logging for a command: one stream handler that drops adverts, Python warnings routed through it."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, DropAdverts) for f in handler.filters):
            handler.addFilter(DropAdverts())
    for message in UNACTIONABLE_WARNINGS:
        warnings.filterwarnings("ignore", message=f".*{re.escape(message)}")
    logging.captureWarnings(True)
    adopt_library_loggers()


def adopt_library_loggers() -> None:
    """Remove the console handlers libraries attached to their own loggers on import and let their records reach
    the root handler instead (each line once, in one format); nothing when the root logger has no handler.

    Lightning adds its handler when imported, which a command may do after configure_logging: the training
    code calls this again once Lightning is imported.
    """
    if not logging.getLogger().handlers:
        return
    for name in OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
        logger.propagate = True


def duration_text(seconds: float) -> str:
    """`42 s`, `1 min 58 s` or `2 h 05 min`: a duration at the precision a person reads an ETA with."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
