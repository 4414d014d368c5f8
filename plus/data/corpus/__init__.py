"""The pretraining corpus: Pfam-A.fasta preparation and the memory-mapped, pre-tokenized corpus store."""
