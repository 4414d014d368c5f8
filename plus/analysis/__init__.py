"""Analyses beside the models: train/test leakage by sequence identity and alignment baselines."""
