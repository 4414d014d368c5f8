"""Data: downloads, FASTA reading, the Pfam corpus store, pretraining samplers and task importers."""
