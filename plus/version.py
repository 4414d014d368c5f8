"""The package version: one place that plus, its run records and pyproject.toml read."""

__version__ = "0.1.0"
