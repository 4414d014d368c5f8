"""Downstream task data: importers of the official formats, the import of one task, canonical tables."""
