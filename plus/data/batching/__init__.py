"""Torch datasets, samplers and collation: pretraining pairs, task examples, length-bucketed batches."""
