"""Data: downloads and FASTA reading, the Pfam corpus, task data and importers, torch batching, synthetic data."""
