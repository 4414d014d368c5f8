"""PLUS: protein sequence representations pre-trained with MLM and same-family prediction."""

__version__ = "0.1.0"
